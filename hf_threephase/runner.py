"""Running a variant: each phase starts from the previous phase's folder.

`output_dir/<phase>/` appears only when a phase is complete (written to a temporary folder, then renamed), so a rerun
skips finished phases and resumes an unfinished one from its last Trainer checkpoint in `output_dir/.work/<phase>/`;
both only when they were made from the same data and settings (`phase_records`), else the run stops before training.
"""

import copy
import json
import logging
import os
import shutil
import time
from functools import cached_property
from pathlib import Path

import numpy as np

from accelerate import PartialState
from datasets import DatasetDict
from transformers import AutoConfig, AutoTokenizer, EarlyStoppingCallback, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from . import phases as _builtin_phases  # noqa: F401  (registers the built-in phases and variants)
from .adapters import add_lora, merge_lora
from .arguments import (RecipeArguments, ThreePhaseArguments, phase_options, phase_training_args,
                        replaced_by_policy, takes_new_parameter_options, training_notes)
from .callbacks import MinStepsEarlyStoppingCallback
from .collators import SetEpochCallback, tokenize_function
from .diagnostics import diagnostic_warnings, phase_diagnostics
from .cards import CardArguments, RunFacts, card_facts, model_name, phase_settings
from .export import add_remote_code, write_sentence_transformers_modules
from .hub import check_hub_access
from .files import check_writable_folder, first_line
from .label_space import LabelSpace
from .modeling_threephase import ThreePhaseModel, load_phase_folder
from .phase_records import (HASHES_FILE, changed_files, file_list, mismatch, phase_record, read_record,
                            unreadable_metrics, unreadable_weights, write_file_hashes, write_record)
from .preflight import (capped_max_seq_length, check_encoder, check_metric, check_report_to, check_selection,
                        warn_fsdp_on_cpu)
from .registry import PHASES, PhaseContext, PhaseData, PhaseSpec, final_phase, reads_text_only
from .reporting import (
    draw_embeddings,
    draw_phase,
    draw_run_embeddings,
    push_run,
    test_predictions,
    validation_embeddings,
    write_card,
    write_predictions,
    write_results,
)
from .run_info import hardware, package_versions
from .trainers import PhaseTrainer
from .validation import FinishedPhaseMismatch, InputError, check_arguments

logger = logging.getLogger("hf_threephase")
AFRESH = ("rerun with --overwrite_output_dir true to train the variant's phases again (or delete that phase folder and "
          "those after it to train only them), or choose another --output_dir")


def load_phase_model(cls, source: str | Path, pooling_mode: str = "mean", **config_kwargs):
    """`cls.from_pretrained` on a 3-Phase folder (which keeps its own pooling); on a plain checkpoint (BERT,
    RoBERTa, ...), build it around it with `pooling_mode`."""
    if AutoConfig.from_pretrained(source).model_type == "threephase":
        return load_phase_folder(cls, source, use_safetensors=True, **config_kwargs)
    return cls.from_encoder_pretrained(source, pooling_mode=pooling_mode, **config_kwargs)


