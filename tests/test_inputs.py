"""Inputs as users give them: every kind of label value, reused output folders, checks before any training."""

import json
import logging
import os
import shutil
from collections import Counter
from types import SimpleNamespace

import datasets
import nltk
import pytest
import torch
import transformers
from conftest import TINY, _wordpiece_tokenizer, corpus, dae_targets, save_tiny
from datasets import ClassLabel, Dataset, Features, Value
from safetensors.torch import load_file, save_file
from transformers.tokenization_utils_base import VERY_LARGE_INTEGER
from test_run_threephase import FAST, Interrupt, data_flags
from transformers import (
    AlbertConfig,
    AlbertModel,
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    BertLMHeadModel,
    BertModel,
    CanineConfig,
    ElectraConfig,
    ElectraForCausalLM,
    ElectraModel,
    FunnelConfig,
    FunnelModel,
    GPT2Config,
    GPT2Model,
    MegatronBertConfig,
    MegatronBertModel,
    T5Config,
    T5EncoderModel,
    TrainingArguments,
)

from hf_threephase import (
    DAEForSeqReconstruction,
    ThreePhaseArguments,
    ThreePhaseForJointTraining,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
    cli,
    run_phases,
)
from hf_threephase.arguments import PhaseArguments
from hf_threephase.cli import main, parse_args
from hf_threephase.data import DataTrainingArguments, load_labelled_data
from hf_threephase.modeling_threephase import load_phase_folder
from hf_threephase.noise import load_stopwords
from hf_threephase.phase_records import file_sha256, phase_record
from hf_threephase.registry import PHASES
from hf_threephase.arguments import replaced_by_policy
from hf_threephase.preflight import capped_max_seq_length, check_report_to, warn_fsdp_on_cpu
from hf_threephase.runner import PhaseRunner
from hf_threephase.trainers import PhaseTrainer
from hf_threephase.validation import FinishedPhaseMismatch, InputError


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


def test_csv_cells_are_read_as_written(tmp_path):
    # codes keep their spelling (01 and 1 are two classes), NA is a class, a number-only text is a text
    rows = [("a", "01"), ("NA", "1"), ("42", "02"), ("d", "NA"), ("e", "10")]
    data, space = load(write_splits(tmp_path, {"train": rows}, ".csv"))
    assert space.names == ("01", "02", "1", "10", "NA")  # not all numbers: by text
    assert labels_of(data) == [0, 2, 1, 4, 3]
    rows = [("a", "01"), ("b", "10"), ("c", "2"), ("d", "1")]
    _, space = load(write_splits(tmp_path, {"train": rows}, ".csv"))
    assert space.names == ("01", "1", "2", "10")  # all numbers: by value, ties by text
    assert data["train"]["text"][:3] == ["a", "NA", "42"]


def test_csv_numbers_that_are_one_class_are_said_and_fractions_are_refused(tmp_path, caplog):
    rows = [("a", "+1"), ("b", "1"), ("c", "-1"), ("d", "1.0")]
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(write_splits(tmp_path, {"train": rows}, ".csv"))
    assert space.names == ("-1", "1") and labels_of(data) == [1, 1, 0, 1]
    assert "CSV column 'label' read as numbers: '+1' and '1' and '1.0' are one class (1)" in caplog.text
    rows = [("a", "1.5"), ("b", "2.5"), ("c", "1.5")]  # a regression target, not classes
    with pytest.raises(InputError, match=r"train\.csv row 1: label 1\.5 is not a class: a number label must be whole"):
        load(write_splits(tmp_path, {"train": rows}, ".csv"))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_number_like_names_in_the_names_file_are_names_not_indices(tmp_path, suffix, caplog):
    (tmp_path / "names.json").write_text('["1", "2", "3", "4", "5"]')  # star ratings
    values = [5, 1, 3, 5] if suffix == ".jsonl" else ["5", "1", "3", "5"]
    rows = [(f"text {i}", v) for i, v in enumerate(values)]
    data, space = load(write_splits(tmp_path, {"train": rows}, suffix), label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("1", "3", "5") and labels_of(data) == [2, 0, 1, 2]

    rows = [(f"text {i}", v) for i, v in enumerate([1, 2, 4, 1])]  # both readings fit: by name, said
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(write_splits(tmp_path, {"train": rows}, suffix),
                           label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("1", "2", "4")
    assert "labels read as the names in --label_names_file" in caplog.text


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("names, values, expected", [
    ('["True", "False"]', [False, True, False], ["False", "True", "False"]),  # not index 0 = "True"
    ("[true, false]", [False, True, False], ["False", "True", "False"]),
    ('["1.0", "2.0", "3.0"]', [1.0, 3.0, 2.0], ["1.0", "3.0", "2.0"]),  # not index 1 = "2.0"
    ('["TRUE", "FALSE"]', [False, True], ["FALSE", "TRUE"]),  # a spreadsheet's booleans
    ('["1.00", "2.00", "3.00"]', [1.0, 2.0], ["1.00", "2.00"]),
])
def test_labels_written_as_the_names_in_another_form_read_as_those_names(tmp_path, suffix, names, values, expected):
    (tmp_path / "names.json").write_text(names)
    rows = [(f"text {i}", str(v) if suffix == ".csv" else v) for i, v in enumerate(values)]
    data, space = load(write_splits(tmp_path, {"train": rows}, suffix), label_names_file=str(tmp_path / "names.json"))
    assert [space.names[i] for i in labels_of(data)] == expected


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_column_reads_one_way_in_every_split(tmp_path, suffix):
    # ids 0-4 against names "1"-"5": train holds a 0, so ids; a test split without 0 must not switch to names
    (tmp_path / "names.json").write_text('["1", "2", "3", "4", "5"]')
    value = (lambda i: str(i)) if suffix == ".csv" else (lambda i: i)
    rows = {"train": [(f"t{i}", value(i % 5)) for i in range(10)], "test": [(f"s{i}", value(i)) for i in (1, 2, 3)]}
    data, space = load(write_splits(tmp_path, rows, suffix), label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("1", "2", "3", "4", "5")
    assert labels_of(data, "test") == [1, 2, 3]


@pytest.mark.parametrize("role", ["train_file", "unlabeled_file"])
def test_an_unquoted_comma_in_a_csv_text_is_named_by_line(tmp_path, role):
    good = tmp_path / "good.csv"
    good.write_text("text,label\nhello,a\nworld,b\n")
    bad = tmp_path / "bad.csv"
    bad.write_text('text,label\n"quoted, fine",a\nhello, there,b\n')
    files = {"train_file": str(good), "validation_file": str(good), "test_file": str(good), role: str(bad)}
    with pytest.raises(InputError, match=rf"^--{role}: {bad} row 2 \(line 3\): 3 fields, the header has 2 \(quote"):
        load_labelled_data(DataTrainingArguments(**files))


def test_spaces_around_string_labels_are_dropped_and_said(tmp_path, caplog):
    rows = [("a", " weather "), ("b", "music"), ("c", "weather"), ("d", "music ")]
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(write_splits(tmp_path, {"train": rows}, ".csv"))
    assert space.names == ("music", "weather") and labels_of(data) == [1, 0, 1, 0]
    assert f"read without the spaces around them: 2 in {tmp_path / 'train.csv'} (' weather ' is class 'weather')" \
        in caplog.text


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

    levels = Features({"text": Value("string"), "label": ClassLabel(names=["y/c", "x / a", "x/b"])})
    tree = tmp_path / "tree"
    for split in ("train", "validation", "test"):
        Dataset.from_dict({"text": ["a", "b", "c"], "label": [1, 2, 0]}, features=levels).to_parquet(
            tree / f"{split}.parquet")
    data, space = load_labelled_data(DataTrainingArguments(dataset_name=str(tree), label_separator="/"))
    assert space.names == ("y/c", "x/a", "x/b")  # ClassLabel order, each level without its spaces
    assert data["train"]["label_path"] == [["x", "a"], ["x", "b"], ["y", "c"]]

    (tmp_path / "swapped.json").write_text('["pos", "neg", "mixed"]')  # the ClassLabel's own names, moved
    with pytest.raises(InputError, match=r"names id 0 'pos', but the ClassLabel of column 'label' names it 'neg': a "
                                         r"names file renames ClassLabel ids by position"):
        load_labelled_data(DataTrainingArguments(dataset_name=str(hub), label_names_file=str(tmp_path / "swapped.json")))
    twins = Features({"text": Value("string"), "label": ClassLabel(names=["x/a", "x / a", "y/b"])})
    for split in ("train", "validation", "test"):
        Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 2]}, features=twins).to_parquet(
            tmp_path / "twins" / f"{split}.parquet")
    with pytest.raises(InputError, match=r"the ClassLabel names of column 'label' read as one .*: \['x/a'\] \(give "
                                         r"--label_names_file"):
        load_labelled_data(DataTrainingArguments(dataset_name=str(tmp_path / "twins"), label_separator="/"))
    (tmp_path / "fixed.json").write_text('["x/a", "x/c", "y/b"]')  # a names file is the way to name them apart
    _, space = load_labelled_data(DataTrainingArguments(dataset_name=str(tmp_path / "twins"), label_separator="/",
                                                        label_names_file=str(tmp_path / "fixed.json")))
    assert space.names == ("x/a", "x/c", "y/b")
    (tmp_path / "shifted.json").write_text('["mixed", "negative", "positive"]')  # a renaming that reuses a name
    _, space = load_labelled_data(DataTrainingArguments(dataset_name=str(hub), label_names_file=str(tmp_path /
                                                                                                     "shifted.json")))
    assert space.names == ("mixed", "negative", "positive")  # by position, with a warning

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


