"""Running a variant: each phase starts from the previous phase's folder.

`output_dir/<phase>/` appears only when a phase is complete (written to a temporary folder, then renamed), so a rerun
skips finished phases and resumes an unfinished one from its last Trainer checkpoint in `output_dir/.work/<phase>/`.
"""

import json
import logging
import os
import shutil
from pathlib import Path

from accelerate import PartialState
from datasets import DatasetDict
from transformers import AutoConfig, AutoTokenizer, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from . import phases as _builtin_phases  # noqa: F401  (registers the built-in phases and variants)
from .adapters import add_lora, merge_lora
from .arguments import ThreePhaseArguments, phase_training_args
from .collators import SetEpochCallback, tokenize_function
from .label_space import LabelSpace
from .modeling_threephase import ThreePhaseModel
from .registry import PHASES, PhaseContext, PhaseSpec, final_phase
from .reporting import draw_embeddings, draw_phase, push_run, test_metrics, write_card, write_results
from .validation import InputError

logger = logging.getLogger("hf_threephase")


def load_phase_model(cls, source: str | Path, pooling_mode: str = "mean", **config_kwargs):
    """`cls.from_pretrained` on a 3-Phase folder (which keeps its own pooling); on a plain checkpoint (BERT,
    RoBERTa, ...), build it around it with `pooling_mode`."""
    if AutoConfig.from_pretrained(source).model_type == "threephase":
        return cls.from_pretrained(source, use_safetensors=True, **config_kwargs)
    return cls.from_encoder_pretrained(source, pooling_mode=pooling_mode, **config_kwargs)


