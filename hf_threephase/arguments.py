"""The recipe's arguments, the per-phase overrides generated from the phase registry, and the per-phase
TrainingArguments policy."""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

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

    # PhaseArguments field -> the TrainingArguments field it overrides
    TRAINING_FIELDS = {"batch_size": "per_device_train_batch_size"}

    def overrides(self) -> dict:
        """The TrainingArguments fields this phase sets, by their TrainingArguments names."""
        return {self.TRAINING_FIELDS.get(f.name, f.name): getattr(self, f.name)
                for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


def phase_arguments_class(spec: PhaseSpec) -> type:
    """A dataclass of `PhaseArguments`' fields prefixed `<phase>_`, in its own `--help` group (HfArgumentParser's
    `_argument_group_name`); its `phase_arguments()` returns the unprefixed `PhaseArguments`."""
    fields = [
        (f"{spec.name}_{f.name}", f.type,
         field(default=None, metadata={
             "help": f"{f.metadata['help']} Default: --{PhaseArguments.TRAINING_FIELDS.get(f.name, f.name)}."}))
        for f in dataclasses.fields(PhaseArguments)
    ]

    def phase_arguments(self) -> PhaseArguments:
        return PhaseArguments(**{f.name: getattr(self, f"{spec.name}_{f.name}") for f in dataclasses.fields(PhaseArguments)})

    return dataclasses.make_dataclass(
        f"{spec.name.title()}PhaseArguments", fields,
        namespace={"_argument_group_name": f"{spec.card.title} phase (--variant chains with '{spec.name}')",
                   "phase_name": spec.name, "phase_arguments": phase_arguments},
    )


@dataclass
class ThreePhaseArguments:
    """What the recipe adds to `TrainingArguments`, whose epochs, learning rate and batch size are every phase's
    defaults. `phase_arguments` ({phase: PhaseArguments}) holds the per-phase overrides (`--<phase>_*` on the
    command line)."""

    variant: str = field(default="3phase", metadata={"help": "One of the registered variants (see the README)."})
    max_seq_length: int = field(default=128, metadata={"help": "Longer texts are truncated."})
    noise_ratio: float = field(default=0.6, metadata={"help": "DAE word-deletion ratio, in [0, 1)."})
    imbalance_max_ratio: float | None = field(
        default=None, metadata={"help": "Imbalance correction max_ratio (default 4; extra_imb: 20; no_imb: off)."}
    )
    imbalance_min_ratio: float = 1.5
    stopwords_file: str | None = field(
        default=None, metadata={"help": "One stop word a line, for the noise of up-sampled copies (default: nltk)."}
    )
    pairs_per_example: int = field(default=4, metadata={"help": "Contrastive pairs per example (half positive)."})
    joint_cl_weight: float = field(default=1.0, metadata={"help": "lambda in L_DAE + lambda * L_CL (Joint)."})
    freeze_encoder: bool = field(default=False, metadata={"help": "FT trains the head only (a linear probe)."})
    early_stopping_patience: int = field(default=3, metadata={"help": "FT evaluations without improvement."})
    pooling_mode: str = "mean"
    classifier_dropout: float = 0.1
    use_peft: bool = field(default=False, metadata={"help": "LoRA adapters on the encoder in every phase, merged at "
                                                            "the end of each phase."})
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Default: peft's choice for the architecture (query/value for BERT, RoBERTa)."}
    )
    save_peft_adapter: bool = field(default=False, metadata={"help": "Also keep the unmerged adapter in <phase>/adapter."})
    metric_name: str | None = field(
        default=None, metadata={"help": "An `evaluate` metric (Hub name or local path) reported beside ours in FT."}
    )
    phase_arguments: dict[str, PhaseArguments] = field(default_factory=dict, init=False)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InputError(f"--variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.use_peft and self.freeze_encoder:
            raise InputError("--use_peft and --freeze_encoder both decide what of the encoder trains: choose one")
        if self.imbalance_max_ratio is None:
            self.imbalance_max_ratio = VARIANTS[self.variant].defaults.get(
                "imbalance_max_ratio", IMBALANCE_PRESETS["default"])

    @property
    def phases(self) -> tuple[str, ...]:
        return VARIANTS[self.variant].phases

    def for_phase(self, phase: str) -> PhaseArguments:
        return self.phase_arguments.get(phase) or PhaseArguments()


def phase_training_args(spec: PhaseSpec, args: ThreePhaseArguments, training_args: TrainingArguments,
                        output_dir: Path) -> TrainingArguments:
    """The phase's TrainingArguments: the user's, then the phase's policy, then the user's per-phase overrides;
    checkpoints in `output_dir/.work/<phase>`."""
    policy = spec.training_policy(training_args)
    if training_args.ddp_find_unused_parameters is None:
        policy["ddp_find_unused_parameters"] = False  # every phase uses all its parameters
    return dataclasses.replace(
        training_args, output_dir=str(output_dir / ".work" / spec.name), remove_unused_columns=False,
        push_to_hub=False, **{**policy, **args.for_phase(spec.name).overrides()},
    )


def phase_argument_classes() -> list[type]:
    """One `--help` group of per-phase overrides per registered phase, in registration order."""
    return [phase_arguments_class(spec) for spec in PHASES.values()]
