"""Lazy, seeded pair sampling for the contrastive phase. Pure: indices in, indices and targets out.

No n^2 list is ever built. The pairs are split into segments: the positives of each class and the negatives of each
pair of classes. Segment j holds k_j distinct pairs out of its G_j candidates, chosen by the affine permutation
t -> (a*t + b) mod G_j (gcd(a, G_j) = 1), and decoded into two example indices. Memory is O(n + classes^2), the pair
set is the same on every process for a seed, and no unordered pair appears twice.
"""

import bisect
import math
import random
from collections.abc import Hashable, Sequence

import numpy as np


PAIRS_AUGMENTATION = 5


def pairs_per_example(setting: str, num_labels: int) -> int:
    """`--pairs_per_example`: a number, or `auto`: the authors' budget, Augmentation x floor(log2 K) pairs per
    example for K classes, with Augmentation 5 (10 on SST-5, 5 on SST-2)."""
    if str(setting) == "auto":
        return PAIRS_AUGMENTATION * max(1, num_labels.bit_length() - 1)
    return int(setting)


def positive_pair_fraction(setting: str | float, num_labels: int) -> float:
    """`--positive_pair_fraction`: a number in (0, 1), or `auto`: 1/K for K classes, the share of same-class pairs
    among random pairs of even classes (0.5, the authors' 1:1, on two classes; 0.2 on SST-5's five). CL's best
    constant prediction is then what random pairs of the data would give, so that pairs it cannot tell apart do not
    pull every vector together (measured in the README: mean pairwise cosine 0.18-0.20 after CL on SST-5 at 0.2,
    0.39-0.44 at 0.5, macro F1 within the spread). With hierarchical labels K counts the leaf classes, and pairs that
    match on leading levels only (fractional targets) are among the other-class pairs."""
    return 1 / num_labels if str(setting) == "auto" else float(setting)


def pair_target(a: Hashable, b: Hashable) -> float:
    """1 for the same class, 0 otherwise; for hierarchical labels (tuples), the fraction of matching leading levels."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            raise ValueError(f"hierarchical labels of different depth: {a} and {b}")
        matching = 0
        for x, y in zip(a, b):
            if x != y:
                break
            matching += 1
        return matching / len(a)
    return float(a == b)


def _largest_remainder(total: int, weights: Sequence[int], caps: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` without exceeding `caps`."""
    counts = [0] * len(weights)
    remaining = min(total, sum(caps))
    while remaining > 0:
        open_ = [i for i in range(len(weights)) if counts[i] < caps[i]]
        weight = sum(weights[i] for i in open_)
        shares = {i: remaining * weights[i] / weight for i in open_}
        for i in open_:
            add = min(math.floor(shares[i]), caps[i] - counts[i])
            counts[i] += add
        left = min(total, sum(caps)) - sum(counts)
        for i in sorted(open_, key=lambda i: shares[i] - math.floor(shares[i]), reverse=True):
            if left == 0:
                break
            if counts[i] < caps[i]:
                counts[i] += 1
                left -= 1
        remaining = min(total, sum(caps)) - sum(counts)
    return counts


