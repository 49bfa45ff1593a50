"""Each phase's diagnostic moves the right way, and says when it does not."""

import itertools

import numpy as np
import pytest
import torch
from conftest import corpus
from datasets import Dataset
from transformers import AutoTokenizer, TrainerCallback, TrainingArguments

from hf_threephase import ContrastivePairs, DAEForSeqReconstruction, JointDataset, PairDataset
from hf_threephase.collators import DenoisingCollator, DenoisingDataset, SetEpochCallback, tokenize_function
from hf_threephase.diagnostics import diagnostic_warnings, embedding_diagnostics, information_gap, pair_diagnostics
from hf_threephase.trainers import PhaseTrainer


def test_embedding_diagnostics_match_a_brute_force_count():
    rng = np.random.default_rng(0)
    embeddings, labels = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    same, other = [], []
    for i, j in itertools.combinations(range(30), 2):
        (same if labels[i] == labels[j] else other).append(unit[i] @ unit[j])
    out = embedding_diagnostics(embeddings, labels)
    assert out["mean_pairwise_cosine"] == pytest.approx(np.mean(same + other))
    assert out["same_class_cosine"] == pytest.approx(np.mean(same))
    assert out["cosine_gap"] == pytest.approx(np.mean(same) - np.mean(other))
    # collapse onto one direction: anisotropy 1, no gap
    collapsed = embedding_diagnostics(np.ones((30, 5)) + 1e-9 * embeddings, labels)
    assert collapsed["mean_pairwise_cosine"] == pytest.approx(1.0) and collapsed["cosine_gap"] == pytest.approx(0.0)
    assert "cosine_gap" not in embedding_diagnostics(embeddings, np.zeros(30))  # one class: no other-class pair


def test_pair_diagnostics_compare_with_the_best_constant():
    labels = [0] * 10 + [1] * 10
    separated = np.eye(2)[labels] + 0.01
    out = pair_diagnostics(separated, labels)
    assert out["constant_pair_loss"] == pytest.approx(0.25)  # 1:1 targets: predicting 0.5 costs 0.25
    assert out["pair_loss"] < 0.01
    assert pair_diagnostics(separated, [0] * 20) == {}  # one class: no pairs, no pair loss


@pytest.fixture
def memorisable(bert_dir):
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    texts = sorted({t for t, _ in corpus()})[:12]
    data = Dataset.from_dict({"text": texts, "label": [i % 3 for i in range(len(texts))]})
    return tokenizer, data.map(tokenize_function(tokenizer, 32), batched=True)


def test_information_gap_is_zero_untrained_and_rises_once_the_decoder_reads_the_vector(tmp_path, bert_dir, memorisable):
    tokenizer, data = memorisable
    torch.manual_seed(0)
    model = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir)
    before = information_gap(model, tokenizer, data, 0.3, seed=0)
    assert abs(before["information_gap"]) < 0.05  # a fresh cross-attention: the vector changes next to nothing
    train = DenoisingDataset(data, 0.3, seed=0)
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=40, learning_rate=3e-3,
                             per_device_train_batch_size=8, report_to="none", disable_tqdm=True, save_strategy="no",
                             remove_unused_columns=False, seed=0)
    PhaseTrainer(model=model, args=args, train_dataset=train, data_collator=DenoisingCollator(tokenizer),
                 processing_class=tokenizer, callbacks=[SetEpochCallback(train)],
                 new_parameters_learning_rate=3e-2).train()
    after = information_gap(model, tokenizer, data, 0.3, seed=0)
    assert after["reconstruction_loss"] < before["reconstruction_loss"] - 1
    assert after["information_gap"] > 0.2  # another sentence's vector now reconstructs worse than its own
    assert after["shuffled_reconstruction_loss"] == pytest.approx(after["reconstruction_loss"] + after["information_gap"])


