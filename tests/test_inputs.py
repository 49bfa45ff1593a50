"""Inputs as users give them: every kind of label value, reused output folders, checks before any training."""

import json
import logging
import shutil

import pytest
import torch
import transformers
from conftest import dae_targets
from datasets import ClassLabel, Dataset, Features, Value
from safetensors.torch import load_file, save_file
from transformers import BertLMHeadModel, BertModel

from hf_threephase import (
    DAEForSeqReconstruction,
    ThreePhaseForJointTraining,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
)
from hf_threephase.data import DataTrainingArguments, load_labelled_data


def write_splits(folder, rows_by_split: dict, suffix: str) -> dict:
    """Write {split: rows} as csv (rows are (text, label) with the label already as CSV text) or jsonl."""
    paths = {}
    for split, rows in rows_by_split.items():
        paths[split] = folder / f"{split}{suffix}"
        if suffix == ".csv":
            paths[split].write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows))
        else:
            paths[split].write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
    return paths


def load(paths: dict, **kwargs):
    return load_labelled_data(DataTrainingArguments(
        train_file=str(paths["train"]), validation_file=str(paths.get("validation", paths["train"])),
        test_file=str(paths.get("test", paths["train"])), **kwargs))


def labels_of(data, split="train") -> list[int]:
    assert data[split].features["label"] == Value("int64")
    return list(data[split]["label"])


def test_csv_class_names_in_the_default_label_column(tmp_path):
    # csv-string-labels: the README's usage shape; the id column must not keep the CSV's string type
    rows = [("will it rain in paris", "weather"), ("play some jazz", "music"), ("book a table", "food"),
            ("is it sunny today", "weather")]
    data, space = load(write_splits(tmp_path, {"train": rows}, ".csv"))
    assert space.names == ("food", "music", "weather")
    assert labels_of(data) == [2, 1, 0, 2] and labels_of(data, "test") == [2, 1, 0, 2]


@pytest.mark.parametrize("suffix, values, names", [
    (".csv", ["1.0", "0.0", "1.0", "0.0"], ("0", "1")),        # float-labels: a CSV int column with a gap
    (".jsonl", [1.0, 0.0, 1.0, 0.0], ("0", "1")),
    (".jsonl", [True, False, True, False], ("false", "true")),  # false = 0, true = 1
    (".csv", ["True", "False", "True", "False"], ("false", "true")),
    (".jsonl", ["1", 0, 1, "0"], ("0", "1")),                  # "1" and 1 are one class
])
def test_integral_floats_and_booleans_are_classes(tmp_path, suffix, values, names):
    rows = [(f"text {i}", v) for i, v in enumerate(values)]
    data, space = load(write_splits(tmp_path, {"train": rows}, suffix))
    assert space.names == names
    assert labels_of(data) == [1, 0, 1, 0]


