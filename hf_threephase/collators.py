"""Tokenisation once, then collators that noise and pair already-tokenised examples (no re-tokenising per epoch)."""

import random
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase

from .noise import delete_words
from .pairs import ContrastivePairs


def tokenize_function(tokenizer: PreTrainedTokenizerBase, max_length: int, text_column: str = "text"):
    """For `datasets.map(batched=True)`: input ids plus each token's word index (-1 for special tokens), which lets
    the DAE collator delete whole words from the ids."""

    def tokenize(batch):
        encoded = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        word_ids = [[-1 if w is None else w for w in encoded.word_ids(i)] for i in range(len(batch[text_column]))]
        return {"input_ids": encoded["input_ids"], "word_ids": word_ids}

    return tokenize


def _pad(tokenizer: PreTrainedTokenizerBase, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


@dataclass
class DenoisingCollator:
    """Deletes words (ratio `noise_ratio`, a fresh draw every time a batch is made, so every epoch) and returns the
    noised ids to encode and the clean ids to reconstruct."""

    tokenizer: PreTrainedTokenizerBase
    noise_ratio: float = 0.6
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def noise(self, input_ids: list[int], word_ids: list[int]) -> list[int]:
        words = sorted({w for w in word_ids if w >= 0})
        kept = set(delete_words(words, self.noise_ratio, self.rng))
        return [t for t, w in zip(input_ids, word_ids) if w < 0 or w in kept]

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        clean = [f["input_ids"] for f in features]
        noised = [self.noise(f["input_ids"], f["word_ids"]) for f in features]
        input_ids, attention_mask = _pad(self.tokenizer, noised)
        labels, labels_attention_mask = _pad(self.tokenizer, clean)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "labels_attention_mask": labels_attention_mask,
        }


class PairDataset(Dataset):
    """Pairs of tokenised examples, looked up lazily through `ContrastivePairs`."""

    def __init__(self, examples, pairs: ContrastivePairs):
        self.examples = examples
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        a, b, target = self.pairs[i]
        first, second = self.examples[a], self.examples[b]
        return {"a": first["input_ids"], "b": second["input_ids"], "a_words": first["word_ids"],
                "b_words": second["word_ids"], "target": target}


@dataclass
class PairCollator:
    """One padded batch of 2B sentences (the a-sides, then the b-sides), so one forward embeds both; `labels` are the
    cosine targets."""

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = _pad(self.tokenizer, [f["a"] for f in features] + [f["b"] for f in features])
        labels = torch.tensor([f["target"] for f in features], dtype=torch.float)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


@dataclass
class JointCollator:
    """A pair batch (keys prefixed `pair_`) plus a denoising batch over its B a-side sentences."""

    tokenizer: PreTrainedTokenizerBase
    noise_ratio: float = 0.6
    seed: int = 0

    def __post_init__(self):
        self.pair_collator = PairCollator(self.tokenizer)
        self.dae_collator = DenoisingCollator(self.tokenizer, self.noise_ratio, self.seed)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        sides = [{"input_ids": f["a"], "word_ids": f["a_words"]} for f in features]
        pair = self.pair_collator(features)
        return {**self.dae_collator(sides), **{f"pair_{k}": v for k, v in pair.items()}}
