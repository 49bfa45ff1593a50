"""Trainer subclasses for the contrastive and joint phases (the DAE and FT phases use `Trainer` itself)."""

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, Trainer

from .metrics import nearest_centroid_accuracy


@torch.no_grad()
def embed_dataset(model, tokenizer, dataset, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Sentence embeddings (`model.embed`) and labels of tokenised examples with `input_ids` and `label`."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset.select_columns(["input_ids", "label"]), batch_size=batch_size,
                        collate_fn=DataCollatorWithPadding(tokenizer))
    embeddings, labels = [], []
    for batch in loader:
        labels.append(batch.pop("labels").numpy())
        embeddings.append(model.embed(batch["input_ids"].to(model.device),
                                      batch["attention_mask"].to(model.device)).float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(embeddings), np.concatenate(labels)


class SiameseCosineTrainer(Trainer):
    """Trains a `ThreePhaseModel` on the batches of `PairCollator` (the model returns the pair loss; give
    `label_names=["pair_targets"]` so that evaluation computes it).

    Adds to evaluation, when `embedding_eval_dataset` (tokenised examples with `label`) is given,
    `centroid_accuracy`: leave-one-out nearest-centroid accuracy of their embeddings.
    """

    def __init__(self, *args, embedding_eval_dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.embedding_eval_dataset = embedding_eval_dataset

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.embedding_eval_dataset is not None:
            embeddings, labels = self.embed(self.embedding_eval_dataset)
            output.metrics[f"{metric_key_prefix}_centroid_accuracy"] = nearest_centroid_accuracy(embeddings, labels)
        return output

    def embed(self, dataset) -> tuple[np.ndarray, np.ndarray]:
        model = self.accelerator.unwrap_model(self.model)
        return embed_dataset(model, self.processing_class, dataset, self.args.per_device_eval_batch_size)


class JointTrainer(Trainer):
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