ARCHITECTURES = {  # (model class, config class, config, decoder class): bases whose DAE once crashed
    "electra": (ElectraModel, ElectraConfig, dict(embedding_size=32, **TINY), ElectraForCausalLM),  # a 2-module head
    "funnel": (FunnelModel, FunnelConfig, dict(d_model=32, n_head=2, d_head=16, d_inner=64, block_sizes=[1, 1]),
               BertLMHeadModel),  # no causal-LM form
    "megatron-bert": (MegatronBertModel, MegatronBertConfig, TINY, BertLMHeadModel),  # cannot attend to 1 vector
}


def test_a_dae_on_an_encoder_without_word_embeddings_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="^it has no word-embedding matrix for a decoder to share$"):
        DAEForSeqReconstruction.check_encoder_config(CanineConfig(**TINY))


@pytest.mark.parametrize("kind", ARCHITECTURES)
def test_the_dae_decodes_on_more_architectures_with_the_lm_head_of_its_decoder(kind, tmp_path):
    model_class, config_class, config, decoder_class = ARCHITECTURES[kind]
    path = save_tiny(tmp_path / kind, model_class, config_class, _wordpiece_tokenizer(), pad_token_id=0,
                     max_position_embeddings=64, **config)
    dae = DAEForSeqReconstruction.from_encoder_pretrained(path)
    assert type(dae.decoder) is decoder_class
    dae.save_pretrained(tmp_path / "dae")
    again, loading = DAEForSeqReconstruction.from_pretrained(tmp_path / "dae", output_loading_info=True)
    assert type(again.decoder) is decoder_class and again.config.dae_decoder == dae.config.dae_decoder
    assert not loading["missing_keys"] and not loading["unexpected_keys"]
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 14, 3, 0]])
    mask = (ids != 0).long()
    embedding = dae.bottleneck_embedding(ids, mask)
    logits, loss = dae.decode(embedding, ids, mask)
    # the decoder's own causal-LM forward, at the same (non-padding) positions
    own = dae.decoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=embedding[:, None]).logits
    torch.testing.assert_close(logits, own[mask.bool()])
    assert logits.shape == (int(mask.sum()), dae.config.encoder.vocab_size) and loss is None
    dae.train()
    dae(input_ids=ids, attention_mask=mask, **dae_targets({"input_ids": ids, "attention_mask": mask})).loss.backward()


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


def test_the_best_dae_checkpoint_loads_without_calling_tied_keys_missing(bert_dir, tmp_path, transformers_logs):
    dae = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir)
    dae.save_pretrained(tmp_path)  # tied decoder tensors are left out of the file
    state = load_file(tmp_path / "model.safetensors")
    result = dae.load_state_dict(state, strict=False)
    assert any(k.startswith("decoder.bert.") for k in result.missing_keys)
    trainer = PhaseTrainer(model=dae, args=TrainingArguments(tmp_path / "t", report_to="none", use_cpu=True))
    trainer._issue_warnings_after_load(result)
    assert "missing keys" not in transformers_logs.text
    del state["bottleneck.weight"]  # a key that is really missing is still reported
    trainer._issue_warnings_after_load(dae.load_state_dict(state, strict=False))
    assert "There were missing keys in the checkpoint model loaded: ['bottleneck.weight']" in transformers_logs.text


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


# --- output folders: reused only for the same data and settings ---

def jsonl_files(folder, rows_by_split: dict) -> dict:
    """{split: path} of jsonl files with `sentence` / `topic` columns (as the `files` fixture)."""
    folder.mkdir(exist_ok=True)
    paths = {}
    for split, rows in rows_by_split.items():
        paths[split] = folder / f"{split}.jsonl"
        paths[split].write_text("".join(json.dumps({"sentence": t, "topic": l}) + "\n" for t, l in rows))
    return paths


SENTIMENT = [(f"{word} film number {i}", label) for i in range(8)
             for word, label in (("a lovely", "positive"), ("a dull", "negative"))]


def test_a_finished_phase_is_reused_only_for_the_same_data_and_settings(tmp_path, bert_dir, files, caplog, capsys):
    # stale-output-dir-reuse: another data set, or another learning rate, into the same --output_dir
    out = tmp_path / "run"

    def run(data, *flags, model=str(bert_dir)):
        return main(["--model_name_or_path", model, *data_flags(data), "--output_dir", str(out),
                     "--variant", "ft", *FAST, *flags])

    first = run(files)
    written = (out / "ft" / "model.safetensors").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        again = run(files, model=os.path.relpath(bert_dir) + "/")  # the same folder, written another way
    assert f"{out / 'ft'}: the finished ft phase is reused (same data and settings)" in caplog.text
    assert again["test"]["confusion_matrix"] == first["test"]["confusion_matrix"]
    assert again["reused_phases"] == ["ft"] and again["wall_s"] == {"ft": 0.0} and first["wall_s"]["ft"] > 0

    sentiment = jsonl_files(tmp_path / "sentiment", {"train": SENTIMENT, "validation": SENTIMENT[::2],
                                                     "test": SENTIMENT[1::2]})
    for data, flags, differs in [
        (sentiment, [], "train, validation, test data, labels ['food', 'music', 'weather'] -> ['negative', 'positive']"),
        (files, ["--learning_rate", "0.01"], "learning_rate 0.001 -> 0.01"),
        (files, ["--ft_learning_rate", "0.01"], "learning_rate 0.001 -> 0.01"),  # once: by its effect
    ]:
        with pytest.raises(SystemExit) as stop:
            run(data, *flags)
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"error: {out / 'ft'} holds a finished ft phase, but this command differs in {differs}: rerun with "
            "--overwrite_output_dir true to train the variant's phases again (or delete that phase folder and those "
            "after it to train only them), or choose another --output_dir")
    with pytest.raises(FinishedPhaseMismatch) as refused:  # what a caller (benchmarks/low_label.py) removes to retry
        cli.run(*parse_args(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out),
                             "--variant", "ft", *FAST, "--learning_rate", "0.01"]))
    assert refused.value.folder == out / "ft"
    assert (out / "ft" / "model.safetensors").stat().st_mtime_ns == written  # refused, and kept
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        run(files, "--ft_learning_rate", "0.001")  # given per phase, the value it had: the same computation
    assert f"{out / 'ft'}: the finished ft phase is reused (same data and settings)" in caplog.text

    fresh = run(sentiment, "--overwrite_output_dir", "true")
    assert len(fresh["test"]["confusion_matrix"]) == 2
    assert json.loads((out / "ft" / "config.json").read_text())["id2label"] == {"0": "negative", "1": "positive"}


def test_a_cl_phase_trained_on_flat_labels_is_not_reused_for_hierarchical_ones(tmp_path, bert_dir, files, capsys):
    paths = {}
    for split, path in files.items():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        paths[split] = tmp_path / path.name  # the same class names, "x/a" ..., read flat or as two levels
        topic = {"food": "x.1/a", "music": "x.2/a", "weather": "y.1/b"}  # two levels, split at "/" or at "."
        paths[split].write_text("".join(json.dumps({**row, "topic": topic[row["topic"]]}) + "\n" for row in rows))
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(paths), "--output_dir", str(tmp_path / "run"),
            "--variant", "cl_ft", *FAST]
    main(argv)
    refused = f"error: {tmp_path / 'run' / 'cl'} holds a finished cl phase, but this command differs in the levels of "
    for flags, why in [(["--label_separator", "/"], "the labels (the folder's record has none: read flat, or by"),
                       (["--label_separator", "."], "the labels: rerun")]:
        with pytest.raises(SystemExit) as stop:
            main([*argv, *flags])
        assert stop.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1].startswith(refused + why)
        main([*argv, *flags, "--overwrite_output_dir", "true"])


