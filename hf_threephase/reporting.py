"""What a run reports: test metrics of the final phase, pictures, model cards, results.json, the Hub push."""

import dataclasses
import json
import os
from pathlib import Path

from transformers import Trainer, TrainingArguments

from .cards import render_card
from .diagnostics import embed_dataset
from .hub import push_phases
from .label_space import LabelSpace
from .metrics import classification_metrics, confusion, nearest_centroid_accuracy
from .plots import plot_confusion, plot_embeddings, plot_losses


def test_metrics(trainer: Trainer, test, label_space: LabelSpace) -> dict:
    """The test split (tokenised, with `label`), used once, after model selection on validation: accuracy, macro
    precision / recall / F1, cross-entropy `loss` and the confusion matrix (rows true, columns predicted)."""
    prediction = trainer.predict(test.select_columns(["input_ids", "label"]), metric_key_prefix="test")
    predicted = prediction.predictions.argmax(axis=1)
    metrics = classification_metrics(prediction.label_ids, predicted)
    metrics["loss"] = prediction.metrics["test_loss"]
    metrics["confusion_matrix"] = confusion(prediction.label_ids, predicted, label_space.num_labels)
    return metrics


def draw_embeddings(model, tokenizer, examples, label_space: LabelSpace, path: Path, title: str,
                    batch_size: int) -> float:
    """Map the embeddings of tokenised `examples` (with `label`) to `path`; returns their nearest-centroid
    accuracy."""
    embeddings, labels = embed_dataset(model, tokenizer, examples, batch_size)
    score = nearest_centroid_accuracy(embeddings, labels)
    plot_embeddings(embeddings, labels, list(label_space.names), path,
                    f"validation embeddings after {title} (centroid acc. {score:.3f})")
    return score


def draw_phase(folder: Path, phase: str, log_history: list[dict], metrics: dict, label_space: LabelSpace):
    """The phase's loss curve and, where it has test metrics, the confusion matrix."""
    plot_losses(log_history, folder / "loss.png", f"{phase} loss")
    if "test" in metrics:
        plot_confusion(metrics["test"]["confusion_matrix"], list(label_space.names), folder / "confusion_matrix.png",
                       "test confusion matrix")


def write_card(phase: str, folder: Path, metrics: dict, phase_args: TrainingArguments, *, recipe_args,
               run_args: TrainingArguments, base_model: str, data: dict, data_source: str, label_space: LabelSpace):
    """The phase folder's README.md: what the phase did, on which data, its metrics and settings."""
    shown = {split: {k: round(v, 4) for k, v in values.items() if isinstance(v, float) and "runtime" not in k
                     and "per_second" not in k}
             for split, values in metrics.items() if split in ("validation", "test")}
    recipe = {k: v for k, v in dataclasses.asdict(recipe_args).items() if k != "phase_arguments"}
    hyperparameters = {
        **recipe, "phase_learning_rate": phase_args.learning_rate,
        "phase_num_train_epochs": phase_args.num_train_epochs,
        "phase_batch_size": phase_args.per_device_train_batch_size,
        "seed": phase_args.seed, "weight_decay": phase_args.weight_decay, "warmup_steps": phase_args.warmup_steps,
        "lr_scheduler_type": str(phase_args.lr_scheduler_type), "optim": str(phase_args.optim),
        **({"metric_for_best_model": phase_args.metric_for_best_model} if phase_args.metric_for_best_model else {}),
    }
    model_id = run_args.hub_model_id or Path(run_args.output_dir).name
    sizes = {split: f"{len(ds)} examples" + (f" from {data_source}" if data_source else "")
             for split, ds in data.items()}
    render_card(
        phase, model_id=model_id, base_model=base_model, variant=recipe_args.variant,
        phases=list(recipe_args.phases), data=sizes, label_names=list(label_space.names), metrics=shown,
        hyperparameters=hyperparameters,
    ).save(folder / "README.md")


def write_results(output_dir: Path, results: dict):
    """results.json, replaced atomically."""
    tmp = output_dir / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, output_dir / "results.json")


def push_run(output_dir: Path, phases: list[str], run_args: TrainingArguments) -> list[str]:
    """Every phase folder to the Hub (`hub_model_id`, or the output folder's name)."""
    hub_model_id = run_args.hub_model_id or output_dir.name
    return push_phases(output_dir, phases, hub_model_id, run_args.hub_token, run_args.hub_private_repo)
