#!/usr/bin/env bash
# `genius eval` on several benchmarks at once ([[eval.sets]]): the trained
# arith model on three sets with their own checkers, shots and limits; the
# per-benchmark table and its average in summary.json, report.html and on
# stdout, each number recomputed here from the per-item files; name clashes
# and shots without exemplars refused by `config check` and by `eval` before
# any run directory exists.
#   eval_sets_test.sh GENIUS_BINARY SOURCE_DIR
set -euo pipefail
genius=$(realpath "$1")
source_dir=$(realpath "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
arith=$source_dir/examples/arith
formats=$source_dir/examples/data-formats
sed -e "s|^path = \"model\"|path = \"$arith/base-model\"|" -e "s|^train = .*|train = \"$arith/data/train.jsonl\"|" -e '/^eval = /d' -e 's/^items = 3/items = 0/' "$here/resume.toml" > base.toml
common=(--set run.threads=1 --set audit.items=0 --set eval.samples=0 --set eval.max_new_tokens=64)

cat base.toml - > sets.toml <<TOML

[[eval.sets]]
name = "arith"
file = "$arith/data/eval.jsonl"
max_items = 12

[[eval.sets]]
name = "arith-hard+2shot"
file = "$arith/data/eval-hard.jsonl"
shots = 2
shots_file = "$arith/data/eval.jsonl"
max_items = 8

[[eval.sets]]
name = "arc"
file = "$formats/eval-arc.jsonl"
checker = "choice"
TOML
"$genius" config check sets.toml >/dev/null
"$genius" config check sets.toml --print > resolved.toml
grep -q '^\[\[eval.sets\]\]$' resolved.toml
[[ $(grep -c '^\[\[eval.sets\]\]$' resolved.toml) == 3 ]]
"$genius" config check resolved.toml >/dev/null  # the resolved config loads back

"$genius" eval sets.toml "${common[@]}" --out run > stdout.txt 2>err.txt || { cat err.txt; exit 1; }
python3 - run stdout.txt <<'PY'
import json, sys, re
run, stdout = sys.argv[1:3]
summary = json.load(open(f"{run}/summary.json"))
table = summary["benchmarks"]
assert table["metric"] == "greedy_accuracy", table
assert table["sets"] == ["arith", "arith-hard+2shot", "arc"], table["sets"]
row = table["rows"][0]
assert row["iteration"] == 0
record = summary["eval"][0]
assert "greedy_accuracy" not in record, "no [data] eval: no unprefixed metrics"
accuracy = {}
for name, n in [("arith", 12), ("arith-hard+2shot", 8), ("arc", 3)]:
    lines = [json.loads(l) for l in open(f"{run}/iter-0/eval-{name}.jsonl")]
    assert len(lines) == n, (name, len(lines))
    accuracy[name] = sum(l["greedy"]["correct"] for l in lines) / n
    assert abs(row[name] - accuracy[name]) < 1e-12, (name, row[name], accuracy[name])
    assert abs(record[f"{name}/greedy_accuracy"] - accuracy[name]) < 1e-12
    assert record[f"{name}/items"] == n
mean = sum(accuracy.values()) / 3
assert abs(row["average"] - mean) < 1e-12 and abs(record["average/greedy_accuracy"] - mean) < 1e-12
assert accuracy["arith"] > 0, "the trained model gets some arith items right"
# The 2-shot set's prompts start with the first two exemplars of eval.jsonl.
hard = [json.loads(l) for l in open(f"{run}/iter-0/eval-arith-hard+2shot.jsonl")]
plain = [json.loads(l) for l in open(f"{run}/iter-0/eval-arith.jsonl")]
assert hard[0]["instruction"].startswith(plain[0]["instruction"] + "\n" + plain[0]["reference"] + "\n\n"), hard[0]["instruction"][:80]
assert not plain[0]["instruction"].startswith(plain[1]["instruction"])
# The arc set: the choice checker's letters.
arc = [json.loads(l) for l in open(f"{run}/iter-0/eval-arc.jsonl")]
assert [l["reference"] for l in arc] == ["C", "B", "B"]
# stdout: the same table, in percent.
text = open(stdout).read()
m = re.search(r"^base\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", text, re.M)
assert m, text
want = [f"{100 * v:.1f}%" for v in list(accuracy.values()) + [mean]]
assert list(m.groups()) == want, (m.groups(), want)
report = open(f"{run}/report.html").read()
assert "<h2>Benchmarks (greedy_accuracy, %)</h2>" in report
assert f"<td>{100 * mean:.1f}</td>" in report
print("benchmarks:", {k: round(v, 3) for k, v in accuracy.items()}, "average", round(mean, 3))
PY

# [data] eval beside one set: its metrics unprefixed, its column named by its file.
"$genius" eval sets.toml "${common[@]}" --set "data.eval=$arith/data/eval.jsonl" --set data.max_eval_queries=6 \
  --set 'eval.sets=[{name = "arc", file = "'"$formats"'/eval-arc.jsonl"}]' --out main >/dev/null 2>err.txt ||
  { cat err.txt; exit 1; }
python3 - main <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["benchmarks"]["sets"] == ["eval", "arc"], s["benchmarks"]
e = s["eval"][0]
assert e["items"] == 6 and e["arc/items"] == 3
assert abs(e["average/greedy_accuracy"] - (e["greedy_accuracy"] + e["arc/greedy_accuracy"]) / 2) < 1e-12
PY

refused() {  # message args... : config check and eval both refuse, eval leaves no run directory
  local message=$1
  shift
  if "$genius" config check sets.toml "$@" >/dev/null 2>err.txt; then echo "FAIL: config check accepted $*"; exit 1; fi
  grep -qF -- "$message" err.txt || { echo "FAIL: config check said:"; cat err.txt; exit 1; }
  if "$genius" eval sets.toml "${common[@]}" "$@" --out refused >/dev/null 2>err.txt; then
    echo "FAIL: eval accepted $*"
    exit 1
  fi
  grep -qF -- "$message" err.txt || { echo "FAIL: eval said:"; cat err.txt; exit 1; }
  [[ ! -e refused ]] || { echo "FAIL: a refused eval left a run directory ($*)"; exit 1; }
}
refused "'eval' is also the name of [data] eval" --set "data.eval=$arith/data/eval.jsonl" \
  --set 'eval.sets=[{name = "eval", file = "x.jsonl"}]'
refused "eval.sets[0].shots = 2 needs its shots_file" --set 'eval.sets=[{name = "a", file = "x.jsonl", shots = 2}]'
refused "eval.sets[1].name: a second entry named 'a'" \
  --set 'eval.sets=[{name = "a", file = "x.jsonl"}, {name = "a", file = "y.jsonl"}]'
refused "eval.sets[0]: missing key 'file'" --set 'eval.sets=[{name = "a"}]'
refused "eval.sets[0].checkr: unknown key 'checkr'; did you mean 'checker'?" \
  --set 'eval.sets=[{name = "a", file = "x.jsonl", checkr = "math"}]'
refused "'average' is reserved" --set 'eval.sets=[{name = "average", file = "x.jsonl"}]'
refused "'a/b' is not a valid name" --set 'eval.sets=[{name = "a/b", file = "x.jsonl"}]'
refused "expected an array of tables" --set 'eval.sets="gsm8k.jsonl"'
refused "'nope' is not one of" --set 'eval.sets=[{name = "a", file = "x.jsonl", checker = "nope"}]'
echo "eval sets: ok"