def test_a_finished_phase_whose_weights_config_or_record_were_damaged_is_refused_before_any_training(
        tmp_path, bert_dir, files, capsys, caplog):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "cl_ft",
            *FAST]
    main(argv)
    weights = out / "cl" / "model.safetensors"
    listed = json.loads((out / "cl" / "files_sha256.json").read_text())
    assert listed["model.safetensors"] == file_sha256(weights)  # and the other files a load reads, but no results
    assert {"config.json", "tokenizer.json", "tokenizer_config.json", "modules.json"} <= set(listed) and not {
        "phase_inputs.json", "phase_metrics.json", "trainer_state.json"} & set(listed)
    shutil.rmtree(out / "ft")
    whole = weights.read_bytes()
    hashes = (out / "cl" / "files_sha256.json").read_text()
    for damaged, listed, problem in [
        (whole[:-1000] + bytes(1000), hashes, "its model.safetensors changed since the phase wrote it (sha256 differs)"),
        (whole[:3000], hashes, "its model.safetensors cannot be read ("),
        (whole, hashes[:-3], "its files_sha256.json cannot be read ("),
    ]:
        weights.write_bytes(damaged)  # bytes overwritten (the header still whole), or the file cut short
        (out / "cl" / "files_sha256.json").write_text(listed)
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
            f"error: {out / 'cl'} holds a finished cl phase, but {problem}")
        assert not (out / "ft").exists()  # refused before FT trained
    weights.write_bytes(whole)
    (out / "cl" / "files_sha256.json").write_text(hashes)
    config = json.loads((out / "cl" / "config.json").read_text())
    kept = {name: (out / "cl" / name).read_bytes() for name in
            ("config.json", "phase_inputs.json", "phase_metrics.json", "files_sha256.json", "tokenizer.json")}
    for name, text, problem in [
        ("config.json", None, "is no finished phase folder: its config.json cannot be read ("),
        ("config.json", "{", "is no finished phase folder: its config.json cannot be read ("),
        ("config.json", "null", "is no finished phase folder: its config.json cannot be read ("),
        ("phase_inputs.json", "{}", "holds a finished cl phase, but its phase_inputs.json is damaged (KeyError"),
        ("phase_metrics.json", None, "holds a finished cl phase, but its phase_metrics.json is missing"),
        ("phase_metrics.json", "{}", "holds a finished cl phase, but its phase_metrics.json is damaged (not a JSON "
                                     "object with its diagnostics)"),
        ("files_sha256.json", json.dumps({k: v for k, v in json.loads(hashes).items() if k != "model.safetensors"}),
         "holds a finished cl phase, but its files_sha256.json does not list model.safetensors"),
        ("config.json", json.dumps({**config, "edited_by_hand": True}),
         "holds a finished cl phase, but its config.json changed since the phase wrote it (sha256 differs)"),
        ("tokenizer.json", None, "holds a finished cl phase, but its tokenizer.json is missing"),
        ("vocab.txt", "[PAD]\n", "holds a finished cl phase, but its files_sha256.json does not list vocab.txt"),
        ("config.json", (bert_dir / "config.json").read_text(), "holds no 3-Phase model (model_type 'bert')"),
        ("phase_inputs.json", "{", "holds a finished cl phase, but its phase_inputs.json is damaged (not a JSON "
                                   "object)"),
        ("phase_inputs.json", "[]", "holds a finished cl phase, but its phase_inputs.json is damaged"),
    ]:
        (out / "cl" / name).unlink() if text is None else (out / "cl" / name).write_text(text)
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: {out / 'cl'} {problem}")
        assert not (out / "ft").exists()
        for kept_name, kept_bytes in kept.items():
            (out / "cl" / kept_name).write_bytes(kept_bytes)
        (out / "cl" / "vocab.txt").unlink(missing_ok=True)  # added by one case
    # a folder written before files_sha256.json: its weights list is checked, the rest taken as written
    (out / "cl" / "files_sha256.json").unlink()
    (out / "cl" / "weights_sha256.json").write_text(json.dumps({"model.safetensors": file_sha256(weights)}))
    (out / "cl" / "config.json").write_text(json.dumps({**config, "edited_by_hand": True}))
    weights.write_bytes(whole[:-1000] + bytes(1000))
    with pytest.raises(SystemExit):
        main(argv)
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: {out / 'cl'} holds a finished cl "
                                                                       "phase, but its model.safetensors changed")
    weights.write_bytes(whole)
    main(argv)
    assert (out / "ft" / "model.safetensors").exists()
    assert "unchecked" not in caplog.text
    (out / "cl" / "weights_sha256.json").unlink()  # no list at all: reused, and said to be unchecked
    shutil.rmtree(out / "ft")
    main(argv)
    assert f"{out / 'cl'}: its files are taken as written, unchecked (no files_sha256.json" in caplog.text
    shutil.rmtree(out / "cl")
    (out / "cl").mkdir()  # an empty folder where the phase goes
    with pytest.raises(SystemExit):
        main(argv)
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"error: {out / 'cl'} is no finished phase folder: its config.json cannot be read (")
    model = tmp_path / "model"
    shutil.copytree(bert_dir, model)
    (model / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes()[:3000])
    with pytest.raises(SystemExit):
        main(["--model_name_or_path", str(model), *argv[2:]])
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"error: --model_name_or_path {model}: its model.safetensors cannot be read (")


def test_a_per_phase_flag_at_the_value_it_had_reuses_that_phase_and_those_after_it(tmp_path, bert_dir, files, caplog,
                                                                                      capsys):
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
            "--variant", "dae_ft", *FAST]
    first = main(argv)
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        again = main([*argv, "--dae_learning_rate", "1e-3", "--dae_new_parameters_learning_rate", "0.001",
                      "--dae_new_parameters_only_steps", "0", "--dae_warmup_steps", "0.5"])  # the values they had
    assert again["reused_phases"] == ["dae", "ft"], caplog.text
    assert again["test"]["confusion_matrix"] == first["test"]["confusion_matrix"]
    with pytest.raises(SystemExit):
        main([*argv, "--dae_new_parameters_learning_rate", "5e-4"])
    assert "this command differs in new_parameters_learning_rate None -> 0.0005" in capsys.readouterr().err


def test_joint_new_parameters_at_the_phase_learning_rate_reuse_the_joint_phase(tmp_path, bert_dir, files, caplog,
                                                                               capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "joint",
            *FAST]
    main(argv)  # joint has no default of its own: its decoder's new parameters train at the phase's rate, 1e-3
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main([*argv, "--joint_new_parameters_learning_rate", "1e-3"])
    assert f"{out / 'joint'}: the finished joint phase is reused (same data and settings)" in caplog.text
    with pytest.raises(SystemExit):
        main([*argv, "--joint_new_parameters_learning_rate", "1e-2"])
    assert "this command differs in new_parameters_learning_rate None -> 0.01" in capsys.readouterr().err


def test_the_positive_pair_fraction_is_recorded_as_the_share_it_draws(tmp_path, bert_dir, files, caplog, capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "cl_ft",
            *FAST]
    recipe = lambda: json.loads((out / "cl" / "phase_inputs.json").read_text())["recipe"]  # noqa: E731
    main([*argv, "--positive_pair_fraction", "0.5"])
    assert "positive_pair_fraction" not in recipe()  # the default before `auto`: older folders stay reusable
    with pytest.raises(SystemExit):
        main(argv)  # auto: 1/3 on these three classes
    assert ("this command differs in positive_pair_fraction 0.5 -> 0.3333333333333333 (0.5 was the default before "
            "auto, 1/K: --positive_pair_fraction 0.5 reuses the folder)") in capsys.readouterr().err
    main([*argv, "--overwrite_output_dir", "true"])
    assert recipe()["positive_pair_fraction"] == 1 / 3
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main([*argv, "--positive_pair_fraction", str(1 / 3)])  # the same pairs, asked for by number
    assert f"{out / 'cl'}: the finished cl phase is reused (same data and settings)" in caplog.text


def test_a_pair_budget_given_as_the_number_auto_stands_for_reuses_the_cl_phase(tmp_path, bert_dir, files, caplog,
                                                                              capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "cl_ft",
            *FAST, "--pairs_per_example", "auto", "--contrastive_pairs", "sampled"]
    main(argv)
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main([*argv, "--pairs_per_example", "5"])  # 3 classes: auto is 5 x floor(log2 3) = 5 pairs per example
    assert f"{out / 'cl'}: the finished cl phase is reused (same data and settings)" in caplog.text
    record = json.loads((out / "cl" / "phase_inputs.json").read_text())
    record["recipe"]["pairs_per_example"] = "5"  # as an older version wrote the number given
    assert "contrastive_pairs" not in record["recipe"]  # sampled, as written before in-batch pairs
    (out / "cl" / "phase_inputs.json").write_text(json.dumps(record))
    shutil.rmtree(out / "ft")  # chained to the record as it was
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main(argv)
    assert f"{out / 'cl'}: the finished cl phase is reused (same data and settings)" in caplog.text
    with pytest.raises(SystemExit):
        main([*argv, "--pairs_per_example", "6"])
    assert "this command differs in pairs_per_example 'auto' -> '6'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--contrastive_pairs", "in_batch"])
    assert "this command differs in contrastive_pairs 'sampled' -> 'in_batch'" in capsys.readouterr().err


def test_in_batch_pairs_read_no_pair_budget(tmp_path, bert_dir, files, caplog):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "cl_ft",
            *FAST]
    main(argv)
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main([*argv, "--pairs_per_example", "7"])
    assert ("--pairs_per_example: the cl_ft variant runs cl -> ft with --contrastive_pairs in_batch, and none of them "
            "reads these; ignored") in caplog.text
    assert f"{out / 'cl'}: the finished cl phase is reused (same data and settings)" in caplog.text
    assert "pairs_per_example" not in json.loads((out / "cl" / "phase_inputs.json").read_text())["recipe"]


