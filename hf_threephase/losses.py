"""The losses of the DAE and contrastive phases (FT uses transformers' `loss_function` for its `problem_type`)."""

import torch
from torch import nn


def reconstruction_loss(logits: torch.Tensor, targets: torch.Tensor,
                        num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """TSDAE's reconstruction cross-entropy (Wang et al. 2021, eq. 1; paper 2405.14437 §3.1), nats per target token.

    Args:
        logits: `(num_target_tokens, vocab_size)` scores at the target positions only.
        targets: `(num_target_tokens,)` int64 token ids.
        num_items_in_batch: the target tokens of the whole optimizer step (the Trainer counts them over gradient
            accumulation and processes); without it, the mean over these targets.

    Returns:
        A scalar float32 tensor: sum of -log p(target) divided by the token count.
    """
    loss = nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
    return loss / (targets.numel() if num_items_in_batch is None else num_items_in_batch)


def siamese_cosine_loss(embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """MSE(cos(u, v), target) (paper 2405.14437 §3.2, sentence-transformers' `CosineSimilarityLoss`).

    Args:
        embeddings: `(2 * num_pairs, dim)`, the u-sides then the v-sides.
        targets: `(num_pairs,)` float cosine targets in [0, 1] (1 same class, 0 otherwise, fractions for
            hierarchical labels).

    Returns:
        A scalar float32 tensor: the mean over pairs.
    """
    u, v = embeddings.float().chunk(2)
    return nn.functional.mse_loss(nn.functional.cosine_similarity(u, v), targets.float())


def in_batch_pair_targets(pair_labels: torch.Tensor) -> torch.Tensor:
    """The cosine target of every pair of a batch: 1 same class, 0 otherwise; for hierarchical labels the fraction of
    matching leading levels (as `pairs.pair_target`).

    Args:
        pair_labels: int64 `(batch_size, num_levels)`, one code per label level (`num_levels` 1 for flat labels).

    Returns:
        float32 `(batch_size, batch_size)`.
    """
    equal = pair_labels[:, None, :] == pair_labels[None, :, :]
    return equal.long().cumprod(dim=-1).sum(dim=-1).float() / pair_labels.shape[-1]


def in_batch_cosine_loss(embeddings: torch.Tensor, pair_labels: torch.Tensor,
                         positive_fraction: float = 0.5) -> torch.Tensor:
    """MSE(cos(u, v), target) over the B(B-1)/2 distinct pairs of a batch embedded once (paper 2405.14437 §3.2, the
    pairs formed in the batch as SupCon, Khosla et al. 2020, and sentence-transformers' `BatchAll*` losses form
    them), weighted so that same-class pairs (every level equal) carry `positive_fraction` of the loss and the other
    pairs the rest, each pair of a kind alike. A batch without one of the kinds gives the mean over the other.

    Args:
        embeddings: float `(batch_size, dim)`.
        pair_labels: int64 `(batch_size, num_levels)` (see `in_batch_pair_targets`).
        positive_fraction: the same-class pairs' share of the loss, in (0, 1).

    Returns:
        A scalar float32 tensor: sum over pairs of w_ij (cos_ij - t_ij)^2 / sum of w_ij, w_ij = positive_fraction /
        (same-class pairs) or (1 - positive_fraction) / (other pairs); 0 (with a gradient of zeros) for a batch of
        one text (an epoch's last batch can be one), which holds no pair.
    """
    if embeddings.shape[0] < 2:
        return embeddings.float().sum() * 0.0
    normalized = nn.functional.normalize(embeddings.float(), dim=-1)
    i, j = torch.triu_indices(len(normalized), len(normalized), offset=1, device=normalized.device)
    cosines = (normalized[i] * normalized[j]).sum(-1)
    targets = in_batch_pair_targets(pair_labels)[i, j]
    same = targets == 1
    weights = torch.where(same, positive_fraction / same.sum().clamp(min=1),
                          (1 - positive_fraction) / (~same).sum().clamp(min=1))
    return (weights * (cosines - targets) ** 2).sum() / weights.sum()