def test_new_parameters_get_their_own_learning_rate(tmp_path, bert_dir, memorisable):
    tokenizer, data = memorisable
    model = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir)
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-5, report_to="none", save_strategy="no",
                             remove_unused_columns=False)
    trainer = PhaseTrainer(model=model, args=args, train_dataset=DenoisingDataset(data), processing_class=tokenizer,
                           data_collator=DenoisingCollator(tokenizer), new_parameters_learning_rate=1e-3)
    optimizer = trainer.create_optimizer()
    by_rate = {}
    for group in optimizer.param_groups:
        by_rate.setdefault(group["lr"], set()).update(id(p) for p in group["params"])
    new = {id(model.get_parameter(n)) for n in model.new_parameter_names()}
    assert by_rate[1e-3] == new and new
    assert any("crossattention" in n for n in model.new_parameter_names())
    assert not any(id(p) in new for p in model.encoder.parameters())  # the encoder (and the tied decoder) keep 1e-5
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len([p for p in model.parameters()])


def test_a_first_stretch_trains_the_new_parameters_alone(tmp_path, bert_dir, memorisable):
    tokenizer, data = memorisable
    model = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    steps = []

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            steps.append({name: p.detach().clone() for name, p in model.named_parameters()})

    args = TrainingArguments(output_dir=str(tmp_path), max_steps=4, learning_rate=1e-3, report_to="none",
                             per_device_train_batch_size=4, save_strategy="no", remove_unused_columns=False)
    PhaseTrainer(model=model, args=args, train_dataset=DenoisingDataset(data), processing_class=tokenizer,
                 data_collator=DenoisingCollator(tokenizer), new_parameters_only_steps=0.5,
                 callbacks=[Snapshot()]).train()
    new = set(model.new_parameter_names())
    word_embeddings = "encoder.embeddings.word_embeddings.weight"
    for step in steps[:2]:  # the first half: only the new parameters move
        assert torch.equal(step[word_embeddings], start[word_embeddings])
        assert all(not torch.equal(step[n], start[n]) for n in new if n.endswith("dense.weight"))
    assert not torch.equal(steps[-1][word_embeddings], steps[1][word_embeddings])  # then the encoder trains too


def test_joint_reconstructs_either_side_of_a_pair_equally_often(memorisable):
    _, data = memorisable
    labels = [0] * 8 + [1] * 4
    pairs = ContrastivePairs(labels, pairs_per_example=4, seed=0)
    joint = JointDataset(PairDataset(data, pairs), 0.6, seed=0)
    sides = []
    for epoch in range(8):
        joint.set_epoch(epoch)
        for i in range(len(joint)):
            item = joint[i]
            sides.append(item["clean"] == item["a"])
            assert item["clean"] in (item["a"], item["b"])
    assert 0.4 < np.mean(sides) < 0.6
    pool = data.select(range(8, 12))
    joint = JointDataset(PairDataset(data, pairs), 0.6, seed=0, dae_examples=pool)
    assert {tuple(joint[i]["clean"]) for i in range(len(joint))} <= {tuple(ids) for ids in pool["input_ids"]}


def test_a_phase_that_did_not_move_its_diagnostic_is_reported():
    before = {"information_gap": 0.01, "mean_pairwise_cosine": 0.2}
    inert = diagnostic_warnings("dae", before, {"information_gap": 0.02, "mean_pairwise_cosine": 0.8},
                                {"information_gap": 0.05})
    assert inert == ["the dae phase ended inert: information_gap 0.0100 -> 0.0200 (rose by 0.0100; it should rise by "
                     "at least 0.05)",
                     "the dae phase made the sentence vectors anisotropic: mean pairwise cosine 0.200 -> 0.800"]
    assert diagnostic_warnings("cl", {"cosine_gap": 0.01397}, {"cosine_gap": 0.01371}, {"cosine_gap": 0.0}) == [
        "the cl phase ended inert: cosine_gap 0.0140 -> 0.0137 (fell by 0.0003; it should not fall)"]
    assert diagnostic_warnings("dae", before, {"information_gap": 0.4, "mean_pairwise_cosine": 0.3},
                               {"information_gap": 0.05}) == []
