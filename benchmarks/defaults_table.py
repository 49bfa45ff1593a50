#!/usr/bin/env python
r"""The new defaults (in-batch CL pairs, LP-FT) against the old ones and SetFit, on the low-label runs of
`low_label.py` (all-MiniLM-L6-v2, the same k-shot draw per seed for every arm).

Arms, by the settings `low_label.py` ran them under:
- `ft` and `cl_ft` of `k<k>`: the old defaults (sampled pairs, 2 CL epochs at the authors' budget, a random head);
- `ft+lpft` (`k<k>-lpft`, `--lp_ft true`) and `cl_ft+ib` (`k<k>-ib10lp`: `--contrastive_pairs in_batch
  --positive_pair_fraction auto --cl_num_train_epochs 10 --lp_ft true`): the new ones;
- `setfit` of `k<k>`: SetFit 1.x at its defaults on the same body.
Only seeds every arm of a setting ran are compared. For each arm: test macro F1 mean ± std, the paired difference
to SetFit per seed (mean ± std; seeds ahead / tied within 0.5 / behind), wall seconds per run, and for the CL phase its
encoder passes (texts embedded in training: epochs x texts in-batch, epochs x 2 x pairs sampled) and wall seconds,
read from the run folders under --runs. The last line is the issue's goal: the recommended arm's mean difference to
SetFit over the settings, and its wall time against SetFit's.

    python benchmarks/defaults_table.py --tasks sst5 sst2 --k 8 32
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

from table_cells import mean_std

ROOT = Path(__file__).resolve().parents[1]
ARMS = {"ft": ("k{k}", "ft"), "cl_ft": ("k{k}", "cl_ft"), "ft+lpft": ("k{k}-lpft", "ft"),
        "cl_ft+ib": ("k{k}-ib10lp", "cl_ft"), "setfit": ("k{k}", "setfit")}
RECOMMENDED = "cl_ft+ib"


def load(results: Path, task: str, k: int, arm: str, seed: int) -> dict | None:
    setting, name = ARMS[arm]
    path = results / f"{task}-{setting.format(k=k)}-{name}-s{seed}.json"
    return json.loads(path.read_text()) if path.exists() else None


def cl_cost(runs: Path, task: str, k: int, arm: str, seed: int) -> tuple[float, float] | None:
    """(encoder passes, wall seconds) of the run's CL phase, from its folder; None without one."""
    setting, name = ARMS[arm]
    folder = runs / f"{task}-{setting.format(k=k)}-{name}-s{seed}" / "cl"
    if not (folder / "phase_metrics.json").exists():
        return None
    metrics = json.loads((folder / "phase_metrics.json").read_text())
    recipe = json.loads((folder / "phase_inputs.json").read_text())["recipe"]
    per_item = 1 if recipe.get("contrastive_pairs", "sampled") == "in_batch" else 2
    return metrics["train_examples"] * metrics["train"]["epoch"] * per_item, metrics["wall_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["sst5", "sst2"])
    parser.add_argument("--k", nargs="+", type=int, default=[8, 32])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "low_label"))
    parser.add_argument("--runs", default="runs/low_label")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "defaults_table"))
    cli = parser.parse_args()
    results, runs = Path(cli.results), Path(cli.runs)
    lines = ["| task | k | arm | seeds | macro F1 | − setfit, per seed | a/t/b | wall s per run | CL encoder passes | "
             "CL wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
    rows, goal = [], {"differences": [], "wall_ratio": []}
    for task in cli.tasks:
        for k in cli.k:
            seeds = [s for s in cli.seeds if all(load(results, task, k, arm, s) for arm in ARMS)]
            if not seeds:
                lines.append(f"| {task} | {k} | (no seed with every arm) | 0 | | | | | | |")
                continue
            runs_of = {arm: [load(results, task, k, arm, s) for s in seeds] for arm in ARMS}
            f1 = {arm: [100 * r["test"]["f1"] for r in rs] for arm, rs in runs_of.items()}
            wall = {arm: [sum(v for v in r["wall_s"].values() if v) for r in rs] for arm, rs in runs_of.items()}
            for arm in ARMS:
                diffs = [a - b for a, b in zip(f1[arm], f1["setfit"])]
                costs = [cl_cost(runs, task, k, arm, s) for s in seeds]
                costs = [c for c in costs if c]
                row = {"task": task, "k": k, "arm": arm, "seeds": seeds, "f1": f1[arm], "minus_setfit": diffs,
                       "wall_s": wall[arm], "cl_encoder_passes": [c[0] for c in costs],
                       "cl_wall_s": [c[1] for c in costs]}
                rows.append(row)
                paired = "" if arm == "setfit" else (", ".join(f"{d:+.2f}" for d in diffs)
                                                     + (f" ({mean_std(diffs, signed=True)})" if len(diffs) > 1 else ""))
                tally = "" if arm == "setfit" else (f"{sum(d > 0.5 for d in diffs)}/{sum(abs(d) <= 0.5 for d in diffs)}"
                                                    f"/{sum(d < -0.5 for d in diffs)}")
                passes = f"{statistics.mean(row['cl_encoder_passes']):.0f}" if costs else ""
                cl_wall = f"{statistics.mean(row['cl_wall_s']):.0f}" if costs else ""
                lines.append(f"| {task} | {k} | {arm} | {len(seeds)} | {mean_std(f1[arm])} | {paired} | {tally} | "
                             f"{statistics.mean(wall[arm]):.0f} | {passes} | {cl_wall} |")
            goal["differences"].append(statistics.mean(a - b for a, b in zip(f1[RECOMMENDED], f1["setfit"])))
            goal["wall_ratio"].append(statistics.mean(wall[RECOMMENDED]) / statistics.mean(wall["setfit"]))
    if goal["differences"]:
        lines += ["", f"Goal (the recommended arm, {RECOMMENDED}, ≥ SetFit + 2 macro F1 averaged over the "
                      f"{len(goal['differences'])} settings, at no more than SetFit's wall time): "
                      f"{statistics.mean(goal['differences']):+.2f} macro F1 (per setting "
                      f"{', '.join(f'{d:+.2f}' for d in goal['differences'])}), wall time "
                      f"{', '.join(f'{r:.2f}' for r in goal['wall_ratio'])} × SetFit's."]
    table = "\n".join(lines) + "\n"
    out = Path(cli.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(table)
    (out / "summary.json").write_text(json.dumps({"rows": rows, "goal": goal}, indent=2))
    print(table)


if __name__ == "__main__":
    sys.exit(main())
