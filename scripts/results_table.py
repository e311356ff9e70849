#!/usr/bin/env python3
"""Write the tables of docs/results.md from a `genius sweep configs/efficacy.toml`
directory (finished or not: unfinished cells are counted, not tabulated).

Every number is a paired change: a cell's evaluation after iteration i minus
the same cell's evaluation of the base model (same seed, so the same eval
samples), then mean ± sample std over the seeds, in points.
    results_table.py SWEEP_DIR OUT.md"""
import json
import os
import statistics
import sys

sweep_dir, out_path = sys.argv[1:3]
state = json.load(open(os.path.join(sweep_dir, "sweep.json")))
HARD = "eval-hard/"


def stat(values, signed=True, scale=100):
    """Mean ± sample std (x scale); signed writes the mean with its sign."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = f"{scale * statistics.mean(values):{'+' if signed else ''}.1f}"
    if len(values) < 2:
        return mean
    return f"{mean} ± {scale * statistics.stdev(values):.1f}"


def label(values):
    """The method a cell's varied keys stand for."""
    v = {k: x.strip('"') for k, x in values.items()}
    if v.get("sampler.plugin") in ("best-of-n", "self-consistency"):
        return f"{v['sampler.plugin']} sampling ({v.get('value.plugin')}), ACO"
    if "sampler.rejected" in v:
        rule = {"softmax": "softmax draw (the paper's)", "random": "uniform draw (the released code's)"}
        return f"ACO, rejected = {rule.get(v['sampler.rejected'], v['sampler.rejected'])}"
    if v.get("loss.calibration") == "released-code":
        return "ACO, released-code form (max(1, .))"
    if v.get("loss.calibration") == "paper":
        return f"ACO, paper form at the paper's settings (beta {v.get('loss.beta')}, nll_weight {v.get('loss.nll_weight')})"
    loss = v.get("loss.plugin", "aco")
    return {"aco": "ACO, paper form (the quickstart's recipe)", "sft": "SFT on the chosen side"}.get(loss, loss.upper())


groups, base, finished, total = {}, {}, 0, 0
for cell in state["cells"]:
    total += 1
    path = os.path.join(sweep_dir, cell["name"], "summary.json")
    if not os.path.exists(path):
        continue
    summary = json.load(open(path))
    if summary.get("status") != "finished" or not summary.get("eval"):
        continue
    finished += 1
    evals = {e["iteration"]: e for e in summary["eval"]}
    audits = {a["iteration"]: a for a in summary.get("audit", [])}
    base.setdefault(cell.get("seed"), evals[0])
    g = groups.setdefault(label(cell["values"]), {"cells": [], "iterations": summary.get("iterations", 1)})
    g["cells"].append({"evals": evals, "audits": audits, "wall": summary.get("wall_seconds", 0)})


def change(g, iteration, key):
    out = []
    for c in g["cells"]:
        e, b = c["evals"].get(iteration), c["evals"][0]
        if e is not None and e.get(key) is not None and b.get(key) is not None:
            out.append(e[key] - b[key])
    return out


def audit(g, iteration, key):
    return [c["audits"][iteration].get(key) for c in g["cells"] if iteration in c["audits"]]


lines = [
    "# Results: Genius on the embedded arith task",
    "",
    "Regenerate with `scripts/efficacy.sh` (runs or resumes `genius sweep",
    "configs/efficacy.toml`, then writes this file with `scripts/results_table.py`",
    "and appends docs/results-notes.md). Every row starts from the shipped base model",
    "(`examples/arith/base-model`) with the quickstart's settings (configs/quickstart.toml)",
    "on 500 unlabeled queries per iteration (a seeded random subset of the 2000);",
    "only the named component changes. Rows that differ only in the loss train on the",
    "same iteration-1 exploration; later iterations re-explore with the policy the row",
    "trained. No labels are used except to evaluate and to audit.",
    "",
    "Held-out sets: `eval` = 500 items of levels 2-4 (examples/arith/data/eval.jsonl), the",
    "base model's pretraining levels; `hard` = 500 items of levels 5-6",
    "(examples/arith/data/eval-hard.jsonl), beyond them. Greedy accuracy and sampled pass@1",
    "(4 samples per item at temperature 0.6). Every figure is a paired change in points:",
    "after iteration i minus the same run's base evaluation (same seed), mean ± sample",
    "standard deviation over the seeds. Machine: 2 CPU cores, float32.",
    "",
    f"Cells finished: {finished} of {total}.",
    "",
]
seeds = sorted(base)
lines += [
    "The base model itself (accuracy, not a change; pass@1 varies with the seed's eval samples):",
    "",
    "| base model (before training) | seeds | greedy | pass@1 | hard greedy | hard pass@1 |",
    "|---|---|---|---|---|---|",
    f"| examples/arith/base-model | {len(seeds)} | {stat([base[s].get('greedy_accuracy') for s in seeds], False)} | "
    f"{stat([base[s].get('pass@1') for s in seeds], False)} | {stat([base[s].get(HARD + 'greedy_accuracy') for s in seeds], False)} | "
    f"{stat([base[s].get(HARD + 'pass@1') for s in seeds], False)} |",
    "",
]

