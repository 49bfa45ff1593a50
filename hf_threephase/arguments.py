"""The recipe's arguments, the per-phase overrides generated from the phase registry, and the per-phase
TrainingArguments policy."""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from transformers import TrainingArguments

from .imbalance import IMBALANCE_PRESETS
from .registry import PHASES, VARIANTS, PhaseSpec
from .validation import InputError


@dataclass
class PhaseArguments:
    """One phase's overrides of `TrainingArguments` (None: the TrainingArguments value). On the command line each
    field is `--<phase>_<field>`, in a group of its own."""

    num_train_epochs: float | None = field(default=None, metadata={"help": "Epochs of this phase."})
    learning_rate: float | None = field(default=None, metadata={"help": "Peak learning rate of this phase."})
    batch_size: int | None = field(default=None, metadata={"help": "Training batch size per device in this phase."})
    warmup_steps: float | None = field(
        default=None, metadata={"help": "Warmup of this phase: steps, or a share of its steps when below 1."})
    weight_decay: float | None = field(default=None, metadata={"help": "AdamW weight decay of this phase."})
    lr_scheduler_type: str | None = field(default=None, metadata={"help": "Learning-rate schedule of this phase."})
    new_parameters_learning_rate: float | None = field(
        default=None, metadata={"help": "Peak learning rate of the decoder's parameters the encoder does not share "
                                        "(cross-attention and LM-head transform, fresh on a checkpoint without an LM "
                                        "head); the others take the phase's.",
                                "training": False})
    new_parameters_only_steps: float | None = field(
        default=None, metadata={"help": "A first stretch (steps, or a share of the steps when below 1) that trains only "
                                        "those decoder parameters, the shared ones frozen.",
                                "training": False})
    model_selection: str | None = field(
        default=None, metadata={"help": "'best': keep the checkpoint best on the phase's validation metric, with early "
                                        "stopping; 'last': keep the last weights.", "training": False})

    # PhaseArguments field -> the TrainingArguments field it overrides
    TRAINING_FIELDS = {"batch_size": "per_device_train_batch_size"}

    def overrides(self) -> dict:
        """The TrainingArguments fields this phase sets, by their TrainingArguments names."""
        return {self.TRAINING_FIELDS.get(f.name, f.name): getattr(self, f.name)
                for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None and f.metadata.get("training", True)}

    def with_defaults(self, defaults: dict, training_args: TrainingArguments) -> "PhaseArguments":
        """These overrides, plus a phase's `defaults` for the fields where the user set neither the per-phase flag nor
        the TrainingArguments one (left at the Trainer's default)."""
        filled = {}
        for name, value in defaults.items():
            target = self.TRAINING_FIELDS.get(name, name)
            user_set = (target in TrainingArguments.__dataclass_fields__
                        and getattr(training_args, target) != TrainingArguments.__dataclass_fields__[target].default)
            if getattr(self, name) is None and not user_set:
                filled[name] = value
        return dataclasses.replace(self, **filled)


NEW_PARAMETER_OPTIONS = ("new_parameters_learning_rate", "new_parameters_only_steps")


def takes_new_parameter_options(spec: PhaseSpec) -> bool:
    """Whether a phase adds parameters to a checkpoint's that `NEW_PARAMETER_OPTIONS` can treat apart: its model
    names them (`new_parameter_names`, the DAE decoder's) and its Trainer is a `PhaseTrainer`."""
    from .trainers import PhaseTrainer

    return issubclass(spec.trainer_class, PhaseTrainer) and hasattr(spec.model_class, "new_parameter_names")


def phase_arguments_class(spec: PhaseSpec) -> type:
    """A dataclass of `PhaseArguments`' fields prefixed `<phase>_`, in its own `--help` group (HfArgumentParser's
    `_argument_group_name`); its `phase_arguments()` returns the unprefixed `PhaseArguments`."""
    def default(f) -> str:
        if f.name in spec.defaults:  # as typed, so that the default given as a flag is the same value
            return str(spec.defaults[f.name])
        if not f.metadata.get("training", True):
            if f.name == "model_selection":
                return "best" if spec.selection_metric else "last"
            return "the phase's learning rate" if f.name == "new_parameters_learning_rate" else "off"
        return f"--{PhaseArguments.TRAINING_FIELDS.get(f.name, f.name)}"

    fields = [(f"{spec.name}_{f.name}", f.type,
               field(default=None, metadata={"help": f"{f.metadata['help']} Default: {default(f)}."}))
              for f in dataclasses.fields(PhaseArguments)
              if f.name not in NEW_PARAMETER_OPTIONS or takes_new_parameter_options(spec)]

    def phase_arguments(self) -> PhaseArguments:
        return PhaseArguments(**{f.name: getattr(self, f"{spec.name}_{f.name}", None)
                                 for f in dataclasses.fields(PhaseArguments)})

    return dataclasses.make_dataclass(
        f"{spec.name.title()}PhaseArguments", fields,
        namespace={"_argument_group_name": f"{spec.card.title} phase (--variant chains with '{spec.name}')",
                   "phase_name": spec.name, "phase_arguments": phase_arguments},
    )


