#!/usr/bin/env bash
# Fuzz one reader of untrusted input with libFuzzer (clang), ASan and UBSan.
#   scripts/fuzz.sh TARGET SECONDS     TARGET: safetensors tokenizer chat_template config jsonl pairs, or all
# Builds tests/fuzz/ into build-fuzz/ (torch-free sources, a minute or two),
# starts from the seed corpus tests/fuzz/corpus/TARGET (copied: the repository's
# seeds stay as they are), keeps what it finds in build-fuzz/corpus/TARGET, and
# writes a crashing input to build-fuzz/artifacts/TARGET/. Exits non-zero on a
# crash, a hang (> 10 s for one input) or a memory blow-up (> 2 GiB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets=(safetensors tokenizer chat_template config jsonl pairs)
target=${1:?usage: fuzz.sh TARGET SECONDS (TARGET: ${targets[*]} or all)}
seconds=${2:?usage: fuzz.sh TARGET SECONDS}
if [[ $target == all ]]; then
  for t in "${targets[@]}"; do "$0" "$t" "$seconds"; done
  exit 0
fi
[[ " ${targets[*]} " == *" $target "* ]] || { echo "fuzz.sh: unknown target '$target' (${targets[*]})" >&2; exit 2; }
# clang, and its sanitizer and libFuzzer runtimes (only recommended by clang).
missing=()
for p in clang libclang-rt-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  install=(env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}")
  "${install[@]}" >/dev/null 2>&1 || { "${sudo[@]}" apt-get update -qq && "${install[@]}" >/dev/null; }
fi
if [[ ! -f build-fuzz/CMakeCache.txt ]]; then
  CXX=clang++ cmake -S tests/fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build-fuzz --target "fuzz_$target" -j"${GENIUS_BUILD_JOBS:-2}" >/dev/null
corpus=build-fuzz/corpus/$target artifacts=build-fuzz/artifacts/$target
mkdir -p "$corpus" "$artifacts"
cp -n tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
log=build-fuzz/$target.log
set +e
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
  build-fuzz/fuzz_"$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1
status=$?
set -e
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
if ((status != 0)); then
  echo "fuzz $target: FAILED after ${seconds}s limit (exit $status); input in $artifacts/, log $log" >&2
  grep -m1 -E 'ERROR|SUMMARY|deadly signal|timeout|out-of-memory' "$log" >&2 || tail -20 "$log" >&2
  exit 1
fi
echo "fuzz $target: ${seconds}s, $runs inputs, coverage $cov edges, 0 crashes (corpus $(ls "$corpus" | wc -l) files)"
