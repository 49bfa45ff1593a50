#!/usr/bin/env python
"""Did each phase do its job? The phase diagnostics of 3phase before -> after each phase, with the old settings and
the new defaults, and FT's test score against plain FT on the same labelled texts, on the real all-MiniLM-L6-v2.

The low-label setting of issue 19: `--train_samples_per_class` labelled texts per class (k-shot, seeded), the train
texts left out as text-only DAE data (at most `--text_only`), the validation split for selection and diagnostics,
the test split once. Each run is `run_threephase.py` (in-process, `harness.run_recipe`); a finished run is skipped and a stopped one resumes
from its phase folders and checkpoints. Prints a table and writes one JSON per run plus a summary JSON.

    python benchmarks/phase_diagnostics.py --task sst5 --arms 3phase_old 3phase ft --seeds 0 1 2
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import harness
from harness import mean_std

# The budget of these tables; the arms (harness.ARMS) add their flags after it, at the recipe settings of --profile.
BUDGET = ["--max_seq_length", "64", "--per_device_train_batch_size", "32", "--per_device_eval_batch_size", "64",
          "--learning_rate", "5e-5", "--dae_num_train_epochs", "1", "--cl_num_train_epochs", "2",
          "--ft_num_train_epochs", "10", "--save_steps", "50"]
ARMS = ["3phase_old", "3phase", "3phase_pos02", "3phase_auto", "cl_ft", "ft"]
SHOWN = {"dae": ["information_gap", "mean_pairwise_cosine", "centroid_accuracy"],
         "cl": ["cosine_gap", "pair_loss", "constant_pair_loss", "mean_pairwise_cosine", "centroid_accuracy"],
         "ft": ["cosine_gap", "centroid_accuracy"]}


def command(task: str, arm: str, seed: int, cli) -> list[str]:
    output_dir = Path(cli.output_dir) / f"{task}-k{cli.k}-{arm}-s{seed}"
    data = [*harness.file_flags(task), *harness.k_shot_flags(cli.k, cli.text_only)]
    return harness.recipe_argv(arm, output_dir, seed, data, BUDGET, cli.profile)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="sst5")
    parser.add_argument("--k", type=int, default=200, help="labelled texts per class")
    parser.add_argument("--text_only", type=int, default=5000, help="cap on the text-only DAE texts")
    parser.add_argument("--arms", nargs="+", default=["3phase_old", "3phase", "ft"], choices=ARMS)
    parser.add_argument("--profile", choices=list(harness.PROFILES), default="old",
                        help="recipe settings under the budget: those of the stored tables (old) or the package's")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--output_dir", default="runs/phase_diagnostics")
    parser.add_argument("--results_dir", default=str(harness.ROOT / "benchmarks" / "results" / "phase_diagnostics"))
    cli = parser.parse_args()
    store = harness.ResultStore(cli.results_dir)
    for path in sorted(store.folder.glob("*.json")):  # before any run: one profile per results folder
        if (recorded := json.loads(path.read_text()).get("profile", "old")) != cli.profile:
            parser.error(f"{path} ran --profile {recorded}, not {cli.profile}: use another --results_dir")
    for seed in cli.seeds:
        for arm in cli.arms:
            name = f"{cli.task}-k{cli.k}-{arm}-s{seed}"
            if store.get(name) is not None:
                continue
            argv = command(cli.task, arm, seed, cli)
            results = harness.run_recipe(argv)  # its wall_s: seconds per phase
            store.put(name, {"task": cli.task, "k": cli.k, "arm": arm, "seed": seed, "profile": cli.profile,
                             "command": "python run_threephase.py " + " ".join(argv), **results})
    print(summary(store.folder, cli.task, cli.k))


def summary(results_dir: Path, task: str, k: int) -> str:
    runs = [json.loads(p.read_text()) for p in sorted(results_dir.glob(f"{task}-k{k}-*.json"))]
    runs = [run for run in runs if "test" in run]  # run records, not the per-phase records beside them
    lines = [f"### {task}, {k} labelled texts per class: diagnostics on validation, before -> after each phase", "",
             "| arm | seed | phase | " + " | ".join(sorted({m for ms in SHOWN.values() for m in ms})) + " |"]
    metrics = sorted({m for ms in SHOWN.values() for m in ms})
    lines.append("|---" * (len(metrics) + 3) + "|")
    for run in runs:
        for phase, diagnostics in run["diagnostics"].items():
            cells = []
            for name in metrics:
                before, after = diagnostics["before"].get(name), diagnostics["after"].get(name)
                cells.append("" if name not in SHOWN.get(phase, []) or before is None
                             else f"{before:.3f} → {after:.3f}")
            lines.append(f"| {run['arm']} | {run['seed']} | {phase} | " + " | ".join(cells) + " |")
    lines += ["", f"### {task}, {k} per class: test accuracy / macro F1 (%), and paired difference to ft", "",
              "| arm | runs | accuracy | macro F1 | − ft accuracy, per seed | wall s |", "|---|---|---|---|---|---|"]
    by = {(r["arm"], r["seed"]): r for r in runs}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        seeds = sorted(s for a, s in by if a == arm)
        acc = [100 * by[arm, s]["test"]["accuracy"] for s in seeds]
        f1 = [100 * by[arm, s]["test"]["f1"] for s in seeds]
        diffs = [100 * (by[arm, s]["test"]["accuracy"] - by["ft", s]["test"]["accuracy"]) for s in seeds
                 if ("ft", s) in by]
        lines.append(f"| {arm} | {len(seeds)} | {mean_std(acc)} | "
                     f"{mean_std(f1)} | {', '.join(f'{d:+.2f}' for d in diffs)} | "
                     f"{statistics.mean(sum(by[arm, s]['wall_s'].values()) for s in seeds):.0f} |")
    table = "\n".join(lines) + "\n"
    (results_dir / f"{task}-k{k}-summary.md").write_text(table)
    return table


if __name__ == "__main__":
    sys.exit(main())
