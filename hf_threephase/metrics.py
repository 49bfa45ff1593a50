"""Metrics on scikit-learn (nothing is downloaded)."""

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_metrics(labels, predictions) -> dict[str, float]:
    """Accuracy and macro precision / recall / F1."""
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predictions, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(labels, predictions)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}


def per_class_metrics(labels, predictions, names: list[str]) -> dict[str, dict]:
    """{class name: precision, recall, f1, support} for class ids `0 .. len(names) - 1` (0 where undefined)."""
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=list(range(len(names))), average=None, zero_division=0)
    return {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
            for name, p, r, f, n in zip(names, precision, recall, f1, support)}


def confusion(labels, predictions, num_labels: int) -> list[list[int]]:
    """Rows: true label, columns: predicted label."""
    return confusion_matrix(labels, predictions, labels=list(range(num_labels))).tolist()


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


# What FT's evaluation reports (`loss` from the Trainer), so what `--metric_for_best_model` can name.
EVAL_METRICS = ("accuracy", "precision", "recall", "f1", "selection_score", "loss")


def compute_metrics(eval_pred) -> dict[str, float]:
    """For `Trainer(compute_metrics=...)` on a classifier. `selection_score` ranks checkpoints by accuracy and breaks
    ties on validation cross-entropy: accuracies differ by at least 1/N, and the loss term is below 1/N."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    metrics = classification_metrics(labels, logits.argmax(axis=1))
    loss = _cross_entropy(logits.astype(np.float64), labels)
    metrics["selection_score"] = metrics["accuracy"] - loss / (1.0 + loss) / len(labels)
    return metrics


def with_metric(metric=None):
    """`compute_metrics`, plus an `evaluate` metric module's results on the argmax predictions when one is given; a
    key both report (`evaluate.load("f1")`'s binary `f1`) is the module's as `<module name>_<key>`, so that the
    macro scores keep their names."""
    if metric is None:
        return compute_metrics

    def compute(eval_pred) -> dict[str, float]:
        metrics = compute_metrics(eval_pred)
        predictions = eval_pred.predictions.argmax(axis=1)
        extra = metric.compute(predictions=predictions, references=eval_pred.label_ids)
        metrics.update({f"{metric.name}_{key}" if key in metrics else key: value for key, value in extra.items()})
        return metrics

    return compute


def nearest_centroid_accuracy(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out nearest class centroid by cosine: how well the embedding space separates the classes."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(min=1e-12)
    classes, codes = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(classes), unit.shape[1]))
    np.add.at(sums, codes, unit)
    counts = np.bincount(codes, minlength=len(classes)).astype(float)
    # each example's own class centroid without itself
    own = sums[codes] - unit
    scores = unit @ (sums / counts[:, None]).T
    own_counts = counts[codes] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        own_scores = np.einsum("ij,ij->i", unit, own) / own_counts
    scores[np.arange(len(codes)), codes] = np.where(own_counts > 0, own_scores, -np.inf)
    return float((scores.argmax(axis=1) == codes).mean())