@dataclass
class RecipeArguments:
    """The recipe's settings (the `--help` group "3-Phase recipe"); `ThreePhaseArguments` holds them with the LoRA
    ones."""

    _argument_group_name = "3-Phase recipe (TrainingArguments' epochs, learning rate and batch size are every phase's)"

    variant: str = field(default="3phase", metadata={"help": "The chain of phases to run (the choices are listed when "
                                                             "--help is built)."})
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per text; longer texts are truncated."})
    noise_ratio: float = field(default=0.6, metadata={"help": "DAE: share of words deleted from the input, in [0, 1)."})
    imbalance_max_ratio: float | None = field(
        default=None, metadata={"help": "CL/Joint: imbalance correction max_ratio, the most times a rare class is "
                                        "used. Default: 4; extra_imb: 20; no_imb: off."}
    )
    imbalance_min_ratio: float = field(
        default=1.5, metadata={"help": "CL/Joint: a class is up-sampled only when its multiplier reaches this."})
    stopwords_file: str | None = field(
        default=None, metadata={"help": "CL/Joint: one stop word a line, deleted from the up-sampled copies. Default: "
                                        "nltk's English list."}
    )
    contrastive_pairs: Literal["in_batch", "sampled"] = field(
        default="in_batch", metadata={"help": "CL/Joint: 'in_batch': every pair of texts within a batch (class-aware "
                                              "batches, each text embedded once per epoch); 'sampled': the authors' "
                                              "pairs, --pairs_per_example of them per text, two texts embedded per "
                                              "pair."})
    pairs_per_example: str = field(
        default="auto", metadata={"help": "CL/Joint with --contrastive_pairs sampled: pairs per example and epoch, or "
                                          "'auto': the authors' budget, 5 x floor(log2 classes) (10 on 5 classes)."})
    positive_pair_fraction: str = field(
        default="auto", metadata={"help": "CL/Joint: share of the loss on pairs with equal labels (of the pairs "
                                          "drawn, when sampled), in (0, 1), or 'auto': 1/classes, their share among "
                                          "random pairs of even classes (0.5, the authors' 1:1, on two classes; 0.2 "
                                          "on five)."})
    joint_cl_weight: float = field(default=1.0, metadata={"help": "Joint: lambda in L_DAE + lambda * L_CL."})
    freeze_encoder: bool = field(default=False, metadata={"help": "FT: train the head only (a linear probe)."})
    lp_ft: bool = field(default=True, metadata={"help": "FT: LP-FT (Kumar et al. 2022): first fit the head on the frozen "
                                                       "encoder's embeddings (full batch, selected on validation "
                                                       "loss), then train end to end from it; false: a random head."})
    early_stopping_patience: int = field(default=3, metadata={"help": "Every phase that selects a checkpoint: "
                                                                      "evaluations without improvement before it stops."})
    early_stopping_min_steps: int = field(default=0, metadata={
        "help": "Every phase that selects a checkpoint: optimizer steps before an evaluation without improvement "
                "counts against --early_stopping_patience (the best checkpoint is still kept from the first), so a "
                "phase of few-step epochs cannot stop on its first evaluations' noise; 0: from the first."})
    diagnostic_samples: int = field(
        default=500, metadata={"help": "Validation texts (a seeded subset) the phase diagnostics and the DAE/CL "
                                       "evaluations read."})
    pooling_mode: Literal["mean", "cls"] = field(
        default="mean", metadata={"help": "Sentence vector of a plain checkpoint: masked mean of the token states, or "
                                          "the first token's (a phase folder keeps its own)."})
    classifier_dropout: float = field(default=0.1, metadata={"help": "FT: dropout before each layer of the MLP head."})
    class_weighted_loss: bool = field(
        default=False, metadata={"help": "FT: weight each class's examples in the cross-entropy by n / (K * n_class) "
                                         "over train (scikit-learn's 'balanced'), for imbalanced data; the reported "
                                         "losses are then weighted too."})
    metric_name: str | None = field(
        default=None, metadata={"help": "FT: an `evaluate` metric (Hub name or local path) reported beside ours."}
    )