def test_in_batch_pairs_need_two_texts_a_batch(tmp_path, bert_dir, files, capsys):
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
            "--variant", "3phase", *FAST, "--cl_batch_size", "1"]
    with pytest.raises(SystemExit):
        main(argv)
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --contrastive_pairs in_batch pairs the texts of a batch, and the cl phase's batch of 1 text holds no "
        "pair: give --cl_batch_size 2 or more, or --contrastive_pairs sampled")
    assert not (tmp_path / "run" / "dae").exists()  # before any training


def test_an_edited_stop_word_file_is_not_reused(tmp_path, bert_dir, capsys):
    rare = [(t, l) for t, l in corpus() if l != "food"] + [(t, l) for t, l in corpus() if l == "food"][:3]
    data = jsonl_files(tmp_path / "data", {"train": rare, "validation": corpus()[::3], "test": corpus()[1::3]})
    words = tmp_path / "stop.txt"
    words.write_text("the\na\n")
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(data), "--output_dir", str(tmp_path / "run"),
            "--variant", "cl_ft", "--stopwords_file", str(words), *FAST]
    main(argv)
    words.write_text("the\na\nfor\n")
    with pytest.raises(SystemExit):
        main(argv)
    assert f"this command differs in stopwords_file '{words} (sha256 " in capsys.readouterr().err


def test_a_base_model_folder_replaced_at_the_same_path_is_not_reused(tmp_path, bert_dir, files, capsys):
    base = tmp_path / "base"
    shutil.copytree(bert_dir, base)
    argv = ["--model_name_or_path", str(base), *data_flags(files), "--output_dir", str(tmp_path / "run"),
            "--variant", "ft", *FAST]
    main(argv)
    torch.manual_seed(1)
    BertModel(transformers.BertConfig.from_pretrained(base)).save_pretrained(base)  # other weights, same path
    with pytest.raises(SystemExit):
        main(argv)
    assert ("this command differs in the files of the model it starts from (model.safetensors)"
            in capsys.readouterr().err)


def test_overwrite_removes_nothing_when_a_check_fails(tmp_path, bert_dir, files, capsys):
    argv = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
            "--variant", "cl_ft", *FAST]
    main(argv)
    with pytest.raises(SystemExit):
        main([*argv, "--overwrite_output_dir", "true", "--diagnostic_samples", "2"])
    assert "give a larger --diagnostic_samples" in capsys.readouterr().err
    assert (tmp_path / "run" / "cl" / "config.json").exists() and (tmp_path / "run" / "results.json").exists()


def test_checkpoints_of_another_command_are_not_resumed(tmp_path, bert_dir, files):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    out = tmp_path / "run"

    def run(learning_rate, callbacks=None):
        training_args = TrainingArguments(output_dir=str(out), num_train_epochs=2, per_device_train_batch_size=16,
                                          learning_rate=learning_rate, report_to="none", disable_tqdm=True)
        return run_phases(str(bert_dir), data, space, ThreePhaseArguments(variant="ft", max_seq_length=32),
                          training_args, callbacks=callbacks)

    with pytest.raises(KeyboardInterrupt):
        run(1e-3, [Interrupt("ft", 1.3)])  # after FT's first-epoch checkpoint
    assert list((out / ".work" / "ft").glob("checkpoint-*"))
    with pytest.raises(InputError, match=rf"^{out / '.work' / 'ft'} holds checkpoints of an unfinished ft phase, but "
                                         r"this command differs in learning_rate 0.001 -> 0.01: rerun with"):
        run(1e-2)


# repro: ../shared/repros/drop-last-eval (transformers#18021)
@pytest.mark.parametrize("eval_batch", [10, 32])  # 24 validation and 24 test texts: a remainder, or one short batch
def test_training_batch_flags_leave_evaluation_whole_and_in_order(tmp_path, bert_dir, files, eval_batch):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    out = tmp_path / "run"
    training_args = TrainingArguments(output_dir=str(out), num_train_epochs=1, per_device_train_batch_size=16,
                                      per_device_eval_batch_size=eval_batch, dataloader_drop_last=True,
                                      train_sampling_strategy="group_by_length", report_to="none", disable_tqdm=True)
    results = run_phases(str(bert_dir), data, space, ThreePhaseArguments(variant="ft", max_seq_length=32),
                         training_args)
    test_size = len(data["test"])
    assert sum(map(sum, results["test"]["confusion_matrix"])) == test_size
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [(p["text"], p["gold"]) for p in predictions] == [  # in the split's order, each text with its own label
        (text, space.names[label]) for text, label in zip(data["test"]["text"], data["test"]["label"])]
    state = json.loads((out / "ft" / "trainer_state.json").read_text())
    assert state["global_step"] == len(data["train"]) // 16  # training did drop its last incomplete batch
    assert "accuracy" in results["validation"]


# --- checks before any training ---

def test_the_imbalance_correction_says_what_it_added(tmp_path, bert_dir, caplog):
    rare = [(t, l) for t, l in corpus() if l != "food"] + [(t, l) for t, l in corpus() if l == "food"][:3]
    data = jsonl_files(tmp_path / "data", {"train": rare, "validation": corpus()[::3], "test": corpus()[1::3]})
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main(["--model_name_or_path", str(bert_dir), *data_flags(data), "--output_dir", str(out), "--variant", "cl_ft",
              *FAST])
    added = 2 * 3  # food x3: two noised copies of each of its 3 texts
    assert (f"imbalance correction of {data['train']} (max_ratio 4.0, min_ratio 1.5): food x3; "
            f"{len(rare)} -> {len(rare) + added} CL examples, each added copy with its own stop words deleted "
            f"(stop words: {load_stopwords().source})") in caplog.text
    metrics = json.loads((out / "cl" / "phase_metrics.json").read_text())
    assert metrics["imbalance_correction"] == {"multipliers": {"food": 3}, "examples_before": len(rare),
                                               "examples_after": len(rare) + added,
                                               "stopwords": load_stopwords().source}
    assert metrics["train_examples"] == len(rare) + added  # in-batch pairs: the corrected set, each text once
    assert (f"Imbalance correction of train (eq. 5), the up-sampled classes: food ×3: {len(rare)} → "
            f"{len(rare) + added} train examples, each added copy with its own stop words deleted (stop words: "
            f"{load_stopwords().source}).") in (out / "cl" / "README.md").read_text()
    assert "Imbalance correction" not in (out / "ft" / "README.md").read_text()


# repro kind: ../shared/repros/pairs-self-and-duplicates (a copy that repeats its text is said, not called noised)
def test_copies_without_a_stop_word_to_delete_are_said_to_repeat_their_text(tmp_path, bert_dir, caplog):
    plain = [("pizza pasta lasagna", "food"), ("sushi ramen tempura", "food"), ("tacos burritos nachos", "food")]
    rare = [(t, l) for t, l in corpus() if l != "food"] + plain
    data = jsonl_files(tmp_path / "data", {"train": rare, "validation": corpus()[::3], "test": corpus()[1::3]})
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main(["--model_name_or_path", str(bert_dir), *data_flags(data), "--output_dir", str(out), "--variant", "cl_ft",
              *FAST])
    assert (f"{len(rare)} -> {len(rare) + 6} CL examples, each added copy with its own stop words deleted (stop words: "
            f"{load_stopwords().source}); 6 of the 6 copies had no stop word to delete and repeat their text"
            ) in caplog.text
    assert json.loads((out / "cl" / "phase_metrics.json").read_text())["imbalance_correction"]["copies_unchanged"] == 6
    assert "6 of the 6 copies had no stop word to delete and repeat their text." in (out / "cl" / "README.md").read_text()


