#!/usr/bin/env bash
# Install the SDK to a temporary prefix, build examples/third_party_plugin
# against it from outside the source tree, and run it through the installed
# `genius` (found via GENIUS_PLUGIN_PATH and via the config's plugin_path):
# `genius loss eval` on known log-probs, then a short real training run
# (examples/third_party_plugin/train.toml) that must step the optimizer with
# the hinge loss and change the weights.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cp -r "$source_dir/examples/third_party_plugin" "$work/example"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$work/example" -B "$work/example/build" -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/example/build" -j2 >/dev/null

genius="$work/prefix/bin/genius"
listing=$(GENIUS_PLUGIN_PATH="$work/example/build" "$genius" plugins --json)
grep -q '"name": "hinge"' <<<"$listing" || { echo "hinge not listed:"; echo "$listing"; exit 1; }
grep -q '"name": "aco"' <<<"$listing" || { echo "installed plugins not found beside the installed genius"; exit 1; }

# Pair 1: r_w = 1, r_l = -1 -> max(0, 1 - 0.5*2) = 0; pair 2: r_w = 0.5, r_l = 0.5 -> 1. Mean 0.5.
result=$(GENIUS_PLUGIN_PATH="$work/example/build" "$genius" loss eval --plugin hinge --set loss.beta=0.5 \
           --input "$work/example/pairs.jsonl" --json)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert abs(r["loss"]-0.5)<1e-12, r; \
g=r["gradients"]["policy_chosen_logps"]; assert abs(g[0])<1e-12 and abs(g[1]+0.25)<1e-12, g' "$result"

# The example's own TOML finds the plugin through [run] plugin_path.
"$genius" config check "$work/example/hinge.toml"
"$genius" loss eval --config "$work/example/hinge.toml" --input "$work/example/pairs.jsonl" >/dev/null
# A short real training with the hinge loss: a tiny random model, one iteration.
"$genius" init-model --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1 --out "$work/example/model" >/dev/null
start=$SECONDS
GENIUS_PLUGIN_PATH="$work/example/build" "$genius" run "$work/example/train.toml" --out "$work/run" \
  >"$work/run.out" 2>&1 || { cat "$work/run.out"; exit 1; }
echo "training run: $((SECONDS - start)) s"
grep -q '^plugin = "hinge"' "$work/run/config.resolved.toml" || { echo "the run did not use the hinge loss"; exit 1; }
python3 - "$work/run" <<'PY'
import json, math, sys
run = sys.argv[1]
summary = json.load(open(f"{run}/summary.json"))
assert summary["status"] == "finished", summary["status"]
steps = [r for r in map(json.loads, open(f"{run}/metrics.jsonl")) if r.get("kind") == "train"]
assert len(steps) >= 2, f"expected at least 2 training steps, got {len(steps)}"
assert all(math.isfinite(r["loss"]) for r in steps), steps
# Policy = reference before the first update: every margin is 0, so the hinge
# gives exactly delta (1.0), which no built-in loss of this config would.
assert abs(steps[0]["loss"] - 1.0) < 1e-4, f"first hinge loss {steps[0]['loss']}, expected delta = 1"
assert "rewards/margins" in steps[0], sorted(steps[0])
print(f"{len(steps)} training steps, loss {steps[0]['loss']:.4f} -> {steps[-1]['loss']:.4f}")
PY
# The trained checkpoint scores a completion differently from the start model.
logprob() { "$genius" logprobs --model "$1" --prompt "3+4=" --completion "7" --json; }
before=$(logprob "$work/example/model")
after=$(logprob "$work/run/iter-1/checkpoint")
[[ "$before" != "$after" ]] || { echo "the checkpoint scores like the start model: training changed nothing"; exit 1; }
echo "out-of-tree plugin: built, loaded, evaluated and trained with the hinge loss"