class PhaseRunner:
    """Runs a variant's phases over a `DatasetDict` with `train`, `validation`, `test` splits holding `text`, `label`
    (int class ids) and, for hierarchical labels, `label_path` (a list of levels). `data_source` names the data in the
    model cards; `callbacks` go to every phase's Trainer."""

    def __init__(self, model_name_or_path: str, data: DatasetDict, label_space: LabelSpace,
                 args: ThreePhaseArguments, training_args: TrainingArguments, data_source: str = "",
                 callbacks: list | None = None):
        self.model_name_or_path = str(model_name_or_path)
        self.args = args
        self.training_args = training_args
        self.data_source = data_source
        self.callbacks = callbacks or []
        self.output_dir = Path(training_args.output_dir)
        start = AutoConfig.from_pretrained(model_name_or_path)
        self.base_model = start.base_model if start.model_type == "threephase" else self.model_name_or_path
        tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        tokenize = tokenize_function(tokenizer, args.max_seq_length)
        self.context = PhaseContext(
            tokenizer=tokenizer, data=data, tokenized=data.map(tokenize, batched=True, desc="Tokenizing"),
            tokenize=tokenize, label_space=label_space, args=args)

    def run(self) -> dict:
        self.draw_base_embeddings()
        source, done = self.model_name_or_path, []
        for phase in self.args.phases:
            final = self.output_dir / phase
            PartialState().wait_for_everyone()  # every process sees the same finished phases
            if (final / "config.json").exists():
                self.check_finished(final, [*done, phase])
                self.rewrite_card(PHASES[phase], final)
            else:
                self.run_phase(PHASES[phase], source, done)
            source = final
            done.append(phase)
        results = json.loads((self.output_dir / final_phase(self.args.phases) / "phase_metrics.json").read_text())
        results = {"variant": self.args.variant, "phases": list(self.args.phases),
                   "world_size": self.training_args.world_size, **results}
        if self.training_args.should_save:
            write_results(self.output_dir, results)
            if self.training_args.push_to_hub:
                push_run(self.output_dir, list(self.args.phases), self.training_args)
        return results

    def check_finished(self, folder: Path, phases: list[str]):
        """A finished phase folder is reused only if this command would have written it."""
        config = AutoConfig.from_pretrained(folder)
        if config.phases != phases or config.base_model != self.base_model:
            raise InputError(
                f"{folder} holds phases {config.phases} from {config.base_model}, but this command runs {phases} from "
                f"{self.base_model}: use another --output_dir"
            )

    def rewrite_card(self, spec: PhaseSpec, folder: Path):
        """A finished folder reused by this command (e.g. another variant's DAE phase) gets this run's card."""
        if self.training_args.should_save:
            metrics = json.loads((folder / "phase_metrics.json").read_text())
            self.write_card(spec.name, folder, metrics, self.phase_args(spec))

    def draw_base_embeddings(self):
        """The validation embeddings of the untouched base encoder, to compare with each phase's map."""
        path = self.output_dir / "base_embeddings.png"
        if self.training_args.should_save and not path.exists():
            self.output_dir.mkdir(parents=True, exist_ok=True)
            model = load_phase_model(ThreePhaseModel, self.model_name_or_path, pooling_mode=self.args.pooling_mode)
            self.draw_embeddings(model, path, "base model")

    def phase_args(self, spec: PhaseSpec) -> TrainingArguments:
        return phase_training_args(spec, self.args, self.training_args, self.output_dir)

    def run_phase(self, spec: PhaseSpec, source, done: list[str]):
        args = self.phase_args(spec)
        set_seed(args.seed)
        context = self.context
        config_kwargs = {"classifier_dropout": self.args.classifier_dropout}
        if spec.config_kwargs is not None:
            config_kwargs.update(spec.config_kwargs(context))
        model = load_phase_model(spec.model_class, source, self.args.pooling_mode, **config_kwargs)
        model.config.phases = [*done, spec.name]
        if self.args.use_peft:
            a = self.args
            logger.info("%s phase, LoRA r=%d: %s", spec.name, a.lora_r,
                        add_lora(model, a.lora_r, a.lora_alpha, a.lora_dropout, a.lora_target_modules))
        if spec.prepare_model is not None:
            spec.prepare_model(context, model)
        trainer = self.build_trainer(spec, model, args)
        last = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
        metrics = {"train": trainer.train(resume_from_checkpoint=last).metrics}
        if args.eval_strategy != "no":
            metrics["validation"] = {k.removeprefix("eval_"): v for k, v in trainer.evaluate().items()}
        if spec.final:
            metrics["test"] = test_metrics(trainer, context.tokenized["test"], context.label_space)
        self.save_phase(trainer, spec.name, metrics)

    def build_trainer(self, spec: PhaseSpec, model, args: TrainingArguments) -> Trainer:
        data = spec.build_data(self.context, args)
        extras = dict(spec.trainer_kwargs(self.context, data))
        # a dataset that draws per epoch (noise, pairs) is told the epoch
        callbacks = [SetEpochCallback(data.train)] if hasattr(data.train, "set_epoch") else []
        callbacks += [*extras.pop("callbacks", []), *self.callbacks]
        return spec.trainer_class(
            model=model, args=args, train_dataset=data.train, eval_dataset=data.eval, data_collator=data.collator,
            processing_class=self.context.tokenizer, callbacks=callbacks, **extras,
        )

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
            draw_phase(tmp, phase, trainer.state.log_history, metrics, self.context.label_space)
            self.write_card(phase, tmp, metrics, trainer.args)
            os.replace(tmp, final)
            shutil.rmtree(trainer.args.output_dir, ignore_errors=True)
        trainer.accelerator.wait_for_everyone()

    def draw_embeddings(self, model, path: Path, title: str) -> float:
        return draw_embeddings(model, self.context.tokenizer, self.context.tokenized["validation"],
                               self.context.label_space, path, title, self.training_args.per_device_eval_batch_size)

    def write_card(self, phase: str, folder: Path, metrics: dict, phase_args: TrainingArguments):
        write_card(phase, folder, metrics, phase_args, recipe_args=self.args, run_args=self.training_args,
                   base_model=self.model_name_or_path, data=self.context.data, data_source=self.data_source,
                   label_space=self.context.label_space)


def run_phases(model_name_or_path: str, data: DatasetDict, label_space: LabelSpace | list[str],
               args: ThreePhaseArguments, training_args: TrainingArguments, data_source: str = "",
               callbacks: list | None = None) -> dict:
    """Run `args.variant` end to end; returns (and writes to `output_dir/results.json`) the final metrics.
    `label_space` may be a plain list of class names (single-label classification)."""
    if not isinstance(label_space, LabelSpace):
        label_space = LabelSpace(tuple(label_space))
    return PhaseRunner(model_name_or_path, data, label_space, args, training_args, data_source, callbacks).run()
