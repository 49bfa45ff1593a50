"""Pictures of a run: embedding maps, the confusion matrix, loss curves (PNG, matplotlib's Agg backend)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402


def plot_embeddings(embeddings: np.ndarray, labels: np.ndarray, label_names: list[str], path: Path, title: str):
    """A 2-D PCA map of sentence embeddings, one colour per class."""
    points = PCA(n_components=2, random_state=0).fit_transform(embeddings)
    fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10" if len(label_names) <= 10 else "tab20")
    for i, name in enumerate(label_names):
        chosen = labels == i
        if chosen.any():
            ax.scatter(points[chosen, 0], points[chosen, 1], s=8, alpha=0.7, color=cmap(i % cmap.N), label=name)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(matrix: list[list[int]], label_names: list[str], path: Path, title: str):
    counts = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(label_names), 1 + 0.55 * len(label_names)))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(label_names)), label_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), value in np.ndenumerate(counts):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > counts.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_losses(log_history: list[dict], path: Path, title: str):
    """Training loss per step, and evaluation loss where the phase evaluated."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("loss", "-"), ("eval_loss", "o-")):
        points = [(entry["step"], entry[key]) for entry in log_history if key in entry]
        if points:
            ax.plot(*zip(*points), style, label=key.replace("_", " "))
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
