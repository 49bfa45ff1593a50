import numpy as np
import pytest
import torch
from conftest import TOPICS, corpus
from datasets import Dataset
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertModel,
    DataCollatorWithPadding,
    EvalPrediction,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from hf_threephase import (
    ContrastivePairs,
    DAEForSeqReconstruction,
    DenoisingCollator,
    DenoisingDataset,
    InBatchPairCollator,
    InBatchPairDataset,
    JointCollator,
    JointDataset,
    JointTrainer,
    PairCollator,
    PairDataset,
    SiameseCosineTrainer,
    ThreePhaseForJointTraining,
    ThreePhaseModel,
)
from hf_threephase.collators import SetEpochCallback, tokenize_function
from hf_threephase.metrics import compute_metrics, with_metric

LABELS = sorted(TOPICS)


@pytest.fixture
def examples(bert_dir):
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    rows = corpus()
    data = Dataset.from_dict({"text": [t for t, _ in rows], "label": [LABELS.index(l) for _, l in rows]})
    return tokenizer, data.map(tokenize_function(tokenizer, 32), batched=True)


def training_args(tmp_path, **kwargs):
    defaults = dict(output_dir=str(tmp_path), per_device_train_batch_size=8, learning_rate=1e-3, logging_steps=1,
                    report_to="none", remove_unused_columns=False, save_strategy="no", disable_tqdm=True, seed=0)
    return TrainingArguments(**{**defaults, **kwargs})


def losses(trainer):
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_denoising_noise_deletes_whole_words_fresh_each_epoch(examples):
    tokenizer, data = examples
    noised = DenoisingDataset(data, noise_ratio=0.6, seed=0)
    first = [noised[i] for i in range(8)]
    assert first == [DenoisingDataset(data, 0.6, seed=0)[i] for i in range(8)]  # any process, any resume
    noised.set_epoch(1)
    second = [noised[i] for i in range(8)]
    assert [f["clean"] for f in first] == [s["clean"] for s in second] == data[:8]["input_ids"]
    assert [f["noised"] for f in first] != [s["noised"] for s in second]  # a fresh draw every epoch
    for feature, example in zip(first, (data[i] for i in range(8))):
        kept = feature["noised"]
        assert kept[0] == tokenizer.cls_token_id and kept[-1] == tokenizer.sep_token_id
        assert 3 <= len(kept) < len(example["input_ids"])
        words = {}
        for token, word in zip(example["input_ids"], example["word_ids"]):
            words.setdefault(word, []).append(token)
        # whole words go: the kept ids are a concatenation of complete words
        pieces = [words[w] for w in sorted(words) if w >= 0]
        assert any(kept[1:-1] == sum(c, []) for c in _subsequences(pieces))
    batch = DenoisingCollator(tokenizer)(first)
    width = max(len(f["clean"]) for f in first)
    assert batch["input_ids"].shape[0] == 8 and batch["decoder_input_ids"].shape == batch["labels"].shape == (8, width - 1)
    # teacher forcing: the decoder reads each clean sentence but its last token and predicts all but its first
    assert (batch["labels"] != -100).sum().item() == sum(len(f["clean"]) - 1 for f in first)
    assert batch["decoder_attention_mask"].sum().item() == sum(min(len(f["clean"]), width - 1) for f in first)
    assert batch["decoder_input_ids"][0, : len(first[0]["clean"]) - 1].tolist() == first[0]["clean"][:-1]
    assert batch["labels"][0, : len(first[0]["clean"]) - 1].tolist() == first[0]["clean"][1:]


def _subsequences(items):
    for mask in range(1, 2 ** len(items)):
        yield [items[i] for i in range(len(items)) if mask >> i & 1]


