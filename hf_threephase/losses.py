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
