"""A model card per phase folder, rendered from `model_cards/phase_card.md` with huggingface_hub: Hub metadata
(base model, datasets, language, license, pipeline tag, widget, model-index), a usage snippet, the data, the
phase's results and settings, where it ran, and the paper's citation."""

import enum
import json
import logging
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .diagnostics import diagnostic_warnings
from .hub import phase_repo_id
from .pairs import pairs_per_example, positive_pair_fraction
from .registry import PHASES, PhaseSpec

logger = logging.getLogger("hf_threephase")

# The top-level model_cards/ folder, installed as the data package `hf_threephase.model_cards` (see setup.cfg).
TEMPLATE = files("hf_threephase.model_cards") / "phase_card.md"

CITATION = """@misc{lopezavila2024combining,
  title         = {Combining Denoising Autoencoders with Contrastive Learning to fine-tune Transformer Models},
  author        = {L{\\'o}pez-{\\'A}vila, Alejo and Su{\\'a}rez-Paniagua, V{\\'i}ctor},
  year          = {2024},
  eprint        = {2405.14437},
  archivePrefix = {arXiv},
  url           = {https://arxiv.org/abs/2405.14437}
}"""

# Every phase reads these recipe settings (besides its spec's `recipe_fields`).
COMMON_FIELDS = ("max_seq_length", "pooling_mode")
LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
# What an unset recipe setting means, where it means something.
UNSET_MEANS = {"stopwords_file": "nltk's English list where installed, else scikit-learn's",
               "imbalance_max_ratio": "off (no imbalance correction)"}
# Trainer metrics that describe the run, not the model.
NOT_METRICS = ("epoch", "runtime", "per_second", "selection_score", "total_flos")


@dataclass
class CardArguments:
    """What the model cards and config.json say of a run beyond its settings (the `--help` group "Model cards")."""

    _argument_group_name = "Model cards (README.md of each phase folder) and config.json"

    base_model_name: str | None = field(
        default=None, metadata={"help": "The name config.json and the cards record for --model_name_or_path, e.g. "
                                        "the Hub id a local folder was downloaded from. Default: a Hub id as given, a "
                                        "local folder's name (the cards and config.json then hold no local path; "
                                        "the run's records, phase_inputs.json and results.json, do)."})
    language: str | None = field(
        default=None, metadata={"help": "Language code of the texts (ISO 639-1, e.g. en) for the cards' YAML. "
                                        "Default: the base model card's, where it names one; else left out."})
    license: str | None = field(
        default=None, metadata={"help": "License id for the cards' YAML (e.g. apache-2.0). Default: the base model "
                                        "card's, where it names one; else 'other'."})


def model_name(model_name_or_path: str, given: str | None = None) -> str:
    """The name a run records for its base model: `given`, else a Hub id as is, else a local folder's name (the
    `base_model` a 3-Phase folder records, for a phase folder)."""
    if given:
        return given
    path = Path(model_name_or_path)
    if not path.is_dir():
        return model_name_or_path
    config = path / "config.json"
    if config.is_file():
        recorded = json.loads(config.read_text()).get("base_model")
        if recorded and not Path(recorded).is_absolute():
            return recorded
    return path.resolve().name


def base_card_data(model_name_or_path: str) -> dict:
    """The YAML of the base model's card (a local folder's README.md, or the Hub's when reachable); {} without."""
    try:
        readme = Path(model_name_or_path) / "README.md"
        card = ModelCard.load(readme if readme.is_file() else model_name_or_path, ignore_metadata_errors=True)
        return card.data.to_dict()
    except Exception:  # offline, no card, a private repo: the card just lacks what the base card would have said
        return {}


