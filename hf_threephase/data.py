"""Loading labelled text through `datasets` into the shape the phases expect: `text`, int `label`, and `label_path`
(a list of levels) for hierarchical labels."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, DatasetDict, load_dataset

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
            raise ValueError("give --dataset_name or --train_file")


def _raw_splits(args: DataTrainingArguments, seed: int) -> DatasetDict:
    if args.dataset_name is not None:
        raw = load_dataset(args.dataset_name, args.dataset_config_name)
    else:
        files = {s: f for s, f in [("train", args.train_file), ("validation", args.validation_file),
                                   ("test", args.test_file)] if f is not None}
        formats = {FORMATS.get(Path(f).suffix.lower()) for f in files.values()}
        if None in formats or len(formats) != 1:
            raise ValueError(f"data files must all be one of {', '.join(FORMATS)}: {list(files.values())}")
        raw = load_dataset(formats.pop(), data_files=files)
    if "validation" not in raw:
        split = raw["train"].train_test_split(test_size=args.validation_split_percentage / 100, seed=seed)
        raw["train"], raw["validation"] = split["train"], split["test"]
    if "test" not in raw:
        raise ValueError("no test split: give --test_file (or a dataset with a test split)")
    return raw


def load_labelled_data(args: DataTrainingArguments, seed: int = 42) -> tuple[DatasetDict, list[str]]:
    """The train/validation/test splits as `text`, `label` (index into the returned label names) and, for
    hierarchical labels, `label_path`."""
    raw = _raw_splits(args, seed)
    if args.max_train_samples is not None:
        raw["train"] = raw["train"].shuffle(seed=seed).select(range(min(args.max_train_samples, len(raw["train"]))))
    for split, limit in (("validation", args.max_eval_samples), ("test", args.max_predict_samples)):
        if limit is not None:
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))

    label_columns = args.label_columns or [args.label_column]
    for split, ds in raw.items():
        for column in [args.text_column, *label_columns]:
            if column not in ds.column_names:
                raise ValueError(f"{split}: no column {column!r} (columns: {', '.join(ds.column_names)})")

    names_by_value = _label_names(args, raw["train"].features[label_columns[0]])

    def path_of(example) -> list[str]:
        if args.label_columns:
            return [str(example[c]) for c in args.label_columns]
        value = example[args.label_column]
        value = names_by_value(value)
        return value.split(args.label_separator) if args.label_separator else [value]

    join = args.label_separator or "/"
    label_names = sorted({join.join(path_of(ex)) for ex in raw["train"]})
    index = {name: i for i, name in enumerate(label_names)}
    hierarchical = bool(args.label_columns or args.label_separator)

    def convert(example, split):
        path = path_of(example)
        name = join.join(path)
        if name not in index:
            raise ValueError(f"{split}: label {name!r} does not occur in train")
        out = {"text": example[args.text_column], "label": index[name]}
        if hierarchical:
            out["label_path"] = path
        return out

    data = DatasetDict({
        split: ds.map(convert, fn_kwargs={"split": split}, remove_columns=ds.column_names, desc=f"Labels ({split})")
        for split, ds in raw.items() if split in ("train", "validation", "test")
    })
    return data, label_names


def _label_names(args: DataTrainingArguments, feature):
    """A function from a raw label value to its name: ClassLabel names, a names file, or the value as text."""
    if args.label_names_file is not None:
        names = json.loads(Path(args.label_names_file).read_text(encoding="utf-8"))
        return lambda value: names[value] if isinstance(value, int) else str(value)
    if isinstance(feature, ClassLabel):
        return lambda value: feature.int2str(value)
    return str
