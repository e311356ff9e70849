#!/usr/bin/env bash
# M2 of docs/results.md: every decoding method of configs/decode/ on the eval
# set (levels 2-4) and the hard set (levels 5-6), at N = 4, 8, 16 where the
# method has an N, then the table with paired differences against majority@N.
#   scripts/decode_study.sh [OUT_DIR] [ITEMS]     (default runs/decode-study, 500 items per set)
# A finished cell (its decode.json exists) is not run again, so the study resumes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-runs/decode-study}
items=${2:-500}
genius=build/bin/genius
run() {  # run SET NAME CONFIG [--set ...]
  local set=$1 name=$2 config=$3
  shift 3
  local dir="$out/$set/$name"
  [[ -f "$dir/decode.json" ]] && return 0
  "$genius" decode "configs/decode/$config.toml" --set data.eval="$PWD/examples/arith/data/$set.jsonl" \
    --set data.max_eval_queries="$items" "$@" --out "$dir" --log-level warn >/dev/null
  echo "$set/$name: $(python3 -c "import json,sys; print(round(100*json.load(open(sys.argv[1]))['accuracy'],1))" "$dir/decode.json")%"
}
for set in eval eval-hard; do
  run "$set" greedy greedy
  run "$set" foresight foresight
  run "$set" phi phi
  for n in 4 8 16; do
    run "$set" "majority-$n" majority --set sampler.n=$n
    run "$set" "critic-majority-$n" critic_majority --set sampler.n=$n
    run "$set" "critic-best-of-$n" critic_best_of_n --set sampler.n=$n
    [[ $set == eval ]] && run "$set" "critic-best-of-min-$n" critic_best_of_n --set sampler.n=$n --set value.aggregate='"min"'
    run "$set" "critique-refine-$n" critique_refine --set sampler.n=$n
    run "$set" "refine-random-$n" critique_refine --set sampler.n=$n --set sampler.refine_at='"random"'
  done
done
python3 scripts/decode_table.py "$out"
