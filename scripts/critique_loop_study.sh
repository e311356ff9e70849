#!/usr/bin/env bash
# M3 of docs/results.md: one iteration of critique-in-the-loop self-training
# (configs/critique_loop.toml) against the Genius quickstart
# (configs/quickstart.toml), two seeds each, then the table. A finished run is
# kept; an interrupted one continues with --resume.
#   scripts/critique_loop_study.sh [OUT_DIR]      (default runs/critique-loop-study)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-runs/critique-loop-study}
for config in quickstart critique_loop; do
  for seed in 1 2; do
    dir="$out/$config-seed$seed"
    if [[ -f "$dir/summary.json" ]] && python3 -c "import json,sys; sys.exit(json.load(open(sys.argv[1]))['status'] != 'finished')" "$dir/summary.json"; then
      continue
    fi
    resume=()
    [[ -f "$dir/state.json" ]] && resume=(--resume)
    build/bin/genius run "configs/$config.toml" --out "$dir" --set run.seed=$seed --log-level warn "${resume[@]}" \
      > "$out-$config-seed$seed.log" 2>&1
  done
done
python3 - "$out" <<'PY'
import json, os, sys
root = sys.argv[1]
print("| exploration | seed | explore tokens/query | pairs | greedy before | greedy after | pass@1 before | pass@1 after |")
print("|---|---|---|---|---|---|---|---|")
for name in sorted(os.listdir(root)):
    s = json.load(open(os.path.join(root, name, "summary.json")))
    state = json.load(open(os.path.join(root, name, "state.json")))
    ex = state["stages"]["explore-1"]
    pairs = state["stages"].get("pairs-1", {}).get("pairs", "?")
    ev = s["eval"]
    b, a = ev[0], ev[-1]
    config, seed = name.rsplit("-seed", 1)
    print(f"| {config} | {seed} | {ex['tokens_per_query']:.0f} | {pairs} | {100*b['greedy_accuracy']:.1f} | "
          f"{100*a['greedy_accuracy']:.1f} | {100*b['pass@1']:.1f} | {100*a['pass@1']:.1f} |")
PY
