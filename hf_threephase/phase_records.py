"""What a phase was trained with, recorded in its folder (`phase_inputs.json`) and in its checkpoint folder, so that a
rerun reuses a finished phase, or resumes its checkpoints, only when it would compute the same thing.

A record holds the fingerprints of the data the phase may read (the texts and labels of every split but test, e.g.
train, validation and text-only data; test too for the final phase), the class names (and their levels, when
hierarchical), the recipe settings it reads
(`PhaseSpec.recipe_fields` and those every phase reads; `--pairs_per_example` given as the number `auto` stands for
is recorded as `auto`, `--positive_pair_fraction` as the number it stands for), its per-phase overrides (of which only the decoder's
new-parameter options are compared as such, one given at what leaving it out computes being recorded as not given;
the others are compared through the TrainingArguments they set, by their effect: `--dae_learning_rate 5e-5` is
`learning_rate 5e-05`, given or not, and `--cl_model_selection` is `load_best_model_at_end` and
`metric_for_best_model`), its TrainingArguments (all but those that only change logging, saving cadence, progress bars
or where things go), the number of processes, and the hash of the previous phase's record (as its folder holds it,
when that phase is reused; the first phase: the model it starts from, with the hashes of its files when it is a local
folder), so that a phase is reused only after the same chain.
"""

import hashlib
import json
from pathlib import Path

from .arguments import NEW_PARAMETER_OPTIONS
from .files import first_line
from .pairs import pairs_per_example, positive_pair_fraction

RECORD_FILE = "phase_inputs.json"
# The top-level files a load of the phase folder reads (weights, configs, tokenizer) as written, to see one damaged,
# edited, replaced, added or removed; folders written before it list their .safetensors only, in OLD_HASHES_FILE.
HASHES_FILE, OLD_HASHES_FILE = "files_sha256.json", "weights_sha256.json"
# ThreePhaseArguments fields every phase reads; the LoRA ones only matter under use_peft.
COMMON_RECIPE_FIELDS = ("max_seq_length", "pooling_mode", "use_peft", "diagnostic_samples", "early_stopping_patience",
                        "early_stopping_min_steps")
LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
# TrainingArguments fields that change neither the weights nor the metrics a phase writes.
NOT_RECORDED = frozenset({
    "output_dir", "overwrite_output_dir", "run_name", "project", "report_to", "disable_tqdm", "logging_first_step", "logging_nan_inf_filter",
    "logging_steps", "logging_strategy", "log_level", "log_level_replica", "log_on_each_node", "push_to_hub",
    "save_steps", "save_strategy", "save_total_limit", "save_only_model", "save_on_each_node", "resume_from_checkpoint",
    "do_train", "do_eval", "do_predict", "local_rank", "ddp_timeout", "dataloader_num_workers",
    "dataloader_persistent_workers", "dataloader_pin_memory", "dataloader_prefetch_factor",
    "dataloader_multiprocessing_context", "per_device_eval_batch_size", "eval_accumulation_steps",
    "skip_memory_metrics", "include_num_input_tokens_seen", "torch_empty_cache_steps", "enable_jit_checkpoint",
    "restore_callback_states_from_checkpoint", "debug",
})
NOT_RECORDED_PREFIXES = ("hub_", "trackio_")
# Recipe settings and record keys added after records were first written, left out at their default: a phase folder
# written before them computed the same, and is still reused.
LATER_FIELD_DEFAULTS = {"positive_pair_fraction": 0.5, "label_paths": None, "contrastive_pairs": "sampled",
                        "lp_ft": False, "early_stopping_min_steps": 0}
FILE_FIELDS = ("stopwords_file",)  # recipe settings that name a file the phase reads


def split_fingerprint(split, label_names) -> str:
    """sha256 of a split's texts and the class name of each (a `datasets` split with `text` and, unless it is
    text-only, int `label`)."""
    names = [label_names[i] for i in split["label"]] if "label" in split.column_names else None
    return hashlib.sha256(json.dumps([list(split["text"]), names]).encode()).hexdigest()


