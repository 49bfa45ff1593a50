"""The linear-probe stage of LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", §4): the FT phase's head fitted on the frozen encoder's sentence embeddings
before the encoder trains, so that end-to-end fine-tuning starts from a head that already separates the classes
instead of a random one whose first gradients move the encoder."""

import torch

from .diagnostics import embed_dataset

PROBE_MAX_STEPS = 1000  # full-batch steps at most; on MiniLM features the validation loss bottoms out in 100-400
PROBE_PATIENCE = 50  # steps without a lower validation loss before the stage stops
PROBE_LEARNING_RATE = 1e-3
PROBE_WEIGHT_DECAY = 0.01


def fit_head(model, tokenizer, train, validation, batch_size: int = 64) -> dict:
    """Fit `model.classifier` (a `ThreePhaseForSequenceClassification`'s MLP head) on frozen sentence embeddings:
    full-batch AdamW (lr 1e-3, weight decay 0.01, its dropout on) on the train embeddings, keeping the head of the
    step with the lowest validation loss (stopping 50 steps after it, at most 1000 steps). The encoder is only read.
    The head's dropout draws from a fork of the global random state, which is then restored: every process (seeded
    alike) fits the same head, and the training after it draws as it would without this stage.

    Args:
        train / validation: tokenised examples with `input_ids` and `label` (int class ids, or float label vectors
            for the multi-label `problem_type`).
        batch_size: texts per forward pass when embedding them.

    Returns:
        `{"steps": the step kept, "steps_run": int, "validation_loss_before": float, "validation_loss_after": float,
        "validation_accuracy_after": float (single-label only), "embedded_texts": int}`; losses in nats.
    """
    head = model.classifier
    was_training = head.training
    with torch.random.fork_rng(devices=[model.device] if model.device.type != "cpu" else [],
                               device_type=model.device.type if model.device.type != "cpu" else "cuda"):
        features, labels = {}, {}  # (a DataLoader draws its base seed from the global state)
        for split, examples in (("train", train), ("validation", validation)):
            embeddings, _ = embed_dataset(model, tokenizer, examples, batch_size)
            features[split] = torch.from_numpy(embeddings).to(model.device)
            labels[split] = torch.tensor(examples["label"], device=model.device)
        optimizer = torch.optim.AdamW(head.parameters(), lr=PROBE_LEARNING_RATE, weight_decay=PROBE_WEIGHT_DECAY)

        def validation_loss() -> float:
            head.eval()
            with torch.no_grad():
                return float(model.classification_loss(head(features["validation"]), labels["validation"]))

        before = best = validation_loss()
        best_state, best_step, step = {k: v.clone() for k, v in head.state_dict().items()}, 0, 0
        for step in range(1, PROBE_MAX_STEPS + 1):
            head.train()
            optimizer.zero_grad()
            model.classification_loss(head(features["train"]), labels["train"]).backward()
            optimizer.step()
            loss = validation_loss()
            if loss < best:
                best, best_step, best_state = loss, step, {k: v.clone() for k, v in head.state_dict().items()}
            elif step - best_step >= PROBE_PATIENCE:
                break
        head.load_state_dict(best_state)
        optimizer.zero_grad(set_to_none=True)
    head.train(was_training)
    facts = {"steps": best_step, "steps_run": step, "validation_loss_before": before, "validation_loss_after": best,
             "embedded_texts": len(train) + len(validation)}
    if labels["validation"].dtype == torch.long:
        head.eval()
        with torch.no_grad():
            predicted = head(features["validation"]).argmax(-1)
        head.train(was_training)
        facts["validation_accuracy_after"] = float((predicted == labels["validation"]).float().mean())
    return facts
