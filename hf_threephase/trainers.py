"""Trainer subclasses: evaluation that scores every text whatever the training flags (every phase's, FT's too), and
for the adaptation phases diagnostics at evaluation, a learning rate of their own for the parameters new to the
checkpoint, and the Joint loss weighting."""

import math

import torch
import torch.distributed.nn
from torch.utils.data import SequentialSampler
from transformers import Trainer
from transformers.trainer_utils import has_length

from .diagnostics import phase_diagnostics
from .losses import in_batch_cosine_loss


class CompleteEvaluationTrainer(Trainer):
    """A `Trainer` whose training flags shape the *training* batches only: evaluation and prediction score every
    validation and test text once, in the split's order. The Trainer applies `--dataloader_drop_last` to every
    DataLoader (a test split of 18 texts at eval batch 8 was scored as 16, a validation split smaller than the eval
    batch not at all: transformers issue 18021), and `--train_sampling_strategy group_by_length` shuffles evaluation
    too (`predictions.jsonl` would pair texts with other texts' predictions). The default `trainer_class` of a phase
    (`register_phase` requires it or a subclass)."""

    def _get_eval_sampler(self, eval_dataset):
        if self.args.train_sampling_strategy == "group_by_length" and self.args.world_size <= 1 and has_length(
                eval_dataset):
            return SequentialSampler(eval_dataset)
        return super()._get_eval_sampler(eval_dataset)

    def _get_dataloader(self, *args, is_training: bool = False, **kwargs):
        if is_training or not self.args.dataloader_drop_last:
            return super()._get_dataloader(*args, is_training=is_training, **kwargs)
        self.args.dataloader_drop_last = False
        try:
            return super()._get_dataloader(*args, is_training=is_training, **kwargs)
        finally:
            self.args.dataloader_drop_last = True


class PhaseTrainer(CompleteEvaluationTrainer):
    """A `Trainer` that adds to evaluation the phase diagnostics (`hf_threephase.diagnostics.phase_diagnostics`) of
    its model on `diagnostic_dataset` (tokenised validation examples with `label`; `diagnostic_pair_labels` one pair
    label each, `noise_ratio` the DAE noise), as `eval_<name>` metrics that `metric_for_best_model` can select on.
    Without an `eval_dataset`, evaluation is these diagnostics alone: one pass over the examples, no pairs to embed.

    `new_parameters_learning_rate`: the peak learning rate of the parameters the model names in
    `new_parameter_names()` (e.g. the DAE decoder's cross-attention and LM-head transform, absent from the
    checkpoint); the others keep `args.learning_rate`. Both follow the same schedule.
    `new_parameters_only_steps`: the first stretch (steps, or a share of the steps when below 1) trains only those new
    parameters: the others' learning rate is 0 until then, and their schedule goes on from there.
    `positive_pair_fraction`: the same-class pairs' share of an in-batch pair loss (`in_batch_pair_loss`).
    A train dataset with `ordered = True` is read in its own order (no shuffle).
    """

    def __init__(self, *args, diagnostic_dataset=None, diagnostic_pair_labels=None, noise_ratio: float = 0.6,
                 new_parameters_learning_rate: float | None = None, new_parameters_only_steps: float = 0,
                 positive_pair_fraction: float = 0.5, **kwargs):
        self.diagnostic_dataset = diagnostic_dataset
        self.positive_pair_fraction = positive_pair_fraction
        self.diagnostic_pair_labels = diagnostic_pair_labels
        self.noise_ratio = noise_ratio
        self.new_parameters_learning_rate = new_parameters_learning_rate
        self.new_parameters_only_steps = new_parameters_only_steps
        super().__init__(*args, **kwargs)

    def _validate_args(self):
        # Evaluation without an eval_dataset is the diagnostics (see `evaluate`): the Trainer's check must accept it.
        if self.eval_dataset is not None or self.diagnostic_dataset is None:
            return super()._validate_args()
        self.eval_dataset = self.diagnostic_dataset
        try:
            super()._validate_args()
        finally:
            self.eval_dataset = None

    def _get_train_sampler(self, train_dataset=None):
        # a dataset that orders its own examples (in-batch pairs' class-aware batches) is read in that order
        if getattr(train_dataset if train_dataset is not None else self.train_dataset, "ordered", False):
            return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)
        return super()._get_train_sampler(train_dataset)

    def in_batch_pair_loss(self, embeddings: torch.Tensor, pair_labels: torch.Tensor) -> torch.Tensor:
        """`losses.in_batch_cosine_loss` at `positive_pair_fraction` over the batch of every process: the embeddings
        are gathered with their gradients (each process computes the same loss; DDP's mean of the gradients is then
        the one-process gradient of that global batch), so 2 processes x 8 texts form the pairs and weights of
        1 x 16.

        Args:
            embeddings: float `(batch_size, dim)`, this process's texts.
            pair_labels: int64 `(batch_size, num_levels)`.
        """
        if self.args.world_size > 1:
            embeddings, pair_labels = gather_with_gradients(embeddings), gather_with_gradients(pair_labels)
        return in_batch_cosine_loss(embeddings, pair_labels, self.positive_pair_fraction)

    def diagnose(self) -> dict[str, float]:
        """The phase diagnostics of the current model (empty without a `diagnostic_dataset`)."""
        if self.diagnostic_dataset is None:
            return {}
        return phase_diagnostics(self.accelerator.unwrap_model(self.model), self.processing_class,
                                 self.diagnostic_dataset, self.diagnostic_pair_labels, self.noise_ratio,
                                 self.args.seed, self.args.per_device_eval_batch_size)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        if eval_dataset is not None or self.eval_dataset is not None:
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in self.diagnose().items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in self.diagnose().items()})
        return output

    def create_optimizer(self, model=None):
        """The Trainer's optimizer, its parameter groups split into pretrained and new ones (`new_parameters` True)
        when either setting above asks for it."""
        optimizer = super().create_optimizer(model)
        model = self.accelerator.unwrap_model(self.model if model is None else model)
        wanted = self.new_parameters_learning_rate is not None or self.new_parameters_only_steps
        split = any("new_parameters" in group for group in optimizer.param_groups)  # already (a second call)
        if not wanted or split or not hasattr(model, "new_parameter_names"):
            return optimizer
        new = {id(model.get_parameter(name)) for name in model.new_parameter_names()}
        rate = self.new_parameters_learning_rate or self.args.learning_rate
        for group in list(optimizer.param_groups):
            moved = [p for p in group["params"] if id(p) in new]
            group["new_parameters"] = False
            if moved:
                group["params"] = [p for p in group["params"] if id(p) not in new]
                settings = {k: v for k, v in group.items() if k != "params"}
                optimizer.add_param_group({**settings, "params": moved, "lr": rate, "new_parameters": True})
        return optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if not self.new_parameters_only_steps:
            return scheduler
        if not hasattr(scheduler, "lr_lambdas"):
            raise ValueError(f"new_parameters_only_steps needs a step-wise schedule, not {self.args.lr_scheduler_type}")
        share = self.new_parameters_only_steps
        frozen = math.ceil(share * num_training_steps) if share < 1 else int(share)
        for i, group in enumerate(scheduler.optimizer.param_groups):
            if not group.get("new_parameters", True):
                schedule = scheduler.lr_lambdas[i]
                scheduler.lr_lambdas[i] = lambda step, schedule=schedule: schedule(step) if step >= frozen else 0.0
                group["lr"] = group["initial_lr"] * scheduler.lr_lambdas[i](scheduler.last_epoch)
        return scheduler

    def _issue_warnings_after_load(self, load_result):
        """When the best checkpoint is loaded: a key a checkpoint leaves out because its tensor is tied to one it holds
        (the DAE decoder's, tied to the encoder's) is not missing."""
        present = {name for name, _ in self.model.named_parameters(remove_duplicate=False)} - set(
            load_result.missing_keys)
        shared = {id(p) for name, p in self.model.named_parameters(remove_duplicate=False) if name in present}
        tied = {name for name, p in self.model.named_parameters(remove_duplicate=False) if id(p) in shared}
        super()._issue_warnings_after_load(
            load_result._replace(missing_keys=[k for k in load_result.missing_keys if k not in tied]))


