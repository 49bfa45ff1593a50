"""Loading labelled text through `datasets` into the shape the phases expect: `text`, int `label`, and `label_path`
(a list of levels) for hierarchical labels."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, DatasetDict, load_dataset

from .label_space import LabelSpace
from .validation import InputError, check_classes, check_file, check_label_paths, check_texts_and_labels

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json"}


@dataclass
class DataTrainingArguments:
    """Where the data comes from and how much of it to use (the names of transformers' run_glue.py)."""

    dataset_name: str | None = field(default=None, metadata={"help": "A dataset on the Hub (or a local dataset dir)."})
    dataset_config_name: str | None = None
    train_file: str | None = field(default=None, metadata={"help": "csv, json or jsonl"})
    validation_file: str | None = field(default=None, metadata={"help": "Default: a seeded share of train (--validation_split_percentage)."})
    test_file: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    label_columns: list[str] | None = field(
        default=None, metadata={"help": "Hierarchical labels, one column per level (top level first)."}
    )
    label_separator: str | None = field(
        default=None, metadata={"help": "Hierarchical labels in one column, levels joined by this string."}
    )
    label_names_file: str | None = field(
        default=None, metadata={"help": "JSON list of label names, for int labels (index = label)."}
    )
    validation_split_percentage: int = 20
    max_train_samples: int | None = field(default=None, metadata={"help": "A seeded random subset of train."})
    max_eval_samples: int | None = None
    max_predict_samples: int | None = None

    def __post_init__(self):
        if self.dataset_name is None and self.train_file is None:
            raise InputError("give --dataset_name or --train_file")


def _files(args: DataTrainingArguments) -> dict[str, str]:
    return {s: f for s, f in [("train", args.train_file), ("validation", args.validation_file),
                              ("test", args.test_file)] if f is not None}


def _raw_splits(args: DataTrainingArguments, seed: int) -> DatasetDict:
    if args.dataset_name is not None:
        raw = load_dataset(args.dataset_name, args.dataset_config_name)
    else:
        files = _files(args)
        for split, path in files.items():
            check_file(path, f"{split}_file")
            if FORMATS.get(Path(path).suffix.lower()) is None:
                raise InputError(f"--{split}_file: {path}: unknown format (use {', '.join(FORMATS)})")
        formats = {FORMATS[Path(f).suffix.lower()] for f in files.values()}
        if len(formats) != 1:
            raise InputError(f"data files must share one format: {', '.join(files.values())}")
        try:
            raw = load_dataset(formats.pop(), data_files=files)
        except Exception as err:  # a parser error deep inside datasets: name the files instead
            raise InputError(f"cannot read {', '.join(files.values())} as {Path(files['train']).suffix}: "
                             f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    if "validation" not in raw:
        split = raw["train"].train_test_split(test_size=args.validation_split_percentage / 100, seed=seed)
        raw["train"], raw["validation"] = split["train"], split["test"]
    if "test" not in raw:
        raise InputError("no test split: give --test_file (or a dataset with a test split)")
    return raw


def load_labelled_data(args: DataTrainingArguments, seed: int = 42) -> tuple[DatasetDict, LabelSpace]:
    """The train/validation/test splits as `text`, `label` (an index into the label space's names) and, for
    hierarchical labels, `label_path` (one name per level); and the `LabelSpace`.

    Raises:
        InputError: a missing file, column, text or label; a label absent from train; one class only.
    """
    raw = _raw_splits(args, seed)
    if args.max_train_samples is not None:
        raw["train"] = raw["train"].shuffle(seed=seed).select(range(min(args.max_train_samples, len(raw["train"]))))
    for split, limit in (("validation", args.max_eval_samples), ("test", args.max_predict_samples)):
        if limit is not None:
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))

    label_columns = args.label_columns or [args.label_column]
    sources = _files(args) if args.dataset_name is None else {s: f"{args.dataset_name} [{s}]" for s in raw}
    check_texts_and_labels(raw, args.text_column, label_columns, sources)

    names_by_value, given_order = _label_names(args, raw["train"].features[label_columns[0]])

    def path_of(example) -> list[str]:
        if args.label_columns:
            return [str(example[c]) for c in args.label_columns]
        value = example[args.label_column]
        value = names_by_value(value)
        return value.split(args.label_separator) if args.label_separator else [value]

    join = args.label_separator or "/"
    hierarchical = bool(args.label_columns or args.label_separator)
    train_paths = [path_of(ex) for ex in raw["train"]]
    if hierarchical:
        check_label_paths(train_paths, sources.get("train", "train"))
    present = {join.join(p) for p in train_paths}
    # Class ids follow the names file or ClassLabel when there is one (as run_glue does), else sorted names.
    ordered = [] if hierarchical else [name for name in dict.fromkeys(given_order) if name in present]
    label_names = ordered + sorted(present - set(ordered))
    check_classes(label_names, sources.get("train", "train"))
    index = {name: i for i, name in enumerate(label_names)}

    def convert(example, row, split):
        path = path_of(example)
        name = join.join(path)
        if name not in index:
            raise InputError(f"{sources.get(split, split)} row {row + 1}: label {name!r} does not occur in train")
        out = {"text": example[args.text_column], "label": index[name]}
        if hierarchical:
            out["label_path"] = path
        return out

    data = DatasetDict({
        split: ds.map(convert, with_indices=True, fn_kwargs={"split": split}, remove_columns=ds.column_names,
                      desc=f"Labels ({split})")
        for split, ds in raw.items() if split in ("train", "validation", "test")
    })
    levels = len(train_paths[0]) if hierarchical else 1
    return data, LabelSpace(tuple(label_names), hierarchy_levels=levels)


def _label_names(args: DataTrainingArguments, feature):
    """A function from a raw label value to its name (ClassLabel names, a names file, or the value as text), and the
    names in their given order (empty without names)."""
    if args.label_names_file is not None:
        names = json.loads(Path(args.label_names_file).read_text(encoding="utf-8"))
        return (lambda value: names[value] if isinstance(value, int) else str(value)), [str(n) for n in names]
    if isinstance(feature, ClassLabel):
        return feature.int2str, list(feature.names)
    return str, []
