"""Reading one data file through `datasets`, with cells read as the user wrote them and every problem named by file
and line before any training."""

import csv
import errno
import json
import os
from itertools import takewhile
from pathlib import Path

from datasets import Dataset, load_dataset

from .validation import InputError, check_file


def first_line(err: BaseException) -> str:
    """The first line of the innermost cause's message (datasets wraps parser errors)."""
    while err.__cause__ is not None:
        err = err.__cause__
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_writable_folder(path: str | Path, flag: str = "--output_dir"):
    """Create `path` (and its missing parents), write and remove a probe file in it, then remove the folders this
    created: a folder the run cannot write to stops it before any work.

    Raises:
        InputError: `path` is a file; it, or a missing parent, cannot be created, or no file can be written in it
            (read-only file system, permission denied, a parent that is a file, no space left), naming `flag`, the
            folder and why.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag} {path}: a file, not a folder")
    created = list(takewhile(lambda p: not p.exists(), (folder, *folder.parents)))  # deepest first
    probe = folder / f".hf-threephase-write-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"0")
    except OSError as err:
        raise InputError(f"{flag} {path}: cannot write there ({_write_problem(err, folder)})") from None
    finally:
        try:
            probe.unlink(missing_ok=True)
            for made in created:
                made.rmdir()
        except OSError:
            pass


def _write_problem(err: OSError, folder: Path) -> str:
    """Why a folder could not be created or written, in words: `read-only file system`, `permission denied`, ..."""
    if err.errno in (errno.ENOTDIR, errno.EEXIST):  # a parent (or the folder) that is a file
        blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            return f"{blocking} is a file, not a folder"
    reason = (err.strerror or first_line(err)).lower()
    if err.filename and Path(err.filename) != folder and Path(err.filename).parent != folder:
        reason += f": cannot create {err.filename}"  # a missing parent, higher up
    return reason


def check_csv_rows(path: str, role: str):
    """Every non-blank row has the header's number of fields: pandas would silently make the extra leading fields of
    a row with an unquoted comma its index, and shift the text into the label column. Lines are physical lines of
    the file (a quoted text may span several)."""
    csv.field_size_limit(2**31 - 1)  # a long text is a text (truncated later), not an error
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, [])
            for number, row in enumerate(reader, start=1):
                if any(cell.strip() for cell in row) and len(row) != len(header):
                    raise InputError(f"--{role}: {path} row {number} (line {reader.line_num}): {len(row)} fields, the "
                                     f"header has {len(header)} (quote a text that holds a comma)")
        except csv.Error as err:  # e.g. a quote never closed
            raise InputError(f"--{role}: {path} line {reader.line_num}: not valid CSV ({err})") from None


ROW_EXAMPLE = '{"text": ..., "label": ...}'


def check_json_rows(path: str, role: str):
    """A .jsonl file holds one object a line, a .json file a list of row objects (or JSON Lines): pyarrow's reader
    crashes the process (a segmentation fault) on a bare `null` and reads an object of lists as one row, so anything
    else is named first. A .json file is read whole here, as `datasets` reads a list of rows."""
    with open(path, encoding="utf-8-sig") as handle:
        if Path(path).suffix.lower() != ".json":
            _check_lines(handle, path, role)
            return
        text = handle.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg != "Extra data":
            if not text.strip():
                raise InputError(f"--{role}: {path} has no rows") from None
            raise InputError(f"--{role}: {path} line {err.lineno} column {err.colno}: not valid JSON ({err.msg})") \
                from None
        _check_lines(text.split("\n"), path, role)  # JSON Lines in a .json file (only \n ends a line)
        return
    if isinstance(document, (list, dict)) and not document:
        raise InputError(f"--{role}: {path} has no rows")
    if isinstance(document, dict) and sum(isinstance(v, list) for v in document.values()) >= min(2, len(document)):
        raise InputError(f"--{role}: {path}: an object of lists, not a list of rows; give [{ROW_EXAMPLE}, ...] or a "
                         ".jsonl file")
    if not isinstance(document, (list, dict)):
        raise InputError(f"--{role}: {path}: not a JSON array of rows")
    bad = next((n for n, row in enumerate(document, start=1) if not isinstance(row, dict)), None) \
        if isinstance(document, list) else None
    if bad is not None:
        raise InputError(f"--{role}: {path} row {bad}: not a JSON object (a .json file is a list of rows, as "
                         f"[{ROW_EXAMPLE}, ...])")


def _check_lines(lines, path: str, role: str):
    """Each non-blank line one JSON object (parsed here: pyarrow counts rows from 0 and adds a second line)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as err:
            raise InputError(f"--{role}: {path} line {number} column {err.colno}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"--{role}: {path} line {number}: not a JSON object (JSON Lines hold one row a line, as "
                             f"{ROW_EXAMPLE})")


def load_data_file(path: str, builder: str, role: str, columns: list[str]) -> Dataset:
    """One file (already through `check_file`) as a `Dataset`. A CSV's `columns` are read as text, as written: a
    label `01` stays `01`, `NA` and `null` are values (only an empty cell is missing), a text `42` is a text.

    Args:
        path: the file. builder: `datasets`' builder name (`csv`, `json`, `text`). role: its flag without dashes,
            for messages. columns: the CSV columns to read as strings.

    Raises:
        InputError: a CSV row with more or fewer fields than the header, a JSON(L) row that is not an object, a
            file with no rows (a CSV header alone, blank lines, `[]`), or a parser error, naming the flag and the
            file.
    """
    kwargs = {}
    if builder == "json":
        check_json_rows(path, role)
    if builder == "csv":
        check_csv_rows(path, role)
        kwargs = {"converters": {column: str for column in columns}, "keep_default_na": False, "na_values": [""]}
    try:
        return load_dataset(builder, data_files={"data": path}, split="data", **kwargs)
    except Exception as err:  # a parser error deep inside datasets: name the file instead
        if "corresponds to no data" in str(err):  # datasets' (5.x) words for a split that got no record
            raise InputError(f"--{role}: {path} has no rows") from None
        raise InputError(f"--{role}: cannot read {path} as {builder}: {first_line(err)}") from None


def file_format(path: str, role: str, formats: dict[str, str]) -> str:
    """The `datasets` builder of a file, from its suffix, after `check_file`."""
    check_file(path, role)
    kind = formats.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"--{role}: {path}: unknown format (use {', '.join(formats)})")
    return kind
