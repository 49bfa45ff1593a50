"""Smoke check on real weights and data: the 3-phase chain vs FT only, same FT budget, on a seeded train subset.

python benchmarks/chain_smoke.py --task snips2 --train_samples 1000 --seeds 0
Each run goes through `harness.run_recipe` (the package's command line in process) at the recipe settings of
--profile (old: those its stored table ran at); the subset is the package's `--max_train_samples` draw for the seed.
Prints a table and writes benchmarks/results/chain_smoke_<task>.json.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import harness
from harness import mean_std

BUDGET = ["--dae_num_train_epochs", "1", "--cl_num_train_epochs", "1", "--ft_num_train_epochs", "3",
          "--max_seq_length", "64", "--per_device_train_batch_size", "32", "--per_device_eval_batch_size", "64",
          "--learning_rate", "5e-5", "--logging_steps", "20"]
SAMPLED_BUDGET = ["--pairs_per_example", "2"]  # the old profile's sampled pairs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="snips2")
    parser.add_argument("--train_samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["3phase", "ft"])
    parser.add_argument("--profile", choices=list(harness.PROFILES), default="old")
    parser.add_argument("--output_dir", default="runs/chain_smoke")
    cli = parser.parse_args()
    budget = [*BUDGET, *(SAMPLED_BUDGET if cli.profile == "old" else [])]
    rows = {}
    for seed in cli.seeds:
        for variant in cli.variants:
            data = [*harness.file_flags(cli.task), "--max_train_samples", str(cli.train_samples)]
            argv = harness.recipe_argv(variant, Path(cli.output_dir) / f"{cli.task}-{variant}-s{seed}", seed, data,
                                       budget, cli.profile)
            start = time.time()
            result = harness.run_recipe(argv)
            rows.setdefault(variant, []).append({"seed": seed, "wall_s": time.time() - start, **result["test"]})
    print("| variant | test accuracy | macro F1 | wall s | seeds |\n|---|---|---|---|---|")
    for variant, runs in rows.items():
        acc = [r["accuracy"] * 100 for r in runs]
        f1 = [r["f1"] * 100 for r in runs]
        print(f"| {variant} | {mean_std(acc)} | {mean_std(f1)} | {statistics.mean(r['wall_s'] for r in runs):.0f} | "
              f"{len(runs)} |")
    out = harness.ROOT / "benchmarks" / "results" / f"chain_smoke_{cli.task}.json"
    out.write_text(json.dumps({"command": vars(cli), "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
