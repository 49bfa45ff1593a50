"""Pictures of a run: embedding maps, the confusion matrix, loss curves (PNG, matplotlib's Agg backend).

Embedding maps are PCA projections of the unit-length sentence vectors, fitted once on the base model's vectors
(`EmbeddingProjection`), so that every phase is drawn on the same axes and the maps can be compared.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


class EmbeddingProjection:
    """A 2-D PCA of unit-length vectors, fitted on `reference` `(n, dim)` (the base model's validation embeddings).
    Vectors of another width (a bottleneck or projection resized by the config) get a PCA of their own, and the
    map's title says so."""

    def __init__(self, reference: np.ndarray, reference_name: str = "base model"):
        self.reference_name = reference_name
        self.pca = PCA(n_components=2, svd_solver="full").fit(_unit(reference))

    def __call__(self, vectors: np.ndarray) -> tuple[np.ndarray, str]:
        """The `(n, 2)` points of `vectors` `(n, dim)` and a caption naming the projection."""
        unit = _unit(vectors)
        if unit.shape[1] == self.pca.n_features_in_:
            return self.pca.transform(unit), f"PCA fitted on the {self.reference_name}'s vectors"
        return PCA(n_components=2, svd_solver="full").fit_transform(unit), "PCA of its own (other width)"


def _shown(name: str) -> str:
    """A class name as matplotlib draws it as written: `$` not read as math (`$\\foo$` would stop the plot), and a
    leading `_` (which hides a legend entry) after a space."""
    name = name.replace("$", r"\$")
    return f" {name}" if name.startswith("_") else name


def _scatter(ax, points: np.ndarray, labels: np.ndarray, label_names: list[str]):
    cmap = plt.get_cmap("tab10" if len(label_names) <= 10 else "tab20")
    for i, name in enumerate(label_names):
        chosen = labels == i
        if chosen.any():
            ax.scatter(points[chosen, 0], points[chosen, 1], s=8, alpha=0.7, color=cmap(i % cmap.N),
                       label=_shown(name))
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")


def plot_embeddings(points: np.ndarray, labels: np.ndarray, label_names: list[str], path: Path, title: str):
    """One map: `points` `(n, 2)` (see `EmbeddingProjection`), one colour per class."""
    fig, ax = plt.subplots(figsize=(6, 5))
    _scatter(ax, points, labels, label_names)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_embedding_panels(panels: list[tuple[str, np.ndarray]], labels: np.ndarray, label_names: list[str],
                          path: Path, caption: str):
    """One figure, one panel per `(title, points (n, 2))`, on shared axes; `caption` names the projection."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.2), sharex=True, sharey=True,
                             squeeze=False)
    for ax, (title, points) in zip(axes[0], panels):
        _scatter(ax, points, labels, label_names)
        ax.set_title(title, fontsize=9)
    axes[0][-1].legend(fontsize=7, markerscale=2, loc="best")
    fig.suptitle(f"validation embeddings: {caption}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(matrix: list[list[int]], label_names: list[str], path: Path, title: str):
    counts = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(label_names), 1 + 0.55 * len(label_names)))
    ax.imshow(counts, cmap="Blues")
    shown = [_shown(name) for name in label_names]
    ax.set_xticks(range(len(label_names)), shown, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(label_names)), shown, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), value in np.ndenumerate(counts):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > counts.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Logged losses drawn by `plot_losses`: the training loss, and the validation losses a phase's evaluation reports.
LOSS_KEYS = {"loss": ("training loss", ".-"), "eval_loss": ("validation loss", "o--"),
             "eval_reconstruction_loss": ("validation reconstruction loss", "o--"),
             "eval_pair_loss": ("validation pair loss", "s--")}


def plot_losses(log_history: list[dict], path: Path, title: str):
    """Every logged training loss, and the validation losses at every evaluation, against the step, with markers (a
    phase that logged or evaluated once shows its one point; an evaluation repeated at the same step, one point)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, (name, style) in LOSS_KEYS.items():
        points = sorted({entry["step"]: entry[key] for entry in log_history if key in entry}.items())
        if points:
            ax.plot(*zip(*points), style, label=f"{name} ({len(points)} point{'s' * (len(points) > 1)})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