# The files of a model folder that `from_pretrained` and its tokenizer read (weights, configs, vocabularies).
MODEL_FILE_SUFFIXES = (".safetensors", ".json", ".txt", ".model")
NOT_LOADED = frozenset({RECORD_FILE, "phase_metrics.json", "trainer_state.json", HASHES_FILE})  # a phase's own files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(model: str) -> dict:
    """The model a first phase starts from: its name and, for a local folder, the sha256 of each file of it that
    loading reads (safetensors weights, JSON configs, vocabulary files; not its README or other frameworks' weights),
    so that a folder replaced at the same path is not taken for the old one."""
    folder = Path(model)
    if not folder.is_dir():
        return {"model": model}
    files = {path.name: file_sha256(path) for path in _loaded_files(folder, skip=())}
    return {"model": model, "model_files": files}


def record_hash(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _recorded(value, name: str, default_stopwords: bool = False):
    """A recipe setting as recorded: a file the phase reads with its content's hash, so that an edited file is seen;
    with `default_stopwords` (the imbalance correction adds copies, and no stop-word file is given), the default list
    it stands for: None where it is nltk's (as older records say), else its source, so that a phase trained with
    scikit-learn's list (nltk's corpus absent) is not reused once nltk's is installed."""
    if name in FILE_FIELDS and value is not None and Path(value).is_file():
        return f"{value} (sha256 {file_sha256(Path(value))[:16]})"
    if name == "stopwords_file" and value is None and default_stopwords:
        from .noise import load_stopwords

        source = load_stopwords().source
        return None if source.startswith("nltk") else source
    return value


def _reads_stopwords(fields, recipe_args, data, label_space) -> bool:
    """Whether the phase reads a stop-word list: it reads the imbalance settings, and the correction adds copies."""
    if "stopwords_file" not in fields or recipe_args.imbalance_max_ratio is None:
        return False
    from .imbalance import class_multipliers

    multipliers = class_multipliers(label_space.pair_labels(data["train"]), recipe_args.imbalance_max_ratio,
                                    recipe_args.imbalance_min_ratio)
    return any(m > 1 for m in multipliers.values())


def _unset_means(spec, name: str, phase_args) -> tuple:
    """The values of a new-parameter option that compute what leaving it out does: the phase's default; without one,
    0 (no decoder-only stretch) or the phase's own learning rate."""
    if name in spec.defaults:
        return (spec.defaults[name],)
    return (0, phase_args.learning_rate) if name == "new_parameters_learning_rate" else (0,)


def phase_record(spec, recipe_args, phase_args, data, label_space, previous: dict | str) -> dict:
    """What phase `spec` computes from: see the module's docstring. `phase_args` are the phase's TrainingArguments,
    `previous` the previous phase's record or, for the first phase, the model it starts from."""
    fields = [*COMMON_RECIPE_FIELDS, *(LORA_FIELDS if recipe_args.use_peft else ()), *spec.recipe_fields]
    options = recipe_args.for_phase(spec.name)
    splits = [split for split in data if split != "test" or spec.final]
    training = {k: v for k, v in phase_args.to_dict().items()
                if k not in NOT_RECORDED and not k.startswith(NOT_RECORDED_PREFIXES)}
    stopwords = _reads_stopwords(fields, recipe_args, data, label_space)
    chain = {"after": record_hash(previous)} if isinstance(previous, dict) else model_fingerprint(str(previous))
    record = {
        **chain,
        "data": {split: split_fingerprint(data[split], label_space.names) for split in splits},
        "labels": list(label_space.names),
        **({"label_paths": label_paths(data["train"])} if "label_path" in data["train"].column_names else {}),
        "recipe": {name: _recorded(getattr(recipe_args, name), name, stopwords) for name in dict.fromkeys(fields)
                   if LATER_FIELD_DEFAULTS.get(name, object()) != getattr(recipe_args, name)},
        "phase_arguments": {**vars(options), **{name: None for name in NEW_PARAMETER_OPTIONS
                                                if getattr(options, name) in _unset_means(spec, name, phase_args)}},
        "training": training,
        "world_size": phase_args.world_size,
    }
    return _pairs_as_computed(json.loads(json.dumps(record, default=str)))  # as it reads back from the file


def label_paths(train) -> list[list[str]]:
    """Each class's levels (hierarchical labels), by class id, from a train split with `label` and `label_path`."""
    paths = dict(zip(train["label"], train["label_path"]))
    return [paths[label] for label in sorted(paths)]


def _pairs_as_computed(record: dict) -> dict:
    """The record with its pair settings written by what they compute, so that two ways of asking for the same pairs
    match: a `pairs_per_example` number that `auto` means for its classes as `auto` (left out for in-batch pairs,
    which read none); a `positive_pair_fraction` as its number (`auto`: 1/K), left out at 0.5 (the default before
    `auto`); `contrastive_pairs` left out at `sampled` (the only form before it). Applied to a new record and to one read
    back, which an older version wrote as given."""
    recipe, classes = record.get("recipe", {}), len(record["labels"])
    if recipe.get("contrastive_pairs") == "in_batch":  # no pair budget read
        recipe.pop("pairs_per_example", None)
    elif recipe.get("contrastive_pairs") == LATER_FIELD_DEFAULTS["contrastive_pairs"]:
        del recipe["contrastive_pairs"]
    budget = recipe.get("pairs_per_example", "auto")
    if budget != "auto" and int(budget) == pairs_per_example("auto", classes):
        recipe["pairs_per_example"] = "auto"
    if "positive_pair_fraction" in recipe:
        recipe["positive_pair_fraction"] = positive_pair_fraction(recipe["positive_pair_fraction"], classes)
        if recipe["positive_pair_fraction"] == LATER_FIELD_DEFAULTS["positive_pair_fraction"]:
            del recipe["positive_pair_fraction"]
    return record


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two records, one short phrase each (`learning_rate 0.001 -> 0.01`, `train, test data`)."""
    found = []
    for key in sorted(set(old) | set(new), key=lambda k: (k != "data", k)):
        a, b = (record.get(key, LATER_FIELD_DEFAULTS.get(key)) for record in (old, new))
        if key == "phase_arguments" and isinstance(a, dict) and isinstance(b, dict):  # see the module's docstring
            a, b = ({name: d.get(name) for name in NEW_PARAMETER_OPTIONS} for d in (a, b))
        if a == b or (key == "model" and old.get("model_files") and old.get("model_files") == new.get("model_files")):
            continue  # a local folder is known by its files, however its path is written
        if key == "data":
            splits = [s for s in {**(b or {}), **(a or {})} if (a or {}).get(s) != (b or {}).get(s)]
            found.append(f"{', '.join(splits)} data")
        elif key == "after":
            found.append("the phases before it")
        elif key == "positive_pair_fraction" and a == LATER_FIELD_DEFAULTS[key]:
            found.append(f"positive_pair_fraction 0.5 -> {b!r} (0.5 was the default before auto, 1/K: "
                         "--positive_pair_fraction 0.5 reuses the folder)")
        elif key == "label_paths":
            found.append("the levels of the labels" + (
                " (the folder's record has none: read flat, or by a version that did not record them)" if a is None
                else " (this command reads them flat)" if b is None else ""))
        elif key == "model_files" and a is None:
            found.append("the model it starts from (its files were not recorded by the version that trained it)")
        elif key == "model_files":
            changed = sorted(name for name in {**(a or {}), **(b or {})} if (a or {}).get(name) != (b or {}).get(name))
            found.append(f"the files of the model it starts from ({', '.join(changed)})")
        elif isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b)
        else:
            found.append(f"{key} {a!r} -> {b!r}")
    return found


def read_record(folder: Path) -> dict | None:
    path = Path(folder) / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def write_record(folder: Path, record: dict):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))


def unreadable_weights(folder: Path) -> str | None:
    """None when `folder` has .safetensors files and each opens (its header and offsets are whole); else what is
    wrong."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return "it holds no .safetensors weights"
    for path in files:
        try:
            with safe_open(path, "pt") as weights:
                weights.keys()
        except Exception as err:  # noqa: BLE001 (safetensors raises its own error types)
            return f"its {path.name} cannot be read ({first_line(err)})"
    return None


def _loaded_files(folder: Path, skip: frozenset = NOT_LOADED) -> list[Path]:
    """The top-level files of a model folder that loading reads (`MODEL_FILE_SUFFIXES`), but not those in `skip` (by
    default a phase folder's record, results and trainer state)."""
    return [path for path in sorted(Path(folder).iterdir())
            if path.is_file() and path.suffix in MODEL_FILE_SUFFIXES and path.name not in skip]


def write_file_hashes(folder: Path):
    """The sha256 of each file of a phase folder that loading reads, written beside its record (`HASHES_FILE`)."""
    hashes = {path.name: file_sha256(path) for path in _loaded_files(folder)}
    (Path(folder) / HASHES_FILE).write_text(json.dumps(hashes, indent=2))


def unreadable_metrics(folder: Path) -> str | None:
    """None when the phase folder's `phase_metrics.json` (its results, which a rerun reads again) is a JSON object
    with its diagnostics; else what is wrong with it."""
    path = Path(folder) / "phase_metrics.json"
    if not path.is_file():
        return "its phase_metrics.json is missing"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return f"its phase_metrics.json cannot be read ({first_line(err)})"
    if not isinstance(metrics, dict) or not isinstance(metrics.get("diagnostics"), dict):
        return "its phase_metrics.json is damaged (not a JSON object with its diagnostics)"
    return None


def file_list(folder: Path) -> Path | None:
    """The phase folder's list of file hashes: `HASHES_FILE`, else `OLD_HASHES_FILE`; None when it has neither."""
    return next((Path(folder) / name for name in (HASHES_FILE, OLD_HASHES_FILE) if (Path(folder) / name).is_file()),
                None)


def changed_files(folder: Path) -> str | None:
    """None when the top-level files of the phase folder that loading reads are those it was written with (its
    weights only, for a folder with `OLD_HASHES_FILE`; nothing, for one without either list); else what is wrong: the
    list unreadable, a file of the folder it does not list, or a listed file missing or changed."""
    path = file_list(folder)
    if path is None:
        return None
    try:
        hashes = dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        return f"its {path.name} cannot be read ({first_line(err)})"
    found = _loaded_files(folder) if path.name == HASHES_FILE else Path(folder).glob("*.safetensors")
    unlisted = sorted(p.name for p in found if p.name not in hashes)
    if unlisted:
        return f"its {path.name} does not list {', '.join(unlisted)}"
    for name, digest in hashes.items():
        if not (Path(folder) / name).is_file():
            return f"its {name} is missing"
        if file_sha256(Path(folder) / name) != digest:
            return f"its {name} changed since the phase wrote it (sha256 differs)"
    return None


def mismatch(folder: Path, record: dict) -> str | None:
    """None when `folder`'s record is `record`; else what differs, or that its record is missing or damaged, in
    words."""
    try:
        stored = read_record(folder)
    except (json.JSONDecodeError, UnicodeDecodeError):
        stored = []
    if stored is not None and not isinstance(stored, dict):
        return f"its {RECORD_FILE} is damaged (not a JSON object)"
    if stored is None:
        return f"it holds no {RECORD_FILE} (written by an older hf-threephase, or by hand)"
    try:
        found = differences(_pairs_as_computed(stored), record)
    except (KeyError, TypeError, AttributeError, ValueError) as err:  # valid JSON, but not a record's shape
        return f"its {RECORD_FILE} is damaged ({type(err).__name__}: {err})"
    if not found:
        return None
    shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
    return f"this command differs in {shown}"
