"""Phase diagnostics on the validation split: did a phase do its job?

- DAE: the **information gap**, the decoder's reconstruction cross-entropy (nats per target token) from another
  sentence's vector minus from each sentence's own (0: the bottleneck carries no sentence information).
- CL: mean cosine of same-class pairs, of other-class pairs, and their gap; the pair loss MSE(cos(u, v), target) on
  validation pairs beside the loss of the best constant prediction (the variance of the targets: 0.25 at 1:1).
- Every phase: the mean pairwise cosine of the sentence vectors (anisotropy: near 1, every vector points one way)
  and the leave-one-out nearest-centroid accuracy.
"""

import logging
import random

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from .collators import DenoisingCollator, DenoisingDataset
from .metrics import nearest_centroid_accuracy
from .pairs import ContrastivePairs

logger = logging.getLogger("hf_threephase")

@torch.no_grad()
def embed_dataset(model, tokenizer, dataset, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Sentence embeddings (`model.embed`) and labels of tokenised examples with `input_ids` and `label`."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset.select_columns(["input_ids", "label"]), batch_size=batch_size,
                        collate_fn=DataCollatorWithPadding(tokenizer))
    embeddings, labels = [], []
    for batch in loader:
        labels.append(batch.pop("labels").numpy())
        embeddings.append(model.embed(batch["input_ids"].to(model.device),
                                      batch["attention_mask"].to(model.device)).float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(embeddings), np.concatenate(labels)


def embedding_diagnostics(embeddings: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Cosine statistics of sentence vectors `(n, dim)` with class ids `(n,)`, over all unordered pairs.

    Returns `mean_pairwise_cosine`, `same_class_cosine`, `other_class_cosine`, `cosine_gap` (same minus other) and
    `centroid_accuracy`. A split with no same-class (or no other-class) pair has no `cosine_gap`."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(min=1e-12)
    n = len(unit)
    total = float(np.sum(unit.sum(0) ** 2) - n) / 2  # sum of cos over unordered pairs i < j
    classes, codes = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(classes), unit.shape[1]))
    np.add.at(sums, codes, unit)
    counts = np.bincount(codes)
    same = float(np.sum(sums ** 2) - n) / 2
    same_pairs = int(np.sum(counts * (counts - 1) // 2))
    other_pairs = n * (n - 1) // 2 - same_pairs
    out = {"mean_pairwise_cosine": total / max(n * (n - 1) // 2, 1),
           "centroid_accuracy": nearest_centroid_accuracy(embeddings, labels)}
    if same_pairs and other_pairs:
        out["same_class_cosine"] = same / same_pairs
        out["other_class_cosine"] = (total - same) / other_pairs
        out["cosine_gap"] = out["same_class_cosine"] - out["other_class_cosine"]
    return out


def pair_diagnostics(embeddings: np.ndarray, pair_labels: list, seed: int = 0,
                     pairs_per_example: int = 4) -> dict[str, float]:
    """`pair_loss`, MSE(cos(u, v), target) over seeded validation pairs (always 1:1, a fixed yardstick whatever
    `--positive_pair_fraction` trains with), and
    `constant_pair_loss`, the loss of the best constant prediction (the targets' variance). Empty when the labels
    cannot form pairs (one class, or no class with two examples)."""
    try:
        pairs = ContrastivePairs(pair_labels, pairs_per_example, seed)
    except ValueError:
        return {}
    a, b, targets = (np.array(column) for column in zip(*(pairs[i] for i in range(len(pairs)))))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(min=1e-12)
    cosines = np.einsum("ij,ij->i", unit[a], unit[b])
    return {"pair_loss": float(np.mean((cosines - targets) ** 2)), "constant_pair_loss": float(np.var(targets))}


@torch.no_grad()
def information_gap(model, tokenizer, examples, noise_ratio: float, seed: int = 0,
                    batch_size: int = 64) -> dict[str, float]:
    """The DAE decoder's reconstruction cross-entropy (nats per target token) on noised `examples` (tokenised, with
    `input_ids` and `word_ids`; the noise of epoch 0 for `seed`) from each sentence's own vector
    (`reconstruction_loss`) and from another sentence's (`shuffled_reconstruction_loss`, a seeded derangement), and
    `information_gap`, their difference. `model` has `decode` (a `DAEForSeqReconstruction`)."""
    was_training = model.training
    model.eval()
    loader = DataLoader(DenoisingDataset(examples, noise_ratio, seed), batch_size=batch_size,
                        collate_fn=DenoisingCollator(tokenizer))
    batches = [{k: v.to(model.device) for k, v in batch.items()} for batch in loader]
    vectors = torch.cat([model.bottleneck_embedding(b["input_ids"], b["attention_mask"]) for b in batches])
    order = list(range(len(vectors)))
    random.Random(seed).shuffle(order)
    other = torch.empty(len(vectors), dtype=torch.long)
    other[order] = torch.tensor(order[1:] + order[:1])  # each sentence gets the vector of the next in a cycle
    sums, tokens, start = {"own": 0.0, "shuffled": 0.0}, 0, 0
    for batch in batches:
        rows = torch.arange(start, start + len(batch["input_ids"]))
        start += len(rows)
        count = int((batch["labels"] != -100).sum())
        for name, index in (("own", rows), ("shuffled", other[rows])):
            _, loss = model.decode(vectors[index.to(vectors.device)], batch["decoder_input_ids"],
                                   batch["decoder_attention_mask"], batch["labels"])
            sums[name] += float(loss) * count
        tokens += count
    model.train(was_training)
    own, shuffled = sums["own"] / tokens, sums["shuffled"] / tokens
    return {"reconstruction_loss": own, "shuffled_reconstruction_loss": shuffled, "information_gap": shuffled - own}


def phase_diagnostics(model, tokenizer, examples, pair_labels: list, noise_ratio: float, seed: int = 0,
                      batch_size: int = 64) -> dict[str, float]:
    """Every diagnostic that applies to `model` on tokenised validation `examples` (with `label`): the embedding and
    pair diagnostics, and the information gap where the model has a decoder."""
    embeddings, labels = embed_dataset(model, tokenizer, examples, batch_size)
    out = embedding_diagnostics(embeddings, labels)
    out.update(pair_diagnostics(embeddings, pair_labels, seed))
    if hasattr(model, "decode"):
        out.update(information_gap(model, tokenizer, examples, noise_ratio, seed, batch_size))
    return out


def diagnostic_warnings(phase: str, before: dict, after: dict, expected_rise: dict[str, float],
                        anisotropy_rise: float = 0.15) -> list[str]:
    """One line for each way a phase ended inert or harmful: a diagnostic it exists to raise (`expected_rise`:
    {name: least rise}) rose less than that, or the mean pairwise cosine rose by more than `anisotropy_rise`."""
    lines = []
    for name, least in expected_rise.items():
        if name in before and name in after and after[name] - before[name] < least:
            change = after[name] - before[name]
            lines.append(f"the {phase} phase ended inert: {name} {before[name]:.4f} -> {after[name]:.4f} "
                         f"({'fell' if change < 0 else 'rose'} by {abs(change):.4f}; it should "
                         f"{f'rise by at least {least:g}' if least > 0 else 'not fall'})")
    cosine = "mean_pairwise_cosine"
    if cosine in before and after.get(cosine, 0) - before[cosine] > anisotropy_rise:
        lines.append(f"the {phase} phase made the sentence vectors anisotropic: mean pairwise cosine "
                     f"{before[cosine]:.3f} -> {after[cosine]:.3f}")
    return lines