def find_checkpoint(folder: str) -> tuple[str | None, list[str]]:
    """The newest checkpoint in `folder` that was written to the end (the Trainer writes `trainer_state.json` last),
    and the checkpoints that were not (a process killed, or a disk that filled, while saving them), newest first.
    (None, []) without any."""
    if not os.path.isdir(folder):
        return None, []
    checkpoints = sorted((p for p in Path(folder).glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.name.split("-")[-1].isdigit()),
                         key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    complete, incomplete = None, []
    for checkpoint in checkpoints:
        try:
            written = isinstance(json.loads((checkpoint / "trainer_state.json").read_text()), dict)
        except (OSError, ValueError):
            written = False
        if not written:
            incomplete.append(str(checkpoint))
        elif complete is None:
            complete = str(checkpoint)
    return complete, incomplete


def resume_line(phase: str, folder: str, checkpoint: str | None, incomplete: list[str]) -> str:
    """What a phase about to train does, in one line: resume from `checkpoint` (with its step), or start from step 0;
    naming the `incomplete` checkpoints removed."""
    skipped = (f"removed {', '.join(incomplete)}: not written to the end (the run stopped while saving "
               f"{'it' if len(incomplete) == 1 else 'them'})") if incomplete else ""
    if checkpoint is None:
        return (f"the {phase} phase starts from step 0: {skipped}, and no earlier checkpoint" if skipped
                else f"the {phase} phase starts from step 0 (no checkpoint to resume in {folder})")
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    step, total = state.get("global_step"), state.get("max_steps")
    line = f"resuming the {phase} phase from {checkpoint} (step {step}" + (f" of {total})" if total else ")")
    return f"{line}; {skipped}" if skipped else line


def validation_metrics(trainer: Trainer) -> dict:
    """The validation metrics of the weights a phase ends with: its logged evaluation of the kept checkpoint (the
    best one, or the last), without evaluating again; a fresh evaluation when none was logged."""
    state = trainer.state
    logs = [log for log in state.log_history if any(key.startswith("eval_") for key in log)]
    step = state.best_global_step if trainer.args.load_best_model_at_end else state.global_step
    kept = [log for log in logs if log["step"] == step]
    chosen = kept[-1] if kept else trainer.evaluate()
    return {key.removeprefix("eval_"): value for key, value in chosen.items() if key != "step"}


class PhaseRunner:
    """Runs a variant's phases over a `DatasetDict` with `train`, `validation`, `test` splits holding `text`, `label`
    (int class ids) and, for hierarchical labels, `label_path` (a list of levels). `data_source` names the data in the
    model cards: a name, or {"dataset": name, "dataset_id": its Hub id or None, <split>: source}; `callbacks` go to every phase's Trainer; `card_args`
    name the base model, language and license in the cards; `command` is recorded in results.json.
    `overwrite_output_dir` trains every phase again, removing its finished folder and checkpoints first."""

    def __init__(self, model_name_or_path: str, data: DatasetDict, label_space: LabelSpace,
                 args: ThreePhaseArguments, training_args: TrainingArguments, data_source: str | dict = "",
                 callbacks: list | None = None, card_args: CardArguments | None = None, command: str | None = None,
                 overwrite_output_dir: bool = False):
        check_arguments(args, training_args)  # also for Python callers, who skip the command line's checks
        if training_args.should_save:  # before any work, the model's config and tokenizer included
            check_writable_folder(training_args.output_dir)
        lora = args.lora_options_without_peft()
        if lora:
            logger.warning("%s: LoRA options without --use_peft; ignored", ", ".join(lora))
        unused = args.options_outside_variant()
        if unused:
            logger.warning("%s: the %s variant runs %s%s, and none of them reads these; ignored", ", ".join(unused),
                           args.variant, " -> ".join(args.phases),
                           " with --contrastive_pairs in_batch" if "--pairs_per_example" in unused and any(
                               "pairs_per_example" in PHASES[p].recipe_fields for p in args.phases) else "")
        final = PHASES[final_phase(args.phases)]
        if training_args.metric_for_best_model and phase_options(final, args, training_args).model_selection == "last":
            logger.warning("--metric_for_best_model %s: the %s phase keeps its last weights (--%s_model_selection "
                           "last); ignored", training_args.metric_for_best_model, final.name, final.name)
        replaced = replaced_by_policy(training_args)
        if replaced:
            logger.warning("%s: replaced; each phase evaluates once an epoch where it has a validation metric and keeps "
                           "its best checkpoint (or its last, with --<phase>_model_selection last)", ", ".join(replaced))
        for line in training_notes(args, training_args):
            logger.warning(line)
        if "text_only" in data and not reads_text_only(args.phases):
            logger.warning("the text_only split: the %s variant runs %s, and none of them reads text-only data; "
                           "ignored", args.variant, " -> ".join(args.phases))
            data = DatasetDict({split: ds for split, ds in data.items() if split != "text_only"})
        self.model_name_or_path = str(model_name_or_path)
        self.overwrite_output_dir = overwrite_output_dir
        self.records, self.prepared = {}, {}  # per phase: what it computes from; the data built before any training
        self.resume = {}  # per phase to train: its checkpoint (or None) and incomplete ones (find_checkpoint)
        self.card_args, self.command = card_args, command
        self.args = args
        self.training_args = training_args
        self.data_source = data_source
        self.callbacks = callbacks or []
        self.output_dir = Path(training_args.output_dir)
        start = AutoConfig.from_pretrained(model_name_or_path)
        if start.model_type == "threephase" and args.pooling_mode != start.pooling_mode:
            if args.pooling_mode != RecipeArguments.pooling_mode:  # given: said; the cards and records say the folder's
                logger.warning("--pooling_mode %s: %s is a phase folder, which keeps its own pooling (%s); ignored",
                               args.pooling_mode, model_name_or_path, start.pooling_mode)
            self.args = args = copy.copy(args)
            args.pooling_mode = start.pooling_mode
        # a name, never a local path: the Hub id or the folder's name (config.json and the cards record it)
        given = card_args.base_model_name if card_args else None
        self.base_model = given or (start.base_model if start.model_type == "threephase"
                                    else model_name(self.model_name_or_path))
        tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        self.encoder_config = start.encoder if start.model_type == "threephase" else start
        max_length = capped_max_seq_length(args.max_seq_length, tokenizer, self.encoder_config)
        if max_length != args.max_seq_length:
            self.args = args = copy.copy(args)
            args.max_seq_length = max_length
        tokenize = tokenize_function(tokenizer, args.max_seq_length)
        tokenized = data.map(tokenize, batched=True, desc="Tokenizing")
        validation = tokenized["validation"]
        if len(validation) > args.diagnostic_samples:
            validation = validation.shuffle(seed=training_args.seed).select(range(args.diagnostic_samples))
        self.context = PhaseContext(
            tokenizer=tokenizer, data=data, tokenized=tokenized, tokenize=tokenize, label_space=label_space, args=args,
            diagnostic_examples=validation, diagnostic_pair_labels=label_space.pair_labels(validation))

    def run(self) -> dict:
        self.preflight()
        self.save_base_embeddings()
        source, done, reused = self.model_name_or_path, [], []
        for phase in self.args.phases:
            final = self.output_dir / phase
            PartialState().wait_for_everyone()  # every process sees the same finished phases
            if phase not in self.prepared:
                logger.info("%s: the finished %s phase is reused (same data and settings)", final, phase)
                if file_list(final) is None:
                    logger.warning("%s: its files are taken as written, unchecked (no %s: written by an older "
                                   "hf-threephase, or removed)", final, HASHES_FILE)
                reused.append(phase)
                self.rewrite_card(PHASES[phase], final)
            else:
                self.run_phase(PHASES[phase], source, done)
            source = final
            done.append(phase)
        results = json.loads((self.output_dir / final_phase(self.args.phases) / "phase_metrics.json").read_text())
        diagnostics = {phase: json.loads((self.output_dir / phase / "phase_metrics.json").read_text())["diagnostics"]
                       for phase in self.args.phases}
        # this invocation's seconds: 0 for a reused phase (its own folder keeps what it took)
        walls = {phase: 0.0 if phase in reused else json.loads(
            (self.output_dir / phase / "phase_metrics.json").read_text()).get("wall_s") for phase in self.args.phases}
        results = {"variant": self.args.variant, "phases": list(self.args.phases),
                   "world_size": self.training_args.world_size, "label_names": list(self.context.label_space.names),
                   **results, "wall_s": walls, "reused_phases": reused, "predictions_file": "predictions.jsonl", "command": self.command,
                   "versions": package_versions(), "hardware": hardware(self.training_args.device), "diagnostics": diagnostics}
        if self.training_args.should_save:
            draw_run_embeddings(self.output_dir, list(self.args.phases), self.validation_labels,
                                self.context.label_space)
            write_results(self.output_dir, results)
            if self.training_args.push_to_hub:
                push_run(self.output_dir, list(self.args.phases), self.training_args)
        return results

    def preflight(self):
        """Everything that could stop the run later, checked before any training: each phase's model can be built on
        this encoder; `--metric_name` runs and reports `--metric_for_best_model`; the `--report_to` integrations can
        start; with `--push_to_hub`, the Hub answers and knows the
        token; a finished phase folder, or an unfinished phase's checkpoints, were made from this command's
        data and settings (else the run stops, unless `overwrite_output_dir`); the data of every phase to train can be
        built (pairs, stop words, ...): they are built here, once, as is the checkpoint each resumes from
        (`find_checkpoint`).

        Raises:
            InputError: what stops the run, in one line; `FinishedPhaseMismatch` (a subclass) for a finished phase
                folder this command would not have written.
        """
        check_encoder(self.args.phases, self.encoder_config)
        check_report_to(self.training_args.report_to)
        if self.training_args.push_to_hub:  # on every process, so that all stop alike
            check_hub_access(self.training_args.hub_token)
        warn_fsdp_on_cpu(self.training_args)
        PartialState().wait_for_everyone()
        previous, done = self.model_name_or_path, []
        for phase in self.args.phases:
            spec, args = PHASES[phase], self.phase_args(PHASES[phase])
            record = phase_record(spec, self.args, args, self.context.data, self.context.label_space, previous)
            self.records[phase], previous = record, record
            done.append(phase)
            if (self.output_dir / phase).exists() and not self.overwrite_output_dir:
                self.check_finished(self.output_dir / phase, done, record)
                previous = read_record(self.output_dir / phase)  # what the phases after it were chained to
                continue
            self.resume[phase] = (None, []) if self.overwrite_output_dir else find_checkpoint(args.output_dir)
            problem = self.resume[phase][0] and mismatch(args.output_dir, record)
            if problem:
                raise InputError(f"{args.output_dir} holds checkpoints of an unfinished {phase} phase, but {problem}: "
                                 f"{AFRESH}")
            self.prepared[phase] = self.build_data(spec, args)
            examples, batch = len(self.prepared[phase][0].train), args.per_device_train_batch_size * args.world_size
            if args.dataloader_drop_last and examples < batch:
                raise InputError(f"--dataloader_drop_last true: the {phase} phase's {examples} training examples fill "
                                 f"no batch of {batch}, so it would train no step: drop the flag, or give a smaller "
                                 f"--{phase}_batch_size")
            if getattr(self.prepared[phase][0].train, "ordered", False) and batch < 2:
                raise InputError(f"--contrastive_pairs in_batch pairs the texts of a batch, and the {phase} phase's "
                                 f"batch of {batch} text holds no pair: give --{phase}_batch_size 2 or more, or "
                                 "--contrastive_pairs sampled")
            validation, examples = self.context.data["validation"], self.context.diagnostic_examples
            where = validation.info.description or "the validation split"
            if len(examples) < len(validation):  # its evaluation reads a subset
                where = f"--diagnostic_samples {len(examples)} (a subset of {where})"
            check_selection(phase, args, examples["label"], self.context.label_space.names, where)
        final = PHASES[final_phase(self.args.phases)]
        if final.name == "ft" and "ft" in self.prepared:  # FT trains: its metric module runs, and reports the chosen
            last = phase_options(final, self.args, self.training_args).model_selection == "last"
            check_metric(self.args.metric_name, None if last else self.training_args.metric_for_best_model,
                         self.context.label_space.num_labels)
        if self.overwrite_output_dir and self.training_args.should_save:  # only once every check has passed
            self.clear_output_dir()
        PartialState().wait_for_everyone()

    def clear_output_dir(self):
        """`overwrite_output_dir`: remove this variant's phase folders, their checkpoints and the run's results."""
        removed = [p for p in self.args.phases
                   if (self.output_dir / p).exists() or (self.output_dir / ".work" / p).exists()]
        for phase in self.args.phases:
            for path in (self.output_dir / phase, self.output_dir / ".work" / phase, self.output_dir / f".{phase}.tmp"):
                shutil.rmtree(path, ignore_errors=True)
        for name in ("results.json", "base_embeddings.npy", "predictions.jsonl"):
            (self.output_dir / name).unlink(missing_ok=True)
        if removed:
            logger.info("overwrite_output_dir: removed the finished folders and checkpoints of %s in %s",
                        ", ".join(removed), self.output_dir)

    def check_finished(self, folder: Path, phases: list[str], record: dict):
        """A finished phase folder is reused only if this command would have written it: same chain of phases from
        the same base model, and the same data and settings (`record`).

        Raises:
            FinishedPhaseMismatch: the folder's config.json cannot be read or holds no 3-Phase model; it holds other
                phases, another base model, data or settings; its record (phase_inputs.json) or results
                (phase_metrics.json) are missing or damaged; or its weights cannot be read, or the top-level
                files a load reads (weights, configs, tokenizer) are not all listed or differ from those the phase
                wrote. Its `folder` is this one, which is kept.
        """
        try:
            config = AutoConfig.from_pretrained(folder)
        except (OSError, ValueError, TypeError) as err:  # no config.json, or one not JSON, or no object, no model type
            raise FinishedPhaseMismatch(f"{folder} is no finished phase folder: its config.json cannot be read "
                                        f"({first_line(err)}): {AFRESH}", folder) from None
        if getattr(config, "phases", None) is None:
            raise FinishedPhaseMismatch(f"{folder} holds no 3-Phase model (model_type {config.model_type!r}): "
                                        f"{AFRESH}", folder)
        if config.phases != phases or config.base_model != self.base_model:
            raise FinishedPhaseMismatch(
                f"{folder} holds phases {config.phases} from {config.base_model}, but this command runs {phases} from "
                f"{self.base_model}: {AFRESH}", folder)
        problem = (mismatch(folder, record) or unreadable_weights(folder) or changed_files(folder)
                   or unreadable_metrics(folder))
        if problem:
            raise FinishedPhaseMismatch(f"{folder} holds a finished {phases[-1]} phase, but {problem}: {AFRESH}", folder)

    def rewrite_card(self, spec: PhaseSpec, folder: Path):
        """A finished folder reused by this command (e.g. another variant's DAE phase) gets this run's card."""
        if self.training_args.should_save:
            metrics = json.loads((folder / "phase_metrics.json").read_text())
            self.write_card(spec, folder, metrics, self.phase_args(spec))

    @property
    def validation_labels(self) -> np.ndarray:
        return np.asarray(self.context.data["validation"]["label"])

    def save_base_embeddings(self):
        """The validation embeddings of the untouched base encoder (`base_embeddings.npy`): the reference of every
        embedding map's PCA."""
        path = self.output_dir / "base_embeddings.npy"
        first_is_new = self.args.phases[0] in self.prepared  # else reused: same base model and validation data
        if self.training_args.should_save and (first_is_new or not path.exists()):
            self.output_dir.mkdir(parents=True, exist_ok=True)
            model = load_phase_model(ThreePhaseModel, self.model_name_or_path, pooling_mode=self.args.pooling_mode)
            model.to(self.training_args.device)
            np.save(path, self.embed(model))

    def embed(self, model) -> np.ndarray:
        return validation_embeddings(model, self.context.tokenizer, self.context.tokenized["validation"],
                                     self.training_args.per_device_eval_batch_size)[0]

    def phase_args(self, spec: PhaseSpec) -> TrainingArguments:
        return phase_training_args(spec, self.args, self.training_args, self.output_dir)

    def run_phase(self, spec: PhaseSpec, source, done: list[str]):
        """Train one phase from `source` and save its folder, logging one line first: the checkpoint it resumes from
        and its step, or that it starts from step 0. Its incomplete checkpoints (the run stopped while saving them)
        are removed then, by the process that saves: the Trainer's rotation (newest by time) could keep one and
        delete a complete one, and a later save of the same step would write into it."""
        start = time.perf_counter()
        args = self.phase_args(spec)
        set_seed(args.seed)
        context = self.context
        config_kwargs = {"classifier_dropout": self.args.classifier_dropout}
        if spec.config_kwargs is not None:
            config_kwargs.update(spec.config_kwargs(context))
        model = load_phase_model(spec.model_class, source, self.args.pooling_mode, **config_kwargs)
        model.config.phases = [*done, spec.name]
        model.config.base_model = self.base_model
        model.config.encoder._name_or_path = self.base_model  # not the local path it was loaded from
        if self.args.use_peft:
            a = self.args
            logger.info("%s phase, LoRA r=%d: %s", spec.name, a.lora_r,
                        add_lora(model, a.lora_r, a.lora_alpha, a.lora_dropout, a.lora_target_modules))
        prepared = (spec.prepare_model(context, model) if spec.prepare_model is not None else None) or {}
        before = self.diagnose(model.to(args.device))
        last, incomplete = self.resume.pop(spec.name, None) or find_checkpoint(args.output_dir)
        if self.training_args.should_save:
            for checkpoint in incomplete:
                shutil.rmtree(checkpoint, ignore_errors=True)
            if last is None:  # resuming, the record there matched (preflight): kept, so no kill or full disk cuts it
                write_record(args.output_dir, self.records[spec.name])  # beside the checkpoints it may resume from
            line = resume_line(spec.name, args.output_dir, last, incomplete)
            logger.log(logging.WARNING if incomplete else logging.INFO, line)
        data, extras = self.prepared.pop(spec.name) if spec.name in self.prepared else self.build_data(spec, args)
        trainer = self.build_trainer(spec, model, args, data, extras)
        metrics = {"train": trainer.train(resume_from_checkpoint=last).metrics,
                   "train_examples": len(trainer.train_dataset), **data.facts, **prepared}
        after = self.diagnose(trainer.model)
        metrics["diagnostics"] = {"before": before, "after": after}
        for line in diagnostic_warnings(spec.name, before, after, spec.expected_rise):
            logger.warning(line)
        if args.eval_strategy != "no":
            metrics["validation"] = validation_metrics(trainer)
        predictions = None
        if spec.final:
            metrics["test"], predictions = test_predictions(trainer, context.tokenized["test"], context.label_space)
        metrics["wall_s"] = time.perf_counter() - start  # training, evaluation and test (this invocation's)
        self.save_phase(trainer, spec, metrics, predictions)

    def diagnose(self, model) -> dict[str, float]:
        """The phase diagnostics of `model` on the validation examples (see `hf_threephase.diagnostics`)."""
        context = self.context
        return phase_diagnostics(model, context.tokenizer, context.diagnostic_examples, context.diagnostic_pair_labels,
                                 self.args.noise_ratio, self.training_args.seed,
                                 self.training_args.per_device_eval_batch_size)

    def new_parameter_options(self, spec: PhaseSpec) -> dict:
        options = phase_options(spec, self.args, self.training_args)
        return {"new_parameters_learning_rate": options.new_parameters_learning_rate,
                "new_parameters_only_steps": options.new_parameters_only_steps or 0}

    def build_data(self, spec: PhaseSpec, args: TrainingArguments) -> tuple:
        """The phase's `PhaseData` and extra Trainer arguments."""
        data = spec.build_data(self.context, args)
        return data, dict(spec.trainer_kwargs(self.context, data))

    def build_trainer(self, spec: PhaseSpec, model, args: TrainingArguments, data: PhaseData, extras: dict) -> Trainer:
        context = self.context
        if issubclass(spec.trainer_class, PhaseTrainer):
            extras.update(diagnostic_dataset=context.diagnostic_examples,
                          diagnostic_pair_labels=context.diagnostic_pair_labels, noise_ratio=self.args.noise_ratio,
                          **self.new_parameter_options(spec))
        # a dataset that draws per epoch (noise, pairs) is told the epoch
        callbacks = [SetEpochCallback(data.train)] if hasattr(data.train, "set_epoch") else []
        if args.load_best_model_at_end:
            # transformers' own class without a minimum: a checkpoint written before the option resumes its counter
            min_steps = self.args.early_stopping_min_steps
            callbacks.append(MinStepsEarlyStoppingCallback(self.args.early_stopping_patience, min_steps=min_steps)
                             if min_steps else EarlyStoppingCallback(self.args.early_stopping_patience))
        callbacks += [*extras.pop("callbacks", []), *self.callbacks]
        return spec.trainer_class(
            model=model, args=args, train_dataset=data.train, eval_dataset=data.eval, data_collator=data.collator,
            processing_class=self.context.tokenizer, callbacks=callbacks, **extras,
        )

    def save_phase(self, trainer: Trainer, spec: PhaseSpec, metrics: dict, predictions: list[dict] | None = None):
        """Write the phase folder beside its final place, then rename: a folder that exists is complete. Every
        process calls this (FSDP / DeepSpeed gather the weights); only the main one writes. The folder carries the
        model code (`trust_remote_code=True` loads it without the package), sentence-transformers module files and
        its validation embeddings; the final phase's test `predictions` go to `output_dir/predictions.jsonl`."""
        phase = spec.name
        final, tmp = self.output_dir / phase, self.output_dir / f".{phase}.tmp"
        if trainer.args.should_save:
            shutil.rmtree(tmp, ignore_errors=True)
        if self.args.use_peft:
            keep = self.args.save_peft_adapter and trainer.args.should_save
            merge_lora(trainer.model, tmp / "adapter" if keep else None)
        trainer.save_model(str(tmp))
        if trainer.args.should_save:
            add_remote_code(trainer.model, tmp)
            trainer.model.config.save_pretrained(tmp)
            write_sentence_transformers_modules(trainer.model, tmp, self.args.max_seq_length)
            trainer.state.save_to_json(str(tmp / "trainer_state.json"))
            embeddings = self.embed(trainer.model)
            np.save(tmp / "embeddings.npy", embeddings)
            metrics["validation_centroid_accuracy"] = draw_embeddings(
                embeddings, self.validation_labels, self.context.label_space,
                np.load(self.output_dir / "base_embeddings.npy"), tmp / "embeddings.png", phase)
            (tmp / "phase_metrics.json").write_text(json.dumps(metrics, indent=2))
            draw_phase(tmp, phase, trainer.state.log_history, metrics, self.context.label_space)
            self.write_card(spec, tmp, metrics, trainer.args)
            if predictions is not None:
                write_predictions(self.output_dir / "predictions.jsonl", predictions)
            write_record(tmp, self.records[phase])
            write_file_hashes(tmp)
            os.replace(tmp, final)
            shutil.rmtree(trainer.args.output_dir, ignore_errors=True)
        trainer.accelerator.wait_for_everyone()

    @cached_property
    def facts(self) -> RunFacts:
        """What every card of this run says."""
        data, run_args = self.context.data, self.training_args
        sources = self.data_source if isinstance(self.data_source, dict) else {"dataset": self.data_source}
        pushed_as = run_args.hub_model_id or (self.output_dir.name if run_args.push_to_hub else None)
        return card_facts(
            self.card_args, model_name_or_path=self.model_name_or_path, base_model=self.base_model,
            variant=self.args.variant, phases=list(self.args.phases), dataset=sources.get("dataset") or "local data",
            dataset_id=sources.get("dataset_id"),
            splits=[(split, len(ds), sources.get(split) or sources.get("dataset") or "given in Python")
                    for split, ds in data.items()],
            label_names=list(self.context.label_space.names), examples=data["validation"]["text"][:2],
            hub_model_id=pushed_as,
            output_name=self.output_dir.name if self.output_dir.is_absolute() else str(self.output_dir),
            output_note=(f"this folder, from the directory that holds {self.output_dir.name}/"
                         if self.output_dir.is_absolute() else "this folder, from the directory the run started in")
            + " (its Hub id once pushed)", hardware=hardware(run_args.device),
            versions=package_versions())

    def write_card(self, spec: PhaseSpec, folder: Path, metrics: dict, phase_args: TrainingArguments):
        config = AutoConfig.from_pretrained(folder)
        settings = phase_settings(spec, self.args, phase_args, self.context.label_space.num_labels)
        if takes_new_parameter_options(spec):
            options = self.new_parameter_options(spec)
            rate = options["new_parameters_learning_rate"]
            settings["new_parameters_learning_rate"] = phase_args.learning_rate if rate is None else rate
            settings["new_parameters_only_steps"] = options["new_parameters_only_steps"]
        write_card(spec.name, folder, metrics, settings, self.facts, embedding_size=config.projection_size)


def run_phases(model_name_or_path: str, data: DatasetDict, label_space: LabelSpace | list[str],
               args: ThreePhaseArguments, training_args: TrainingArguments, data_source: str | dict = "",
               callbacks: list | None = None, card_args: CardArguments | None = None,
               command: str | None = None, overwrite_output_dir: bool = False) -> dict:
    """Run `args.variant` end to end; returns (and writes to `output_dir/results.json`) the final metrics.
    `label_space` may be a plain list of class names (single-label classification). See `PhaseRunner`."""
    if not isinstance(label_space, LabelSpace):
        label_space = LabelSpace(tuple(label_space))
    return PhaseRunner(model_name_or_path, data, label_space, args, training_args, data_source, callbacks,
                       card_args, command, overwrite_output_dir).run()