@dataclass
class RunFacts:
    """What every card of one run says.

    Args:
        base_model: the base model's name (see `model_name`).
        base_model_id / dataset_id: the Hub ids for the YAML's `base_model` and `datasets` (None, and left out,
            for a local folder or files: a folder's name is no Hub id).
        variant / phases: the variant and its phase names.
        dataset: the data's Hub id, or the name of the local data (the train file's folder).
        splits: `(split, examples, source)` per split, the source being a file name or `name [split]`.
        label_names: class names in class-id order.
        examples: a few validation texts, for the widget and the usage snippet.
        language / license: for the YAML (None: left out / 'other').
        hub_model_id: the final phase's Hub id when the run pushes (the others get `-<phase>`).
        output_name: the output folder as given when relative, else its name: the usage snippet's local path
            (`./<output_name>/<phase>`) without a Hub id.
        hardware / versions: where the run trained (`run_info.hardware`) and the package versions.
        sentence_transformers: whether the phase folders carry sentence-transformers module files.
    """

    base_model: str
    variant: str
    phases: list[str]
    dataset: str
    splits: list[tuple[str, int, str]]
    label_names: list[str]
    examples: list[str]
    language: str | None
    license: str
    hub_model_id: str | None
    output_name: str
    hardware: str
    versions: dict[str, str]
    sentence_transformers: bool = True
    output_note: str = "this folder (its Hub id once pushed)"
    base_model_id: str | None = None
    dataset_id: str | None = None


# `|`, `\`, and the punctuation that opens code, emphasis, strikethrough, links, HTML, entities or the Hub's math;
# `_` only at a word's edge (inside a word, as in `noise_ratio`, it renders as is)
_MARKDOWN = re.compile(r"[|\\`*~\[\]<>&$]|(?<![^\W_])_|_(?![^\W_])")


def markdown_cell(text: str) -> str:
    """`text` as plain text inside a GFM table cell: line breaks (which end a table row) become spaces, `|` (which
    ends a cell, even inside a code span: https://github.github.com/gfm/#tables-extension-) becomes `\\|`, and the
    ASCII punctuation that would render as markdown (`_MARKDOWN`) gets a backslash, as CommonMark allows before any
    ASCII punctuation; so a class name such as `yes|no` or `*x*` adds no cell and shows as written.
    sentence-transformers escapes `|` in its cards' tables the same way (PR #3429)."""
    return _MARKDOWN.sub(r"\\\g<0>", re.sub(r"\r\n?|\n", " ", text))