def gather_with_gradients(tensor: torch.Tensor) -> torch.Tensor:
    """The concatenation over processes, in rank order, of each process's `tensor` (first dimensions may differ),
    differentiable for float tensors (`torch.distributed.nn.all_gather`)."""
    sizes = [torch.zeros(1, dtype=torch.long, device=tensor.device)
             for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(sizes, torch.tensor([len(tensor)], device=tensor.device))
    sizes = [int(size) for size in sizes]
    padded = torch.cat([tensor, tensor.new_zeros((max(sizes) - len(tensor), *tensor.shape[1:]))])
    if tensor.is_floating_point():
        parts = torch.distributed.nn.all_gather(padded)
    else:
        parts = [torch.empty_like(padded) for _ in sizes]
        torch.distributed.all_gather(parts, padded)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)])


class SiameseCosineTrainer(PhaseTrainer):
    """The CL phase's Trainer: a `PhaseTrainer` over `PairCollator` batches (the model returns the pair loss
    MSE(cos(u, v), target)) or `InBatchPairCollator` batches (the pairs within the batch of every process,
    `in_batch_pair_loss`); selection on a validation diagnostic such as `eval_cosine_gap`."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if "pair_labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs = dict(inputs)
        pair_labels = inputs.pop("pair_labels")
        outputs = model(**inputs)
        loss = self.in_batch_pair_loss(outputs.sentence_embedding, pair_labels)
        return (loss, outputs) if return_outputs else loss


class JointTrainer(PhaseTrainer):
    """Trains `ThreePhaseForJointTraining` on L_DAE + cl_weight * L_CL in one optimizer step."""

    # `compute_loss` scales for gradient accumulation itself (see there).
    loss_is_scaled_for_ga = True

    def __init__(self, *args, cl_weight: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.cl_weight = cl_weight
        self.model_accepts_loss_kwargs = True  # so the Trainer counts the DAE target tokens of each optimizer step

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Scaled so that one optimizer step sees the DAE loss as one token mean over its global batch (the
        Trainer's `num_items_in_batch`) and the CL loss as the mean over its micro-batches and processes: DDP
        averages over processes, and the Trainer neither divides by the accumulation steps nor rescales. In-batch
        pairs (`pair_labels`): the CL loss is `in_batch_pair_loss`, the same on every process."""
        inputs = dict(inputs)
        pair_labels = inputs.pop("pair_labels", None)
        outputs = model(**inputs, num_items_in_batch=num_items_in_batch)
        if pair_labels is not None:  # in-batch pairs: the loss over every process's batch
            outputs.cl_loss = self.in_batch_pair_loss(outputs.sentence_embedding, pair_labels)
        if num_items_in_batch is None:  # not a training step: plain means
            loss = outputs.dae_loss + self.cl_weight * outputs.cl_loss
        else:
            counted_across = self.args.average_tokens_across_devices and self.args.world_size > 1
            processes = self.accelerator.num_processes if counted_across else 1
            loss = (processes * outputs.dae_loss
                    + self.cl_weight * outputs.cl_loss / self.current_gradient_accumulation_steps)
        return (loss, outputs) if return_outputs else loss
