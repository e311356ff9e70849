"""Write a tiny addition task for run tests: train.jsonl (no answers) and eval.jsonl."""
import json
import random
import sys

work = sys.argv[1]
rng = random.Random(5)


def problem():
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    return f"{a}+{b}=", str(a + b)


with open(f"{work}/train.jsonl", "w") as f:
    for i in range(12):
        q, _ = problem()
        f.write(json.dumps({"id": f"t{i}", "instruction": q}) + "\n")
with open(f"{work}/eval.jsonl", "w") as f:
    for i in range(4):
        q, a = problem()
        f.write(json.dumps({"instruction": q, "answer": a}) + "\n")