def _cells(value):
    """`value` with `markdown_cell` applied to every string in it (dict keys too); numbers, booleans, None kept."""
    if isinstance(value, dict):
        return {_cells(k): _cells(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(map(_cells, value))
    return value if value is None or isinstance(value, (int, float)) else markdown_cell(str(value))


def _value(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return value


def phase_settings(spec: PhaseSpec, recipe_args, phase_args, num_labels: int | None = None) -> dict:
    """The settings the phase used, by name, with their values: the recipe settings it reads (`COMMON_FIELDS`, its
    spec's `recipe_fields`, LoRA's under `use_peft`) and its TrainingArguments (after the per-phase overrides); with
    `num_labels`, a pair setting left at `auto` with what it drew (`auto (0.2)`)."""
    names = [*COMMON_FIELDS, *spec.recipe_fields, *(LORA_FIELDS if recipe_args.use_peft else ())]
    resolve = {"pairs_per_example": pairs_per_example, "positive_pair_fraction": positive_pair_fraction}
    settings = {}
    for name in names:
        value = getattr(recipe_args, name)
        if name in resolve and str(value) == "auto" and num_labels is not None:
            settings[name] = f"auto ({resolve[name](value, num_labels):.4g})"
        elif value is not None:
            settings[name] = _value(value)
        elif name in UNSET_MEANS:
            settings[name] = UNSET_MEANS[name]
    steps = {"max_steps": phase_args.max_steps} if phase_args.max_steps > 0 else {
        "num_train_epochs": phase_args.num_train_epochs}
    settings.update(
        learning_rate=phase_args.learning_rate, **steps,
        per_device_train_batch_size=phase_args.per_device_train_batch_size,
        gradient_accumulation_steps=phase_args.gradient_accumulation_steps, processes=phase_args.world_size,
        lr_scheduler_type=_value(phase_args.lr_scheduler_type),
        warmup_steps=f"{phase_args.warmup_steps:.3g} of the steps" if 0 < phase_args.warmup_steps < 1
        else phase_args.warmup_steps,
        weight_decay=phase_args.weight_decay, optim=_value(phase_args.optim),
        precision="bf16" if phase_args.bf16 else "fp16" if phase_args.fp16 and phase_args.device.type != "cpu"
        else "fp32", seed=phase_args.seed,
    )
    if phase_args.load_best_model_at_end:
        settings["metric_for_best_model"] = phase_args.metric_for_best_model
    return settings


def _metrics(values: dict) -> dict:
    return {k: round(v, 4) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not any(n in k for n in NOT_METRICS)}


def _test_rows(test: dict) -> dict:
    rows = {"accuracy": test["accuracy"]}
    rows.update({f"{name} (macro)": test[name] for name in ("precision", "recall", "f1")})
    rows["loss (cross-entropy)"] = test["loss"]
    return {k: round(v, 4) for k, v in rows.items()}


def _diagnostics(metrics: dict) -> list[tuple[str, float, float]]:
    """(name, before, after) rows of `metrics["diagnostics"]` = {"before": {...}, "after": {...}} (flat floats)."""
    diagnostics = metrics.get("diagnostics") or {}
    before, after = diagnostics.get("before") or {}, diagnostics.get("after") or {}
    return [(name, round(before[name], 4), round(after[name], 4)) for name in after
            if name in before and isinstance(after[name], (int, float)) and isinstance(before[name], (int, float))]


def _diagnostic_warnings(phase: str, metrics: dict) -> list[str]:
    """The lines the run logged when the phase ended inert or harmful (see `diagnostics.diagnostic_warnings`)."""
    diagnostics = metrics.get("diagnostics") or {}
    if not diagnostics.get("before") or not diagnostics.get("after"):
        return []
    return diagnostic_warnings(phase, diagnostics["before"], diagnostics["after"], PHASES[phase].expected_rise)


def _imbalance_correction(facts: dict | None) -> str | None:
    """The correction's line of the Data section, from `phases.cl_examples`' facts."""
    if not facts:
        return None
    copies = ", ".join(f"{name} ×{m}" for name, m in facts["multipliers"].items())
    words = f" (stop words: {facts['stopwords']})" if "stopwords" in facts else ""  # older folders do not say
    repeated = (f"; {facts['copies_unchanged']} of the {facts['examples_after'] - facts['examples_before']} copies "
                "had no stop word to delete and repeat their text" if facts.get("copies_unchanged") else "")
    return (f"{copies}: {facts['examples_before']} → {facts['examples_after']} train examples, each added copy with "
            f"its own stop words deleted{words}{repeated}")


def _wall_time(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def model_index(title: str, facts: RunFacts, test: dict) -> list[EvalResult]:
    """The test metrics as Hub `model-index` results (precision, recall, F1: macro)."""
    common = dict(task_type="text-classification", task_name="Text Classification", dataset_type=facts.dataset,
                  dataset_name=facts.dataset, dataset_split="test")
    results = [EvalResult(metric_type="accuracy", metric_name="Accuracy", metric_value=round(test["accuracy"], 4),
                          **common)]
    for name in ("f1", "precision", "recall"):
        results.append(EvalResult(metric_type=name, metric_name=f"{name.title()} (macro)",
                                  metric_value=round(test[name], 4), metric_args={"average": "macro"}, **common))
    return results


def render_card(phase: str, facts: RunFacts, metrics: dict, settings: dict, *, embedding_size: int,
                module_paths: list[str] = (), template: Path = TEMPLATE) -> ModelCard:
    """The card of one phase folder, from its `phase_metrics.json` content (`metrics`) and `phase_settings`;
    `module_paths` are its sentence-transformers module folders (`1_Pooling`, `2_Dense`, ...)."""
    spec = PHASES[phase]
    card = spec.card
    repo_id = phase_repo_id(facts.hub_model_id, phase) if facts.hub_model_id else None
    title = repo_id or f"{facts.base_model.split('/')[-1]} 3-Phase {phase.upper()} ({facts.variant}, {facts.dataset})"
    test = metrics.get("test")
    card_data = ModelCardData(
        base_model=facts.base_model_id, datasets=[facts.dataset_id] if facts.dataset_id else None,
        language=facts.language, license=facts.license,
        library_name="transformers", pipeline_tag=card.pipeline_tag,
        tags=["hf-threephase", f"threephase-{phase}",
              "text-classification" if card.pipeline_tag == "text-classification" else "sentence-embeddings"],
        model_name=title if test else None, eval_results=model_index(title, facts, test) if test else None,
        widget=[{"text": text} for text in facts.examples],
    )
    names = facts.label_names
    per_class = {}
    if test and "per_class" in test:
        per_class = {name: {k: round(v, 4) if isinstance(v, float) else v for k, v in test["per_class"][name].items()}
                     for name in names}
    train = metrics.get("train", {})
    centroid = metrics.get("validation_centroid_accuracy")
    diagnostics = _diagnostics(metrics)  # the validation table leaves out what the before -> after table shows
    validation = {k: v for k, v in _metrics(metrics.get("validation", {})).items()
                  if k not in {name for name, _, _ in diagnostics}}
    public = {k: v for k, v in settings.items() if "token" not in k}
    return ModelCard.from_template(
        card_data, template_path=str(template), title=title, phase_title=card.title,
        phase_description=card.description, variant=facts.variant,
        phase_list=" → ".join(p.upper() for p in facts.phases), base_model=facts.base_model,
        pipeline_tag=card.pipeline_tag, model_ref=repo_id or f"./{facts.output_name}/{phase}",
        model_ref_note="the Hub id" if repo_id else facts.output_note,
        example=facts.examples[0] if facts.examples else "An example text.", embedding_size=embedding_size,
        sentence_transformers=facts.sentence_transformers and bool(module_paths),
        module_files=", ".join(f"`{path}/`" for path in module_paths),
        selects_checkpoint="metric_for_best_model" in settings,
        diagnostic_warnings=_diagnostic_warnings(phase, metrics),
        max_seq_length=settings.get("max_seq_length"),
        train_loss=round(train["train_loss"], 4) if "train_loss" in train else "not recorded",
        centroid_accuracy=round(centroid, 4) if centroid is not None else None,
        wall_time=_wall_time(metrics.get("wall_s")), hardware=facts.hardware,
        versions=", ".join(f"{k} {v}" for k, v in facts.versions.items()), citation=CITATION,
        package_version=facts.versions.get("hf-threephase", ""),
        # what the tables (and the prose lines naming classes) show: any class name, file name or setting value
        **_cells(dict(splits=facts.splits, label_names=names, per_class=per_class, test=_test_rows(test) if test
                      else None, validation=validation, diagnostics=diagnostics, settings=public,
                      imbalance_correction=_imbalance_correction(metrics.get("imbalance_correction")))),
    )


def card_facts(card_args: CardArguments | None, **facts) -> RunFacts:
    """`RunFacts` with the YAML's language and license: the flags, else the base model card's, else left out /
    'other' (logged)."""
    card_args = card_args or CardArguments()
    model_name_or_path = facts.pop("model_name_or_path")
    base = base_card_data(model_name_or_path)
    folder = Path(model_name_or_path)
    named = bool(card_args.base_model_name) or not folder.is_dir()  # a local folder's recorded name may be no Hub id
    if not named:
        logger.info("model cards: no base_model in the YAML (%s is a local folder; set --base_model_name to its Hub "
                    "id)", folder.name)
    language = card_args.language or base.get("language")
    license = card_args.license or base.get("license")
    if license is None:
        license = "other"
        logger.info("model cards: license 'other' (the base model's card names none; set --license)")
    return RunFacts(language=language, license=license, base_model_id=facts["base_model"] if named else None,
                    **facts)
