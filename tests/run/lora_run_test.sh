#!/usr/bin/env bash
# A real `genius run` with [train] lora_rank: the iteration checkpoints are
# PEFT adapter directories, training lowers the loss, iteration 2 starts
# from iteration 1's adapter, a kill -9 mid-training resumes to the same
# result, and `genius merge-adapter` writes a model that scores as base +
# adapter does.
#   lora_run_test.sh GENIUS_BINARY
set -euo pipefail
genius=$(realpath "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$genius" init-model --arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1 --out "$work/model" >/dev/null
python3 "$here/make_tiny_task.py" "$work"
cp "$here/resume.toml" "$work/run.toml"
cd "$work"
sets=(--set train.lora_rank=4 --set train.lora_alpha=8 --set train.learning_rate=0.005 --set run.threads=1)

"$genius" run run.toml "${sets[@]}" --out whole >/dev/null 2>whole.log
for it in 1 2; do
  test -f "whole/iter-$it/checkpoint/adapter_config.json" || { echo "FAIL: iter-$it has no adapter_config.json"; exit 1; }
  test -f "whole/iter-$it/checkpoint/adapter_model.safetensors" || { echo "FAIL: no adapter_model.safetensors"; exit 1; }
  if [[ -e whole/iter-$it/checkpoint/model.safetensors ]]; then echo "FAIL: a LoRA checkpoint holds the base"; exit 1; fi
done
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("whole/iter-1/train_metrics.jsonl")]
# Two epochs over the same pairs: the second's mean loss is lower.
first = [r["loss"] for r in rows if r["epoch"] <= 1]
second = [r["loss"] for r in rows if r["epoch"] > 1]
a, b = sum(first) / len(first), sum(second) / len(second)
print(f"LoRA training, iteration 1: mean loss {a:.4f} (epoch 1) -> {b:.4f} (epoch 2)")
assert b < a - 0.01, "the LoRA run did not lower the loss"
cfg = json.load(open("whole/iter-1/checkpoint/adapter_config.json"))
assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8, cfg
PY
cmp -s whole/iter-1/checkpoint/adapter_model.safetensors whole/iter-2/checkpoint/adapter_model.safetensors &&
  { echo "FAIL: iteration 2 did not train the adapter further"; exit 1; }

# kill -9 mid-training, resume, compare.
"$genius" run run.toml "${sets[@]}" --out killed >/dev/null 2>killed.log &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  if compgen -G "killed/iter-1/train/checkpoint-*" >/dev/null; then kill -9 "$pid"; break; fi
  sleep 0.02
done
wait "$pid" 2>/dev/null || true
"$genius" run run.toml "${sets[@]}" --out killed --resume >/dev/null 2>>killed.log
python3 "$here/compare_runs.py" whole killed

"$genius" merge-adapter --model model --adapter whole/iter-2/checkpoint --out merged >/dev/null
test -f merged/config.json && test -f merged/model.safetensors
a=$("$genius" logprobs --model model --adapter whole/iter-2/checkpoint --prompt "3+4=" --completion "7" --json)
b=$("$genius" logprobs --model merged --prompt "3+4=" --completion "7" --json)
c=$("$genius" logprobs --model model --prompt "3+4=" --completion "7" --json)
python3 - "$a" "$b" "$c" <<'PY'
import json, sys
a, b, c = (json.loads(x) for x in sys.argv[1:4])
key = "sum" if "sum" in a else "logprob"
print(f"log p(7 | 3+4=): base {c[key]:.5f}, base + adapter {a[key]:.5f}, merged {b[key]:.5f}")
assert abs(a[key] - b[key]) < 1e-4, "the merged model does not score as base + adapter"
assert abs(a[key] - c[key]) > 1e-6, "the adapter changes nothing"
PY
if "$genius" merge-adapter --model model --adapter whole/iter-2/checkpoint --out merged 2>err.txt; then
  echo "FAIL: merge-adapter overwrote a model"; exit 1
fi
grep -q "exists and is not empty" err.txt
echo "LoRA run, resume and merge-adapter: ok"