@dataclass
class LoraArguments:
    """LoRA adapters (peft) on the encoder (the `--help` group "LoRA")."""

    _argument_group_name = "LoRA (peft): adapters on the encoder in every phase, merged at the end of each"

    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of the encoder's weights; "
                                                            "the layers the recipe adds train fully."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (the inner size of each adapter)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha: the update is scaled by alpha / r."})
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA branch."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Module names to adapt. Default: peft's choice for the architecture "
                                        "(query/value for BERT, RoBERTa)."}
    )
    save_peft_adapter: bool = field(default=False, metadata={"help": "Also keep the unmerged adapter in "
                                                                     "<phase>/adapter."})


@dataclass
class ThreePhaseArguments(LoraArguments, RecipeArguments):
    """What the recipe adds to `TrainingArguments`, whose epochs, learning rate and batch size are every phase's
    defaults: the recipe's settings and the LoRA ones. `phase_arguments` ({phase: PhaseArguments}) holds the
    per-phase overrides (`--<phase>_*` on the command line)."""

    phase_arguments: dict[str, PhaseArguments] = field(default_factory=dict, init=False)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InputError(f"--variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.use_peft and self.freeze_encoder:
            raise InputError("--use_peft and --freeze_encoder both decide what of the encoder trains: choose one")
        preset = VARIANTS[self.variant].defaults
        if "imbalance_max_ratio" in preset and self.imbalance_max_ratio not in (None, preset["imbalance_max_ratio"]):
            raise InputError(f"--imbalance_max_ratio {self.imbalance_max_ratio} contradicts --variant {self.variant} "
                             f"({VARIANTS[self.variant].description}): give one of them")
        if self.imbalance_max_ratio is None:
            self.imbalance_max_ratio = preset.get("imbalance_max_ratio", IMBALANCE_PRESETS["default"])

    @property
    def phases(self) -> tuple[str, ...]:
        return VARIANTS[self.variant].phases

    def for_phase(self, phase: str) -> PhaseArguments:
        return self.phase_arguments.get(phase) or PhaseArguments()

    def lora_options_without_peft(self) -> list[str]:
        """The LoRA options set away from their defaults without `--use_peft`, as flags (they do nothing then)."""
        if self.use_peft:
            return []
        return [f"--{f.name}" for f in dataclasses.fields(LoraArguments)
                if f.name != "use_peft" and getattr(self, f.name) != (
                    f.default if f.default is not dataclasses.MISSING else f.default_factory())]

    def options_outside_variant(self) -> list[str]:
        """The options set for phases the variant does not run, as flags: per-phase ones (`--dae_learning_rate`) and
        recipe settings only such phases read (`--noise_ratio` without a DAE, the imbalance correction's under
        no_imb, `--pairs_per_example` under in-batch pairs)."""
        unused = [f"--{phase}_{f.name}" for phase, options in self.phase_arguments.items() if phase not in self.phases
                  for f in dataclasses.fields(options) if getattr(options, f.name) is not None]
        read = {name for phase in self.phases for name in PHASES[phase].recipe_fields}
        if self.imbalance_max_ratio is None:  # no imbalance correction (no_imb): its settings go unread
            read -= {"imbalance_min_ratio", "stopwords_file"}
        if self.contrastive_pairs == "in_batch":  # every pair of a batch: no pair budget
            read -= {"pairs_per_example"}
        defaults = {f.name: f.default for f in dataclasses.fields(RecipeArguments)}
        defaults["imbalance_max_ratio"] = VARIANTS[self.variant].defaults.get(
            "imbalance_max_ratio", IMBALANCE_PRESETS["default"])
        for name in dict.fromkeys(n for spec in PHASES.values() for n in spec.recipe_fields):
            if name not in read and name in defaults and getattr(self, name) != defaults[name]:
                unused.append(f"--{name}")
        return unused


# Without --logging_steps, each phase logs every 2 % of its steps (the Trainer reads a value below 1 as a share of the
# phase's steps): about 50 points on every loss curve, however short or long the phase.
LOGGING_SHARE = 0.02


def logs_by_default(training_args: TrainingArguments) -> bool:
    """Whether logging_steps was left at its class's default (the Trainer's 500, too sparse for a short phase; the
    command line's is `LOGGING_SHARE`, so a given `--logging_steps 500` is kept)."""
    default = type(training_args).__dataclass_fields__["logging_steps"].default
    return training_args.logging_strategy == "steps" and training_args.logging_steps == default


def phase_options(spec: PhaseSpec, args: ThreePhaseArguments, training_args: TrainingArguments) -> PhaseArguments:
    """The phase's settings: the user's per-phase flags, else the phase's defaults (where the TrainingArguments
    value is the Trainer's default)."""
    return args.for_phase(spec.name).with_defaults(spec.defaults, training_args)


def selection_policy(spec: PhaseSpec, options: PhaseArguments, training_args: TrainingArguments) -> dict:
    """Evaluation, saving and checkpoint selection of a phase. A phase with a selection metric evaluates every epoch
    and keeps its best checkpoint (the final phase on the user's --metric_for_best_model when given); otherwise, or
    with `model_selection last`, it saves where --save_strategy/--save_steps say (to resume from) and keeps its last
    weights."""
    save = "epoch" if training_args.save_strategy == "best" else training_args.save_strategy
    keep_last = dict(load_best_model_at_end=False, metric_for_best_model=None, greater_is_better=None,
                     save_strategy=save)
    if spec.selection_metric is None:
        return dict(eval_strategy="no", **keep_last)
    if options.model_selection == "last":
        return dict(eval_strategy="epoch", **keep_last)
    metric, greater = spec.selection_metric, spec.greater_is_better
    if spec.final and training_args.metric_for_best_model:
        metric, greater = training_args.metric_for_best_model, training_args.greater_is_better
    # restore_callback_states: a resumed run's early stopping goes on counting where the stopped one was
    return dict(eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True, save_total_limit=2,
                metric_for_best_model=metric, greater_is_better=greater, restore_callback_states_from_checkpoint=True)


def replaced_by_policy(training_args: TrainingArguments) -> list[str]:
    """The settings given that `selection_policy` replaces in every phase (`eval_strategy steps`, `eval_steps`), as
    given. (The command line refuses `--load_best_model_at_end`; Python callers may pass it.)"""
    replaced = []
    if training_args.eval_strategy not in ("no", "epoch"):
        replaced.append(f"eval_strategy {training_args.eval_strategy.value}")
    if training_args.eval_steps is not None and training_args.eval_strategy != "steps":  # (steps fills it itself)
        replaced.append(f"eval_steps {training_args.eval_steps:g}")
    if training_args.load_best_model_at_end:
        replaced.append("load_best_model_at_end True")
    if training_args.resume_from_checkpoint:  # a rerun resumes each unfinished phase from its own last checkpoint
        replaced.append(f"resume_from_checkpoint {training_args.resume_from_checkpoint}")
    return replaced


def training_notes(args: ThreePhaseArguments, training_args: TrainingArguments) -> list[str]:
    """One warning line per TrainingArguments setting given that changes what the phases evaluate, select or train
    beyond what its name says here: `--eval_delay` (no evaluation, so no selection, before that epoch),
    `--label_smoothing_factor` (the Trainer's smoothed cross-entropy replaces a DAE's and FT's own losses, the
    reported ones too), `--max_steps` beside per-phase epochs (it sets every phase's length)."""
    notes = []
    if training_args.eval_delay:
        notes.append(f"--eval_delay {training_args.eval_delay:g}: each phase that selects a checkpoint evaluates, and "
                     f"can keep, only those from epoch {training_args.eval_delay:g} on; a phase that ends before then "
                     "keeps its last weights")
    if training_args.label_smoothing_factor:
        notes.append(f"--label_smoothing_factor {training_args.label_smoothing_factor:g}: the Trainer's "
                     "label-smoothed cross-entropy replaces the model's own loss in every phase whose batches hold "
                     "'labels' (a DAE's reconstruction, FT's classification; not Joint's), in training and in the "
                     "validation and test losses reported")
    epochs = [f"--{phase}_num_train_epochs" for phase in args.phases if args.for_phase(phase).num_train_epochs]
    if training_args.max_steps > 0 and epochs:
        notes.append(f"{', '.join(epochs)}: --max_steps {training_args.max_steps} sets every phase's length; ignored")
    return notes


def phase_training_args(spec: PhaseSpec, args: ThreePhaseArguments, training_args: TrainingArguments,
                        output_dir: Path) -> TrainingArguments:
    """The phase's TrainingArguments: the user's, then the phase's evaluation and selection policy, then its
    settings (`phase_options`); checkpoints in `output_dir/.work/<phase>`."""
    options = phase_options(spec, args, training_args)
    policy = selection_policy(spec, options, training_args)
    if training_args.ddp_find_unused_parameters is None:
        policy["ddp_find_unused_parameters"] = False  # every phase uses all its parameters
    if logs_by_default(training_args):
        policy["logging_steps"] = LOGGING_SHARE
    if training_args.device.type == "cpu":
        policy["dataloader_pin_memory"] = False  # nothing to pin on a CPU (torch would warn at every DataLoader)
    # the per-epoch draws (noise, pairs) live in the dataset the main process tells the epoch: no worker copies
    policy["dataloader_persistent_workers"] = False
    return dataclasses.replace(
        training_args, output_dir=str(output_dir / ".work" / spec.name), remove_unused_columns=False,
        push_to_hub=False, **{**policy, **options.overrides()},
    )


def phase_argument_classes() -> list[type]:
    """One `--help` group of per-phase overrides per registered phase, in registration order."""
    return [phase_arguments_class(spec) for spec in PHASES.values()]
