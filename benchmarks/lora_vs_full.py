"""LoRA 3phase vs full 3phase on real weights and data: test accuracy, wall time and peak memory (RSS).

python benchmarks/lora_vs_full.py --task snips2 --train_samples 1000 --seed 0
Each configuration runs `run_threephase.py` in its own process, so its peak RSS is its own, with the flags of
`harness.recipe_argv` (the old recipe settings its stored table ran at). Prints a table and writes
benchmarks/results/lora_vs_full_<task>.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import harness

ROOT = harness.ROOT
BUDGET = ["--dae_num_train_epochs", "1", "--cl_num_train_epochs", "1", "--ft_num_train_epochs", "3",
          "--pairs_per_example", "2", "--max_seq_length", "64", "--per_device_train_batch_size", "32",
          "--per_device_eval_batch_size", "64", "--logging_steps", "20"]
CONFIGS = {
    "full, lr 5e-5": ["--learning_rate", "5e-5"],
    "LoRA r=8, lr 5e-5": ["--learning_rate", "5e-5", "--use_peft", "true"],
    "LoRA r=8, lr 5e-4": ["--learning_rate", "5e-4", "--use_peft", "true"],
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="snips2")
    parser.add_argument("--train_samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default="runs/lora_vs_full")
    cli = parser.parse_args()
    data = [*harness.file_flags(cli.task), "--max_train_samples", str(cli.train_samples)]
    rows = {}
    for name, flags in CONFIGS.items():
        out = Path(cli.output_dir) / f"{cli.task}-{name.replace(' ', '').replace(',', '_')}-s{cli.seed}"
        start = time.time()
        argv = harness.recipe_argv("3phase", out, cli.seed, data, [*BUDGET, *flags], "old")
        child = subprocess.Popen([sys.executable, str(ROOT / "run_threephase.py"), *argv],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            sys.exit(f"{name} failed:\n{child.stderr.read().decode()[-3000:]}")
        result = json.loads((out / "results.json").read_text())
        rows[name] = {"accuracy": result["test"]["accuracy"], "f1": result["test"]["f1"],
                      "wall_s": time.time() - start, "peak_rss_mib": usage.ru_maxrss / 1024, "flags": flags,
                      "command": "python run_threephase.py " + " ".join(argv)}
    print("| configuration | test accuracy | macro F1 | wall s | peak RSS MiB |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {100 * r['accuracy']:.2f} | {100 * r['f1']:.2f} | {r['wall_s']:.0f} | {r['peak_rss_mib']:.0f} |")
    out = ROOT / "benchmarks" / "results" / f"lora_vs_full_{cli.task}.json"
    out.write_text(json.dumps({"command": vars(cli), "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
