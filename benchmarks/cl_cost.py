#!/usr/bin/env python
r"""What contrastive training costs on SST-5 with all-MiniLM-L6-v2, at k = 8 and 32 labelled texts per class (seed 0's
draw) and on the full train split (8,544 texts): the package's CL phase with in-batch pairs (its default budget here,
10 epochs at k-shot, with its early stopping, 1 epoch on full train) and with the authors' sampled pairs (10 pairs
per text and epoch, 2 epochs), against SetFit's body training (its defaults at k-shot; on full train, where its
oversampling would draw ~57 million pairs, the SetFit paper's 20 iterations: 40 pairs per text). One run each, one
after another, on the same machine.

Each CL arm runs `--variant cl_ft` with a token FT (`--ft_num_train_epochs 0.01`) through `harness.run_recipe`; its
encoder passes (texts embedded in training) and wall seconds come from `cl/phase_metrics.json`. The sampled arm on
full train runs a share of its epochs (`--share`) and is scaled to the whole, said so in the table; SetFit's body is
timed on at most `--setfit_steps` of its steps (model loading and pair building left out) and scaled the same way,
its pairs counted exactly.

    python benchmarks/cl_cost.py
"""

import argparse
import json
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

import harness

SETTINGS = {"k8": 8, "k32": 32, "full": None}
# arm -> (flags, epochs of the phase at k-shot, on full train)
ARMS = {"in_batch": (["--contrastive_pairs", "in_batch"], 10.0, 1.0),
        "sampled": (["--contrastive_pairs", "sampled", "--pairs_per_example", "auto"], 2.0, 2.0)}
BUDGET = ["--max_seq_length", "64", "--per_device_train_batch_size", "16", "--learning_rate", "5e-5",
          "--ft_num_train_epochs", "0.01", "--save_steps", "100"]


def data_flags(k: int | None) -> list[str]:
    return [*harness.file_flags("sst5"), *(["--train_samples_per_class", str(k)] if k else [])]


def cl_arm(setting: str, arm: str, cli) -> dict:
    flags, kshot_epochs, full_epochs = ARMS[arm]
    epochs = kshot_epochs if SETTINGS[setting] else full_epochs
    share = cli.share if setting == "full" and arm == "sampled" else 1.0  # the one arm run on a share
    out = Path(cli.output_dir) / f"{setting}-{arm}"
    argv = harness.recipe_argv("cl_ft", out, 0, data_flags(SETTINGS[setting]),
                               [*BUDGET, "--cl_num_train_epochs", f"{epochs * share:g}", *flags])
    harness.run_recipe(argv)
    cost = harness.cl_cost(out)
    scale = 1 / share  # a phase that stopped early (no gain in its validation cosine gap) is reported as it ran
    metrics = json.loads((out / "cl" / "phase_metrics.json").read_text())
    return {"texts": cost["train_examples"], "epochs_run": cost["epochs"], "epochs_of_the_phase": epochs,
            "encoder_passes": cost["encoder_passes"] * scale, "wall_s": cost["wall_s"] * scale,
            "scaled": share < 1, "cosine_gap_after": metrics["diagnostics"]["after"].get("cosine_gap"),
            "command": argv}


class StepClock(TrainerCallback):
    """Seconds from the start of the first optimizer step to the end of training (not the data building before it)."""

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = getattr(self, "start", None) or time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds, self.steps = time.perf_counter() - self.start, state.global_step


def setfit_arm(setting: str, cli) -> dict:
    """SetFit's body training on the same labelled texts: its pairs counted (`harness.setfit_pairs`), at most
    `--setfit_steps` of its steps timed (data building and model loading left out) and scaled to all of them."""
    from setfit import SetFitModel, Trainer, TrainingArguments

    from hf_threephase.cli import parse_args
    from hf_threephase.data import load_labelled_data

    out = Path(cli.output_dir) / f"{setting}-setfit"
    argv = harness.recipe_argv("ft", out, 0, data_flags(SETTINGS[setting]), [])
    train = load_labelled_data(parse_args(argv)[1], seed=0)[0]["train"].select_columns(["text", "label"])
    iterations = None if SETTINGS[setting] else 20
    pairs = harness.setfit_pairs(train["label"], iterations)
    args = TrainingArguments(output_dir=str(out), seed=0, report_to="none", show_progress_bar=False, max_length=64,
                             num_iterations=iterations)
    steps = -(-pairs // args.embedding_batch_size)
    clock = StepClock()
    args = TrainingArguments(output_dir=str(out), seed=0, report_to="none", show_progress_bar=False, max_length=64,
                             num_iterations=iterations, max_steps=min(steps, cli.setfit_steps))
    trainer = Trainer(model=SetFitModel.from_pretrained(harness.model_path()), args=args, train_dataset=train,
                      callbacks=[clock])
    trainer.train_embeddings(train["text"], train["label"])
    per_step = clock.seconds / clock.steps
    return {"texts": len(train), "pairs": pairs, "epochs_run": clock.steps / steps, "epochs_of_the_phase": 1.0,
            "encoder_passes": 2 * pairs, "wall_s": per_step * steps, "scaled": clock.steps < steps,
            "num_iterations": iterations}


def evaluations_run(run_dir: Path) -> int | None:
    """How many validation evaluations a CL phase ran (its `trainer_state.json`), or None without the folder."""
    state = run_dir / "cl" / "trainer_state.json"
    if not state.exists():
        return None
    return sum("eval_cosine_gap" in log for log in json.loads(state.read_text())["log_history"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--arms", nargs="+", default=[*ARMS, "setfit"], choices=[*ARMS, "setfit"])
    parser.add_argument("--share", type=float, default=0.01, help="share of the sampled full-train phase run")
    parser.add_argument("--setfit_steps", type=int, default=200, help="at most this many SetFit body steps timed")
    parser.add_argument("--output_dir", default="runs/cl_cost")
    parser.add_argument("--out", default=str(harness.ROOT / "benchmarks" / "results" / "cl_cost_sst5.json"))
    cli = parser.parse_args()
    out = Path(cli.out)
    rows = json.loads(out.read_text()) if out.exists() else {}
    for setting in cli.settings:
        for arm in cli.arms:
            key = f"{setting}/{arm}"
            if key not in rows:
                rows[key] = setfit_arm(setting, cli) if arm == "setfit" else cl_arm(setting, arm, cli)
                out.write_text(json.dumps(rows, indent=2))
    lines = []
    for key, row in rows.items():
        setting, arm = key.split("/")
        base = rows.get(f"{setting}/in_batch")
        evaluations = evaluations_run(Path(cli.output_dir) / f"{setting}-{arm}") if arm != "setfit" else 0
        lines.append([setting, arm, str(row["texts"]), f"{row['epochs_run']:.3g} ({row['epochs_of_the_phase']:g})",
                      "" if evaluations is None else str(evaluations),
                      f"{row['encoder_passes']:,.0f}", f"{row['wall_s']:,.0f}" + (" (scaled)" if row["scaled"] else ""),
                      f"{row['wall_s'] / base['wall_s']:.1f}" if base else "",
                      "" if row.get("cosine_gap_after") is None else f"{row['cosine_gap_after']:.3f}"])
    table = harness.markdown_table(
        "Contrastive training cost on SST-5, all-MiniLM-L6-v2, 2 CPU cores",
        ["setting", "arm", "training examples per epoch (texts in-batch and SetFit, pairs sampled)",
         "epochs run (of the phase)", "validation evaluations (500 texts embedded each)", "encoder passes of the phase",
         "wall s of the phase", "× in-batch wall", "CL cosine gap after (validation)"], lines)
    out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    sys.exit(main())
