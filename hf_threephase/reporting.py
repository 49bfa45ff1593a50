"""What a run reports: test metrics of the final phase, pictures, model cards, results.json, the Hub push."""

import json
import os
from pathlib import Path

import numpy as np
from transformers import Trainer, TrainingArguments

from .cards import RunFacts, render_card
from .diagnostics import embed_dataset
from .hub import push_phases
from .label_space import LabelSpace
from .metrics import classification_metrics, confusion, nearest_centroid_accuracy, per_class_metrics
from .plots import EmbeddingProjection, plot_confusion, plot_embedding_panels, plot_embeddings, plot_losses


def test_predictions(trainer: Trainer, test, label_space: LabelSpace) -> tuple[dict, list[dict]]:
    """The test split (tokenised, with `text` and `label`), used once, after model selection on validation.

    Returns:
        The metrics: `accuracy`; `precision`, `recall`, `f1`, macro averages over the classes (`average: "macro"`);
        cross-entropy `loss`; `label_names`, the class names in class-id order, which is the order of the rows (true)
        and columns (predicted) of `confusion_matrix`; `per_class` {name: precision, recall, f1, support}. And one
        row per test example: `text`, `gold` and `predicted` class names, `probabilities` {name: softmax}.

    Raises:
        RuntimeError: fewer or more predictions than test texts (never metrics over part of the split).
    """
    prediction = trainer.predict(test.select_columns(["input_ids", "label"]), metric_key_prefix="test")
    logits, gold = prediction.predictions.astype(np.float64), prediction.label_ids
    if len(gold) != len(test):  # never metrics or predictions.jsonl over part of the split
        raise RuntimeError(f"the test split has {len(test)} texts, but {len(gold)} were scored")
    predicted = logits.argmax(axis=1)
    names = list(label_space.names)
    metrics = classification_metrics(gold, predicted)
    metrics.update(average="macro", loss=prediction.metrics["test_loss"], label_names=names,
                   confusion_matrix=confusion(gold, predicted, label_space.num_labels),
                   per_class=per_class_metrics(gold, predicted, names))
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    rows = [{"text": text, "gold": names[g], "predicted": names[p],
             "probabilities": {name: round(float(q), 6) for name, q in zip(names, row)}}
            for text, g, p, row in zip(test["text"], gold, predicted, probabilities)]
    return metrics, rows


def write_predictions(path: Path, rows: list[dict]):
    """`rows` as JSON lines, replaced atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    os.replace(tmp, path)


def validation_embeddings(model, tokenizer, examples, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentence embeddings float32 `(n, dim)` and class ids `(n,)` of tokenised `examples` (with `label`)."""
    embeddings, labels = embed_dataset(model, tokenizer, examples, batch_size)
    return embeddings.astype(np.float32), labels


def draw_embeddings(embeddings: np.ndarray, labels: np.ndarray, label_space: LabelSpace, reference: np.ndarray,
                    path: Path, title: str) -> float:
    """Map `embeddings` `(n, dim)` to `path` in the PCA fitted on `reference` (the base model's); returns their
    nearest-centroid accuracy."""
    score = nearest_centroid_accuracy(embeddings, labels)
    points, caption = EmbeddingProjection(reference)(embeddings)
    plot_embeddings(points, labels, list(label_space.names), path,
                    f"validation embeddings after {title} (centroid acc. {score:.3f})\n{caption}")
    return score


def draw_run_embeddings(output_dir: Path, phases: list[str], labels: np.ndarray, label_space: LabelSpace) -> Path:
    """`output_dir/embeddings.png`: a panel for the base model and one per phase (from `base_embeddings.npy` and each
    phase folder's `embeddings.npy`), all in the PCA fitted on the base model's vectors."""
    reference = np.load(output_dir / "base_embeddings.npy")
    project = EmbeddingProjection(reference)
    panels, captions = [], set()
    for title, path in [("base model", output_dir / "base_embeddings.npy"),
                        *[(phase, output_dir / phase / "embeddings.npy") for phase in phases]]:
        embeddings = np.load(path)
        points, caption = project(embeddings)
        captions.add(caption)
        panels.append((f"{title} (centroid acc. {nearest_centroid_accuracy(embeddings, labels):.3f})", points))
    path = output_dir / "embeddings.png"
    plot_embedding_panels(panels, labels, list(label_space.names), path, "; ".join(sorted(captions)))
    return path


def draw_phase(folder: Path, phase: str, log_history: list[dict], metrics: dict, label_space: LabelSpace):
    """The phase's loss curve and, where it has test metrics, the confusion matrix."""
    plot_losses(log_history, folder / "loss.png", f"{phase} loss")
    if "test" in metrics:
        plot_confusion(metrics["test"]["confusion_matrix"], list(label_space.names), folder / "confusion_matrix.png",
                       "test confusion matrix")


def write_card(phase: str, folder: Path, metrics: dict, settings: dict, facts: RunFacts, embedding_size: int):
    """The phase folder's README.md (see `cards.render_card`)."""
    modules = folder / "modules.json"
    paths = [m["path"] for m in json.loads(modules.read_text()) if m["path"]] if modules.is_file() else []
    render_card(phase, facts, metrics, settings, embedding_size=embedding_size, module_paths=paths).save(
        folder / "README.md")


def write_results(output_dir: Path, results: dict):
    """results.json, replaced atomically."""
    tmp = output_dir / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, output_dir / "results.json")


def push_run(output_dir: Path, phases: list[str], run_args: TrainingArguments) -> list[str]:
    """Every phase folder to the Hub (`hub_model_id`, or the output folder's name)."""
    hub_model_id = run_args.hub_model_id or output_dir.name
    return push_phases(output_dir, phases, hub_model_id, run_args.hub_token, run_args.hub_private_repo)
