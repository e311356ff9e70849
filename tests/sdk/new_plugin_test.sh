#!/usr/bin/env bash
# `genius new-plugin`: install the SDK to a temporary prefix, scaffold one
# project of each kind, build each from outside the source tree with warnings
# as errors, and check that each works:
#   all      `genius plugins --json` lists it with its kind and name
#   loss     `genius loss eval` gives -log sigmoid(beta * margin), averaged
#   sampler  its example.toml runs to the end (tiny torch-llama model)
#   value    its example.toml runs to the end and the scores follow its formula
#   backend  its example.toml runs to the end on random weights, training
#            changes the model, and `init-model` / `generate` work with it;
#            then all four scaffolds together in one run
#   new_plugin_test.sh BUILD_DIR
set -euo pipefail
build_dir=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
genius="$work/prefix/bin/genius"

# --- usage errors: exit 2 and a message that says what to fix.
expect_usage_error() {  # expected-message-part, genius arguments...
  local expected=$1 rc=0 err
  shift
  err=$("$genius" new-plugin "$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -eq 2 ]] || { echo "new-plugin $*: exit $rc, expected 2"; exit 1; }
  grep -qF -- "$expected" <<<"$err" || { echo "new-plugin $*: '$err' does not say '$expected'"; exit 1; }
}
expect_usage_error "use lowercase letters, digits and single '-'" --kind loss --name My_Loss --out "$work/x"
expect_usage_error "starting with a letter" --kind loss --name 9lives --out "$work/x"
expect_usage_error "must be one of loss, sampler, value, backend" --kind metric --name m --out "$work/x"
expect_usage_error "missing --out" --kind loss --name m
mkdir "$work/taken" && touch "$work/taken/notes.txt"
expect_usage_error "is not empty" --kind loss --name m --out "$work/taken"
[[ ! -e "$work/x" && ! -e "$work/taken/CMakeLists.txt" ]] || { echo "a refused new-plugin wrote files"; exit 1; }
"$genius" new-plugin --kind loss --name m --out "$work/taken" --force >/dev/null
[[ -f "$work/taken/m.cpp" && -f "$work/taken/notes.txt" ]] || { echo "--force did not write into the directory"; exit 1; }

# --- one project of each kind, built against the installed SDK.
declare -A names=([loss]=pair-sigmoid [sampler]=best-pick [value]=norm-logprob [backend]=bigram)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
plugin_path=""
for kind in loss sampler value backend; do
  dir="$work/$kind"
  "$genius" new-plugin --kind "$kind" --name "${names[$kind]}" --out "$dir" >/dev/null
  if grep -rnE '@[A-Z_]+@' "$dir"; then echo "$kind: placeholders left in the project"; exit 1; fi
  cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_FLAGS=-Werror "${launcher[@]}" \
    >"$work/$kind.cmake.log" 2>&1 || { cat "$work/$kind.cmake.log"; exit 1; }
  cmake --build "$dir/build" -j2 >"$work/$kind.build.log" 2>&1 || { cat "$work/$kind.build.log"; exit 1; }
  if grep -q "warning:" "$work/$kind.build.log"; then cat "$work/$kind.build.log"; exit 1; fi
  plugin_path+="${plugin_path:+:}$dir/build"
done
export GENIUS_PLUGIN_PATH=$plugin_path

"$genius" plugins --json >"$work/plugins.json"
python3 - "$work/plugins.json" <<'PY'
import json, sys
listed = {(p["kind"], p["name"]): p for p in json.load(open(sys.argv[1]))}
for kind, name, keys in [("loss", "pair-sigmoid", {"beta", "reference_free"}),
                         ("sampler", "best-pick", {"n", "temperature", "max_tokens", "concurrent_queries"}),
                         ("value", "norm-logprob", {"alpha"}),
                         ("backend", "bigram", {"path", "init_random", "init_seed"})]:
    assert (kind, name) in listed, f"{kind} {name} not listed"
    got = {k["name"] for k in listed[(kind, name)]["keys"]}
    assert got == keys, f"{kind} {name}: keys {got}, expected {keys}"
PY

# --- loss: pairs.jsonl has margins r_w - r_l of 2 and 0.
cd "$work/loss"
for beta in 0.1 0.5; do
  "$genius" loss eval --config example.toml --input pairs.jsonl --set loss.beta=$beta --json >"$work/loss.json"
  python3 - "$work/loss.json" $beta <<'PY'
import json, math, sys
r, beta = json.load(open(sys.argv[1])), float(sys.argv[2])
expected = sum(math.log1p(math.exp(-beta * m)) for m in (2.0, 0.0)) / 2  # -log sigmoid(beta * margin)
assert r["plugin"] == "pair-sigmoid" and abs(r["loss"] - expected) < 1e-12, (r["loss"], expected)
g = r["gradients"]["policy_chosen_logps"]                                 # -beta * sigmoid(-beta * m) / 2
assert all(abs(gi + beta / (1 + math.exp(beta * m)) / 2) < 1e-12 for gi, m in zip(g, (2.0, 0.0))), g
PY
done

# --- runs: each example.toml as written, in its own directory.
queries() { printf '{"instruction": "%s"}\n' "3+4=" "7+2=" "5+5=" "1+8=" "6+3=" "2+2=" >"$1/queries.jsonl"; }
check_run() {  # run directory: finished, with training steps of finite loss
  python3 - "$1" <<'PY'
import json, math, sys
run = sys.argv[1]
assert json.load(open(f"{run}/summary.json"))["status"] == "finished"
steps = [r for r in map(json.loads, open(f"{run}/metrics.jsonl")) if r.get("kind") == "train"]
assert steps and all(math.isfinite(r["loss"]) for r in steps), steps
records = [json.loads(l) for l in open(f"{run}/iter-1/records.jsonl")]
assert len(records) == 6 and all(len(r["steps"][0]["candidates"]) == 4 for r in records)
PY
}
run_example() {  # kind [--set ...]: run the project's example.toml; the run lands in $work/<kind>/runs/try
  local kind=$1
  shift
  (cd "$work/$kind" && "$genius" run example.toml --out runs/try "$@" >run.log 2>&1) ||
    { echo "$kind: genius run $* failed:"; cat "$work/$kind/run.log"; exit 1; }
  check_run "$work/$kind/runs/try"
}
for kind in sampler value; do
  "$genius" init-model --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1 --out "$work/$kind/model" >/dev/null
  queries "$work/$kind"
  run_example "$kind"
done
# norm-logprob with alpha = 1 scores a whole response by its mean token log-prob.
python3 - "$work/value/runs/try/iter-1/records.jsonl" <<'PY'
import json, sys
for record in map(json.loads, open(sys.argv[1])):
    for c in record["steps"][0]["candidates"]:
        assert abs(c["score"] - c["step_logprob"] / c["step_tokens"]) < 1e-9, c
PY

# The backend: random weights from init_seed; init-model with the same seed
# writes the same start model, which the trained checkpoint must differ from.
queries "$work/backend"
run_example backend
"$genius" init-model --backend bigram --seed 1 --out "$work/backend/start" >/dev/null
logprob() { "$genius" logprobs --backend bigram --model "$1" --prompt "3+4=" --completion "7" --json; }
[[ "$(logprob "$work/backend/start")" != "$(logprob "$work/backend/runs/try/iter-1/checkpoint")" ]] ||
  { echo "bigram: training did not change the model"; exit 1; }
# Same model, same seed: the same samples.
gen() { "$genius" generate --backend bigram --model "$work/backend/start" --prompt "3+4=" --temperature 1 --n 3 --seed 5 --json; }
[[ "$(gen)" == "$(gen)" ]] || { echo "bigram: generate is not reproducible for a seed"; exit 1; }

# All four scaffolds in one run, on the bigram backend.
rm -rf "$work/backend/runs"
run_example backend --set sampler.plugin=best-pick --set value.plugin=norm-logprob --set loss.plugin=pair-sigmoid
echo "new-plugin: 4 kinds scaffolded, built warning-free, listed and run"
