#!/usr/bin/env bash
# The numbers of docs/distributed.md: exploration and training throughput of
# 1 and 2 ranks (1 thread each), the all-reduce time per step, and each
# train stage's peak resident memory with and without LoRA and activation
# checkpointing, on the 23.5M-parameter model (hidden 512, 8 layers).
#   scripts/bench-distributed.sh [WORK_DIR]      (default /tmp/genius-bench-distributed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
genius=$PWD/build/bin/genius
work=${1:-/tmp/genius-bench-distributed}
rm -rf "$work"
mkdir -p "$work"
cd "$work"

"$genius" init-model --arch llama --hidden 512 --layers 8 --heads 8 --kv-heads 4 --seed 1 --out m23 >/dev/null
"$genius" data arith --train 32 --eval 8 --seed 3 --out data >/dev/null
cat >run.toml <<'EOF'
[run]
seed = 1
iterations = 1
threads = 1
log_level = "warn"

[data]
train = "data/train.jsonl"
eval = "data/eval.jsonl"

[model]
plugin = "torch-llama"
path = "m23"
threads = 1

[sampler]
plugin = "foresight"
step_beam_size = 2
num_rollout = 2
num_foresight = 2
max_step_tokens = 16
max_rollout_tokens = 32
concurrent_queries = 8

[value]
plugin = "foresight-logprob"

[loss]
plugin = "aco"

[train]
learning_rate = 1e-5
batch_size = 8
max_length = 256

[eval]
enabled = false
EOF

"$genius" run run.toml --out one >/dev/null
"$genius" launch --nproc 2 -- run run.toml --out two >/dev/null

# Memory: one exploration shared by four training variants (a sweep).
cat >memory.toml <<'EOF'
[sweep]
name = "memory"
base = "run.toml"
out_dir = "."

[[sweep.axis]]
key = "train.lora_rank"
values = [0, 16]

[[sweep.axis]]
key = "train.gradient_checkpointing"
values = [false, true]
EOF
"$genius" sweep memory.toml --jobs 1 >/dev/null

python3 - <<'PY'
import glob, json, os
def stages(d):
    return json.load(open(f"{d}/state.json"))["stages"]
print("| ranks | explore: queries/s | generated tokens/s | train: tokens/s | all-reduce s/step | steps | train peak RSS/rank MiB |")
print("|---|---|---|---|---|---|---|")
for d, n in (("one", 1), ("two", 2)):
    s = stages(d)
    e, t = s["explore-1"], s["train-1"]
    print(f"| {n} | {e['queries'] / e['seconds']:.2f} | {e['generated_tokens'] / e['seconds']:.0f} | "
          f"{t['tokens_per_second']:.0f} | {t['all_reduce_seconds'] / max(1, t['steps']):.3f} | {t['steps']} | "
          f"{t['peak_rss_mib']:.0f} |")
print()
print("| lora_rank | gradient_checkpointing | train peak RSS MiB | train tokens/s | trainable parameters |")
print("|---|---|---|---|---|")
for cell in sorted(glob.glob("memory/*/state.json")):
    d = os.path.dirname(cell)
    cfg = open(f"{d}/config.resolved.toml").read()
    rank = int(cfg.split("lora_rank = ")[1].split()[0])
    ckpt = cfg.split("gradient_checkpointing = ")[1].split()[0]
    t = stages(d)["train-1"]
    # 23.5M parameters in full; LoRA r on all 7 modules of 8 layers: r * sum(in + out).
    hidden, inter, kv = 512, 1376, 256
    per_layer = 2 * (hidden + hidden) + 2 * (hidden + kv) + 3 * (hidden + inter)
    trainable = "23.5M" if rank == 0 else f"{rank * per_layer * 8 / 1e6:.2f}M"
    print(f"| {rank} | {ckpt} | {t['peak_rss_mib']:.0f} | {t['tokens_per_second']:.0f} | {trainable} |")
PY

# One training step in isolation (genius bench train: 16 sequences of 240
# tokens, AdamW), each configuration in its own process, with glibc's default
# allocator and with its mmap threshold fixed (freed activations go back to
# the system at once instead of staying in the heap).
echo
echo "| lora_rank | gradient_checkpointing | allocator | s/step | tokens/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for env in "" "MALLOC_MMAP_THRESHOLD_=131072"; do
  for variant in "0 no" "0 yes" "16 no" "16 yes"; do
    set -- $variant
    args=(bench train --model m23 --set model.threads=1 --lora-rank "$1" --json)
    [[ $2 == yes ]] && args+=(--gradient-checkpointing)
    json=$(env $env "$genius" "${args[@]}")
    python3 - "$json" "$2" "${env:-default}" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['lora_rank']} | {sys.argv[2]} | {sys.argv[3]} | {r['seconds_per_step']:.2f} | {r['tokens_per_second']:.0f} | {r['peak_rss_mib']:.0f} |")
PY
  done
done
