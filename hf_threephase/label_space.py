"""The label space of a run: what the data loader found, handed to every consumer (pairs, imbalance, model config,
metrics, pictures, cards), so that a new problem type is added here and in the loader only."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

PROBLEM_TYPES = ("single_label_classification",)


@dataclass(frozen=True)
class LabelSpace:
    """
    Args:
        names (`list[str]`): class names; a class id is an index into this list (the `label` column holds ids).
        problem_type (`str`, defaults to `"single_label_classification"`): transformers' `problem_type`.
        hierarchy_levels (`int`, defaults to 1): levels of a hierarchical label (a `label_path` column of that many
            names per example, top level first); 1 for flat labels.

    Raises:
        ValueError: an unknown problem type, fewer than one level, or repeated names.
    """

    names: tuple[str, ...]
    problem_type: str = "single_label_classification"
    hierarchy_levels: int = 1

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(self.names))
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}")
        if self.hierarchy_levels < 1:
            raise ValueError(f"hierarchy_levels must be >= 1, got {self.hierarchy_levels}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"label names repeat: {list(self.names)}")

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def hierarchical(self) -> bool:
        return self.hierarchy_levels > 1

    def config_kwargs(self) -> dict:
        """What a classifier's config takes from the label space: `num_labels`, `id2label`, `label2id`,
        `problem_type`."""
        return {"num_labels": self.num_labels, "id2label": dict(enumerate(self.names)),
                "label2id": {name: i for i, name in enumerate(self.names)}, "problem_type": self.problem_type}

    def pair_labels(self, split) -> list:
        """What contrastive pairs and the imbalance correction compare, one per example of a split (a `datasets`
        split with `label` and, for hierarchical labels, `label_path`): the class id, or the tuple of levels."""
        if self.hierarchical:
            return [tuple(path) for path in split["label_path"]]
        return list(split["label"])


NUMBER = re.compile(r"[+-]?(0|[1-9]\d*)(\.\d+)?")


def typed_strings(values: list) -> list:
    """A CSV label column (read as strings, see `files.load_data_file`) typed as a whole, over all its splits: numbers
    when every value is written as one (`1`, `-2`, `1.0`: pandas' export of an int column with a gap; `0.5`, which
    `read_label` then refuses, as a regression target would be), booleans when every value is `true` / `false` (any
    case); otherwise, or when any value is not a string, the values as they are. So `01` and `1` in one column stay
    two classes, and a code column `01` ... `12` keeps its names."""
    if not values or not all(isinstance(v, str) for v in values):
        return values
    stripped = [v.strip() for v in values]
    if all(NUMBER.fullmatch(v) for v in stripped):
        return [int(v) if "." not in v else float(v) for v in stripped]
    if all(v.lower() in ("true", "false") for v in stripped):
        return [v.lower() == "true" for v in stripped]
    return values


def read_label(value, names: Sequence[str] | None = None, names_source: str = "the label names") -> tuple[str, str]:
    """The kind of a raw label value (`"number"`, `"boolean"` or `"string"`) and the class name it stands for.

    Integers, whole floats (`1.0`, as a CSV column with a gap is read) and booleans (`False` = 0, `True` = 1) are
    indices into `names` when given, else named by their value (`"1"`, `"true"`); strings are names, without the
    spaces around them (a string that is not one of `names` but an integer, `"1"`, is an index into them).

    Raises:
        ValueError: a list (multi-label data), a nested or other value, a float that is not whole or is whole beyond
            2**53 (where distinct integers read as one float), a string not in `names`, or an index outside `names`;
            the message names the value, for the caller to add file and row.
    """
    if isinstance(value, bool):
        kind, index = "boolean", int(value)
        if names is None:
            return kind, str(value).lower()
    elif isinstance(value, float) and value.is_integer() and abs(value) > 2 ** 53:
        raise ValueError(f"label {value!r} is a whole number too large for a float to hold exactly (over 2**53; a "
                         "JSON reader gives such integers as floats): write the labels as strings")
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        kind, index = "number", int(value)
        if names is None:
            return kind, str(index)
    elif isinstance(value, str):
        kind, name = "string", value.strip()
        if name.startswith("[") and name.endswith("]"):  # a list written as text (a CSV export of a list column)
            raise ValueError(f"label {name!r} is a list: multi-label classification is not supported (give one label "
                             "per row)")
        if names is None or name in names:
            return kind, name
        if not re.fullmatch(r"[+-]?(0|[1-9]\d*)", name):  # "01" is a code, not an index
            raise ValueError(f"label {name!r} is not one of {names_source}")
        index = int(name)
    elif isinstance(value, float):
        raise ValueError(f"label {value!r} is not a class: a number label must be whole (1 or 1.0)")
    elif isinstance(value, (list, tuple)):
        raise ValueError(f"label {value!r} is a list: multi-label classification is not supported (give one label "
                         "per row)")
    else:
        raise ValueError(f"label {value!r} is not a class: a label is a string, an integer, a whole float or a boolean")
    if not 0 <= index < len(names):
        raise ValueError(f"label {value!r} has no name: {names_source} has {len(names)} (ids 0 to {len(names) - 1})")
    return kind, names[index]