def test_without_nltk_data_the_default_recipe_corrects_imbalance_with_scikit_learns_list(tmp_path, bert_dir,
                                                                                        monkeypatch):
    def no_corpus(language):
        raise LookupError("Resource stopwords not found.")

    # a fresh machine: pip's nltk brings no corpus (the loader replaced, not loaded first)
    monkeypatch.setattr(nltk.corpus, "stopwords", SimpleNamespace(words=no_corpus))
    rare = [(t, l) for t, l in corpus() if l != "food"] + [(t, l) for t, l in corpus() if l == "food"][:3]
    data, space = load_labelled_data(DataTrainingArguments(**{
        f"{split}_file": str(path) for split, path in jsonl_files(
            tmp_path / "data", {"train": rare, "validation": corpus()[::3], "test": corpus()[1::3]}).items()},
        text_column="sentence", label_column="topic"))
    out = tmp_path / "run"
    runner = PhaseRunner(str(bert_dir), data, space, ThreePhaseArguments(max_seq_length=32),
                         TrainingArguments(output_dir=str(out), report_to="none"))
    runner.preflight()  # food: 3 examples against 40, so the correction adds copies
    facts = runner.prepared["cl"][0].facts["imbalance_correction"]
    assert facts["multipliers"] == {"food": 3}
    assert facts["stopwords"] == ("scikit-learn's ENGLISH_STOP_WORDS (318 words; nltk's stopwords corpus is not "
                                  "installed)")
    # the record says which list: a phase trained with it is not reused once nltk's corpus is installed
    assert runner.records["cl"]["recipe"]["stopwords_file"] == facts["stopwords"]
    # with nltk's corpus installed the record says None, as those written before the fallback did (still reused)
    monkeypatch.setattr(nltk.corpus, "stopwords", SimpleNamespace(words=lambda language: ["the", "a"]))
    recorded = phase_record(PHASES["cl"], runner.args, runner.phase_args(PHASES["cl"]), runner.context.data, space, "x")
    assert recorded["recipe"]["stopwords_file"] is None
    # a correction that adds no copies reads no list: nothing recorded of it
    balanced = runner.context.data["train"].select(range(len(runner.context.data["train"]) - 3))  # no food
    monkeypatch.setattr(nltk.corpus, "stopwords", SimpleNamespace(words=no_corpus))
    recorded = phase_record(PHASES["cl"], runner.args, runner.phase_args(PHASES["cl"]), {"train": balanced}, space, "x")
    assert recorded["recipe"]["stopwords_file"] is None


def test_the_runner_says_it_ignores_a_text_only_split_no_phase_reads(tmp_path, bert_dir, files, caplog):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    data["text_only"] = Dataset.from_dict({"text": ["an unlabelled note", "another note"]})
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        runner = PhaseRunner(str(bert_dir), data, space, ThreePhaseArguments(variant="ft", max_seq_length=32),
                             TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none"))
    assert ("the text_only split: the ft variant runs ft, and none of them reads text-only data; ignored"
            in caplog.text)
    assert "text_only" not in runner.context.tokenized


def test_evaluation_flags_the_phases_replace_are_said_to_be_ignored(tmp_path, bert_dir, files, caplog):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    given = TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none", eval_strategy="steps", eval_steps=5,
                              save_strategy="steps", save_steps=5, load_best_model_at_end=True,
                              resume_from_checkpoint="elsewhere/checkpoint-5")
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        PhaseRunner(str(bert_dir), data, space, ThreePhaseArguments(variant="ft", max_seq_length=32), given)
    assert ("eval_strategy steps, load_best_model_at_end True, resume_from_checkpoint elsewhere/checkpoint-5: "
            "replaced; each phase evaluates once an epoch where it has a validation metric") in caplog.text
    assert replaced_by_policy(TrainingArguments(output_dir="o", eval_steps=5)) == ["eval_steps 5"]


def test_training_flags_that_change_evaluation_or_length_are_said(tmp_path, bert_dir, files, caplog):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    args = ThreePhaseArguments(variant="dae_ft", max_seq_length=32)
    args.phase_arguments = {"ft": PhaseArguments(num_train_epochs=4)}
    given = TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none", eval_delay=2, max_steps=3,
                              label_smoothing_factor=0.1)
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        PhaseRunner(str(bert_dir), data, space, args, given)
    warned = [r.getMessage() for r in caplog.records]
    assert ("--eval_delay 2: each phase that selects a checkpoint evaluates, and can keep, only those from epoch 2 "
            "on; a phase that ends before then keeps its last weights") in warned
    assert ("--label_smoothing_factor 0.1: the Trainer's label-smoothed cross-entropy replaces the model's own loss "
            "in every phase whose batches hold 'labels' (a DAE's reconstruction, FT's classification; not Joint's), in "
            "training and in the validation and test losses reported") in warned
    assert "--ft_num_train_epochs: --max_steps 3 sets every phase's length; ignored" in warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):  # none of them given: no word
        PhaseRunner(str(bert_dir), data, space, ThreePhaseArguments(variant="ft", max_seq_length=32),
                    TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none"))
    assert not caplog.records


def test_a_selection_metric_for_a_phase_that_keeps_its_last_weights_is_said_to_be_ignored(tmp_path, bert_dir, files,
                                                                                           caplog):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    args = ThreePhaseArguments(variant="ft", max_seq_length=32)
    args.phase_arguments = {"ft": PhaseArguments(model_selection="last")}
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        PhaseRunner(str(bert_dir), data, space, args, TrainingArguments(output_dir=str(tmp_path / "o"),
                                                                        report_to="none", metric_for_best_model="f1"))
    assert ("--metric_for_best_model f1: the ft phase keeps its last weights (--ft_model_selection last); ignored"
            in caplog.text)


def test_lora_options_without_peft_are_said_to_be_ignored(tmp_path, bert_dir, files, caplog):
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
              "--variant", "ft", "--lora_r", "16", "--lora_target_modules", "query", *FAST])
    assert "--lora_r, --lora_target_modules: LoRA options without --use_peft; ignored" in caplog.text


def test_report_to_is_read_as_the_trainer_reads_it():
    for nothing in ("none", ["none"], [], None):
        check_report_to(nothing)
    with pytest.raises(InputError, match=r"^--report_to all tensorboard: 'all' stands alone$"):
        check_report_to(["all", "tensorboard"])  # the Trainer would stop at 'all'
    with pytest.raises(InputError, match=r"^--report_to wandbb: not an integration transformers knows"):
        check_report_to("wandbb")  # a name set after TrainingArguments was built: one name, not its letters


def test_max_seq_length_is_capped_at_what_the_model_takes(tmp_path, bert_dir, files, caplog):
    # max-seq-length-over-positions: 64 positions, --max_seq_length 1000 and one long text
    long = [("will it rain " * 60, "weather")]
    data = jsonl_files(tmp_path / "data", {"train": corpus() + long, "validation": corpus()[::3],
                                           "test": corpus()[1::3] + long})
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        results = main(["--model_name_or_path", str(bert_dir), *data_flags(data), "--output_dir", str(tmp_path / "o"),
                        "--variant", "ft", *FAST, "--max_seq_length", "1000", "--dae_learning_rate", "1e-3",
                        "--noise_ratio", "0.3"])
    assert "--max_seq_length 1000 is more than the model takes (64 tokens" in caplog.text and "using 64" in caplog.text
    assert ("--dae_learning_rate, --noise_ratio, --pairs_per_example: the ft variant runs ft, and none of them reads "
            "these; ignored") in caplog.text  # FAST gives --pairs_per_example
    assert sum(map(sum, results["test"]["confusion_matrix"])) == len(corpus()[1::3]) + 1


def test_the_cap_counts_roberta_positions_from_its_padding_index_and_leaves_room_for_text(roberta_dir):
    tokenizer = AutoTokenizer.from_pretrained(roberta_dir)
    config = AutoConfig.from_pretrained(roberta_dir)  # 70 positions, padding index 1: 68 tokens
    tokenizer.model_max_length = VERY_LARGE_INTEGER  # a tokenizer that does not say
    assert capped_max_seq_length(1000, tokenizer, config) == 68
    assert capped_max_seq_length(3, tokenizer, config) == 3
    with pytest.raises(InputError, match=r"^--max_seq_length 2 leaves no room for text: the tokenizer adds 2 special"):
        capped_max_seq_length(2, tokenizer, config)


@pytest.mark.parametrize("kind", ["distilbert", "deberta"])
def test_3phase_runs_on_encoders_without_a_causal_lm_form(kind, request, tmp_path, files):
    # dae-unsupported-arch
    out = tmp_path / "run"
    results = main(["--model_name_or_path", str(request.getfixturevalue(f"{kind}_dir")), *data_flags(files),
                    "--output_dir", str(out), *FAST, "--max_train_samples", "32"])
    assert results["phases"] == ["dae", "cl", "ft"] and len(results["test"]["confusion_matrix"]) == 3
    dae = DAEForSeqReconstruction.from_pretrained(out / "dae")
    assert type(dae.decoder) is BertLMHeadModel and dae.config.encoder.model_type == {"distilbert": "distilbert",
                                                                                      "deberta": "deberta-v2"}[kind]


def test_an_encoder_no_decoder_can_share_stops_with_the_variants_that_run(tmp_path, files, capsys):
    # ALBERT: 16-dimensional word embeddings, 32-dimensional hidden states
    model = save_tiny(tmp_path / "albert", AlbertModel, AlbertConfig, _wordpiece_tokenizer(), embedding_size=16,
                      max_position_embeddings=64, pad_token_id=0, **TINY)
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(model), *data_flags(files), "--output_dir", str(tmp_path / "o"), *FAST])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: the dae phase cannot run on this albert model: its word embeddings have 16 dimensions and its hidden "
        "states 32: a decoder cannot share them; the variants that run on it: ft, cl_ft")
    assert not (tmp_path / "o").exists()


