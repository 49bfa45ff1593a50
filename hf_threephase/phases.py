"""The phase list of each variant, and running it: each phase starts from the previous phase's folder.

`output_dir/<phase>/` appears only when a phase is complete (written to a temporary folder, then renamed), so a rerun
skips finished phases and resumes an unfinished one from its last Trainer checkpoint in `output_dir/.work/<phase>/`.
"""

import dataclasses
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from accelerate import PartialState
from datasets import Dataset, DatasetDict, concatenate_datasets
from transformers import (
    AutoConfig,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from .adapters import add_lora, merge_lora
from .cards import render_card
from .collators import (
    DenoisingCollator,
    DenoisingDataset,
    JointCollator,
    JointDataset,
    PairCollator,
    PairDataset,
    SetEpochCallback,
    tokenize_function,
)
from .imbalance import IMBALANCE_PRESETS, upsample
from .hub import push_phases
from .metrics import classification_metrics, confusion, nearest_centroid_accuracy, with_metric
from .modeling_threephase import (
    DAEForSeqReconstruction,
    ThreePhaseForJointTraining,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
)
from .noise import delete_stopwords, load_stopwords
from .pairs import ContrastivePairs
from .plots import plot_confusion, plot_embeddings, plot_losses
from .trainers import JointTrainer, SiameseCosineTrainer, embed_dataset
from .validation import InputError

logger = logging.getLogger("hf_threephase")

VARIANTS = {
    "3phase": ("dae", "cl", "ft"),
    "joint": ("joint", "ft"),
    "ft": ("ft",),
    "dae_ft": ("dae", "ft"),
    "cl_ft": ("cl", "ft"),
    "no_imb": ("dae", "cl", "ft"),
    "extra_imb": ("dae", "cl", "ft"),
}
IMBALANCE_BY_VARIANT = {"no_imb": None, "extra_imb": IMBALANCE_PRESETS["extra"]}
PHASE_MODELS = {
    "dae": DAEForSeqReconstruction,
    "cl": ThreePhaseModel,
    "joint": ThreePhaseForJointTraining,
    "ft": ThreePhaseForSequenceClassification,
}


@dataclass
class ThreePhaseArguments:
    """What the recipe adds to `TrainingArguments`, whose epochs, learning rate and batch size are every phase's
    defaults; a per-phase value here overrides them."""

    variant: str = field(default="3phase", metadata={"help": "One of: " + ", ".join(VARIANTS)})
    dae_num_train_epochs: float | None = None
    cl_num_train_epochs: float | None = None
    joint_num_train_epochs: float | None = None
    ft_num_train_epochs: float | None = None
    dae_learning_rate: float | None = None
    cl_learning_rate: float | None = None
    joint_learning_rate: float | None = None
    ft_learning_rate: float | None = None
    dae_batch_size: int | None = None
    cl_batch_size: int | None = None
    joint_batch_size: int | None = None
    ft_batch_size: int | None = None
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

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InputError(f"--variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.use_peft and self.freeze_encoder:
            raise InputError("--use_peft and --freeze_encoder both decide what of the encoder trains: choose one")
        if self.imbalance_max_ratio is None and self.variant != "no_imb":
            self.imbalance_max_ratio = IMBALANCE_BY_VARIANT.get(self.variant, IMBALANCE_PRESETS["default"])

    @property
    def phases(self) -> tuple[str, ...]:
        return VARIANTS[self.variant]

    def phase_training_args(self, phase: str, training_args: TrainingArguments, output_dir: Path) -> TrainingArguments:
        overrides = {
            "num_train_epochs": getattr(self, f"{phase}_num_train_epochs"),
            "learning_rate": getattr(self, f"{phase}_learning_rate"),
            "per_device_train_batch_size": getattr(self, f"{phase}_batch_size"),
        }
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if training_args.ddp_find_unused_parameters is None:
            overrides["ddp_find_unused_parameters"] = False  # every phase uses all its parameters
        # Only FT selects a checkpoint (saved every epoch): on the user's --metric_for_best_model, else on
        # `selection_score`. The other phases save where the user's --save_strategy/--save_steps say, to resume from.
        save = "epoch" if training_args.save_strategy == "best" else training_args.save_strategy
        no_selection = dict(load_best_model_at_end=False, metric_for_best_model=None, greater_is_better=None,
                            save_strategy=save)
        chosen = training_args.metric_for_best_model
        per_phase = {
            "dae": dict(eval_strategy="no", **no_selection),
            "joint": dict(eval_strategy="no", **no_selection),
            "cl": dict(eval_strategy="epoch", **no_selection),
            "ft": dict(
                eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True, save_total_limit=2,
                metric_for_best_model=chosen or "selection_score",
                greater_is_better=training_args.greater_is_better if chosen else True,
            ),
        }[phase]
        return dataclasses.replace(
            training_args, output_dir=str(output_dir / ".work" / phase), remove_unused_columns=False,
            push_to_hub=False,
            **per_phase, **overrides,
        )


def load_phase_model(cls, source: str | Path, pooling_mode: str = "mean", **config_kwargs):
    """`cls.from_pretrained` on a 3-Phase folder (which keeps its own pooling); on a plain checkpoint (BERT,
    RoBERTa, ...), build it around it with `pooling_mode`."""
    if AutoConfig.from_pretrained(source).model_type == "threephase":
        return cls.from_pretrained(source, use_safetensors=True, **config_kwargs)
    return cls.from_encoder_pretrained(source, pooling_mode=pooling_mode, **config_kwargs)


class PhaseRunner:
    """Runs a variant's phases over a `DatasetDict` with `train`, `validation`, `test` splits holding `text`, `label`
    (int class ids) and optionally `label_path` (a list of levels, for hierarchical labels). `data_source` names the
    data in the model cards; `callbacks` go to every phase's Trainer."""

    def __init__(self, model_name_or_path: str, data: DatasetDict, label_names: list[str],
                 args: ThreePhaseArguments, training_args: TrainingArguments, data_source: str = "",
                 callbacks: list | None = None):
        self.model_name_or_path = str(model_name_or_path)
        self.data = data
        self.label_names = label_names
        self.args = args
        self.training_args = training_args
        self.data_source = data_source
        self.callbacks = callbacks or []
        self.output_dir = Path(training_args.output_dir)
        start = AutoConfig.from_pretrained(model_name_or_path)
        self.base_model = start.base_model if start.model_type == "threephase" else self.model_name_or_path
        self.tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        self.tokenize = tokenize_function(self.tokenizer, args.max_seq_length)
        self.tokenized = data.map(self.tokenize, batched=True, desc="Tokenizing")

    def run(self) -> dict:
        self.draw_base_embeddings()
        source, done = self.model_name_or_path, []
        for phase in self.args.phases:
            final = self.output_dir / phase
            PartialState().wait_for_everyone()  # every process sees the same finished phases
            if (final / "config.json").exists():
                self.check_finished(final, [*done, phase])
                self.rewrite_card(phase, final)
            else:
                self.run_phase(phase, source, done)
            source = final
            done.append(phase)
        results = json.loads((self.output_dir / "ft" / "phase_metrics.json").read_text())
        results = {"variant": self.args.variant, "phases": list(self.args.phases),
                   "world_size": self.training_args.world_size, **results}
        if self.training_args.should_save:
            tmp = self.output_dir / ".results.json.tmp"
            tmp.write_text(json.dumps(results, indent=2))
            os.replace(tmp, self.output_dir / "results.json")
            if self.training_args.push_to_hub:
                hub_model_id = self.training_args.hub_model_id or self.output_dir.name
                push_phases(self.output_dir, list(self.args.phases), hub_model_id, self.training_args.hub_token,
                            self.training_args.hub_private_repo)
        return results

    def check_finished(self, folder: Path, phases: list[str]):
        """A finished phase folder is reused only if this command would have written it."""
        config = AutoConfig.from_pretrained(folder)
        if config.phases != phases or config.base_model != self.base_model:
            raise InputError(
                f"{folder} holds phases {config.phases} from {config.base_model}, but this command runs {phases} from "
                f"{self.base_model}: use another --output_dir"
            )

    def rewrite_card(self, phase: str, folder: Path):
        """A finished folder reused by this command (e.g. another variant's DAE phase) gets this run's card."""
        if self.training_args.should_save:
            metrics = json.loads((folder / "phase_metrics.json").read_text())
            args = self.args.phase_training_args(phase, self.training_args, self.output_dir)
            self.write_card(phase, folder, metrics, args)

    def draw_base_embeddings(self):
        """The validation embeddings of the untouched base encoder, to compare with each phase's map."""
        path = self.output_dir / "base_embeddings.png"
        if self.training_args.should_save and not path.exists():
            self.output_dir.mkdir(parents=True, exist_ok=True)
            model = load_phase_model(ThreePhaseModel, self.model_name_or_path, pooling_mode=self.args.pooling_mode)
            self.draw_embeddings(model, path, "base model")

    def run_phase(self, phase: str, source, done: list[str]):
        args = self.args.phase_training_args(phase, self.training_args, self.output_dir)
        set_seed(args.seed)
        config_kwargs = {"classifier_dropout": self.args.classifier_dropout}
        if phase == "ft":
            config_kwargs.update(
                num_labels=len(self.label_names), id2label=dict(enumerate(self.label_names)),
                label2id={name: i for i, name in enumerate(self.label_names)},
            )
        model = load_phase_model(PHASE_MODELS[phase], source, self.args.pooling_mode, **config_kwargs)
        model.config.phases = [*done, phase]
        if self.args.use_peft:
            a = self.args
            logger.info("%s phase, LoRA r=%d: %s", phase, a.lora_r,
                        add_lora(model, a.lora_r, a.lora_alpha, a.lora_dropout, a.lora_target_modules))
        trainer = getattr(self, f"{phase}_trainer")(model, args)
        last = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
        train_metrics = trainer.train(resume_from_checkpoint=last).metrics
        metrics = {"train": train_metrics}
        if args.eval_strategy != "no":
            metrics["validation"] = {k.removeprefix("eval_"): v for k, v in trainer.evaluate().items()}
        if phase == "ft":
            metrics["test"] = self.test_metrics(trainer)
        self.save_phase(trainer, phase, metrics)

    def save_phase(self, trainer: Trainer, phase: str, metrics: dict):
        """Write the phase folder beside its final place, then rename: a folder that exists is complete. Every
        process calls this (FSDP / DeepSpeed gather the weights); only the main one writes."""
        final, tmp = self.output_dir / phase, self.output_dir / f".{phase}.tmp"
        if trainer.args.should_save:
            shutil.rmtree(tmp, ignore_errors=True)
        if self.args.use_peft:
            keep = self.args.save_peft_adapter and trainer.args.should_save
            merge_lora(trainer.model, tmp / "adapter" if keep else None)
        trainer.save_model(str(tmp))
        if trainer.args.should_save:
            trainer.state.save_to_json(str(tmp / "trainer_state.json"))
            metrics["validation_centroid_accuracy"] = self.draw_embeddings(trainer.model, tmp / "embeddings.png", phase)
            (tmp / "phase_metrics.json").write_text(json.dumps(metrics, indent=2))
            plot_losses(trainer.state.log_history, tmp / "loss.png", f"{phase} loss")
            if "test" in metrics:
                plot_confusion(metrics["test"]["confusion_matrix"], self.label_names, tmp / "confusion_matrix.png",
                               "test confusion matrix")
            self.write_card(phase, tmp, metrics, trainer.args)
            os.replace(tmp, final)
            shutil.rmtree(trainer.args.output_dir, ignore_errors=True)
        trainer.accelerator.wait_for_everyone()

    def draw_embeddings(self, model, path: Path, title: str) -> float:
        """Map the validation embeddings; returns their nearest-centroid accuracy."""
        embeddings, labels = embed_dataset(model, self.tokenizer, self.tokenized["validation"],
                                           self.training_args.per_device_eval_batch_size)
        score = nearest_centroid_accuracy(embeddings, labels)
        plot_embeddings(embeddings, labels, self.label_names, path,
                        f"validation embeddings after {title} (centroid acc. {score:.3f})")
        return score

    def write_card(self, phase: str, folder: Path, metrics: dict, args: TrainingArguments):
        shown = {split: {k: round(v, 4) for k, v in values.items() if isinstance(v, float) and "runtime" not in k
                         and "per_second" not in k}
                 for split, values in metrics.items() if split in ("validation", "test")}
        hyperparameters = {
            **dataclasses.asdict(self.args), "phase_learning_rate": args.learning_rate,
            "phase_num_train_epochs": args.num_train_epochs, "phase_batch_size": args.per_device_train_batch_size,
            "seed": args.seed, "weight_decay": args.weight_decay, "warmup_steps": args.warmup_steps,
            "lr_scheduler_type": str(args.lr_scheduler_type), "optim": str(args.optim),
            **({"metric_for_best_model": args.metric_for_best_model} if args.metric_for_best_model else {}),
        }
        model_id = self.training_args.hub_model_id or self.output_dir.name
        sizes = {split: f"{len(ds)} examples" + (f" from {self.data_source}" if self.data_source else "")
                 for split, ds in self.data.items()}
        render_card(
            phase, model_id=model_id, base_model=self.model_name_or_path, variant=self.args.variant,
            phases=list(self.args.phases), data=sizes, label_names=self.label_names, metrics=shown,
            hyperparameters=hyperparameters,
        ).save(folder / "README.md")

    def test_metrics(self, trainer: Trainer) -> dict:
        """The test split, used once, after model selection on validation."""
        test = self.tokenized["test"].select_columns(["input_ids", "label"])
        prediction = trainer.predict(test, metric_key_prefix="test")
        predicted = prediction.predictions.argmax(axis=1)
        metrics = classification_metrics(prediction.label_ids, predicted)
        metrics["loss"] = prediction.metrics["test_loss"]
        metrics["confusion_matrix"] = confusion(prediction.label_ids, predicted, len(self.label_names))
        return metrics

    # --- one method per phase: the trainer and its data ---

    def dae_trainer(self, model, args) -> Trainer:
        train = DenoisingDataset(self.tokenized["train"], self.args.noise_ratio, args.seed)
        return Trainer(
            model=model, args=args, train_dataset=train, data_collator=DenoisingCollator(self.tokenizer),
            processing_class=self.tokenizer, callbacks=[SetEpochCallback(train), *self.callbacks],
        )

    def cl_trainer(self, model, args) -> Trainer:
        return SiameseCosineTrainer(
            model=model, args=args, train_dataset=PairDataset(*self.pairs("train", upsampled=True, seed=args.seed)),
            eval_dataset=PairDataset(*self.pairs("validation", upsampled=False, seed=args.seed)),
            data_collator=PairCollator(self.tokenizer), processing_class=self.tokenizer,
            embedding_eval_dataset=self.tokenized["validation"], callbacks=self.callbacks,
        )

    def joint_trainer(self, model, args) -> Trainer:
        train = JointDataset(*self.pairs("train", upsampled=True, seed=args.seed), self.args.noise_ratio, args.seed)
        return JointTrainer(
            model=model, args=args, train_dataset=train, data_collator=JointCollator(self.tokenizer),
            processing_class=self.tokenizer, cl_weight=self.args.joint_cl_weight,
            callbacks=[SetEpochCallback(train), *self.callbacks],
        )

    def ft_trainer(self, model, args) -> Trainer:
        if self.args.freeze_encoder:
            model.encoder.requires_grad_(False)
        columns = ["input_ids", "label"]
        return Trainer(
            model=model, args=args, train_dataset=self.tokenized["train"].select_columns(columns),
            eval_dataset=self.tokenized["validation"].select_columns(columns),
            data_collator=DataCollatorWithPadding(self.tokenizer), processing_class=self.tokenizer,
            compute_metrics=with_metric(self.extra_metric()),
            callbacks=[EarlyStoppingCallback(early_stopping_patience=self.args.early_stopping_patience),
                       *self.callbacks],
        )

    def extra_metric(self):
        if self.args.metric_name is None:
            return None
        import evaluate

        return evaluate.load(self.args.metric_name)

    def pairs(self, split: str, upsampled: bool, seed: int) -> tuple[Dataset, ContrastivePairs]:
        """Tokenised examples of a split and their pairs; for training, after the imbalance correction (noised
        copies of rare classes)."""
        examples = self.tokenized[split]
        pair_labels = self.pair_labels(self.data[split])
        if upsampled and self.args.imbalance_max_ratio is not None:
            stopwords = load_stopwords(stopwords=self._stopwords_list())
            texts, pair_labels = upsample(
                self.data[split]["text"], pair_labels, self.args.imbalance_max_ratio, self.args.imbalance_min_ratio,
                noise=lambda text: delete_stopwords(text, stopwords),
            )
            copies = texts[len(examples):]  # upsample keeps the originals first: tokenise only the added copies
            if copies:
                added = Dataset.from_dict({"text": copies}).map(self.tokenize, batched=True, desc="Tokenizing copies")
                columns = ["input_ids", "word_ids"]
                examples = concatenate_datasets([examples.select_columns(columns), added.select_columns(columns)])
        return examples, ContrastivePairs(pair_labels, self.args.pairs_per_example, seed)

    @staticmethod
    def pair_labels(split: Dataset) -> list:
        if "label_path" in split.column_names:
            return [tuple(path) for path in split["label_path"]]
        return list(split["label"])

    def _stopwords_list(self) -> list[str] | None:
        if self.args.stopwords_file is None:
            return None
        return Path(self.args.stopwords_file).read_text(encoding="utf-8").split()


def run_phases(model_name_or_path: str, data: DatasetDict, label_names: list[str], args: ThreePhaseArguments,
               training_args: TrainingArguments, data_source: str = "", callbacks: list | None = None) -> dict:
    """Run `args.variant` end to end; returns (and writes to `output_dir/results.json`) the final metrics."""
    return PhaseRunner(model_name_or_path, data, label_names, args, training_args, data_source, callbacks).run()
