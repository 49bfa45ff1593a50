"""Loading labelled text through `datasets` into the shape the phases expect: `text`, int `label`, and `label_path`
(a list of levels) for hierarchical labels."""

import dataclasses
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, List, Value, load_dataset

from .files import file_format, first_line, load_data_file
from .label_space import NUMBER, LabelSpace, read_label, typed_strings
from .unlabeled import sample_per_class, text_only_split
from .validation import (InputError, check_classes, check_columns, check_file, check_joined_paths, check_label_paths,
                         check_texts_and_labels, repeated_text_warnings)

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json"}
ROW_COLUMN = "__hf_threephase_row__"  # a row's number in its file, carried through reordering
LIMIT_FLAGS = {"train": "max_train_samples", "validation": "max_eval_samples", "test": "max_predict_samples"}

logger = logging.getLogger("hf_threephase")
TEXT_ONLY_FIELDS = ("unlabeled_file", "unlabeled_dataset_name", "unlabeled_split", "unlabeled_from_train",
                    "max_unlabeled_samples")


@dataclass
class DataTrainingArguments:
    """Where the data comes from and how much of it to use (the names of transformers' run_glue.py)."""

    _argument_group_name = "Data (a train and a test split are required; validation defaults to a share of train)"

    dataset_name: str | None = field(
        default=None, metadata={"help": "A dataset on the Hub (or a local dataset folder) with train and test splits; "
                                        "instead of the files."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "The --dataset_name configuration."})
    train_file: str | None = field(default=None, metadata={"help": "Training data: csv, json or jsonl."})
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation data (model selection, pictures). Default: a seeded "
                                        "--validation_split_percentage of train."})
    test_file: str | None = field(
        default=None, metadata={"help": "Test data, used once at the end. Required, unless --dataset_name has a test "
                                        "split."})
    text_column: str = field(default="text", metadata={"help": "The column holding the texts."})
    label_column: str = field(default="label", metadata={
        "help": "The column holding the labels, one class a row: a name, or an int, whole float or boolean (an index "
                "into --label_names_file when given)."})
    label_columns: list[str] | None = field(
        default=None, metadata={"help": "Hierarchical labels, one column per level (top level first)."}
    )
    label_separator: str | None = field(
        default=None, metadata={"help": "Hierarchical labels in one column, levels joined by this string."}
    )
    label_names_file: str | None = field(
        default=None, metadata={"help": "JSON list of label names: it fixes the class order; integer, whole-float or "
                                        "boolean labels are indices into it, unless every label of the column is "
                                        "one of its names (number-like names such as \"1\" ... \"5\")."}
    )
    validation_split_percentage: int = field(
        default=20, metadata={"help": "Without a validation split: the percentage of train held out for it (seeded, "
                                      "stratified by class; a class of one row stays in train)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "A seeded random subset of train."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "The first N validation examples."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "The first N test examples."})
    train_samples_per_class: int | None = field(
        default=None, metadata={"help": "The low-label regime: a seeded draw of k labelled train examples per class "
                                        "(after --max_train_samples)."})
    unlabeled_file: str | None = field(
        default=None, metadata={"help": "Text-only data for the DAE (and Joint's DAE term): csv / json / jsonl with "
                                        "--text_column, or .txt, one text a line. CL and FT never see it."})
    unlabeled_dataset_name: str | None = field(
        default=None, metadata={"help": "Text-only data from a Hub dataset (its --text_column), instead of a file."})
    unlabeled_split: str = field(default="train", metadata={"help": "The split of --unlabeled_dataset_name."})
    unlabeled_from_train: bool = field(
        default=False, metadata={"help": "With --train_samples_per_class: the train texts left out become text-only "
                                         "data for the DAE."})
    max_unlabeled_samples: int | None = field(
        default=None, metadata={"help": "A seeded subset of at most N text-only texts (all of them by default)."})

    def __post_init__(self):
        if self.dataset_name is None and self.train_file is None:
            raise InputError("give --dataset_name or --train_file")
        files = [f"--{split}_file" for split in ("train", "validation", "test") if getattr(self, f"{split}_file")]
        if self.dataset_name is not None and files:
            raise InputError(f"--dataset_name {self.dataset_name} and {', '.join(files)}: the splits come from one "
                             "of them; give the dataset or the files")
        if self.unlabeled_file is not None and self.unlabeled_dataset_name is not None:
            raise InputError("give --unlabeled_file or --unlabeled_dataset_name, not both")
        if self.unlabeled_from_train and self.train_samples_per_class is None:
            raise InputError("--unlabeled_from_train passes on the train texts --train_samples_per_class leaves out: "
                             "give --train_samples_per_class too")
        for name in ("train_samples_per_class", "max_unlabeled_samples", "max_train_samples", "max_eval_samples",
                     "max_predict_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.label_separator is not None and not self.label_separator.strip():
            raise InputError(f"--label_separator must be a non-blank string, got {self.label_separator!r}")
        if self.label_separator is not None and self.label_columns:
            raise InputError("give --label_columns (one column per level) or --label_separator (levels in one "
                             "column), not both")
        if not 0 < self.validation_split_percentage < 100:
            raise InputError(f"--validation_split_percentage must be between 1 and 99, got "
                             f"{self.validation_split_percentage}")

    def ignored_flags(self, carved: bool) -> list[str]:
        """The flags given that the data they name make moot (`carved`: validation is a share of train), as flags
        with why."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        ignored = []
        if not carved and self.validation_split_percentage != defaults["validation_split_percentage"]:
            ignored.append(f"--validation_split_percentage {self.validation_split_percentage} (validation is a split "
                           "of its own)")
        if self.dataset_config_name is not None and self.dataset_name is None:
            ignored.append(f"--dataset_config_name {self.dataset_config_name} (no --dataset_name)")
        if self.unlabeled_split != defaults["unlabeled_split"] and self.unlabeled_dataset_name is None:
            ignored.append(f"--unlabeled_split {self.unlabeled_split} (no --unlabeled_dataset_name)")
        return ignored

    def text_only_flags(self) -> list[str]:
        """The text-only data flags given (`--unlabeled_*`, `--max_unlabeled_samples`), as flags."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return [f"--{name}" for name in TEXT_ONLY_FIELDS if getattr(self, name) != defaults[name]]

    def without_text_only(self) -> "DataTrainingArguments":
        """A copy that reads no text-only data."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **{name: defaults[name] for name in TEXT_ONLY_FIELDS})


def _files(args: DataTrainingArguments) -> dict[str, str]:
    return {s: f for s, f in [("train", args.train_file), ("validation", args.validation_file),
                              ("test", args.test_file)] if f is not None}


def _raw_splits(args: DataTrainingArguments, seed: int) -> tuple[DatasetDict, bool]:
    """The splits as read, each row numbered; and whether validation was carved from train."""
    columns = [args.text_column, *(args.label_columns or [args.label_column])]
    if args.dataset_name is not None:
        try:
            raw = load_dataset(args.dataset_name, args.dataset_config_name)
        except Exception as err:  # offline, unknown name, no access: one line instead of the Hub client's traceback
            raise InputError(f"--dataset_name {args.dataset_name}: cannot load it ({first_line(err)})") from None
    else:
        files = _files(args)
        formats = {split: file_format(path, f"{split}_file", FORMATS) for split, path in files.items()}
        if len(set(formats.values())) != 1:
            raise InputError(f"data files must share one format: {', '.join(files.values())}")
        # one file at a time, so that each split's columns get their own types (labels 0 / 1 in train, 0.0 / 1.0 in
        # a test file with a gap): the label reader decides what the values mean
        raw = DatasetDict({split: load_data_file(path, formats[split], f"{split}_file", columns)
                           for split, path in files.items()})
    check_columns(raw, columns, split_sources(args))
    # each row's number in its file (or Hub split), for messages, before a validation share or a subset reorders it
    raw = DatasetDict({name: split.add_column(ROW_COLUMN, list(range(1, len(split) + 1)))
                       for name, split in raw.items()})
    carved = "validation" not in raw
    if carved:
        train = raw["train"]
        # classes before the labels are read (which needs the split): each value as written, spaces aside
        classes = list(zip(*([_stratum(v, args.label_separator) for v in train[c]] for c in columns[1:])))
        where = f"--validation_split_percentage {args.validation_split_percentage} of {split_sources(args)['train']}"
        try:
            kept, held_out = validation_share(classes, args.validation_split_percentage / 100, seed, where)
        except ValueError as err:
            raise InputError(f"{where} ({err}) leaves train or validation without a row: give --validation_file, or "
                             "another percentage") from None
        raw["train"], raw["validation"] = train.select(kept), train.select(held_out)
    if "test" not in raw:
        raise InputError("no test split: give --test_file (or a dataset with a test split)")
    ignored = args.ignored_flags(carved)
    if ignored:
        logger.warning("%s: ignored", "; ".join(ignored))
    return raw, carved


def _stratum(value, separator: str | None):
    """A raw label as the carve stratifies it: strings as `_spaceless` reads them."""
    return _spaceless(value, separator) if isinstance(value, str) else repr(value)


def _spaceless(name: str, separator: str | None) -> str:
    """A label name without the spaces around it and, with a `separator`, around each of its levels ("x / b" is
    "x/b"); an empty level stays empty ("x/ /b" is "x//b", for the caller to refuse)."""
    return separator.join(level.strip() for level in name.split(separator)) if separator else name.strip()


def validation_share(classes: list, fraction: float, seed: int, where: str) -> tuple[list[int], list[int]]:
    """Train and validation row indices (train in file order, validation in seeded random order) for a seeded
    `fraction` of train held out for validation: ceil(fraction x rows), scikit-learn's rule, drawn from the classes
    of two rows or more, so that a class of one row stays in train; stratified by class (each class keeps its
    proportion in both). When the share is too small (or too large) to hold every class in proportion, the draw is
    not stratified, and a warning names `where`.

    Raises:
        ValueError: train or validation would have no row; its message gives the row counts.
    """
    from sklearn.model_selection import train_test_split

    rows = range(len(classes))
    size = Counter(classes)
    shared = [i for i in rows if size[classes[i]] > 1]
    held_out = math.ceil(fraction * len(classes))
    if not 0 < held_out < len(shared):
        raise ValueError(f"{len(classes)} rows, {len(shared)} of them in classes of two rows or more")
    try:
        _, validation = train_test_split(shared, test_size=held_out, random_state=seed,
                                         stratify=[classes[i] for i in shared])
        logger.info("%s: %d of %d rows held out for validation, stratified by class", where, held_out, len(classes))
    except ValueError:  # fewer held-out (or kept) rows than classes
        logger.warning("%s: %d validation rows of %d cannot hold the %d classes in proportion; drawn without "
                       "stratification", where, held_out, len(classes), len(size))
        _, validation = train_test_split(shared, test_size=held_out, random_state=seed)
    held = set(validation)
    return [i for i in rows if i not in held], list(validation)


def cut_source(args: DataTrainingArguments, split: str, source: str) -> str:
    """`source` as messages and cards name the split: after the flags that cut it (`--max_eval_samples 2 of ...`)."""
    limit = getattr(args, LIMIT_FLAGS[split])
    if limit is not None:
        source = f"--{LIMIT_FLAGS[split]} {limit} of {source}"
    if split == "train" and args.train_samples_per_class is not None:
        source = f"--train_samples_per_class {args.train_samples_per_class} of {source}"
    return source


def split_sources(args: DataTrainingArguments) -> dict[str, str]:
    """Where each split comes from, for messages: its file, `name [split]` on the Hub, or the share of train."""
    if args.dataset_name is not None:
        sources = {s: f"{args.dataset_name} [{s}]" for s in ("train", "validation", "test")}
    else:
        sources = _files(args)
    sources.setdefault("validation", f"the validation split ({args.validation_split_percentage} % of "
                                     f"{sources['train']})")
    return sources


def load_labelled_data(args: DataTrainingArguments, seed: int = 42) -> tuple[DatasetDict, LabelSpace]:
    """The train/validation/test splits as `text`, `label` (int64, an index into the label space's names) and, for
    hierarchical labels, `label_path` (one name per level); and the `LabelSpace`. Each split's `info.description`
    says where it came from (see `split_sources`). Label values are read by `label_space.read_label`.

    Raises:
        InputError: a missing file, column, text or label; a label that is not a class (a list, a nested value, a
            float that is not whole, a kind of value unlike the column's others, a value without a name); a label
            absent from train; one class only; names (a names file, ClassLabel names, `--label_columns` levels)
            that read as one class or would move ClassLabel ids (see `_check_classlabel`, `check_joined_paths`).
    """
    raw, carved = _raw_splits(args, seed)
    if args.max_train_samples is not None:
        raw["train"] = raw["train"].shuffle(seed=seed).select(range(min(args.max_train_samples, len(raw["train"]))))
    for split in ("validation", "test"):
        limit = getattr(args, LIMIT_FLAGS[split])
        if limit is not None:
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))

    rows = {split: raw[split][ROW_COLUMN] for split in raw}
    raw = DatasetDict({name: split.remove_columns(ROW_COLUMN) for name, split in raw.items()})
    label_columns = args.label_columns or [args.label_column]
    sources = split_sources(args)
    check_texts_and_labels(raw, args.text_column, label_columns, sources, rows)
    splits = [s for s in ("train", "validation", "test") if s in raw]
    names_file = _names_file(args)
    csv = args.dataset_name is None and all(Path(f).suffix.lower() == ".csv" for f in _files(args).values())
    reader = _LabelReader(names_file, args.label_names_file, csv)
    paths = reader.paths({split: raw[split] for split in splits}, label_columns, args.label_separator, sources, rows)
    reader.log_readings()

    join = args.label_separator or "/"
    hierarchical = bool(args.label_columns or args.label_separator)
    if hierarchical:
        check_label_paths(paths["train"], sources["train"], rows["train"])
    if args.label_columns:
        check_joined_paths(paths, join, sources, rows)
    present = {join.join(p) for p in paths["train"]}
    # Class ids follow the names file or ClassLabel when there is one (as in run_glue), else sorted names (numbers
    # by value).
    given = names_file or (None if args.label_columns else _classlabel_names(raw["train"].features[args.label_column],
                                                                             args.label_separator))
    given = given or []
    if given:
        label_names = [name for name in dict.fromkeys(given) if name in present]
        if len(label_names) < len(given):
            logger.info("classes without a train example are left out of the label space: %s",
                        [name for name in given if name not in present])
    else:
        label_names = _class_order(present)
    cuts = ([f"less the {args.validation_split_percentage} % held out for validation"] if carved else []) + (
        [f"--max_train_samples {args.max_train_samples}"] if args.max_train_samples is not None else [])
    check_classes(label_names, f"{sources['train']} ({', '.join(cuts)}; rows left: {len(raw['train'])})" if cuts
                  else sources["train"])
    index = {name: i for i, name in enumerate(label_names)}

    features = {"text": Value("string"), "label": Value("int64")}
    if hierarchical:
        features["label_path"] = List(Value("string"))
    data = DatasetDict()
    for split in splits:
        ids = []
        for row, path in zip(rows[split], paths[split]):
            name = join.join(path)
            if name not in index:
                raise InputError(f"{sources[split]} row {row}: label {name!r} does not occur in train")
            ids.append(index[name])
        columns = {"text": raw[split][args.text_column], "label": ids}
        if hierarchical:
            columns["label_path"] = paths[split]
        data[split] = Dataset.from_dict(columns, info=DatasetInfo(description=cut_source(args, split, sources[split]),
                                                                  features=Features(features)))
    for line in repeated_text_warnings({split: raw[split][args.text_column] for split in splits},
                                       {split: [join.join(path) for path in paths[split]] for split in splits},
                                       sources, rows):
        logger.warning(line)
    if args.train_samples_per_class is not None:
        data["train"], rest = sample_per_class(data["train"], args.train_samples_per_class, seed)
        data["train"].info.description = cut_source(args, "train", sources["train"])
        if args.unlabeled_from_train:
            data["unlabeled_from_train"] = rest.select_columns(["text"])
    text_only = text_only_split(data, args, seed)
    if text_only is not None:
        data["text_only"] = text_only
    levels = len(paths["train"][0]) if hierarchical else 1
    return data, LabelSpace(tuple(label_names), hierarchy_levels=levels)


def _classlabel_names(feature, separator: str | None = None) -> list[str] | None:
    """A ClassLabel's names (with a `separator`, as `_spaceless` reads them), else None."""
    if not isinstance(feature, ClassLabel):
        return None
    return [_spaceless(name, separator) for name in feature.names] if separator else list(feature.names)


def _names_file(args: DataTrainingArguments) -> list[str] | None:
    """The names in --label_names_file: a JSON list of distinct names (strings, or numbers taken as text), read as
    `_spaceless` reads labels (with --label_separator, around each level too); a warning names what that changed.

    Raises:
        InputError: with --label_columns; the file missing, not JSON or not a list of names; a name empty or with an
            empty level; names that repeat (once read).
    """
    path = args.label_names_file
    if path is None:
        return None
    if args.label_columns:
        raise InputError("--label_names_file names the values of one label column, not of --label_columns")
    check_file(path, "label_names_file")
    try:
        written = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"--label_names_file {path}: not JSON ({err})") from None
    if not isinstance(written, list) or not written or not all(isinstance(n, (str, int)) for n in written):
        raise InputError(f"--label_names_file {path}: expected a JSON list of names, e.g. [\"negative\", \"positive\"]")
    separator = args.label_separator
    names = [_spaceless(str(name), separator) for name in written]
    for name, read in zip(written, names):
        if not read or (separator and "" in read.split(separator)):
            raise InputError(f"--label_names_file {path}: name {name!r} is empty" + (
                f" or has an empty level (levels joined by {separator!r})" if separator else ""))
    repeated = [n for n, count in Counter(names).items() if count > 1]
    if repeated:
        raise InputError(f"--label_names_file {path}: names repeat: {repeated}")
    respaced = [(w, n) for w, n in zip(written, names) if isinstance(w, str) and w != n]
    if respaced:
        logger.warning("--label_names_file %s: %d name(s) read without the spaces around them%s (%r is %r)", path,
                       len(respaced), " and their levels" if separator else "", *respaced[0])
    return names


def _class_order(names) -> list[str]:
    """Class order without a names file: by value when every name is written as a number (2 before 10; ties, such as
    `01` and `1`, by text), else by text."""
    if all(re.fullmatch(r"[+-]?\d+(\.\d+)?", name) for name in names):
        return sorted(names, key=lambda name: (float(name), name))
    return sorted(names)


def _as_name(value, names, separator: str | None) -> str | None:
    """The name in `names` a raw label is written as, or None: a string as `_spaceless` reads it; a boolean as
    the one name that reads as it in any case (`False`: "False", "FALSE", "false"); a number as its own text, else as
    the one number-like name of its value (`1.0`: "1.0", "1.00", "1"; not "01", a code)."""
    if isinstance(value, str):
        name = _spaceless(value, separator)
        return name if name in names else None
    if isinstance(value, bool):
        found = [name for name in names if name.lower() == str(value).lower()]
    elif isinstance(value, (int, float)):
        if str(value) in names:
            return str(value)
        found = [name for name in names if NUMBER.fullmatch(name) and float(name) == value]
    else:
        return None
    return found[0] if len(found) == 1 else None


def _warn_merged_spellings(column: str, written: list, typed: list):
    """Warns when typing a CSV column made distinct spellings one class (`+1` and `1`, `1.0` and `1`, `TRUE` and
    `true`)."""
    spellings = {}
    for text, value in zip(written, typed):
        spellings.setdefault(value, set()).add(text.strip() if isinstance(text, str) else text)
    merged = {value: sorted(texts) for value, texts in spellings.items() if len(texts) > 1}
    if merged:
        logger.warning("CSV column %r read as %s: %s", column, "booleans" if isinstance(typed[0], bool) else "numbers",
                       "; ".join(f"{' and '.join(map(repr, texts))} are one class ({value!r})"
                                 for value, texts in merged.items()))


def _check_classlabel(feature: ClassLabel, column: str, names: list[str] | None, source: str,
                      separator: str | None):
    """A names file renames a ClassLabel column's ids by position. Without one, the ClassLabel's names must stay
    distinct once read (`_classlabel_names`); with one that only reorders the ClassLabel's own names, the ids would
    change class silently. A names file that renames and also gives some ClassLabel names to other ids is warned of.

    Raises:
        InputError: ClassLabel names that read as one (without a names file), or a names file whose names are all the
            ClassLabel's, some at other ids.
    """
    own = _classlabel_names(feature, separator)
    if names is None:
        repeated = sorted(n for n, count in Counter(own).items() if count > 1)
        if repeated:
            raise InputError(f"the ClassLabel names of column {column!r} read as one once the spaces around their "
                             f"levels are dropped: {repeated} (give --label_names_file to name the ids)")
        return
    moved = [(i, name) for i, name in enumerate(names) if name in own and own.index(name) != i]
    if moved and set(names) <= set(own):
        i, name = moved[0]
        raise InputError(f"{source} names id {i} {name!r}, but the ClassLabel of column {column!r} names it "
                         f"{own[i]!r}: a names file renames ClassLabel ids by position (leave it out, or list the "
                         "names in the ClassLabel's order)")
    if moved:
        i, name = moved[0]
        logger.warning("%s renames the ClassLabel ids of column %r by position: id %d is now %r, a name the "
                       "ClassLabel gives id %d", source, column, i, name, own.index(name))


def _index_reading(value, names):
    try:
        return read_label(value, names)[1]
    except ValueError:
        return None


class _LabelReader:
    """Reads label columns into class names (see `read_label`), checking that a column holds one kind of value and
    counting the string labels read without their surrounding spaces. How a column reads is decided once over all
    its splits: a CSV column's values as numbers, booleans or text (`typed_strings`), and, with a names file, its
    labels as names or as indices into it."""

    def __init__(self, names: list[str] | None, names_file: str | None, csv: bool):
        self.names, self.names_file, self.csv = names, names_file, csv
        self.stripped: dict[tuple[str, str], tuple[int, str, str]] = {}  # count, first value, its name
        # per column: labels read as names, labels read as indices into the names, and the first of those (the warning)
        self.indexed: dict[str, list] = {}

    def paths(self, splits: dict, columns: list[str], separator: str | None, sources: dict,
              rows: dict) -> dict[str, list[list[str]]]:
        """Per split, one list of level names per row; `rows` are the rows' numbers in their files, for messages."""
        levels = {split: [] for split in splits}
        for column in columns:
            for split, names in self.column(splits, column, sources, rows, separator).items():
                levels[split].append(names)
        if separator is None:
            return {split: [list(path) for path in zip(*columns_)] for split, columns_ in levels.items()}
        return {split: [name.split(separator) for name in columns_[0]] for split, columns_ in levels.items()}

    def column(self, splits: dict, column: str, sources: dict, rows: dict,
               separator: str | None = None) -> dict[str, list[str]]:
        """Per split, the class name of each row's label in `column` (see `read`)."""
        values = {split: ds[column] for split, ds in splits.items()}
        if self.csv and separator is None:  # typed as a whole: "1" in train and "01" in test make every split text;
            # with a separator a label is a path of level names ("1.1", "2.0" with "."), text
            written = [v for split_values in values.values() for v in split_values]
            typed = typed_strings(written)
            _warn_merged_spellings(column, written, typed)
            typed = iter(typed)
            values = {split: [next(typed) for _ in split_values] for split, split_values in values.items()}
        feature = next(iter(splits.values())).features[column]
        names, source = self.names, f"--label_names_file {self.names_file}"
        if isinstance(feature, ClassLabel):  # ids, always
            _check_classlabel(feature, column, names, source, separator)
            names, source = names or feature.names, f"the ClassLabel names of column {column!r}"
        elif names is not None and all(_as_name(v, names, separator) is not None for vs in values.values()
                                       for v in vs):
            # number-like names ("1" ... "5" stars, "1.0", "True"): the values are the names, not indices into them
            readings = [(_index_reading(v, names), _as_name(v, names, separator)) for vs in values.values() for v in vs]
            if all(index is not None for index, _ in readings) and any(index != name for index, name in readings):
                logger.warning("column %r: labels read as the names in %s, not as indices into it (both fit)",
                               column, source)
            named = names
            return {split: self.read(values[split], feature, column, None, source, sources[split], rows[split],
                                     as_name=lambda value: _as_name(value, named, separator), separator=separator)
                    for split in splits}
        return {split: self.read(values[split], feature, column, names, source, sources[split], rows[split],
                                 separator=separator) for split in splits}

    def read(self, values: list, feature, column: str, names, source: str, where: str, rows: list[int],
             as_name=None, separator: str | None = None) -> list[str]:
        """The class names of one split's labels; `as_name` maps a raw value to its name where the values are written
        as the names file's names. With a `separator` (hierarchical labels in one column), each level of a name is
        read without the spaces around it ("x / b" is x/b), whether written in the data or looked up by index.

        Raises:
            InputError: a label `read_label` refuses, one of another kind than the column's first, a level left
                empty, or (with a `separator` and no names to index) a number or boolean label, naming `where` and
                the row.
        """
        first, out, stripped, example = None, [], 0, None
        counts = self.indexed.setdefault(column, [0, 0, None])  # over every split of the column
        for row, value in zip(rows, values):
            if isinstance(feature, ClassLabel) and value == -1:  # ClassLabel's "no label" (e.g. GLUE test splits)
                raise InputError(f"{where} row {row}: missing label in column {column!r} (-1: no label)")
            text = _spaceless(value, separator) if isinstance(value, str) else value
            try:
                kind, name = read_label(text, names, source)
            except ValueError as err:
                raise InputError(f"{where} row {row}: {err}") from None
            if first is None:
                first = (row, kind)
            elif kind != first[1]:
                raise InputError(f"{where} row {row}: label {value!r} is a {kind}, but row {first[0]}'s is a "
                                 f"{first[1]}: a label column holds one kind of value")
            if separator is not None:
                if kind != "string" and names is None and as_name is None:
                    raise InputError(f"{where} row {row}: label {value!r} is a {kind}, but --label_separator reads "
                                     "labels as text paths: write them as strings")
                name = _spaceless(name, separator)  # a name looked up by index, too
                if "" in name.split(separator):
                    raise InputError(f"{where} row {row}: label {value!r} has an empty level (levels joined by "
                                     f"{separator!r})")
            if names is not None and not isinstance(feature, ClassLabel):
                indexed = kind != "string" or text not in names
                counts[indexed] += 1
                if indexed and counts[2] is None:
                    counts[2] = (where, row, text, name, source)
            spaced = text != value
            stripped += spaced
            example = example or (spaced and (value, name))
            out.append(as_name(value) if as_name else name)
        if stripped:
            self.stripped[where, column] = (stripped, *example)  # once per file, however many splits it serves
        return out

    def log_readings(self):
        """Warns of the labels read other than as written: without spaces, or as indices (numbers, or strings of
        integers) beside labels written as names."""
        for column, (named, indexed, first) in self.indexed.items():
            if named and indexed:
                where, row, value, name, source = first
                logger.warning("column %r: %d label(s) read as indices into %s, beside %d written as its names "
                               "(%s row %d: %r is class %r)", column, indexed, source, named, where, row, value, name)
        if self.stripped:
            logger.warning("string labels read without the spaces around them: %s",
                           ", ".join(f"{count} in {where} ({value!r} is class {name!r})"
                                     for (where, _), (count, value, name) in self.stripped.items()))