def test_an_encoder_whose_dae_cannot_be_built_stops_before_any_work(tmp_path, files, capsys):
    # GPT-2 has a causal-LM form with cross-attention, but its decoder's tied weights do not fit its encoder's
    model = save_tiny(tmp_path / "gpt2", GPT2Model, GPT2Config, _wordpiece_tokenizer(), n_embd=32, n_layer=2, n_head=2,
                      n_positions=64)
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(model), *data_flags(files), "--output_dir", str(tmp_path / "o"), *FAST])
    assert stop.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: the dae phase cannot run on this gpt2 model: a DAE of it cannot be built and "
                           "loaded (Error(s) in loading state_dict for GPT2Model: size mismatch for "), line
    assert line.endswith("; the variants that run on it: ft, cl_ft")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("variant", ["3phase", "ft"])
def test_an_encoder_decoder_checkpoint_stops_before_any_work_for_every_variant(tmp_path, files, capsys, variant):
    # a T5 encoder saved alone says model_type t5, is_encoder_decoder false, yet AutoModel builds the whole T5 from it
    model = save_tiny(tmp_path / "t5", T5EncoderModel, T5Config, _wordpiece_tokenizer(), d_model=32, d_kv=16, d_ff=64,
                      num_layers=2, num_heads=2, pad_token_id=0)
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(model), *data_flags(files), "--output_dir", str(tmp_path / "o"),
              "--variant", variant, *FAST])
    assert stop.value.code == 2
    phase = "dae" if variant == "3phase" else "ft"
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: the {phase} phase cannot run on this t5 model: it is an encoder-decoder model, and every phase runs "
        "on an encoder alone (BERT, RoBERTa, MPNet, ...); the variants that run on it: none")
    assert not (tmp_path / "o").exists()


def test_the_dae_build_probe_passes_joint_in_a_fresh_process(bert_dir, monkeypatch):
    from hf_threephase import modeling_threephase

    monkeypatch.setattr(modeling_threephase, "_BUILT", {})  # as in a process that has probed nothing yet
    ThreePhaseForJointTraining.check_encoder_config(AutoConfig.from_pretrained(bert_dir))
    assert list(modeling_threephase._BUILT.values()) == [None]


def test_an_unreachable_hub_dataset_is_one_line(tmp_path, bert_dir, monkeypatch, capsys):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), "--dataset_name", "nobody/no_such_dataset", "--output_dir",
              str(tmp_path / "o")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --dataset_name nobody/no_such_dataset: cannot load it (") and len(err) == 1


def test_an_unknown_key_in_an_arguments_file_names_the_closest(tmp_path, bert_dir, capsys):
    (tmp_path / "args.json").write_text(json.dumps({"model_name_or_path": str(bert_dir), "train_file": "x.csv",
                                                    "output_dir": str(tmp_path / "o"), "warmup_ratio": 0.1}))
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / "args.json")])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'args.json'}: unknown flag --warmup_ratio (did you "
                                               "mean --warmup_steps?)")


def test_an_arguments_file_is_read_as_the_flags_it_stands_for(tmp_path, bert_dir, capsys):
    args = {"model_name_or_path": str(bert_dir), "train_file": "x.csv", "output_dir": "o", "max_seq_length": "32",
            "use_cpu": True, "lora_target_modules": ["query", "value"], "metric_name": None}
    (tmp_path / "args.json").write_text(json.dumps(args))
    _, _, recipe, training_args, _ = parse_args([str(tmp_path / "args.json")])
    assert recipe.max_seq_length == 32 and training_args.use_cpu is True
    assert recipe.lora_target_modules == ["query", "value"] and recipe.metric_name is None

    (tmp_path / "args.json").write_text(json.dumps({**args, "max_seq_length": 32.0, "learning_rate": 1.0}))
    _, _, recipe, training_args, _ = parse_args([str(tmp_path / "args.json")])
    assert recipe.max_seq_length == 32 and training_args.learning_rate == 1.0
    (tmp_path / "args.json").write_text(json.dumps({**args, "max_seq_length": 32.5}))
    with pytest.raises(InputError, match=rf"^{tmp_path / 'args.json'}: --max_seq_length: invalid int value: "
                                         r"'32.5'$"):
        parse_args([str(tmp_path / "args.json")])

    (tmp_path / "args.yaml").write_text(json.dumps({**args, "dataset_config_name": 3.0}))  # a string flag: as written
    assert parse_args([str(tmp_path / "args.yaml")])[1].dataset_config_name == "3.0"
    (tmp_path / "args.json").write_text(json.dumps({**args, "max_train_samples": 0}))
    with pytest.raises(InputError, match=rf"^{tmp_path / 'args.json'}: --max_train_samples must be >= 1"):
        parse_args([str(tmp_path / "args.json")])  # a check after parsing names the file too
    (tmp_path / "args.json").write_text(json.dumps({**args, "pairs_per_example": 10.0}))  # text-typed, a count
    assert parse_args([str(tmp_path / "args.json")])[2].pairs_per_example == "10"
    (tmp_path / "args.json").write_text(json.dumps({**args, "report_to": "tensorbord"}))
    with pytest.raises(InputError, match=rf"^{tmp_path / 'args.json'}: --report_to tensorbord: not an integration"):
        parse_args([str(tmp_path / "args.json")])
    (tmp_path / "args.json").write_text(json.dumps({**args, "variant": "bogus"}))
    with pytest.raises(InputError, match=rf"^{tmp_path / 'args.json'}: --variant must be one of "):
        parse_args([str(tmp_path / "args.json")])
    (tmp_path / "args.json").write_text(json.dumps({**args, "pairs_per_example": 0.5}))
    with pytest.raises(InputError, match=rf"^{tmp_path / 'args.json'}: --pairs_per_example must be an integer >= 1 or "
                                         r"'auto', got '0.5'$"):
        parse_args([str(tmp_path / "args.json")])  # a range check of the recipe's names the file too
    with pytest.raises(InputError, match=r"args.json: an arguments file comes alone; put the other flags in it"):
        parse_args([str(tmp_path / "args.json"), "--num_train_epochs", "2"])
    (tmp_path / "args.json").write_text(json.dumps({**args, "load_best_model_at_end": True}))
    with pytest.raises(InputError, match=r"args.json: --load_best_model_at_end does not apply: each phase with a "
                                         r"validation metric keeps its best checkpoint"):
        parse_args([str(tmp_path / "args.json")])

    (tmp_path / "args.yaml").write_text("- a list\n- not a mapping\n")
    with pytest.raises(InputError, match=r"args.yaml: expected a mapping of flag names to values"):
        parse_args([str(tmp_path / "args.yaml")])


