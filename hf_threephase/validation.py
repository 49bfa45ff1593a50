"""Checks that run before any training, each failing with one line that names the file, column, row or label."""

import math
import os
from collections import Counter
from pathlib import Path

from datasets import DatasetDict

from .metrics import EVAL_METRICS


class InputError(ValueError):
    """Bad input from the user: the command prints the message and exits non-zero, with no traceback."""


class FinishedPhaseMismatch(InputError):
    """A finished phase folder that this command would not have written (other phases, base model, data or
    settings); it is kept and refused. `folder` (`Path`) names it, so that a caller may remove it and rerun."""

    def __init__(self, message: str, folder: Path):
        super().__init__(message)
        self.folder = folder

    def __reduce__(self):  # pickled whole (e.g. across processes), not from the message alone
        return type(self), (str(self), self.folder)


def check_file(path: str, role: str):
    """Exists, is not empty, can be read, and is UTF-8 text."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"--{role}: no such file: {path}" if not file.is_dir() else f"--{role}: {path} is a folder")
    if file.stat().st_size == 0:
        raise InputError(f"--{role}: {path} is empty")
    if not os.access(file, os.R_OK):
        raise InputError(f"--{role}: {path} cannot be read (permission denied)")
    with file.open("rb") as handle:
        offset = 0
        for line_number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"--{role}: {path} line {line_number} is not UTF-8 (byte {offset + err.start})"
                ) from None
            offset += len(line)


def _number(text: str) -> float:
    """`text` as a finite float, else nan (which fails every range check)."""
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def check_arguments(args, training_args):
    """Ranges and combinations of the 3-Phase and training arguments."""
    if not 0.0 <= args.noise_ratio < 1.0:
        raise InputError(f"--noise_ratio must be in [0, 1), got {args.noise_ratio}")
    for name in ("imbalance_max_ratio", "imbalance_min_ratio", "joint_cl_weight"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise InputError(f"--{name} must be > 0, got {value}")
    for name in ("max_seq_length", "early_stopping_patience", "lora_r", "diagnostic_samples"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.early_stopping_min_steps < 0:
        raise InputError(f"--early_stopping_min_steps must be >= 0, got {args.early_stopping_min_steps}")
    fraction = str(args.positive_pair_fraction)
    if fraction != "auto" and not 0 < _number(fraction) < 1:
        raise InputError(f"--positive_pair_fraction must be in (0, 1) or 'auto', got {fraction!r}")
    if args.contrastive_pairs not in ("in_batch", "sampled"):
        raise InputError(f"--contrastive_pairs must be in_batch or sampled, got {args.contrastive_pairs!r}")
    pairs = str(args.pairs_per_example)
    if pairs != "auto" and not (pairs.isdigit() and int(pairs) >= 1):
        raise InputError(f"--pairs_per_example must be an integer >= 1 or 'auto', got {pairs!r}")
    for phase, options in args.phase_arguments.items():
        check_phase_arguments(phase, options)
    if not 0.0 <= args.classifier_dropout < 1.0:
        raise InputError(f"--classifier_dropout must be in [0, 1), got {args.classifier_dropout}")
    for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
        if getattr(training_args, name) < 1:
            raise InputError(f"--{name} must be >= 1, got {getattr(training_args, name)}")
    for name in ("learning_rate", "num_train_epochs"):
        if not getattr(training_args, name) > 0:
            raise InputError(f"--{name} must be > 0, got {getattr(training_args, name)}")
    check_evaluation_arguments(args, training_args)
    chosen = training_args.metric_for_best_model
    # An --metric_name module adds names known only once it has run.
    if chosen and args.metric_name is None and chosen.removeprefix("eval_") not in EVAL_METRICS:
        raise InputError(f"--metric_for_best_model {chosen!r} is not a metric FT reports "
                         f"(one of: {', '.join(EVAL_METRICS)}, or one of --metric_name's)")


# TrainingArguments values under which FT's evaluation would not score the whole split into its metrics (accuracy, F1,
# the loss, per class), with why; FT would fail at its first evaluation, after the phases before it had trained.
WHOLE_SPLIT = "FT's metrics (its checkpoint selection, results.json) are computed over the whole split at once"
REFUSED_EVALUATION = {
    "prediction_loss_only": (True, "FT selects its checkpoint on, and reports, metrics of the predictions"),
    "eval_do_concat_batches": (False, WHOLE_SPLIT),
    "batch_eval_metrics": (True, WHOLE_SPLIT),
}


def check_evaluation_arguments(args, training_args):
    """TrainingArguments that would change what is evaluated: every validation and test text is scored once into
    FT's metrics, whatever the flags (`--dataloader_drop_last` drops training batches only:
    `trainers.CompleteEvaluationTrainer`).

    Raises:
        InputError: a `REFUSED_EVALUATION` value; `--bf16_full_eval` / `--fp16_full_eval` (the Trainer casts the
            model it then saves); `--label_names` other than `labels` (every phase's batches hold
            their targets there); `--label_smoothing_factor` with `--class_weighted_loss` (the Trainer's label
            smoother replaces the model's own, class-weighted, loss).
    """
    for name, (value, why) in REFUSED_EVALUATION.items():
        if getattr(training_args, name) == value:
            raise InputError(f"--{name} {str(value).lower()}: {why}; drop it")
    for name in ("bf16_full_eval", "fp16_full_eval"):
        if getattr(training_args, name):
            raise InputError(f"--{name} true: the Trainer casts the model in place to evaluate, so the phase "
                             "folders would be saved in half precision; drop it")
    if training_args.label_names not in (None, ["labels"]):
        raise InputError(f"--label_names {' '.join(training_args.label_names)}: every phase's batches hold their "
                         "targets as 'labels' (the label column is --label_column); drop it")
    if training_args.label_smoothing_factor and args.class_weighted_loss:
        raise InputError(f"--label_smoothing_factor {training_args.label_smoothing_factor:g} with "
                         "--class_weighted_loss: the Trainer's label smoother replaces FT's class-weighted loss; "
                         "choose one")


def check_phase_arguments(phase: str, options):
    """One phase's `PhaseArguments`: ranges, and options its model or selection cannot honour."""
    from transformers.trainer_utils import SchedulerType

    from .arguments import NEW_PARAMETER_OPTIONS, takes_new_parameter_options
    from .registry import PHASES

    if phase not in PHASES:
        raise InputError(f"phase_arguments: unknown phase {phase!r} (registered: {', '.join(PHASES)})")
    spec = PHASES[phase]
    for name in ("num_train_epochs", "learning_rate", "batch_size", "new_parameters_learning_rate"):
        value = getattr(options, name)
        if value is not None and not value > 0:
            raise InputError(f"--{phase}_{name} must be > 0, got {value}")
    for name in ("warmup_steps", "weight_decay", "new_parameters_only_steps"):
        value = getattr(options, name)
        if value is not None and not value >= 0:
            raise InputError(f"--{phase}_{name} must be >= 0, got {value}")
    schedulers = [s.value for s in SchedulerType]
    if options.lr_scheduler_type is not None and options.lr_scheduler_type not in schedulers:
        raise InputError(f"--{phase}_lr_scheduler_type must be one of {', '.join(schedulers)}, "
                         f"got {options.lr_scheduler_type!r}")
    if options.model_selection not in (None, "best", "last"):
        raise InputError(f"--{phase}_model_selection must be 'best' or 'last', got {options.model_selection!r}")
    if options.model_selection == "best" and spec.selection_metric is None:
        raise InputError(f"--{phase}_model_selection best: the {phase} phase has no validation metric to select on")
    for name in NEW_PARAMETER_OPTIONS:
        if getattr(options, name) and not takes_new_parameter_options(spec):
            raise InputError(f"--{phase}_{name}: the {phase} phase adds no new parameters to a checkpoint's (only a "
                             "decoder's cross-attention and LM-head transform take it)")


def check_columns(raw: DatasetDict, columns: list[str], sources: dict[str, str]):
    """Every split has the text and label columns.

    Raises:
        InputError: a column a split lacks, naming the split's source and the columns it has.
    """
    for split, ds in raw.items():
        for column in columns:
            if column not in ds.column_names:
                raise InputError(f"{sources.get(split, split)}: no column {column!r} (columns: "
                                 f"{', '.join(ds.column_names)})")


def check_texts_and_labels(raw: DatasetDict, text_column: str, label_columns: list[str], sources: dict[str, str],
                           rows: dict[str, list[int]]):
    """Every row has a non-blank text and a label; messages name a row by its number in `rows` (its file's)."""
    for split, ds in raw.items():
        where = sources.get(split, split)
        for row, text in zip(rows[split], ds[text_column]):
            if text is not None and not isinstance(text, str):
                raise InputError(f"{where} row {row}: text {text!r} in column {text_column!r} is not a string (quote it "
                                 "in a JSON file)")
            if text is None or not text.strip():
                raise InputError(f"{where} row {row}: empty text in column {text_column!r}")
        for column in label_columns:
            for row, label in zip(rows[split], ds[column]):
                if label is None or (isinstance(label, float) and math.isnan(label)) or (
                        isinstance(label, str) and not label.strip()):
                    raise InputError(f"{where} row {row}: missing label in column {column!r}")


def check_label_paths(paths: list[list[str]], where: str, rows: list[int]):
    depths = Counter(len(p) for p in paths)
    if len(depths) > 1:
        usual = depths.most_common(1)[0][0]
        row, path = next((row, p) for row, p in zip(rows, paths) if len(p) != usual)
        raise InputError(f"{where} row {row}: label {'/'.join(path)!r} has {len(path)} levels, the others {usual}")


def check_joined_paths(paths: dict[str, list[list[str]]], join: str, sources: dict[str, str],
                       rows: dict[str, list[int]]):
    """Label paths of --label_columns, {split: paths}: no two different paths, in any splits, may join into one
    class name.

    Raises:
        InputError: a path whose joined name another path already has ("arts/media", "film" and "arts", "media/film"
            with `join` "/"), naming both rows.
    """
    seen = {}
    for split, split_paths in paths.items():
        for row, path in zip(rows[split], split_paths):
            name = join.join(path)
            first = seen.setdefault(name, (tuple(path), sources[split], row))
            if first[0] != tuple(path):
                raise InputError(f"{sources[split]} row {row}: levels {list(path)} and {list(first[0])} ({first[1]} "
                                 f"row {first[2]}) both make the class name {name!r} (levels joined by {join!r}): "
                                 "a level holds the joining character")


def check_classes(train_labels: list[str], where: str):
    classes = set(train_labels)
    if len(classes) < 2:
        raise InputError(f"{where}: a single class {sorted(classes)}: contrastive learning and fine-tuning need two")


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def repeated_text_warnings(texts: dict[str, list[str]], classes: dict[str, list[str]], sources: dict[str, str],
                           rows: dict[str, list[int]]) -> list[str]:
    """One line per split that repeats texts in a way that contradicts the task (texts compared without the spaces
    around them; `classes` are the rows' class names, `rows` their numbers in their files):
    - a text under two classes or more within a split: in train, CL can pair its rows as an other-class pair (target
      0 at cosine 1 by construction) and FT is taught both labels; in validation or test, one label is scored wrong;
    - validation or test texts that are also train texts: their metrics partly measure memory of train.
    Repeats under one class are the data's own weighting and are not reported."""
    lines = []
    for split, split_texts in texts.items():
        seen, conflicting, example = {}, set(), None
        for text, name, row in zip(split_texts, classes[split], rows[split]):
            first = seen.setdefault(text.strip(), (name, row))
            if first[0] != name:
                conflicting.add(text.strip())
                example = example or (text.strip(), first, (name, row))
        if example:
            text, (name_a, row_a), (name_b, row_b) = example
            effect = ("CL can pair such rows as other-class at cosine 1 by construction, and FT is taught both "
                      "labels" if split == "train" else "one of its labels is scored wrong whatever the model predicts")
            lines.append(f"{sources[split]}: {len(conflicting)} text(s) under two classes or more (row {row_a} "
                         f"{name_a!r} and row {row_b} {name_b!r}: {_shown(text)}): {effect}")
    train = {text.strip() for text in texts.get("train", [])}
    for split in ("validation", "test"):
        shared = [(row, text) for text, row in zip(texts.get(split, []), rows.get(split, [])) if text.strip() in train]
        if shared:
            lines.append(f"{sources[split]}: {len(shared)} of its {len(texts[split])} texts are also train texts "
                         f"(row {shared[0][0]}: {_shown(shared[0][1])}): its metrics partly measure memory of train")
    return lines
