#!/usr/bin/env bash
# Every [data] train layout explored and every benchmark layout evaluated
# through the real binary on a tiny model (examples/data-formats/), each
# checker's verdicts through `genius answer`.
#   formats_test.sh GENIUS_BINARY SOURCE_DIR
set -euo pipefail
genius=$(realpath "$1")
formats=$(realpath "$2")/examples/data-formats
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$genius" init-model --arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1 --out model >/dev/null
cp "$here/resume.toml" run.toml
sets=(--set run.threads=1 --set audit.items=0 --set eval.samples=0 --set eval.max_new_tokens=4)

for f in "$formats"/train-*; do
  name=$(basename "$f")
  "$genius" explore run.toml "${sets[@]}" --set "data.train=$f" --out "explore-$name" >/dev/null 2>err.txt ||
    { echo "FAIL: explore of $name"; cat err.txt; exit 1; }
  python3 - "$f" "explore-$name/iter-1/records.jsonl" <<'PY'
import json, sys
src, out = sys.argv[1:3]
items = json.load(open(src)) if src.endswith(".json") else [json.loads(l) for l in open(src) if l.strip()]
records = [json.loads(l) for l in open(out)]
assert len(records) == len(items), (src, len(records), len(items))
print(f"explored {src.split('/')[-1]}: {len(records)} queries")
PY
done

declare -A expected=(
  [eval-gsm8k.jsonl]='["26", "2500", "7"]'
  [eval-math.jsonl]='["\\frac{5}{6}", "\\sqrt{2}", "180^\\circ"]'
  [eval-arc.jsonl]='["C", "B", "B"]'
  [eval-mmlu.jsonl]='["B", "C"]'
  [eval-logiqa.jsonl]='["A", "B"]'
  [eval-reclor.jsonl]='["A"]'
  [eval-strategyqa.jsonl]='["no", "yes"]'
  [eval-gpqa.jsonl]='null'
)
for f in "$formats"/eval-*; do
  name=$(basename "$f")
  "$genius" eval run.toml "${sets[@]}" --set "data.eval=$f" --out "eval-$name" >/dev/null 2>err.txt ||
    { echo "FAIL: eval of $name"; cat err.txt; exit 1; }
  python3 - "$f" "eval-$name/iter-0/eval.jsonl" "${expected[$name]}" <<'PY'
import json, sys
src, out, want = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lines = [json.loads(l) for l in open(out)]
refs = [l["reference"] for l in lines]
if want is None:  # GPQA: the options are shuffled; the letter must name the correct answer's text
    items = [json.loads(l) for l in open(src)]
    for item, line in zip(items, lines):
        option = next(o for o in line["instruction"].split("\n") if o.startswith(line["reference"] + ". "))
        assert option[3:] == item["Correct Answer"], (option, item["Correct Answer"])
else:
    assert refs == want, (src, refs, want)
assert all("greedy" in l for l in lines)
print(f"evaluated {src.split('/')[-1]}: references {refs}")
PY
done

verdict() {  # checker response reference -> true|false
  "$genius" answer --checker "$1" --response "$2" --reference "$3" --json | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["correct"]).lower())'
}
[[ $(verdict gsm8k "So he earns \$2,500 a week. The answer is 2500." "1,250 * 2 = 2,500
#### 2,500") == true ]]
[[ $(verdict gsm8k "The answer is 2,499." "#### 2,500") == false ]]
[[ $(verdict math "The sum is \\boxed{\\dfrac{5}{6}}." 'So $\boxed{\frac{5}{6}}$.') == true ]]
[[ $(verdict math "\\boxed{0.8333}" '\frac{5}{6}') == false ]]
[[ $(verdict choice "Wind is renewable, so the answer is (C)." "C") == true ]]
[[ $(verdict yesno "Penguins need cold water, so no." "false") == true ]]
"$genius" answer --checker math --response "\\boxed{\\frac12}" --reference "0.5" | grep -q "correct"
if "$genius" answer --checker nope --response x --reference y 2>err.txt; then echo "FAIL: unknown checker accepted"; exit 1; fi
grep -q "unknown checker 'nope'" err.txt
# The paper configs, with their data laid out as they expect (../data/ beside
# configs/), the sample files standing in for the released benchmarks.
mkdir -p configs data
cp "$formats"/../../configs/paper_*.toml configs/
declare -A stand_in=([magpie]=train-magpie [gsm8k_test]=eval-gsm8k [gsm8k_train]=eval-gsm8k [math500]=eval-math
  [math_train]=eval-math [gpqa_diamond]=eval-gpqa [reclor_val]=eval-reclor [logiqa_test]=eval-logiqa
  [strategyqa]=eval-strategyqa [arc_challenge_test]=eval-arc)
if "$genius" config check configs/paper_llama31_8b.toml --set model.path="$work/model" >/dev/null 2>err.txt; then
  echo "FAIL: a config whose data is missing passed the check"
  exit 1
fi
grep -q "data.train: '.*/data/magpie.jsonl' does not exist" err.txt || { cat err.txt; exit 1; }
for name in "${!stand_in[@]}"; do cp "$formats/${stand_in[$name]}.jsonl" "data/$name.jsonl"; done
for name in gsm8k_train math_train; do  # 8 and 4 exemplars are asked for
  for _ in 1 2; do cat "data/$name.jsonl"; done > exemplars && cat exemplars >> "data/$name.jsonl"
done
for config in configs/paper_*.toml; do
  "$genius" config check "$config" --set model.path="$work/model" >/dev/null
done
echo "formats, checkers and the paper configs: ok"
