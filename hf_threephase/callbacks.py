"""Trainer callbacks of the phases."""

from transformers import EarlyStoppingCallback


class MinStepsEarlyStoppingCallback(EarlyStoppingCallback):
    """transformers' `EarlyStoppingCallback` whose patience counts only the evaluations made after `min_steps`
    optimizer steps: a phase whose epochs are a few steps (40 labelled texts at batch 16: 3 steps an epoch) cannot
    stop on the noise of its first evaluations. Evaluations before `min_steps` still set the best checkpoint (the
    Trainer's `best_metric`); only the count of evaluations without improvement waits. `min_steps=0` is
    `EarlyStoppingCallback`."""

    def __init__(self, early_stopping_patience: int = 1, early_stopping_threshold: float | None = 0.0,
                 min_steps: int = 0):
        super().__init__(early_stopping_patience, early_stopping_threshold)
        self.min_steps = min_steps

    def check_metric_value(self, args, state, control, metric_value):
        super().check_metric_value(args, state, control, metric_value)
        if state.global_step < self.min_steps:
            self.early_stopping_patience_counter = 0

    def state(self) -> dict:
        saved = super().state()
        saved["args"]["min_steps"] = self.min_steps
        return saved
