"""Compare two run directories of the same config: records, pairs, training
metrics and eval results of every iteration must be equal (timings aside),
checkpoints byte-equal.
    compare_runs.py RUN_A RUN_B"""
import filecmp
import json
import os
import sys

a_dir, b_dir = sys.argv[1:3]
TIMINGS = {"seconds", "tokens_per_second", "tokens/s", "elapsed", "wall_seconds"}


def rows(path):
    out = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            for k in TIMINGS:
                r.pop(k, None)
            out.append(r)
    return out


iterations = sorted(int(d[5:]) for d in os.listdir(a_dir) if d.startswith("iter-") and d[5:].isdigit() and d != "iter-0")
failed = not iterations
if failed:
    print(f"{a_dir} holds no iteration")
for it in iterations:
    for name in ("records.jsonl", "pairs.jsonl", "train_metrics.jsonl", "audit/records.jsonl", "audit/pairs.jsonl",
                 "audit/items.jsonl"):
        if not os.path.exists(f"{a_dir}/iter-{it}/{name}"):  # a run without an audit
            continue
        a, b = rows(f"{a_dir}/iter-{it}/{name}"), rows(f"{b_dir}/iter-{it}/{name}")
        if a != b:
            failed = True
            print(f"iter-{it}/{name} differs from the uninterrupted run ({len(a)} vs {len(b)} lines)")
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    print(f"  first difference at line {i + 1}\n  a: {json.dumps(x)[:300]}\n  b: {json.dumps(y)[:300]}")
                    break
    weights = "checkpoint/model.safetensors"
    if not os.path.exists(f"{a_dir}/iter-{it}/{weights}"):  # a LoRA run: the PEFT adapter
        weights = "checkpoint/adapter_model.safetensors"
    if not filecmp.cmp(f"{a_dir}/iter-{it}/{weights}", f"{b_dir}/iter-{it}/{weights}", shallow=False):
        failed = True
        print(f"iter-{it}/{weights} differs")

summaries = [json.load(open(f"{d}/summary.json")) for d in (a_dir, b_dir)]
evals = [[{k: v for k, v in e.items() if k not in TIMINGS} for e in s["eval"]] for s in summaries]
if evals[0] != evals[1] or len(evals[0]) != len(iterations) + 1:
    failed = True
    print("eval results differ:", evals)
audits = [[{k: v for k, v in e.items() if k not in TIMINGS} for e in s.get("audit", [])] for s in summaries]
audited = os.path.exists(f"{a_dir}/iter-1/audit")
if audits[0] != audits[1] or len(audits[0]) != (len(iterations) if audited else 0):
    failed = True
    print("audit results differ:", audits)
# Each stage's results in summary.json (not its accounting of this process's work).
RESULTS = {"train": ("last_loss", "steps", "pairs", "pairs_used", "pairs_dropped", "responses_truncated"),
           "pairs": ("pairs", "records"), "explore": ("queries",)}
for stage, a in summaries[0]["stages"].items():
    b = summaries[1]["stages"].get(stage)
    keys = RESULTS.get(stage.split("-")[0], ())
    if b is None or any(a.get(k) != b.get(k) for k in keys):
        failed = True
        print(f"summary.json stage {stage} differs: {json.dumps({k: a.get(k) for k in keys})} vs "
              f"{json.dumps({k: (b or {}).get(k) for k in keys})}")
sys.exit(1 if failed else 0)