def test_dae_trainer_lowers_the_loss_and_moves_the_noise_each_epoch(tmp_path, examples, bert_dir):
    tokenizer, data = examples
    model = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir)
    train = DenoisingDataset(data, 0.6, 0)
    epochs = []

    class Spy(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            epochs.append(train.epoch)

    trainer = Trainer(model=model, args=training_args(tmp_path, num_train_epochs=8), train_dataset=train,
                      data_collator=DenoisingCollator(tokenizer), processing_class=tokenizer,
                      callbacks=[SetEpochCallback(train), Spy()])
    trainer.train()
    history = losses(trainer)
    assert epochs == list(range(8))
    assert np.mean(history[-5:]) < np.mean(history[:5]) - 0.5


@pytest.mark.parametrize("phase", ["dae", "joint"])
def test_gradient_accumulation_gives_the_step_of_one_big_batch(tmp_path, examples, bert_dir, phase):
    # One token mean of the DAE loss over the optimizer step, however it is split: 2 x 4 sentences = 8 at once (plain
    # SGD, no dropout, so the update is lr times the very gradient). A mean per micro-batch would weigh tokens unequally.
    tokenizer, data = examples
    config = BertConfig.from_pretrained(bert_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel.from_pretrained(bert_dir, config=config).save_pretrained(tmp_path / "no-dropout")
    if phase == "dae":
        model_class, trainer_class, collator = DAEForSeqReconstruction, Trainer, DenoisingCollator(tokenizer)
        train = DenoisingDataset(data, 0.6, 0)
    else:
        model_class, trainer_class, collator = ThreePhaseForJointTraining, JointTrainer, JointCollator(tokenizer)
        train = JointDataset(PairDataset(data, ContrastivePairs(data["label"], pairs_per_example=2, seed=0)), 0.6, 0)
    weights = []
    for batch, steps in ((8, 1), (4, 2)):
        torch.manual_seed(0)  # the same fresh cross-attention
        model = model_class.from_encoder_pretrained(tmp_path / "no-dropout")
        args = training_args(tmp_path / str(batch), per_device_train_batch_size=batch,
                             gradient_accumulation_steps=steps, max_steps=1, optim="sgd", learning_rate=1.0)
        trainer_class(model=model, args=args, train_dataset=train, data_collator=collator,
                      processing_class=tokenizer).train()
        weights.append(model.state_dict())
    torch.manual_seed(0)
    start = model_class.from_encoder_pretrained(tmp_path / "no-dropout").state_dict()
    assert not torch.equal(weights[0]["encoder.embeddings.word_embeddings.weight"],
                           start["encoder.embeddings.word_embeddings.weight"])
    for name, value in weights[0].items():
        torch.testing.assert_close(weights[1][name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_siamese_trainer_lowers_the_loss_and_reports_centroid_accuracy(tmp_path, examples, bert_dir):
    tokenizer, data = examples
    model = ThreePhaseModel.from_encoder_pretrained(bert_dir)
    pairs = PairDataset(data, ContrastivePairs(data["label"], pairs_per_example=4, seed=0))
    args = training_args(tmp_path, max_steps=40, label_names=["pair_targets"], prediction_loss_only=True)
    trainer = SiameseCosineTrainer(model=model, args=args, train_dataset=pairs,
                                   eval_dataset=pairs, data_collator=PairCollator(tokenizer),
                                   processing_class=tokenizer, diagnostic_dataset=data,
                                   diagnostic_pair_labels=list(data["label"]))
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert after["eval_loss"] < before["eval_loss"]
    assert np.mean(losses(trainer)[-5:]) < np.mean(losses(trainer)[:5])
    assert after["eval_centroid_accuracy"] >= before["eval_centroid_accuracy"] and after["eval_centroid_accuracy"] > 0.9
    assert after["eval_cosine_gap"] > before["eval_cosine_gap"] + 0.2  # same-class pairs closer than other-class
    assert after["eval_pair_loss"] < after["eval_constant_pair_loss"]


def test_in_batch_pairs_separate_the_classes_in_class_aware_batches(tmp_path, examples, bert_dir):
    tokenizer, data = examples
    model = ThreePhaseModel.from_encoder_pretrained(bert_dir)
    train = InBatchPairDataset(data, list(data["label"]), seed=0)
    collator = InBatchPairCollator(tokenizer)
    batches = []
    trainer = SiameseCosineTrainer(model=model, args=training_args(tmp_path, max_steps=30), train_dataset=train,
                                   data_collator=lambda features: batches.append(collator(features)) or batches[-1],
                                   processing_class=tokenizer, diagnostic_dataset=data,
                                   diagnostic_pair_labels=list(data["label"]), positive_pair_fraction=0.3,
                                   callbacks=[SetEpochCallback(train)])
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    # the Trainer keeps the dataset's class-aware order, so each batch of 8 texts holds same-class pairs
    first = batches[0]
    assert first["input_ids"].shape[0] == 8 and first["pair_labels"].shape == (8, 1)
    epoch_0 = InBatchPairDataset(data, list(data["label"]), seed=0)
    assert first["pair_labels"].tolist() == epoch_0.codes[epoch_0.order[:8]].tolist()
    assert all(len(set(b["pair_labels"].ravel().tolist())) < len(b["pair_labels"]) for b in batches)
    assert np.mean(losses(trainer)[-5:]) < np.mean(losses(trainer)[:5])
    assert after["eval_cosine_gap"] > before["eval_cosine_gap"] + 0.2
    assert after["eval_centroid_accuracy"] > 0.9


def test_joint_loss_is_the_weighted_sum_and_goes_down(tmp_path, examples, bert_dir):
    tokenizer, data = examples
    model = ThreePhaseForJointTraining.from_encoder_pretrained(bert_dir)
    pairs = JointDataset(PairDataset(data, ContrastivePairs(data["label"], pairs_per_example=4, seed=0)), 0.6, 0)
    collator = JointCollator(tokenizer)
    trainer = JointTrainer(model=model, args=training_args(tmp_path, max_steps=40), train_dataset=pairs,
                           data_collator=collator, processing_class=tokenizer, cl_weight=0.5)
    batch = collator([pairs[i] for i in range(8)])
    model.eval()
    with torch.no_grad():
        loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
        dae_alone = DAEForSeqReconstruction.forward(
            model, batch["input_ids"], batch["attention_mask"], decoder_input_ids=batch["decoder_input_ids"],
            decoder_attention_mask=batch["decoder_attention_mask"], labels=batch["labels"]).loss
    torch.testing.assert_close(outputs.dae_loss, dae_alone)
    torch.testing.assert_close(loss, outputs.dae_loss + 0.5 * outputs.cl_loss)
    trainer.train()
    assert np.mean(losses(trainer)[-5:]) < np.mean(losses(trainer)[:5])


def test_selection_score_ranks_by_accuracy_then_validation_loss():
    labels = np.array([0, 1, 0, 1])
    confident = np.array([[4.0, 0], [0, 4.0], [4.0, 0], [0.2, 0]])  # 3/4 right, confident where right
    hesitant = np.array([[0.2, 0], [0, 0.2], [0.2, 0], [0.2, 0]])  # the same predictions, higher loss
    better = np.array([[0.1, 0], [0, 0.1], [0.1, 0], [0, 0.1]])  # 4/4 right, highest loss of the three
    scores = {name: compute_metrics(EvalPrediction(predictions=logits, label_ids=labels))
              for name, logits in [("confident", confident), ("hesitant", hesitant), ("better", better)]}
    assert scores["confident"]["accuracy"] == scores["hesitant"]["accuracy"] == 0.75
    assert scores["confident"]["selection_score"] > scores["hesitant"]["selection_score"]
    assert scores["better"]["selection_score"] > scores["confident"]["selection_score"]
    assert set(scores["better"]) == {"accuracy", "precision", "recall", "f1", "selection_score"}


def test_a_metric_module_reporting_a_key_of_ours_keeps_the_macro_score():
    class BinaryF1:  # what evaluate.load("f1") reports: the positive class's F1
        name = "f1"

        def compute(self, predictions, references):
            return {"f1": 0.0, "support": len(references)}

    labels = np.array([0, 0, 1, 1])
    logits = np.array([[1.0, 0], [1.0, 0], [1.0, 0], [0, 1.0]])
    scores = with_metric(BinaryF1())(EvalPrediction(predictions=logits, label_ids=labels))
    assert scores["f1"] == pytest.approx(compute_metrics(EvalPrediction(predictions=logits, label_ids=labels))["f1"])
    assert scores["f1_f1"] == 0.0 and scores["support"] == 4


def test_the_lp_stage_fits_the_head_on_frozen_features_and_leaves_the_random_state(examples, bert_dir):
    from hf_threephase import ThreePhaseForSequenceClassification
    from hf_threephase.probe import fit_head

    tokenizer, data = examples
    model = ThreePhaseForSequenceClassification.from_encoder_pretrained(bert_dir, num_labels=len(LABELS))
    encoder = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    train, validation = data.select(range(0, len(data), 2)), data.select(range(1, len(data), 2))
    state = torch.random.get_rng_state()
    facts = fit_head(model, tokenizer, train, validation)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert facts["validation_loss_after"] < facts["validation_loss_before"] - 0.3
    assert 0 < facts["steps"] <= facts["steps_run"] <= 1000 and facts["embedded_texts"] == len(data)
    assert facts["validation_accuracy_after"] > 1 / len(LABELS) + 0.2
    assert all(torch.equal(v, encoder[k]) for k, v in model.encoder.state_dict().items())
    assert not torch.equal(model.classifier.out_proj.weight, head["out_proj.weight"])
    model.eval()  # the head kept is the one of the step reported: its validation loss is the one stated
    with torch.no_grad():
        batch = DataCollatorWithPadding(tokenizer)(validation.select_columns(["input_ids", "label"]).to_list())
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert abs(loss.item() - facts["validation_loss_after"]) < 1e-4