def test_per_phase_options_exist_only_where_the_phase_takes_them(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "--dae_new_parameters_learning_rate" in help_text and "--cl_new_parameters_learning_rate" not in help_text
    with pytest.raises(SystemExit):
        main(["--model_name_or_path", "m", "--train_file", "x.csv", "--output_dir", "o",
              "--cl_new_parameters_learning_rate", "1e-3"])
    assert "unknown flag --cl_new_parameters_learning_rate (did you mean --dae_new_parameters_learning_rate?)" in (
        capsys.readouterr().err)


def test_a_phase_folder_loads_with_one_line_for_its_new_modules(bert_dir, tmp_path, transformers_logs):
    DAEForSeqReconstruction.from_encoder_pretrained(bert_dir).save_pretrained(tmp_path)
    transformers_logs.clear()
    load_phase_folder(ThreePhaseForSequenceClassification, tmp_path, num_labels=3)
    assert not [r.getMessage() for r in transformers_logs.records if r.levelno >= logging.WARNING]
    assert (f"ThreePhaseForSequenceClassification from {tmp_path}: new classifier, projection (a projection or "
            "bottleneck starts as the identity, a head at random)") in transformers_logs.text
    transformers_logs.clear()
    embedder = AutoModel.from_pretrained(tmp_path)  # the DAE card's snippet: the projection is the identity, quietly
    assert type(embedder) is ThreePhaseModel and not [r for r in transformers_logs.records if r.levelno >= logging.WARNING]
    torch.testing.assert_close(embedder.projection.weight, torch.eye(embedder.config.projection_size))

    weights = load_file(tmp_path / "model.safetensors")
    del weights["bottleneck.bias"]  # a module the folder holds only in part: a real problem
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    load_phase_folder(ThreePhaseModel, tmp_path)
    assert f"ThreePhaseModel from {tmp_path}: the folder lacks ['bottleneck.bias'] (started fresh)" in "\n".join(
        r.getMessage() for r in transformers_logs.records if r.levelno >= logging.WARNING)


def test_fsdp_asked_for_on_a_cpu_is_said_to_run_as_data_parallelism(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        warn_fsdp_on_cpu(TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
        assert not caplog.records
        warn_fsdp_on_cpu(TrainingArguments(output_dir=str(tmp_path), use_cpu=True, fsdp="full_shard",
                                           report_to="none"))
    assert "FSDP was asked for, but accelerate shards on accelerators only" in caplog.text


@pytest.mark.parametrize("role", ["train_file", "unlabeled_file"])
@pytest.mark.parametrize("name, content", [("bare.csv", "text,label\n\n"), ("bare.jsonl", "\n\n"),
                                           ("bare.json", "[]"), ("blank.json", " \n")])
def test_a_file_with_no_rows_is_named(tmp_path, role, name, content):
    bare = tmp_path / name
    bare.write_text(content)
    good = tmp_path / f"good{bare.suffix}"  # labelled files share one format
    good.write_text({".csv": "text,label\nhello,a\nworld,b\n", ".jsonl": '{"text": "hello", "label": "a"}\n{"text": "world", "label": "b"}\n',
                     ".json": '[{"text": "hello", "label": "a"}, {"text": "world", "label": "b"}]'}[bare.suffix])
    files = {"train_file": str(good), "validation_file": str(good), "test_file": str(good), role: str(bare)}
    with pytest.raises(InputError, match=rf"^--{role}: {bare} has no rows$"):
        load_labelled_data(DataTrainingArguments(**files))


@pytest.mark.parametrize("subset", [{}, {"max_train_samples": 15}])
def test_a_bad_row_is_named_by_its_row_in_the_file_after_a_validation_share_or_a_subset(tmp_path, subset):
    rows = [(f"text {i}", "music" if i % 2 else "food") for i in range(1, 21)]
    rows[16] = ("text 17", "weather")  # row 17 of train.csv; the names file lacks it
    paths = write_splits(tmp_path, {"train": rows, "test": rows[:4]}, ".csv")
    (tmp_path / "names.json").write_text('["food", "music"]')
    args = DataTrainingArguments(train_file=str(paths["train"]), test_file=str(paths["test"]),
                                 label_names_file=str(tmp_path / "names.json"), **subset)
    with pytest.raises(InputError, match=r" row 17: label 'weather' is not one of --label_names_file"):
        load_labelled_data(args, seed=3)


@pytest.mark.parametrize("rows, percentage", [(1, 20), (24, 99)])
def test_a_validation_share_that_leaves_a_split_empty_is_named(tmp_path, rows, percentage):
    paths = write_splits(tmp_path, {"train": [(f"t{i}", "ab"[i % 2]) for i in range(rows)], "test": [("x", "a")]},
                         ".csv")
    with pytest.raises(InputError, match=rf"^--validation_split_percentage {percentage} of {paths['train']} \({rows} "
                                         rf"rows, {rows // 2 * 2} of them in classes of two rows or more\) leaves "
                                         r"train or validation without a row"):
        load_labelled_data(DataTrainingArguments(train_file=str(paths["train"]), test_file=str(paths["test"]),
                                                 validation_split_percentage=percentage))


def test_hierarchical_levels_are_read_without_their_spaces_and_an_empty_level_is_named(tmp_path, caplog):
    rows = [("t1", "x/a"), ("t2", "x / b"), ("t3", "x/b "), ("t4", " y/a")] * 3
    paths = write_splits(tmp_path, {"train": rows}, ".jsonl")
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(paths, label_separator="/")
    assert space.names == ("x/a", "x/b", "y/a")  # "x / b" is not a third class under another parent
    assert data["train"]["label_path"][:2] == [["x", "a"], ["x", "b"]]
    assert (f"string labels read without the spaces around them: 9 in {paths['train']} ('x / b' is class 'x/b')"
            in caplog.text)  # once a file, however many splits it serves
    paths = write_splits(tmp_path, {"train": [("t1", "x/a"), ("t2", "x/ /b")]}, ".jsonl")
    with pytest.raises(InputError, match=rf"^{paths['train']} row 2: label 'x/ /b' has an empty level \(levels "
                                         r"joined by '/'\)"):
        load(paths, label_separator="/")


@pytest.mark.parametrize("labels", [["x/a", "x / b", " y/a"], [0, 1, 2], ["0", "x / b", "2"]])
def test_a_names_file_with_a_label_separator_reads_its_names_and_the_labels_without_spaces_around_levels(
        tmp_path, caplog, labels):
    rows = [(f"t{i}", labels[i % 3]) for i in range(9)]  # names, indices into the file, or both in one column
    paths = write_splits(tmp_path, {"train": rows}, ".jsonl")
    (tmp_path / "names.json").write_text('["x / a", "x / b", "y/a"]')
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(paths, label_separator="/", label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("x/a", "x/b", "y/a")  # not "x / b" under a parent "x " of its own
    assert data["train"]["label_path"][:3] == [["x", "a"], ["x", "b"], ["y", "a"]]
    assert (f"--label_names_file {tmp_path / 'names.json'}: 2 name(s) read without the spaces around them and their "
            "levels ('x / a' is 'x/a')") in caplog.text
    for names, error in [('["x/a", "x/b", "x / b"]', r"names repeat: \['x/b'\]"),
                         ('["x/a", "x/ /b"]', r"name 'x/ /b' is empty or has an empty level \(levels joined by '/'\)")]:
        (tmp_path / "names.json").write_text(names)
        with pytest.raises(InputError, match=rf"^--label_names_file {tmp_path / 'names.json'}: {error}"):
            load(paths, label_separator="/", label_names_file=str(tmp_path / "names.json"))


@pytest.mark.parametrize("train, test, warned", [
    (["neg", "pos", "1", "neg"], ["neg", "pos"], "train.jsonl row 3: '1' is class 'pos'"),
    (["neg", "pos", "pos", "neg"], ["1", "0"], "test.jsonl row 1: '1' is class 'pos'"),  # names in one split only
    (["neg", "pos", "pos", "neg"], [1, 0], "test.jsonl row 1: 1 is class 'pos'"),  # JSON numbers, too
    (["0", "1", "1", "0"], ["1", "0"], None)])
def test_string_indices_beside_names_in_one_column_are_warned_of(tmp_path, caplog, train, test, warned):
    (tmp_path / "names.json").write_text('["neg", "pos"]')
    paths = write_splits(tmp_path, {"train": [(f"t{i}", v) for i, v in enumerate(train)],
                                    "test": [(f"u{i}", v) for i, v in enumerate(test)]}, ".jsonl")
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load(paths, label_names_file=str(tmp_path / "names.json"))
    assert [space.names[i] for i in labels_of(data, "test")] == [{"0": "neg", "1": "pos"}.get(str(v), v) for v in test]
    indexed = sum(v in ("0", "1", 0, 1) for v in [*train, *train, *test])  # validation is train again
    message = (f"column 'label': {indexed} label(s) read as indices into --label_names_file {tmp_path / 'names.json'}, "
               f"beside {2 * len(train) + len(test) - indexed} written as its names ({tmp_path}/{warned})")
    assert (message in caplog.text) if warned else "read as indices" not in caplog.text


def test_hierarchical_label_flags_keep_paths_apart_and_the_names_file_order(tmp_path):
    rows = [("t1", "arts/media", "film"), ("t2", "arts", "media/film"), ("t3", "science", "physics")]
    path = tmp_path / "levels.jsonl"
    path.write_text("".join(json.dumps({"text": t, "l1": a, "l2": b}) + "\n" for t, a, b in rows * 2))
    with pytest.raises(InputError, match=rf"^{path} row 2: levels \['arts', 'media/film'\] and \['arts/media', 'film'\] "
                                         rf"\({path} row 1\) both make the class name 'arts/media/film' \(levels "
                                         r"joined by '/'\)"):
        load({"train": path}, label_columns=["l1", "l2"])
    for flags, error in [({"label_separator": " "}, r"--label_separator must be a non-blank string, got ' '"),
                         ({"label_separator": "/", "label_columns": ["l1", "l2"]},
                          r"give --label_columns \(one column per level\) or --label_separator")]:
        with pytest.raises(InputError, match=rf"^{error}"):
            load({"train": path}, **flags)
    numbers = write_splits(tmp_path, {"train": [(f"t{i}", [1.0, 2.0][i % 2]) for i in range(4)]}, ".jsonl")
    with pytest.raises(InputError, match=r"train\.jsonl row 1: label 1\.0 is a number, but --label_separator reads "
                                         r"labels as text paths: write them as strings$"):
        load(numbers, label_separator=".")
    codes = write_splits(tmp_path, {"train": [(f"t{i}", ["1.0", "1.1", "2.0"][i % 3]) for i in range(6)]}, ".csv")
    data, space = load(codes, label_separator=".")  # codes, not numbers: "1.1" is level 1 / 1
    assert space.names == ("1.0", "1.1", "2.0") and data["train"]["label_path"][:2] == [["1", "0"], ["1", "1"]]
    (tmp_path / "names.json").write_text('["y/b", "x/a", "x/b"]')
    paths = write_splits(tmp_path, {"train": [(f"t{i}", i % 3) for i in range(6)]}, ".jsonl")
    _, space = load(paths, label_separator="/", label_names_file=str(tmp_path / "names.json"))
    assert space.names == ("y/b", "x/a", "x/b")  # the names file fixes the class order, as without a separator


def test_an_empty_name_in_a_names_file_is_refused(tmp_path):
    paths = write_splits(tmp_path, {"train": [("t1", 0), ("t2", 1)]}, ".jsonl")
    (tmp_path / "names.json").write_text('[" ", "pos"]')
    with pytest.raises(InputError, match=r"names\.json: name ' ' is empty$"):
        load(paths, label_names_file=str(tmp_path / "names.json"))


@pytest.mark.parametrize("seed", range(5))
def test_the_validation_share_is_stratified_by_class_and_a_class_of_one_row_stays_in_train(tmp_path, seed):
    rows = [(f"dish {i}", "food") for i in range(40)] + [(f"song {i}", "music") for i in range(10)] + [
        ("a lone forecast", "weather")]
    paths = write_splits(tmp_path, {"train": rows, "test": rows[:3]}, ".jsonl")
    data, space = load_labelled_data(DataTrainingArguments(train_file=str(paths["train"]), test_file=str(paths["test"])),
                                     seed=seed)
    names = lambda split: Counter(space.names[i] for i in data[split]["label"])  # noqa: E731
    assert names("validation") == {"food": 9, "music": 2}  # ceil(20 % of 51) = 11, in proportion
    assert names("train") == {"food": 31, "music": 8, "weather": 1}
    assert sorted([*data["train"]["text"], *data["validation"]["text"]]) == sorted(text for text, _ in rows)


def test_a_split_cut_by_a_flag_is_named_by_it(tmp_path, caplog):
    rows = [(f"t{i}", "ab"[i % 2]) for i in range(20)]
    paths = write_splits(tmp_path, {"train": rows, "validation": rows, "test": rows}, ".jsonl")
    data, _ = load(paths, max_eval_samples=2, max_predict_samples=3)
    assert data["validation"].info.description == f"--max_eval_samples 2 of {paths['validation']}"
    assert data["test"].info.description == f"--max_predict_samples 3 of {paths['test']}"
    assert data["train"].info.description == str(paths["train"])
    cards = cli.data_sources(DataTrainingArguments(train_file=str(paths["train"]), test_file=str(paths["test"]),
                                                   max_eval_samples=2, train_samples_per_class=3))
    folder = tmp_path.name
    assert (cards["train"], cards["validation"], cards["test"]) == (
        f"--train_samples_per_class 3 of {folder}/train.jsonl",
        f"--max_eval_samples 2 of 20 % of {folder}/train.jsonl (seeded)", f"{folder}/test.jsonl")
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        load_labelled_data(DataTrainingArguments(train_file=str(paths["train"]), test_file=str(paths["test"])))
    assert f"--validation_split_percentage 20 of {paths['train']}: 4 of 20 rows held out for validation, stratified " \
        "by class" in caplog.text


def test_a_validation_share_too_small_for_every_class_is_drawn_unstratified_from_classes_of_two_rows(tmp_path, caplog):
    rows = [(f"t{i}", "abcde"[i % 5]) for i in range(10)] + [("lone", "f")]
    paths = write_splits(tmp_path, {"train": rows, "test": rows[:2]}, ".csv")
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, space = load_labelled_data(DataTrainingArguments(train_file=str(paths["train"]),
                                                               test_file=str(paths["test"])))
    assert (f"--validation_split_percentage 20 of {paths['train']}: 3 validation rows of 11 cannot hold the 6 classes "
            "in proportion; drawn without stratification") in caplog.text
    assert len(data["validation"]) == 3 and "lone" in data["train"]["text"]


def test_a_single_class_left_by_a_subset_says_so(tmp_path):
    paths = write_splits(tmp_path, {"train": [("t0", "a"), ("t1", "b")], "test": [("x", "a")]}, ".csv")
    with pytest.raises(InputError, match=rf"^{paths['train']} \(--max_train_samples 1; rows left: 1\): a single "
                                         r"class"):
        load_labelled_data(DataTrainingArguments(train_file=str(paths["train"]), validation_file=str(paths["train"]),
                                                 test_file=str(paths["test"]), max_train_samples=1))
    with pytest.raises(InputError, match=rf"^--validation_split_percentage 20 of {paths['train']} \(2 rows, 0 of them "
                                         r"in classes of two rows or more\) leaves train or validation without a row"):
        load_labelled_data(DataTrainingArguments(train_file=str(paths["train"]), test_file=str(paths["test"])))


def test_json_lines_in_a_json_file_are_read_whatever_characters_a_text_holds(tmp_path):
    rows = [{"text": "first\u2028part", "label": "a"}, {"text": "page\x0cbreak", "label": "b"},
            {"text": "plain", "label": "a"}, {"text": "more", "label": "b"}]
    path = tmp_path / "data.json"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    data, _ = load_labelled_data(DataTrainingArguments(train_file=str(path), validation_file=str(path),
                                                       test_file=str(path)))
    assert data["train"]["text"] == [row["text"] for row in rows]


def test_text_only_flags_without_text_only_data_are_said_to_be_ignored(tmp_path, files, caplog):
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        data, _ = load_labelled_data(DataTrainingArguments(
            train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
            text_column="sentence", label_column="topic", max_unlabeled_samples=5))
    assert "--max_unlabeled_samples: no text-only data given" in caplog.text and "text_only" not in data


# repro: ../shared/repros/pairs-self-and-duplicates (setfit#578), with _common's tiny data shape
def test_a_text_under_two_classes_and_test_texts_seen_in_train_are_said(tmp_path, caplog):
    train = [("play some jazz", "music"), ("rain in paris", "weather"), ("play some jazz ", "weather"),
             ("book a table", "food"), ("book a table", "food"), ("sunny today", "weather")]
    validation = [("rain tomorrow", "weather"), ("jazz please", "music")]
    test = [("book a table", "food"), ("a cheap place", "food"), ("rock songs", "music")]
    paths = jsonl_files(tmp_path, {"train": train, "validation": validation, "test": test})
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        load_labelled_data(DataTrainingArguments(**{f"{s}_file": str(p) for s, p in paths.items()},
                                                 text_column="sentence", label_column="topic"))
    assert [r.getMessage() for r in caplog.records] == [
        f"{paths['train']}: 1 text(s) under two classes or more (row 1 'music' and row 3 'weather': "
        "'play some jazz'): CL can pair such rows as other-class at cosine 1 by construction, and FT is taught both "
        "labels",
        f"{paths['test']}: 1 of its 3 texts are also train texts (row 1: 'book a table'): its metrics partly measure "
        "memory of train"]  # rows 4 and 5 repeat a text under one class: the data's own weighting, not reported
    caplog.clear()
    paths = jsonl_files(tmp_path, {"train": train[:2] + train[3:], "test": test[1:],
                                   "validation": validation + [("rain tomorrow", "music")]})
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        load_labelled_data(DataTrainingArguments(**{f"{s}_file": str(p) for s, p in paths.items()},
                                                 text_column="sentence", label_column="topic"))
    assert [r.getMessage() for r in caplog.records] == [
        f"{paths['validation']}: 1 text(s) under two classes or more (row 1 'weather' and row 3 'music': "
        "'rain tomorrow'): one of its labels is scored wrong whatever the model predicts"]


def test_data_flags_the_data_make_moot_are_said_and_files_beside_a_dataset_refused(tmp_path, files, caplog):
    given = dict(train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
                 text_column="sentence", label_column="topic")
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        load_labelled_data(DataTrainingArguments(**given, validation_split_percentage=30,
                                                 dataset_config_name="default", unlabeled_split="extra"))
    assert ("--validation_split_percentage 30 (validation is a split of its own); --dataset_config_name default (no "
            "--dataset_name); --unlabeled_split extra (no --unlabeled_dataset_name): ignored") in caplog.text
    with pytest.raises(InputError, match=r"^--dataset_name glue and --train_file, --test_file: the splits come from "
                                         r"one of them; give the dataset or the files$"):
        DataTrainingArguments(dataset_name="glue", train_file="t.csv", test_file="e.csv")


def test_imbalance_settings_under_no_imb_are_said_to_be_ignored():
    off = ThreePhaseArguments(variant="no_imb", imbalance_min_ratio=2.0, stopwords_file="stop.txt")
    assert off.options_outside_variant() == ["--imbalance_min_ratio", "--stopwords_file"]
    on = ThreePhaseArguments(variant="3phase", imbalance_min_ratio=2.0, stopwords_file="stop.txt")
    assert on.options_outside_variant() == []


def test_drop_last_that_leaves_a_phase_no_batch_stops_before_training(tmp_path, bert_dir, files):
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    args = ThreePhaseArguments(variant="dae_ft", max_seq_length=32)
    args.phase_arguments = {"ft": PhaseArguments(batch_size=len(data["train"]) + 1)}
    runner = PhaseRunner(str(bert_dir), data, space, args, TrainingArguments(
        output_dir=str(tmp_path / "o"), report_to="none", dataloader_drop_last=True))
    with pytest.raises(InputError, match=rf"^--dataloader_drop_last true: the ft phase's {len(data['train'])} training "
                                         rf"examples fill no batch of {len(data['train']) + 1}, so it would train no "
                                         r"step: drop the flag, or give a smaller --ft_batch_size$"):
        runner.preflight()
    assert not (tmp_path / "o" / "dae").exists()
