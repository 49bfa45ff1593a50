"""The low-label regime: k labelled examples per class, and text-only data for the DAE (paper §4: the DAE reads
in-domain text without labels where there is some). Texts stay in Arrow files (memory-mapped), never Python lists."""

import logging

import numpy as np
from datasets import Dataset, concatenate_datasets, load_dataset

from .files import file_format, first_line, load_data_file
from .validation import InputError

logger = logging.getLogger("hf_threephase")
UNLABELED_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".txt": "text"}


def sample_per_class(train: Dataset, k: int, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded draw of `k` examples of each class (all of a class with fewer, said in one log line) from a split
    with int `label`; returns the drawn examples (in train order) and the rest."""
    labels = np.asarray(train["label"])
    rng = np.random.default_rng(seed)
    chosen, short = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < k:
            short.append(f"{int(label)} ({len(members)})")
        chosen.extend(rng.choice(members, size=min(k, len(members)), replace=False).tolist())
    if short:
        logger.warning("--train_samples_per_class %d: classes with fewer examples keep all they have: %s", k,
                       ", ".join(short))
    chosen = sorted(chosen)
    rest = np.setdiff1d(np.arange(len(train)), chosen)
    return train.select(chosen), train.select(rest)


def load_unlabeled(args, text_column: str) -> Dataset | None:
    """Text-only data from `--unlabeled_file` (csv / json / jsonl with the text column, or .txt, one text a line) or
    `--unlabeled_dataset_name` / `--unlabeled_split`, as a `text` column; None when neither is given.

    Raises:
        InputError: a missing or unreadable file, an unknown format, a missing text column, a Hub dataset that cannot
            be loaded.
    """
    if args.unlabeled_file is not None:
        path = args.unlabeled_file
        kind = file_format(path, "unlabeled_file", UNLABELED_FORMATS)
        column = "text" if kind == "text" else text_column
        data = load_data_file(path, kind, "unlabeled_file", [column])
        where = path
    elif args.unlabeled_dataset_name is not None:
        column, where = text_column, f"{args.unlabeled_dataset_name} [{args.unlabeled_split}]"
        try:
            data = load_dataset(args.unlabeled_dataset_name, split=args.unlabeled_split)
        except Exception as err:
            raise InputError(f"--unlabeled_dataset_name {where}: cannot load it ({first_line(err)})") from None
    else:
        return None
    if column not in data.column_names:
        raise InputError(f"{where}: no column {column!r} (columns: {', '.join(data.column_names)})")
    data = data.select_columns([column]).rename_column(column, "text") if column != "text" else data.select_columns(["text"])
    data = data.filter(lambda batch: [isinstance(t, str) and bool(t.strip()) for t in batch["text"]], batched=True,
                       desc="Text-only data: dropping empty lines")
    return data


def text_only_split(data, args, seed: int) -> Dataset | None:
    """The DAE's text-only data of a run: `--unlabeled_*` plus, with `--unlabeled_from_train`, the train texts the
    k-shot draw left out (in `data["unlabeled_from_train"]`); without the validation and test texts, which never
    train anything (their removal is said in one log line)."""
    parts = [d for d in (load_unlabeled(args, args.text_column), data.pop("unlabeled_from_train", None))
             if d is not None]
    if not parts:
        given = args.text_only_flags()
        if given:
            logger.warning("%s: no text-only data given (--unlabeled_file, --unlabeled_dataset_name or "
                           "--unlabeled_from_train); ignored", ", ".join(given))
        return None
    texts = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    def key(text: str) -> str:  # a BOM on a file's first line or spaces around a line do not make another text
        return text.lstrip("\ufeff").strip()

    held_out = {key(t) for split in ("validation", "test") for t in data[split]["text"]}
    kept = texts.filter(lambda batch: [key(t) not in held_out for t in batch["text"]], batched=True,
                        desc="Text-only data: dropping validation and test texts")
    if len(kept) == 0:
        raise InputError("the text-only data hold no text that is not also a validation or test text")
    if len(kept) < len(texts):
        logger.info("text-only data: %d texts that are also validation or test texts left out", len(texts) - len(kept))
    if args.max_unlabeled_samples is not None and len(kept) > args.max_unlabeled_samples:
        kept = kept.shuffle(seed=seed).select(range(args.max_unlabeled_samples))
    logger.info("text-only data for the DAE: %d texts", len(kept))
    return kept
