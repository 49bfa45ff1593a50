"""Tokenisation once; datasets that noise and pair already-tokenised examples; collators that pad them.

The DAE noise of example i in epoch e is drawn from a generator seeded by (seed, e, i): fresh every epoch, the same
on every process and after a resume.
"""

import math
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase, TrainerCallback

from .noise import delete_token_words
from .pairs import ContrastivePairs, class_aware_order, label_codes


def tokenize_function(tokenizer: PreTrainedTokenizerBase, max_length: int, text_column: str = "text"):
    """For `datasets.map(batched=True)`: input ids plus each token's word index (-1 for special tokens), which lets
    the DAE noise delete whole words from the ids."""

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


class EpochNoise:
    """Word-deletion noise keyed by (seed, epoch, example index); `set_epoch` moves it to the next epoch."""

    def __init__(self, noise_ratio: float, seed: int):
        self.noise_ratio = noise_ratio
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def noise(self, i: int, input_ids: list[int], word_ids: list[int]) -> list[int]:
        rng = random.Random(hash((self.seed, self.epoch, i)))
        return delete_token_words(input_ids, word_ids, self.noise_ratio, rng)


class SetEpochCallback(TrainerCallback):
    """Tells a dataset with `set_epoch` which epoch the Trainer is in (also when it resumes mid-epoch)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(math.floor(state.epoch + 1e-6))


class DenoisingDataset(EpochNoise, Dataset):
    """Tokenised examples (`input_ids`, `word_ids`) -> `{"noised": ..., "clean": ...}` token ids."""

    def __init__(self, examples, noise_ratio: float = 0.6, seed: int = 0):
        super().__init__(noise_ratio, seed)
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        example = self.examples[i]
        return {"noised": self.noise(i, example["input_ids"], example["word_ids"]), "clean": example["input_ids"]}


@dataclass
class DenoisingCollator:
    """Features `{"noised", "clean"}` (token id lists) -> the keys of transformers' encoder-decoder models, all int64:

    - `input_ids`, `attention_mask` `(batch_size, noised_length)`: the noised sentences (what the encoder reads);
    - `decoder_input_ids`, `decoder_attention_mask` `(batch_size, clean_length - 1)`: the padded clean sentences
      without their last column (teacher forcing; a causal decoder, so a read token with no target changes nothing);
    - `labels` `(batch_size, clean_length - 1)`: the clean sentences without their first token, -100 at padding
      (the targets; what the Trainer counts for `num_items_in_batch`).
    """

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = _pad(self.tokenizer, [f["noised"] for f in features])
        clean, clean_mask = _pad(self.tokenizer, [f["clean"] for f in features])
        return {"input_ids": input_ids, "attention_mask": attention_mask, "decoder_input_ids": clean[:, :-1],
                "decoder_attention_mask": clean_mask[:, :-1],
                "labels": clean[:, 1:].masked_fill(clean_mask[:, 1:] == 0, -100)}


class PairDataset(Dataset):
    """Pairs of tokenised examples, looked up lazily through `ContrastivePairs`; `set_epoch` draws the pairs of that
    epoch afresh (the same on every process and after a resume)."""

    ordered = False  # the Trainer shuffles the pairs

    def __init__(self, examples, pairs: ContrastivePairs):
        self.examples = examples
        self.first_pairs = self.pairs = pairs

    def set_epoch(self, epoch: int):
        self.pairs = self.first_pairs.for_epoch(epoch)

    def __len__(self) -> int:
        return len(self.pairs)

    def example_indices(self, i: int) -> tuple[int, ...]:
        return self.pairs[i][:2]

    def __getitem__(self, i: int) -> dict:
        a, b, target = self.pairs[i]
        return {"a": self.examples[a]["input_ids"], "b": self.examples[b]["input_ids"], "target": target}


class InBatchPairDataset(Dataset):
    """Tokenised examples in the class-aware order of `pairs.class_aware_order` for in-batch pairs, drawn afresh per
    (seed, epoch) by `set_epoch`; item i is `{"input_ids", "pair_labels"}` (the label's level codes, see
    `pairs.label_codes`). `ordered`: the Trainer must keep this order (`PhaseTrainer` samples it sequentially; several
    processes each take whole batches of it in turn, so their gathered batch is the one-process batch)."""

    ordered = True

    def __init__(self, examples, labels, seed: int = 0):
        self.examples = examples
        self.labels = labels
        self.codes = label_codes(labels)
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int):
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        self.order = class_aware_order(self.labels, seed)

    def __len__(self) -> int:
        return len(self.order)

    def example_indices(self, i: int) -> tuple[int, ...]:
        return (int(self.order[i]),)

    def __getitem__(self, i: int) -> dict:
        index = int(self.order[i])
        return {"input_ids": self.examples[index]["input_ids"], "pair_labels": self.codes[index].tolist()}


@dataclass
class PairCollator:
    """Features `{"a", "b", "target"}` -> one padded batch of the 2B sentences, so one forward embeds both:

    - `input_ids`, `attention_mask` int64 `(2 * num_pairs, sequence_length)`: the a-sides, then the b-sides;
    - `pair_targets` float32 `(num_pairs,)`: the cosine targets.
    """

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = _pad(self.tokenizer, [f["a"] for f in features] + [f["b"] for f in features])
        pair_targets = torch.tensor([f["target"] for f in features], dtype=torch.float)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "pair_targets": pair_targets}


@dataclass
class InBatchPairCollator:
    """Features `{"input_ids", "pair_labels"}` -> one padded batch whose texts pair with each other (the loss is
    `losses.in_batch_cosine_loss`):

    - `input_ids`, `attention_mask` int64 `(batch_size, sequence_length)`;
    - `pair_labels` int64 `(batch_size, num_levels)`: each text's label level codes.
    """

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = _pad(self.tokenizer, [f["input_ids"] for f in features])
        pair_labels = torch.tensor([f["pair_labels"] for f in features], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "pair_labels": pair_labels}


class JointDataset(EpochNoise, Dataset):
    """A CL item (of a `PairDataset` or an `InBatchPairDataset`, `pairs`) plus a noised sentence to reconstruct, for
    the Joint phase: with `dae_examples` (tokenised texts, e.g. labelled plus text-only), one drawn from them;
    without, one of the item's own texts with equal probability. Drawn per (seed, epoch, item)."""

    def __init__(self, pairs: PairDataset | InBatchPairDataset, noise_ratio: float = 0.6, seed: int = 0,
                 dae_examples=None):
        EpochNoise.__init__(self, noise_ratio, seed)
        self.pairs = pairs
        self.ordered = pairs.ordered
        self.dae_examples = dae_examples

    def set_epoch(self, epoch: int):
        EpochNoise.set_epoch(self, epoch)
        self.pairs.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        item = self.pairs[i]
        rng = random.Random(hash((self.seed, self.epoch, i, 1)))
        if self.dae_examples is None:
            own = self.pairs.example_indices(i)
            sentence = self.pairs.examples[own[rng.randrange(len(own))]]
        else:
            sentence = self.dae_examples[rng.randrange(len(self.dae_examples))]
        noised = self.noise(i, sentence["input_ids"], sentence["word_ids"])
        return {**item, "noised": noised, "clean": sentence["input_ids"]}


@dataclass
class JointCollator:
    """A denoising batch (the keys of `DenoisingCollator`) plus the CL batch as `pair_input_ids`,
    `pair_attention_mask` and `pair_targets` (`PairCollator`'s, for sampled pairs) or `pair_labels`
    (`InBatchPairCollator`'s, for in-batch pairs)."""

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        in_batch = "pair_labels" in features[0]
        pair = (InBatchPairCollator if in_batch else PairCollator)(self.tokenizer)(features)
        return {**DenoisingCollator(self.tokenizer)(features), "pair_input_ids": pair.pop("input_ids"),
                "pair_attention_mask": pair.pop("attention_mask"), **pair}
