"""Write a tiny addition task for run tests: train.jsonl (no answers) and eval.jsonl.
    make_tiny_task.py DIR [TRAIN_QUERIES [EVAL_ITEMS]]     (default 12 and 4)"""
import json
import random
import sys

work = sys.argv[1]
train_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 12
eval_items = int(sys.argv[3]) if len(sys.argv) > 3 else 4
rng = random.Random(5)


def problem():
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    return f"{a}+{b}=", str(a + b)


with open(f"{work}/train.jsonl", "w") as f:
    for i in range(train_queries):
        q, _ = problem()
        f.write(json.dumps({"id": f"t{i}", "instruction": q}) + "\n")
with open(f"{work}/eval.jsonl", "w") as f:
    for i in range(eval_items):
        q, a = problem()
        f.write(json.dumps({"instruction": q, "answer": a}) + "\n")
