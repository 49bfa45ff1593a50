"""The imbalance correction applied before pairing (paper eq. 5, with the rule of the authors' code). Pure."""

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

IMBALANCE_PRESETS = {"default": 4.0, "extra": 20.0}


def imbalance_multipliers(class_sizes: Sequence[int], max_ratio: float = 4.0, min_ratio: float = 1.5) -> list[int]:
    """How many times to use each class: round(f) where f(x) = log(max_k / x) * max_ratio / log(max_k) and
    f >= min_ratio, else 1.

    Eq. 5a of the paper reads "min" where the released code (and the intent: never shrink a class) uses this rule.
    A single class, or classes all of one size, need no correction: every multiplier is 1.
    """
    if not class_sizes:
        raise ValueError("imbalance_multipliers needs at least one class size")
    if any(size < 1 for size in class_sizes):
        raise ValueError(f"every class needs at least one example, got sizes {list(class_sizes)}")
    if max_ratio <= 0 or min_ratio <= 0:
        raise ValueError(f"max_ratio and min_ratio must be > 0, got {max_ratio} and {min_ratio}")
    max_k = max(class_sizes)
    if max_k == 1:
        return [1] * len(class_sizes)
    multipliers = []
    for size in class_sizes:
        f = math.log(max_k / size) * max_ratio / math.log(max_k)
        multipliers.append(math.floor(f + 0.5) if f >= min_ratio else 1)
    return multipliers


def class_multipliers(labels: Sequence[Hashable], max_ratio: float = 4.0,
                      min_ratio: float = 1.5) -> dict[Hashable, int]:
    """{class: multiplier} of the imbalance correction for one label per example (see `imbalance_multipliers`)."""
    counts = Counter(labels)
    classes = list(counts)
    return dict(zip(classes, imbalance_multipliers([counts[c] for c in classes], max_ratio, min_ratio)))


def upsample(
    texts: Sequence[str],
    labels: Sequence[Hashable],
    max_ratio: float = 4.0,
    min_ratio: float = 1.5,
    noise: Callable[[str, random.Random], str] = lambda text, rng: text,
    seed: int = 0,
) -> tuple[list[str], list[Hashable]]:
    """Every example once, plus (multiplier - 1) copies of each example of an up-weighted class, each noised on its
    own: copy j of example i gets `noise(text, rng)` with `rng` seeded by (seed, i, j)."""
    factor = class_multipliers(labels, max_ratio, min_ratio)
    out_texts, out_labels = list(texts), list(labels)
    for i, (text, label) in enumerate(zip(texts, labels)):
        for j in range(1, factor[label]):
            out_texts.append(noise(text, random.Random(hash((seed, i, j)))))
            out_labels.append(label)
    return out_texts, out_labels


def upsampled_examples(examples, texts: Sequence[str], labels: Sequence[Hashable], tokenize, max_ratio: float,
                       min_ratio: float, stopwords: frozenset[str], seed: int = 0):
    """The imbalance correction on tokenised examples (a `datasets.Dataset` with `input_ids`, `word_ids`, in the
    order of `texts` / `labels`): the examples, then the stop-word-noised copies of up-weighted classes (each copy
    its own random subset of stop words removed), tokenised by `tokenize`. Returns the examples, their labels, and
    how many added copies came out as their original's text (no stop word to delete)."""
    from datasets import Dataset, concatenate_datasets

    from .noise import delete_stopwords

    factor = class_multipliers(labels, max_ratio, min_ratio)
    originals = [text for text, label in zip(texts, labels) for _ in range(1, factor[label])]  # upsample's order
    texts, labels = upsample(texts, labels, max_ratio, min_ratio, seed=seed,
                             noise=lambda text, rng: delete_stopwords(text, stopwords, rng=rng))
    copies = texts[len(examples):]  # upsample keeps the originals first: tokenise only the added copies
    unchanged = sum(copy == original for copy, original in zip(copies, originals))
    if copies:
        added = Dataset.from_dict({"text": copies}).map(tokenize, batched=True, desc="Tokenizing copies")
        columns = ["input_ids", "word_ids"]
        examples = concatenate_datasets([examples.select_columns(columns), added.select_columns(columns)])
    return examples, labels, unchanged
