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
    pairs_per_example: int = field(default=4, metadata={"help": "CL/Joint: contrastive pairs per example and epoch "
                                                                "(half positive)."})
    joint_cl_weight: float = field(default=1.0, metadata={"help": "Joint: lambda in L_DAE + lambda * L_CL."})
    freeze_encoder: bool = field(default=False, metadata={"help": "FT: train the head only (a linear probe)."})
    early_stopping_patience: int = field(default=3, metadata={"help": "FT: evaluations without improvement before it "
                                                                      "stops."})
    pooling_mode: Literal["mean", "cls"] = field(
        default="mean", metadata={"help": "Sentence vector of a plain checkpoint: masked mean of the token states, or "
                                          "the first token's (a phase folder keeps its own)."})
    classifier_dropout: float = field(default=0.1, metadata={"help": "FT: dropout before each layer of the MLP head."})
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
        if self.imbalance_max_ratio is None:
            self.imbalance_max_ratio = VARIANTS[self.variant].defaults.get(
                "imbalance_max_ratio", IMBALANCE_PRESETS["default"])

    @property
    def phases(self) -> tuple[str, ...]:
        return VARIANTS[self.variant].phases

    def for_phase(self, phase: str) -> PhaseArguments:
        return self.phase_arguments.get(phase) or PhaseArguments()


# Without --logging_steps, each phase logs every 2 % of its steps (the Trainer reads a value below 1 as a share of the
# phase's steps): about 50 points on every loss curve, however short or long the phase.
LOGGING_SHARE = 0.02


def logs_by_default(training_args: TrainingArguments) -> bool:
    """Whether --logging_steps was left at the Trainer's default (500, too sparse for a short phase)."""
    default = TrainingArguments.__dataclass_fields__["logging_steps"].default
    return training_args.logging_strategy == "steps" and training_args.logging_steps == default


def phase_training_args(spec: PhaseSpec, args: ThreePhaseArguments, training_args: TrainingArguments,
                        output_dir: Path) -> TrainingArguments:
    """The phase's TrainingArguments: the user's, then the phase's policy, then the user's per-phase overrides;
    checkpoints in `output_dir/.work/<phase>`."""
    policy = spec.training_policy(training_args)
    if training_args.ddp_find_unused_parameters is None:
        policy["ddp_find_unused_parameters"] = False  # every phase uses all its parameters
    if logs_by_default(training_args):
        policy["logging_steps"] = LOGGING_SHARE
    if training_args.device.type == "cpu":
        policy["dataloader_pin_memory"] = False  # nothing to pin on a CPU (torch would warn at every DataLoader)
    return dataclasses.replace(
        training_args, output_dir=str(output_dir / ".work" / spec.name), remove_unused_columns=False,
        push_to_hub=False, **{**policy, **args.for_phase(spec.name).overrides()},
    )


def phase_argument_classes() -> list[type]:
    """One `--help` group of per-phase overrides per registered phase, in registration order."""
    return [phase_arguments_class(spec) for spec in PHASES.values()]
