#!/usr/bin/env bash
# kill -9 at several points of a real `genius run`, resume until it finishes,
# and compare every output with an uninterrupted run of the same config.
#   resume_test.sh GENIUS_BINARY
set -euo pipefail
genius=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$genius" init-model --arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1 --out "$work/model" >/dev/null
python3 "$here/make_tiny_task.py" "$work"
cp "$here/resume.toml" "$work/run.toml"

"$genius" run "$work/run.toml" --out "$work/a" >/dev/null 2>"$work/a.log"

# The same run, killed with SIGKILL as soon as it reaches each milestone (so
# every stage is interrupted at least once), then resumed.
milestones=(
  "iter-1/records.jsonl"                  # mid-exploration (first chunk written)
  "iter-1/pairs.jsonl"                    # between pairs and the audit
  "iter-1/audit/greedy.jsonl"             # mid-audit (greedy answers written, exploration under way)
  "iter-1/train/checkpoint-*"             # mid-training (a step checkpoint written)
  "iter-1/train_metrics.jsonl"            # training, later
  "iter-1/checkpoint"                     # between training and eval
  "iter-2/records.jsonl"                  # second iteration's exploration
  "iter-2/train/checkpoint-*"             # second iteration's training
)
kills=0
for milestone in "${milestones[@]}"; do
  args=(run "$work/run.toml" --out "$work/b")
  if [[ -f "$work/b/config.resolved.toml" ]]; then args+=(--resume); fi
  "$genius" "${args[@]}" >/dev/null 2>>"$work/b.log" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if compgen -G "$work/b/$milestone" >/dev/null; then
      kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
      break
    fi
    sleep 0.02
  done
  wait "$pid" 2>/dev/null || true
done
"$genius" run "$work/run.toml" --out "$work/b" --resume >/dev/null 2>>"$work/b.log"
echo "killed $kills times"
if [[ $kills -lt 5 ]]; then echo "expected at least 5 of the ${#milestones[@]} kills to land before the run finished"; exit 1; fi

python3 "$here/compare_runs.py" "$work/a" "$work/b"
