"""The imbalance correction applied before pairing (paper eq. 5, with the rule of the authors' code). Pure."""

import math
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


def upsample(
    texts: Sequence[str],
    labels: Sequence[Hashable],
    max_ratio: float = 4.0,
    min_ratio: float = 1.5,
    noise: Callable[[str], str] = lambda text: text,
) -> tuple[list[str], list[Hashable]]:
    """Every example once, plus (multiplier - 1) noised copies of each example of an up-weighted class."""
    counts = Counter(labels)
    classes = list(counts)
    factor = dict(zip(classes, imbalance_multipliers([counts[c] for c in classes], max_ratio, min_ratio)))
    out_texts, out_labels = list(texts), list(labels)
    for text, label in zip(texts, labels):
        if factor[label] > 1:
            copy = noise(text)
            out_texts.extend([copy] * (factor[label] - 1))
            out_labels.extend([label] * (factor[label] - 1))
    return out_texts, out_labels