class ContrastivePairs:
    """`len(pairs)` pairs over examples with `labels`, a `positive_fraction` of them positive (1:1 by default, as the
    authors' code balances them); `pairs[i]` is `(a, b, target)`.

    Args:
        labels: one hashable label per example (a tuple of levels for hierarchical labels).
        pairs_per_example: pairs drawn per example on average. Where a class is too small for its share of
            same-class pairs (a class of n gives at most n * floor((n - 1) / 2), 1 for n = 2) the other-class pairs
            are cut to keep the fraction, so there are fewer; each class that has a pair gives at least one, and
            there is at least one other-class pair, so the share can differ from the fraction (`positive_share`).
        seed: the same seed gives the same pairs, on every process.
        positive_fraction: the share of pairs whose labels are equal, in (0, 1); sum_c p_c^2 is the rate of random
            pairs over classes of shares p_c (1/K for K even classes).

    Raises:
        ValueError: `pairs_per_example` < 1, `positive_fraction` outside (0, 1), fewer than two classes, or no class
            with two examples.
    """

    def __init__(self, labels: Sequence[Hashable], pairs_per_example: int = 4, seed: int = 0,
                 positive_fraction: float = 0.5):
        if pairs_per_example < 1:
            raise ValueError(f"pairs_per_example must be >= 1, got {pairs_per_example}")
        if not 0 < positive_fraction < 1:
            raise ValueError(f"positive_fraction must be in (0, 1), got {positive_fraction}")
        classes = sorted(set(labels), key=repr)
        if len(classes) < 2:
            raise ValueError(f"contrastive pairs need at least two classes, got {classes}")
        index = {c: i for i, c in enumerate(classes)}
        codes = np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
        rng = np.random.default_rng(seed)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(classes) + 1))
        self.members = [rng.permutation(order[bounds[c] : bounds[c + 1]]) for c in range(len(classes))]
        self.labels = labels
        self.classes = classes
        self.pairs_per_example = pairs_per_example
        self.seed = seed
        self.positive_fraction = positive_fraction

        sizes = [len(m) for m in self.members]
        # member i pairs with i + 1 .. i + (n - 1) // 2 (mod n): distinct unordered pairs; a class of 2 has its one
        pos_caps = [1 if n == 2 else n * ((n - 1) // 2) for n in sizes]
        # at least one same-class pair per class that has one, whatever the fraction
        positives = [min(max(round(n * pairs_per_example * positive_fraction), 1), cap)
                     for n, cap in zip(sizes, pos_caps)]
        cross = [(c, d) for c in range(len(classes)) for d in range(c + 1, len(classes))]
        cross_sizes = [sizes[c] * sizes[d] for c, d in cross]
        # the fraction's share of other-class pairs, at least one; past the budget only up to as many as positives
        # (a small fraction whose positives were raised to one per class)
        wanted = round(sum(positives) * (1 - positive_fraction) / positive_fraction)
        budget = round(len(labels) * pairs_per_example)
        negatives = _largest_remainder(max(1, min(wanted, max(budget - sum(positives), sum(positives)))),
                                       cross_sizes, cross_sizes)
        if sum(positives) == 0:
            raise ValueError(f"no class has two examples to form a positive pair (class sizes {dict(zip(classes, sizes))})")

        segments = [("pos", c, k, cap) for c, (k, cap) in enumerate(zip(positives, pos_caps))]
        segments += [("neg", cd, k, g) for cd, k, g in zip(cross, negatives, cross_sizes)]
        self.segments = []
        draw = random.Random(seed)
        for kind, key, k, grid in segments:
            if k:
                a = draw.randrange(1, grid) if grid > 1 else 1
                while math.gcd(a, grid) != 1:
                    a = draw.randrange(1, grid)
                self.segments.append((kind, key, grid, a, draw.randrange(grid)))
        self.offsets = np.cumsum([0] + [k for _, _, k, _ in segments if k]).tolist()

    def __len__(self) -> int:
        return self.offsets[-1]

    @property
    def positive_share(self) -> float:
        """The share of same-class pairs drawn."""
        return sum(hi - lo for (kind, *_), lo, hi in zip(self.segments, self.offsets, self.offsets[1:])
                   if kind == "pos") / len(self)

    def for_epoch(self, epoch: int) -> "ContrastivePairs":
        """The pairs of `epoch`: as many, drawn afresh from a seed derived from (seed, epoch); epoch 0 is `self`."""
        if epoch == 0:
            return self
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        return ContrastivePairs(self.labels, self.pairs_per_example, seed, self.positive_fraction)

    def __getitem__(self, i: int) -> tuple[int, int, float]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = bisect.bisect_right(self.offsets, i) - 1
        kind, key, grid, a, b = self.segments[s]
        g = (a * (i - self.offsets[s]) + b) % grid
        if kind == "pos":
            m = self.members[key]
            first, second = m[g % len(m)], m[(g % len(m) + 1 + g // len(m)) % len(m)]
        else:
            c, d = key
            first, second = self.members[c][g // len(self.members[d])], self.members[d][g % len(self.members[d])]
        first, second = int(first), int(second)
        return first, second, pair_target(self.labels[first], self.labels[second])


# Texts of a class placed side by side in a CL batch of in-batch pairs (see `class_aware_order`).
TEXTS_PER_CLASS = 2


def label_codes(labels: Sequence[Hashable]) -> np.ndarray:
    """int64 `(len(labels), num_levels)`: each label as one code per level (a flat label is one level), codes equal
    exactly where the levels are; what `losses.in_batch_cosine_loss` compares."""
    rows = [label if isinstance(label, tuple) else (label,) for label in labels]
    depth = len(rows[0]) if rows else 1
    if any(len(row) != depth for row in rows):
        raise ValueError("hierarchical labels of different depth")
    codes = np.zeros((len(rows), depth), dtype=np.int64)
    for level in range(depth):
        index = {}
        codes[:, level] = [index.setdefault(row[level], len(index)) for row in rows]
    return codes


def class_aware_order(labels: Sequence[Hashable], seed: int = 0, per_class: int = TEXTS_PER_CLASS) -> np.ndarray:
    """An epoch's order of the examples for in-batch pairs: each class's examples shuffled and cut into groups of
    `per_class` (a class's last odd one joins its last group), the groups of every class spread evenly over the epoch
    (group g of a class with G groups at (g + u) / G, u uniform per class) so that consecutive groups come from
    different classes in proportion to the class sizes. A group holds per_class to 2 * per_class - 1 texts, so every
    run of 4 * per_class - 3 consecutive positions (5 at 2) holds a whole group: a batch of that many texts or more
    holds a same-class pair, unless the group is a class of one text.

    Returns:
        int64 `(len(labels),)`: a permutation of the example indices; the same for the same labels and seed.
    """
    rng = np.random.default_rng(seed)
    codes = label_codes(labels)
    _, classes = np.unique(codes, axis=0, return_inverse=True)
    groups, keys = [], []
    for c in range(classes.max() + 1 if len(labels) else 0):
        members = rng.permutation(np.flatnonzero(classes.ravel() == c))
        count = max(1, len(members) // per_class)
        cuts = [members[g * per_class:(g + 1) * per_class] for g in range(count - 1)]
        cuts.append(members[(count - 1) * per_class:])
        offset = rng.random()
        groups += cuts
        keys += [(g + offset) / count for g in range(count)]
    ties = rng.random(len(keys))
    order = np.lexsort((ties, np.asarray(keys)))
    return np.concatenate([groups[g] for g in order]) if groups else np.zeros(0, dtype=np.int64)