multi = {n: g for n, g in groups.items() if g["iterations"] > 1}
if multi:
    its = max(g["iterations"] for g in multi.values())
    lines += ["## Several iterations", "",
              "Change of greedy accuracy / sampled pass@1 on `eval` after each iteration, and on",
              "`hard` after the last.", ""]
    head = "| method | seeds | " + " | ".join(f"it {i} greedy | it {i} pass@1" for i in range(1, its + 1))
    lines += [head + f" | hard greedy (it {its}) | hard pass@1 (it {its}) |",
              "|---|---|" + "---|---|" * its + "---|---|"]
    for name, g in multi.items():
        row = f"| {name} | {len(g['cells'])} | "
        row += " | ".join(f"{stat(change(g, i, 'greedy_accuracy'))} | {stat(change(g, i, 'pass@1'))}" for i in range(1, its + 1))
        row += f" | {stat(change(g, its, HARD + 'greedy_accuracy'))} | {stat(change(g, its, HARD + 'pass@1'))} |"
        lines.append(row)
    lines += ["", "The self-reward audit (docs/audit.md) of each iteration's starting policy, exploring",
              "100 labeled probe items as the iteration explored its training queries: pair",
              "precision among pairs whose sides differ in",
              "correctness, on all items and on those whose greedy answer is wrong (the pairs",
              "that could lift greedy accuracy), in %.", "",
              "| method | " + " | ".join(f"it {i} precision | it {i} on greedy-wrong" for i in range(1, its + 1)) + " |",
              "|---|" + "---|---|" * its]
    for name, g in multi.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{stat(audit(g, i, 'audit/pair_precision'), False)} | {stat(audit(g, i, 'audit/pair_precision/greedy_wrong'), False)}"
            for i in range(1, its + 1)) + " |")
    lines.append("")

lines += ["## Iteration 1: every method on the same queries", "",
          "Changes after one iteration (the columns as above), and the audit of the",
          "iteration's exploration: the value estimate's ROC-AUC at separating right from",
          "wrong trajectories, pair precision (all / greedy-wrong items), and the share of",
          "pairs whose sides reach the same answer.", "",
          "| method | seeds | greedy | pass@1 | hard greedy | hard pass@1 | value AUC (x100) | pair precision | on greedy-wrong | same-answer pairs | wall time per run (s) |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
for name, g in groups.items():
    lines.append(
        f"| {name} | {len(g['cells'])} | {stat(change(g, 1, 'greedy_accuracy'))} | {stat(change(g, 1, 'pass@1'))} | "
        f"{stat(change(g, 1, HARD + 'greedy_accuracy'))} | {stat(change(g, 1, HARD + 'pass@1'))} | "
        f"{stat(audit(g, 1, 'audit/value_auc'), False)} | "
        f"{stat(audit(g, 1, 'audit/pair_precision'), False)} | {stat(audit(g, 1, 'audit/pair_precision/greedy_wrong'), False)} | "
        f"{stat(audit(g, 1, 'audit/same_answer_pairs'), False)} | {statistics.mean(c['wall'] for c in g['cells']):.0f} |")
lines += ["", ""]
tmp = out_path + ".tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines))
os.replace(tmp, out_path)
print(f"wrote {out_path}")
