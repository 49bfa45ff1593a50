"""Trainer subclasses of the adaptation phases: diagnostics at evaluation, a learning rate of their own for the
parameters new to the checkpoint, and the Joint loss weighting (FT uses `Trainer` itself)."""

from transformers import Trainer

from .diagnostics import phase_diagnostics


class PhaseTrainer(Trainer):
    """A `Trainer` that adds to evaluation the phase diagnostics (`hf_threephase.diagnostics.phase_diagnostics`) of
    its model on `diagnostic_dataset` (tokenised validation examples with `label`; `diagnostic_pair_labels` one pair
    label each, `noise_ratio` the DAE noise), as `eval_<name>` metrics that `metric_for_best_model` can select on.
    Without an `eval_dataset`, evaluation is these diagnostics alone: one pass over the examples, no pairs to embed.

    `new_parameters_learning_rate`: the peak learning rate of the parameters the model names in
    `new_parameter_names()` (e.g. the DAE decoder's cross-attention and LM-head transform, absent from the
    checkpoint); the others keep `args.learning_rate`. Both follow the same schedule.
    """

    def __init__(self, *args, diagnostic_dataset=None, diagnostic_pair_labels=None, noise_ratio: float = 0.6,
                 new_parameters_learning_rate: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.diagnostic_dataset = diagnostic_dataset
        self.diagnostic_pair_labels = diagnostic_pair_labels
        self.noise_ratio = noise_ratio
        self.new_parameters_learning_rate = new_parameters_learning_rate

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
        optimizer = super().create_optimizer(model)
        model = self.accelerator.unwrap_model(self.model if model is None else model)
        if self.new_parameters_learning_rate is None or not hasattr(model, "new_parameter_names"):
            return optimizer
        new = {id(model.get_parameter(name)) for name in model.new_parameter_names()}
        for group in list(optimizer.param_groups):
            moved = [p for p in group["params"] if id(p) in new]
            if moved:
                group["params"] = [p for p in group["params"] if id(p) not in new]
                settings = {k: v for k, v in group.items() if k != "params"}
                optimizer.add_param_group({**settings, "params": moved, "lr": self.new_parameters_learning_rate})
        return optimizer


class SiameseCosineTrainer(PhaseTrainer):
    """The CL phase's Trainer: a `PhaseTrainer` over `PairCollator` batches (the model returns the pair loss
    MSE(cos(u, v), target)); selection on a validation diagnostic such as `eval_cosine_gap`."""


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
        averages over processes, and the Trainer neither divides by the accumulation steps nor rescales."""
        outputs = model(**inputs, num_items_in_batch=num_items_in_batch)
        if num_items_in_batch is None:  # not a training step: plain means
            loss = outputs.dae_loss + self.cl_weight * outputs.cl_loss
        else:
            counted_across = self.args.average_tokens_across_devices and self.args.world_size > 1
            processes = self.accelerator.num_processes if counted_across else 1
            loss = (processes * outputs.dae_loss
                    + self.cl_weight * outputs.cl_loss / self.current_gradient_accumulation_steps)
        return (loss, outputs) if return_outputs else loss
