#!/usr/bin/env python3
"""Tabulate a decode study (scripts/decode_study.sh): per set, every method's
accuracy and cost, and its paired difference from majority@N at the same N
(mean of per-item correct(method) - correct(majority), with its standard error).

    python3 scripts/decode_table.py runs/decode-study
"""
import json
import math
import os
import re
import sys


def load(cell):
    summary = json.load(open(os.path.join(cell, "decode.json")))
    items = {}
    for line in open(os.path.join(cell, "decode.jsonl")):
        row = json.loads(line)
        items[row["id"]] = 1.0 if row["correct"] else 0.0
    return summary, items


def paired(a, b):
    diffs = [a[k] - b[k] for k in a if k in b]
    n = len(diffs)
    if n < 2:
        return float("nan"), float("nan")
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return mean, math.sqrt(var / n)


def order(name):
    base, _, n = name.rpartition("-")
    return (int(n), base) if n.isdigit() else (0, name)


def main(root):
    for set_name in sorted(os.listdir(root)):
        cells = {c: load(os.path.join(root, set_name, c)) for c in os.listdir(os.path.join(root, set_name))
                 if os.path.exists(os.path.join(root, set_name, c, "decode.json"))}
        if not cells:
            continue
        print(f"\n#### {set_name} ({next(iter(cells.values()))[0]['items']} items)\n")
        print("| method | N | accuracy | vs majority@N (paired, ± s.e.) | actor tokens/query | critic tokens scored/query | FLOPs/query |")
        print("|---|---|---|---|---|---|---|")
        for name in sorted(cells, key=order):
            summary, items = cells[name]
            m = re.match(r"(.*)-(\d+)$", name)
            method, n = (m.group(1), m.group(2)) if m else (name, "")
            diff = ""
            base = f"majority-{n}"
            if n and method != "majority" and base in cells:
                mean, se = paired(items, cells[base][1])
                diff = f"{100 * mean:+.1f} ± {100 * se:.1f}"
            actor = summary["actor"]
            critic = summary.get("critic", {})
            tokens = actor["generated_per_query"]
            scored = critic.get("scored_per_query", 0.0)
            print(f"| {method} | {n} | {100 * summary['accuracy']:.1f}% | {diff} | {tokens:.0f} | "
                  f"{scored:.0f} | {summary['flops'] / summary['items']:.2e} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/decode-study")
