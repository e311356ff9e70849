#!/usr/bin/env python3
"""How often a run's preference pairs prefer the right answer, on the arith
task: the true answer is computed from each query (a left-to-right sum), so
this reads no label file. For measuring the self-reward, never for training.
    arith_pair_signal.py RUN_DIR/iter-1/pairs.jsonl"""
import json
import re
import sys


def content(x):
    return x[0]["content"] if isinstance(x, list) else x


def answer(text):
    found = re.findall(r"\\boxed\{([^}]*)\}", text)
    return found[-1] if found else None


def value(expression):
    total, sign, number = 0, 1, ""
    for ch in expression + "+":
        if ch.isdigit():
            number += ch
        else:
            total += sign * int(number)
            number, sign = "", (1 if ch == "+" else -1)
    return str(total)


pairs = chosen_right = rejected_right = one_sided = chosen_side = 0
for line in open(sys.argv[1]):
    p = json.loads(line)
    truth = value(content(p["prompt"]))
    a, b = answer(content(p["chosen"])) == truth, answer(content(p["rejected"])) == truth
    pairs += 1
    chosen_right += a
    rejected_right += b
    if a != b:
        one_sided += 1
        chosen_side += a
print(f"{pairs} pairs: chosen side correct {100 * chosen_right / pairs:.1f}%, rejected side {100 * rejected_right / pairs:.1f}%; "
      f"of the {one_sided} pairs with exactly one correct side, the chosen one is correct in "
      f"{100 * chosen_side / max(one_sided, 1):.1f}%")
