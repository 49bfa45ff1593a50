"""Phases and variants, each declared once (as PEFT registers its tuning methods in one place).

A phase is a `PhaseSpec`: its model class, how its training data and Trainer are built, its defaults for the
TrainingArguments policy, whether it selects a checkpoint, its card text, whether it ends the chain. A variant is a
list of phase names (plus defaults of `ThreePhaseArguments`, e.g. the imbalance preset). The runner, the command
line, the cards, the Hub push and the checks read these; none of them names a phase. The built-in phases and
variants are registered in `hf_threephase.phases`; `register_phase` / `register_variant` add more from user code.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedModel, Trainer, TrainingArguments

from .label_space import LabelSpace
from .trainers import CompleteEvaluationTrainer


@dataclass
class PhaseContext:
    """What a phase's builders may read, built once per run by the runner.

    Args:
        tokenizer: the run's tokenizer.
        data: the `DatasetDict` of `train` / `validation` / `test` with `text`, `label` (int class ids) and, for
            hierarchical labels, `label_path`; and `text_only` (`text` alone) when the run has text-only data.
        tokenized: the same splits with `input_ids` and `word_ids` (each token's word index, -1 for special tokens).
        tokenize: the function that made `tokenized` (for `datasets.map(batched=True)`), for texts a phase adds.
        label_space: the run's `LabelSpace`.
        args: the run's `ThreePhaseArguments`.
        diagnostic_examples: the tokenised validation examples the diagnostics and the adaptation phases' evaluation
            read (a seeded subset of at most `args.diagnostic_samples`).
        diagnostic_pair_labels: their pair labels (`LabelSpace.pair_labels`).
    """

    tokenizer: Any
    data: Any
    tokenized: Any
    tokenize: Callable
    label_space: LabelSpace
    args: Any
    diagnostic_examples: Any = None
    diagnostic_pair_labels: list | None = None


@dataclass
class PhaseData:
    """A phase's training set, optional evaluation set, and the collator that batches both; `facts`: what building
    them changed that the phase's `phase_metrics.json` and card report (e.g. `imbalance_correction`)."""

    train: Any
    collator: Callable
    eval: Any = None
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseCard:
    """What a phase folder's model card says of it."""

    title: str
    description: str
    auto_class: str = "AutoModel"
    pipeline_tag: str = "feature-extraction"


def _no_extras(context: PhaseContext, data: PhaseData) -> dict:
    return {}


@dataclass(frozen=True)
class PhaseSpec:
    """One phase of the recipe.

    Args:
        name: the phase's folder name under `output_dir`, its command-line prefix (`--<name>_learning_rate`) and its
            entry in `config.phases`.
        model_class: a `ThreePhasePreTrainedModel` subclass, loaded with `from_pretrained` from the previous phase's
            folder (or `from_encoder_pretrained` on a plain checkpoint); its `forward` returns the loss.
        build_data: `(context, training_args) -> PhaseData`.
        card: the model card text.
        trainer_class: the Trainer (sub)class: `CompleteEvaluationTrainer` or a subclass of it.
        trainer_kwargs: `(context, data) -> dict` of extra Trainer arguments (`compute_metrics`, callbacks, ...).
        config_kwargs: `(context) -> dict` of config values for a fresh model (e.g. the label space's `num_labels`).
        prepare_model: `(context, model) -> dict | None`, after loading (e.g. freezing the encoder); the facts it
            returns go to the phase's `phase_metrics.json`.
        selection_metric: the validation metric the phase evaluates every epoch and, unless `--<phase>_model_selection
            last`, keeps its best checkpoint on (with early stopping); None: the phase does not evaluate.
        greater_is_better: the direction of `selection_metric`.
        defaults: this phase's defaults of `PhaseArguments` fields (e.g. its warmup), used where the user set neither
            the per-phase flag nor the TrainingArguments one.
        expected_rise: {diagnostic: least rise} the phase exists to bring about; a smaller rise on validation is
            reported as a warning (the phase ended inert).
        final: whether the phase ends the chain: a classifier, evaluated once on the test split, whose metrics are the
            run's results and whose folder is pushed as `hub_model_id` itself.
        recipe_fields: the `ThreePhaseArguments` fields the phase reads besides those every phase reads
            (`max_seq_length`, `pooling_mode`, and the LoRA settings under `use_peft`); its model card lists them with
            their values.
        reads_text_only: whether the phase reads the run's text-only data (the `text_only` split, besides train).
    """

    name: str
    model_class: type[PreTrainedModel]
    build_data: Callable[[PhaseContext, TrainingArguments], PhaseData]
    card: PhaseCard
    trainer_class: type[Trainer] = CompleteEvaluationTrainer
    trainer_kwargs: Callable[[PhaseContext, PhaseData], dict] = _no_extras
    config_kwargs: Callable[[PhaseContext], dict] | None = None
    prepare_model: Callable[[PhaseContext, PreTrainedModel], dict | None] | None = None
    selection_metric: str | None = None
    greater_is_better: bool = True
    defaults: dict = field(default_factory=dict)
    expected_rise: dict = field(default_factory=dict)
    final: bool = False
    recipe_fields: tuple[str, ...] = ()
    reads_text_only: bool = False


@dataclass(frozen=True)
class Variant:
    """A chain of phase names, and the `ThreePhaseArguments` defaults it changes (e.g. `imbalance_max_ratio`)."""

    phases: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    description: str = ""


PHASES: dict[str, PhaseSpec] = {}
VARIANTS: dict[str, Variant] = {}


def register_phase(spec: PhaseSpec, exist_ok: bool = False) -> PhaseSpec:
    """Add a phase; its command-line options, folder, card and checks follow from the spec.

    Raises:
        ValueError: the name is taken (unless `exist_ok`) or is not a valid identifier.
        TypeError: its `trainer_class` is no `CompleteEvaluationTrainer` (whose evaluation scores every text).
    """
    if not issubclass(spec.trainer_class, CompleteEvaluationTrainer):
        raise TypeError(f"phase {spec.name!r}: trainer_class {spec.trainer_class.__name__} must subclass "
                        "hf_threephase.trainers.CompleteEvaluationTrainer (evaluation that scores every text)")
    if not spec.name.isidentifier():
        raise ValueError(f"a phase name must be an identifier (it prefixes command-line options), got {spec.name!r}")
    if spec.name in PHASES and not exist_ok:
        raise ValueError(f"phase {spec.name!r} is already registered")
    PHASES[spec.name] = spec
    return spec


def register_variant(name: str, phases: list[str] | tuple[str, ...], exist_ok: bool = False, description: str = "",
                     **defaults) -> Variant:
    """Add a variant: registered phase names, ending with a final phase (a classifier).

    Raises:
        ValueError: the name is taken (unless `exist_ok`), a phase is unknown, or the chain does not end with exactly
            one final phase.
    """
    if name in VARIANTS and not exist_ok:
        raise ValueError(f"variant {name!r} is already registered")
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"variant {name!r}: unknown phases {unknown} (registered: {', '.join(PHASES)})")
    if not phases or not PHASES[phases[-1]].final or any(PHASES[p].final for p in phases[:-1]):
        raise ValueError(f"variant {name!r}: the chain {list(phases)} must end with its only final phase")
    VARIANTS[name] = Variant(tuple(phases), dict(defaults), description)
    return VARIANTS[name]


def final_phase(phases: list[str] | tuple[str, ...]) -> str:
    """The phase whose folder holds the classifier."""
    return next(p for p in phases if PHASES[p].final)


def reads_text_only(phases: list[str] | tuple[str, ...]) -> bool:
    """Whether any of the phases reads text-only data (the DAE and Joint's DAE term)."""
    return any(PHASES[p].reads_text_only for p in phases)
