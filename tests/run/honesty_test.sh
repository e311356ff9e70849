#!/usr/bin/env bash
# Self-training never reads answers: the quickstart's explore, pairs and
# train stages, run on training queries that carry their answers, on the
# same queries with the answers stripped and on the same queries with WRONG
# answers, write identical records and pairs and byte-identical weights; so
# do runs with the self-reward audit on, whatever its probe's labels.
#   honesty_test.sh GENIUS_BINARY SOURCE_DIR
set -euo pipefail
genius=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Labeled items of the eval set stand in for training queries with answers.
head -n 6 "$source_dir/examples/arith/data/eval.jsonl" > "$work/with_answers.jsonl"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
rows = [json.loads(l) for l in open(f"{work}/with_answers.jsonl")]
with open(f"{work}/stripped.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps({k: v for k, v in r.items() if k != "answer"}) + "\n")
with open(f"{work}/wrong.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(dict(r, answer=str(int(r["answer"]) + 7))) + "\n")
PY

common=(--set data.max_train_queries=6 --set eval.enabled=false
        --set sampler.num_rollout=2 --set sampler.num_foresight=3 --set train.batch_size=4)
for variant in with_answers stripped wrong; do
  "$genius" run "$source_dir/configs/quickstart.toml" --out "$work/run-$variant" \
    --set data.train="$work/$variant.jsonl" "${common[@]}" --set run.iterations=1 >"$work/$variant.log" 2>&1 || { cat "$work/$variant.log"; exit 1; }
done
# Critique-in-the-loop exploration: the critic's verdicts, not the answers,
# decide which responses are refined and which refinements are kept.
critique=(--set data.max_train_queries=6 --set eval.enabled=false --set sampler.n=4 --set sampler.rounds=1
          --set sampler.threshold=0.95
          --set train.batch_size=4 --set run.iterations=1)
for variant in with_answers stripped wrong; do
  "$genius" run "$source_dir/configs/critique_loop.toml" --out "$work/critique-$variant" \
    --set data.train="$work/$variant.jsonl" "${critique[@]}" >"$work/critique-$variant.log" 2>&1 \
    || { cat "$work/critique-$variant.log"; exit 1; }
done
# The self-reward audit reads labels (of its probe items), before training:
# with true or wrong probe labels, the training data and weights stay the same,
# in the iteration it audits and in the next one (which would see any state
# the audit's exploration left behind).
for labels in none with_answers wrong; do
  audit=(--set audit.items=4 --set data.eval="$work/$labels.jsonl")
  [[ $labels == none ]] && audit=()
  "$genius" run "$source_dir/configs/quickstart.toml" --out "$work/audit-$labels" \
    --set data.train="$work/with_answers.jsonl" "${audit[@]}" "${common[@]}" --set run.iterations=2 \
    >"$work/audit-$labels.log" 2>&1 || { cat "$work/audit-$labels.log"; exit 1; }
done

python3 - "$work" <<'PY'
import filecmp, json, os, sys
work = sys.argv[1]
TIMINGS = {"seconds", "tokens_per_second", "elapsed", "wall_seconds"}
def rows(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        for k in TIMINGS:
            r.pop(k, None)
        out.append(r)
    return out
base = f"{work}/run-with_answers/iter-1"
records = rows(f"{base}/records.jsonl")
pairs = rows(f"{base}/pairs.jsonl")
assert len(records) == 6, f"expected 6 records, got {len(records)}"
assert len(pairs) > 0, "no preference pairs: the test would prove nothing"
for variant in ("stripped", "wrong"):
    other = f"{work}/run-{variant}/iter-1"
    assert rows(f"{other}/records.jsonl") == records, f"records differ with answers {variant}"
    assert rows(f"{other}/pairs.jsonl") == pairs, f"pairs differ with answers {variant}"
    assert filecmp.cmp(f"{base}/checkpoint/model.safetensors", f"{other}/checkpoint/model.safetensors",
                       shallow=False), f"trained weights differ with answers {variant}"
crit = f"{work}/critique-with_answers/iter-1"
crit_records, crit_pairs = rows(f"{crit}/records.jsonl"), rows(f"{crit}/pairs.jsonl")
assert len(crit_records) == 6 and any(len(r["steps"]) > 1 for r in crit_records), "critique-refine refined nothing"
for variant in ("stripped", "wrong"):
    other = f"{work}/critique-{variant}/iter-1"
    assert rows(f"{other}/records.jsonl") == crit_records, f"critique-refine records differ with answers {variant}"
    assert rows(f"{other}/pairs.jsonl") == crit_pairs, f"critique-refine pairs differ with answers {variant}"
    assert filecmp.cmp(f"{crit}/checkpoint/model.safetensors", f"{other}/checkpoint/model.safetensors",
                       shallow=False), f"critique-refine trained weights differ with answers {variant}"
plain = f"{work}/audit-none"
assert not os.path.exists(f"{plain}/iter-1/audit"), "audit off: no audit"
for labels in ("with_answers", "wrong"):
    assert os.path.exists(f"{work}/audit-{labels}/iter-2/audit/metrics.json"), "both iterations audited"
    for it in (1, 2):
        ours, other = f"{plain}/iter-{it}", f"{work}/audit-{labels}/iter-{it}"
        assert rows(f"{other}/records.jsonl") == rows(f"{ours}/records.jsonl"), f"iter-{it} records differ ({labels})"
        assert rows(f"{other}/pairs.jsonl") == rows(f"{ours}/pairs.jsonl"), f"iter-{it} pairs differ ({labels})"
        assert filecmp.cmp(f"{ours}/checkpoint/model.safetensors", f"{other}/checkpoint/model.safetensors",
                           shallow=False), f"iter-{it} trained weights differ with the audit on ({labels} labels)"
audits = [json.load(open(f"{work}/audit-{labels}/summary.json"))["audit"][0] for labels in ("with_answers", "wrong")]
assert audits[1]["audit/greedy_accuracy"] == 0, "every wrong label makes every greedy answer wrong"
assert audits[0]["audit/greedy_accuracy"] > 0, "the base model answers some of these right: the audit read the labels"
print(f"identical records ({len(records)}), pairs ({len(pairs)}) and weights with, without and with wrong answers,"
      " and with the audit on (true or wrong probe labels); critique-refine likewise"
      f" ({len(crit_records)} records, {len(crit_pairs)} pairs)")
PY
