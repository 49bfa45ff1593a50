"""Inputs as users give them: every kind of label value, reused output folders, checks before any training."""

import json
import logging

import pytest
from datasets import ClassLabel, Dataset, Features, Value

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