@pytest.mark.parametrize("suffix, values", [
    (".csv", ["1.0", "0.0", "1.0", "0.0"]), (".jsonl", [True, False, True, False]), (".jsonl", [1, 0, 1, 0]),
    (".jsonl", ["1", "0", "positive", "negative"]),
])
def test_the_names_file_names_every_kind_of_index(tmp_path, suffix, values):
    (tmp_path / "names.json").write_text('["negative", "positive"]')
    rows = [(f"text {i}", v) for i, v in enumerate(values)]
    data, space = load(write_splits(tmp_path, {"train": rows}, suffix), label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("negative", "positive")
    assert labels_of(data) == [1, 0, 1, 0]


def test_number_labels_keep_their_order_and_names_keep_the_files(tmp_path, caplog):
    rows = [(f"text {i}", i % 12) for i in range(24)]
    data, space = load(write_splits(tmp_path, {"train": rows}, ".jsonl"))
    assert space.names == tuple(str(i) for i in range(12))  # by value: 2 before 10
    assert labels_of(data) == [i % 12 for i in range(24)]

    (tmp_path / "names.json").write_text('["very negative", "negative", "neutral", "positive"]')
    rows = [(f"text {i}", [0, 1, 3][i % 3]) for i in range(9)]  # nobody is neutral in train
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        data, space = load(write_splits(tmp_path, {"train": rows}, ".jsonl"),
                           label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("very negative", "negative", "positive")
    assert labels_of(data)[:3] == [0, 1, 2]
    assert "left out of the label space: ['neutral']" in caplog.text


def test_spaces_around_string_labels_are_dropped_and_said(tmp_path, caplog):
    rows = [("a", " weather "), ("b", "music"), ("c", "weather"), ("d", "music ")]
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(write_splits(tmp_path, {"train": rows}, ".csv"))
    assert space.names == ("music", "weather") and labels_of(data) == [1, 0, 1, 0]
    assert f"read without the spaces around them: 2 in {tmp_path / 'train.csv'}" in caplog.text


def test_classlabel_names_and_order_and_its_missing_value(tmp_path):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos", "mixed"])})
    hub = tmp_path / "hub"
    for split, labels in {"train": [2, 0, 1, 0], "validation": [0, 1, 2, 2], "test": [1, 1, 0, 2]}.items():
        Dataset.from_dict({"text": ["a", "b", "c", "d"], "label": labels}, features=features).to_parquet(
            hub / f"{split}.parquet")
    data, space = load_labelled_data(DataTrainingArguments(dataset_name=str(hub)))
    assert space.names == ("neg", "pos", "mixed") and labels_of(data) == [2, 0, 1, 0]
    (tmp_path / "names.json").write_text('["negative", "positive", "mixed feelings"]')
    data, space = load_labelled_data(DataTrainingArguments(dataset_name=str(hub),
                                                           label_names_file=str(tmp_path / "names.json")))
    assert space.names == ("negative", "positive", "mixed feelings") and labels_of(data, "test") == [1, 1, 0, 2]

    Dataset.from_dict({"text": ["a", "b"], "label": [0, -1]}, features=features).to_parquet(hub / "test.parquet")
    with pytest.raises(ValueError, match=r"\[test\] row 2: missing label in column 'label' \(-1: no label\)"):
        load_labelled_data(DataTrainingArguments(dataset_name=str(hub)))


# --- encoders without a causal-LM form, eval mode, load messages ---

@pytest.mark.parametrize("kind", ["distilbert", "deberta"])
def test_dae_builds_a_bert_decoder_tied_to_an_encoder_without_a_causal_lm_form(kind, request, tmp_path):
    path = request.getfixturevalue(f"{kind}_dir")
    dae = DAEForSeqReconstruction.from_encoder_pretrained(path)
    decoder, encoder = dae.decoder.config, dae.config.encoder
    assert type(dae.decoder) is BertLMHeadModel and decoder.is_decoder and decoder.add_cross_attention
    assert (decoder.vocab_size, decoder.hidden_size, decoder.num_hidden_layers, decoder.num_attention_heads) == (
        encoder.vocab_size, encoder.hidden_size, encoder.num_hidden_layers, encoder.num_attention_heads)
    words = dae.encoder.get_input_embeddings().weight
    assert dae.decoder.get_input_embeddings().weight is words and dae.decoder.get_output_embeddings().weight is words
    torch.testing.assert_close(words, load_file(path / "model.safetensors")["embeddings.word_embeddings.weight"])

    dae.save_pretrained(tmp_path)
    assert "decoder.bert.embeddings.word_embeddings.weight" not in load_file(tmp_path / "model.safetensors")
    again = DAEForSeqReconstruction.from_pretrained(tmp_path)
    assert again.decoder.get_input_embeddings().weight is again.encoder.get_input_embeddings().weight
    state, loaded = dae.state_dict(), again.state_dict()
    assert state.keys() == loaded.keys() and all(torch.equal(state[k], loaded[k]) for k in state)
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 14, 3, 0]])
    batch = dict(input_ids=ids, attention_mask=(ids != 0).long(), **dae_targets({"input_ids": ids,
                                                                                "attention_mask": (ids != 0).long()}))
    assert torch.isfinite(dae(**batch).loss) and torch.equal(dae(**batch).loss, again(**batch).loss)


@pytest.mark.parametrize("cls", [DAEForSeqReconstruction, ThreePhaseModel, ThreePhaseForSequenceClassification,
                                 ThreePhaseForJointTraining])
def test_from_encoder_pretrained_returns_eval_mode_like_from_pretrained(cls, bert_dir):
    model = cls.from_encoder_pretrained(bert_dir)
    assert not any(module.training for module in model.modules())
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    base = BertModel.from_pretrained(bert_dir)  # dropout 0.1: in training mode the two would differ
    torch.testing.assert_close(model.encoder(input_ids=ids).last_hidden_state, base(input_ids=ids).last_hidden_state)


@pytest.fixture
def transformers_logs(caplog):
    """caplog that also sees transformers' own records, at its warning verbosity (as the command sets it)."""
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    transformers.logging.enable_propagation()
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        yield caplog
    transformers.logging.disable_propagation()
    transformers.logging.set_verbosity(verbosity)


def test_the_dae_decoder_of_a_plain_checkpoint_starts_fresh_quietly(bert_dir, transformers_logs):
    # dae-corrupted-checkpoint-message: a BertModel checkpoint has no LM head and no cross-attention, by design
    DAEForSeqReconstruction.from_encoder_pretrained(bert_dir)
    warnings = [r.getMessage() for r in transformers_logs.records if r.levelno >= logging.WARNING]
    assert not any("seem corrupted" in w or "LOAD REPORT" in w for w in warnings), warnings
    assert f"DAE decoder from {bert_dir}: " in transformers_logs.text and "tensors start fresh" in transformers_logs.text


def test_a_checkpoint_lacking_encoder_weights_is_still_reported(bert_dir, tmp_path, transformers_logs):
    weights = load_file(bert_dir / "model.safetensors")
    del weights["encoder.layer.1.attention.self.query.weight"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bert_dir / name, tmp_path / name)
    DAEForSeqReconstruction.from_encoder_pretrained(tmp_path)
    warnings = "\n".join(r.getMessage() for r in transformers_logs.records if r.levelno >= logging.WARNING)
    assert f"DAE decoder from {tmp_path}: the checkpoint lacks ['bert.encoder.layer.1.attention.self.query.weight']" \
        in warnings
