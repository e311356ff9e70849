#!/usr/bin/env python3
"""Write docs/results.md from a finished `genius sweep configs/efficacy.toml`
directory: the base model (every cell's evaluation before training) and each
group of cells (one per method, over seeds) after training, as mean ± sample
std, with the eval-set size, the sampling cost and the wall time.
    results_table.py SWEEP_DIR OUT.md"""
import json
import os
import statistics
import sys

sweep_dir, out_path = sys.argv[1:3]
state = json.load(open(os.path.join(sweep_dir, "sweep.json")))
cells = state["cells"]


def stat(values, sign=""):
    """Mean ± sample std in percent; sign="+" writes the mean signed (for changes)."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = f"{100 * statistics.mean(values):{sign}.1f}"
    if len(values) < 2:
        return mean
    return f"{mean} ± {100 * statistics.stdev(values):.1f}"


def label(values):
    keys = {k: v for k, v in values.items() if k != "run.seed"}
    if keys.get("sampler.plugin") in ("best-of-n", "self-consistency"):
        return f"Genius loop with {keys['sampler.plugin']} sampling ({keys.get('value.plugin')}), ACO"
    return f"Genius (foresight, foresight-logprob), {keys.get('loss.plugin', 'aco').upper()}"


groups, base, items, walls = {}, [], None, []
for cell in cells:
    cell["values"] = {k: v.strip('"') for k, v in cell["values"].items()}
    cell["values"]["run.seed"] = cell.get("seed")
    summary_path = os.path.join(sweep_dir, cell["name"], "summary.json")
    if not os.path.exists(summary_path):
        continue
    summary = json.load(open(summary_path))
    if summary.get("status") != "finished" or not summary.get("eval"):
        continue
    first, last = summary["eval"][0], summary["eval"][-1]
    items = first.get("items", items)
    base.append((cell["values"].get("run.seed"), first))
    tokens = sum(st.get("generated_tokens", 0) for name, st in summary["stages"].items() if name.startswith("explore"))
    walls.append(summary.get("wall_seconds", 0))
    g = groups.setdefault(label(cell["values"]),
                          {"greedy": [], "pass": [], "d_greedy": [], "d_pass": [], "tokens": [], "wall": [], "seeds": []})
    g["greedy"].append(last.get("greedy_accuracy"))
    g["pass"].append(last.get("pass@1"))
    # Paired change: the same seed's base eval (same eval samples' seed), so
    # the sampling noise of pass@1 largely cancels.
    for key, name in (("d_greedy", "greedy_accuracy"), ("d_pass", "pass@1")):
        if last.get(name) is not None and first.get(name) is not None:
            g[key].append(last[name] - first[name])
    g["tokens"].append(tokens)
    g["wall"].append(summary.get("wall_seconds", 0))
    g["seeds"].append(cell["values"].get("run.seed"))

# The base model is the same in every cell; its sampled pass@1 depends on the seed.
base_by_seed = {}
for seed, e in base:
    base_by_seed.setdefault(seed, e)
config = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "quickstart.toml")).read()
lines = [
    "# Results: Genius on the embedded arith task",
    "",
    "Regenerate with `scripts/efficacy.sh` (runs `genius sweep configs/efficacy.toml`,",
    "then writes this file with `scripts/results_table.py`). Every row starts from the",
    "shipped base model (`examples/arith/base-model`) and uses the quickstart's settings",
    "(configs/quickstart.toml); only the named component changes. The four losses train on",
    "the same foresight exploration (shared by the sweep). No labels are used except to",
    "evaluate.",
    "",
    f"Held-out set: {items} labeled items (examples/arith/data/eval.jsonl), greedy accuracy",
    "and sampled pass@1 (4 samples per item at temperature 0.6), in %. Mean ± sample",
    "standard deviation over the seeds; the seed changes the exploration, the pair",
    "draws, the data order and the eval samples. Machine: 2 CPU cores, float32.",
    "",
    "The change columns compare each run with its own evaluation before training",
    "(same seed), then average over the seeds.",
    "",
    "| method | seeds | greedy accuracy | sampled pass@1 | change of greedy | change of pass@1 | tokens sampled by its exploration | wall time per run (s) |",
    "|---|---|---|---|---|---|---|---|",
    f"| base model (before training) | {len(base_by_seed)} | {stat([e.get('greedy_accuracy') for e in base_by_seed.values()])} | "
    f"{stat([e.get('pass@1') for e in base_by_seed.values()])} | - | - | 0 | - |",
]
for name, g in groups.items():
    lines.append(
        f"| {name} | {len(g['seeds'])} | {stat(g['greedy'])} | {stat(g['pass'])} | {stat(g['d_greedy'], '+')} | "
        f"{stat(g['d_pass'], '+')} | "
        f"{int(statistics.mean(g['tokens']))} | {statistics.mean(g['wall']):.0f} |")
lines += ["", f"Total wall time of the sweep's runs: {sum(walls) / 60:.1f} min (cells that shared an exploration",
          "did not pay for it again; their wall time is training and evaluation only).",
          "A plugin switched in by the sweep starts from its own defaults plus the sweep's",
          "settings: DPO gets the quickstart's beta 5 and nll_weight 1, SimPO its defaults",
          "(docs/config.md).", "", ""]
tmp = out_path + ".tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines))
os.replace(tmp, out_path)
print(f"wrote {out_path}")
