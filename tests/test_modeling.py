import pytest
import torch
from conftest import dae_targets
from transformers import (
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    pipeline,
)

from hf_threephase import (
    DAEForSeqReconstruction,
    ThreePhaseConfig,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
)

TEXTS = ["will it rain in paris tomorrow", "play some jazz music please", "book a table"]


def batch(path):
    return AutoTokenizer.from_pretrained(path)(TEXTS, padding=True, return_tensors="pt")


def tied_pairs(model: DAEForSeqReconstruction):
    return [(model.get_parameter(t), model.get_parameter(s)) for t, s in model._tied_weights_keys.items()]


def test_config_defaults_and_round_trip(tmp_path, bert_dir):
    config = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir).config
    assert (config.bottleneck_size, config.projection_size, config.classifier_hidden_size) == (32, 32, 32)
    config.save_pretrained(tmp_path)
    loaded = ThreePhaseConfig.from_pretrained(tmp_path)
    assert loaded.encoder.to_dict() == config.encoder.to_dict()
    assert loaded.model_type == "threephase" and loaded.pooling_mode == "mean"
    with pytest.raises(ValueError, match="pooling_mode"):
        ThreePhaseConfig(encoder=config.encoder, pooling_mode="max")


@pytest.mark.parametrize("cls", [DAEForSeqReconstruction, ThreePhaseModel, ThreePhaseForSequenceClassification])
def test_save_load_gives_identical_outputs(tmp_path, tiny_dir, cls):
    model = cls.from_encoder_pretrained(tiny_dir, num_labels=3).eval()
    inputs = batch(tiny_dir)
    if cls is DAEForSeqReconstruction:
        inputs.update(dae_targets(inputs))
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = cls.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        before, after = model(**inputs), loaded(**inputs)
    for key in before.keys():
        torch.testing.assert_close(before[key], after[key], rtol=0, atol=0)


def test_phase_chain_reports_exactly_the_new_layers(tmp_path, tiny_dir):
    DAEForSeqReconstruction.from_encoder_pretrained(tiny_dir).save_pretrained(tmp_path / "dae")
    body, info = ThreePhaseModel.from_pretrained(tmp_path / "dae", output_loading_info=True)
    assert not info["missing_keys"]  # the projection starts as the identity by design: nothing to report
    torch.testing.assert_close(body.projection.weight, torch.eye(body.config.projection_size))
    assert not any(n.startswith("decoder") for n, _ in body.named_parameters())
    body.save_pretrained(tmp_path / "cl")
    clf, info = ThreePhaseForSequenceClassification.from_pretrained(
        tmp_path / "cl", num_labels=4, output_loading_info=True
    )
    assert sorted(info["missing_keys"]) == sorted(
        f"classifier.{n}.{p}" for n in ("dense", "out_proj") for p in ("weight", "bias")
    )
    assert not info["unexpected_keys"]
    clf_from_dae, info = ThreePhaseForSequenceClassification.from_pretrained(
        tmp_path / "dae", num_labels=4, output_loading_info=True
    )
    assert {k.split(".")[0] for k in info["missing_keys"]} == {"projection", "classifier"}
    torch.testing.assert_close(clf.encoder.embeddings.word_embeddings.weight, body.encoder.embeddings.word_embeddings.weight)


def test_decoder_ties_share_storage_through_save_and_load(tmp_path, tiny_dir):
    model = DAEForSeqReconstruction.from_encoder_pretrained(tiny_dir)
    ties = tied_pairs(model)
    assert len(ties) == len(list(model.encoder.parameters()))  # every encoder weight reaches the decoder
    assert all(t is s for t, s in ties)
    assert not any("crossattention" in t for t in model._tied_weights_keys)
    assert model.decoder.get_output_embeddings().weight is model.encoder.get_input_embeddings().weight
    model.save_pretrained(tmp_path)
    loaded = DAEForSeqReconstruction.from_pretrained(tmp_path)
    assert all(t.data_ptr() == s.data_ptr() for t, s in tied_pairs(loaded))
    assert loaded.decoder.get_output_embeddings().weight is loaded.encoder.get_input_embeddings().weight
    # resuming training keeps the ties: a step on the encoder moves the decoder too
    inputs = batch(tiny_dir)
    loaded(**inputs, **dae_targets(inputs)).loss.backward()
    torch.optim.SGD(loaded.parameters(), lr=0.1).step()
    assert all(t is s for t, s in tied_pairs(loaded))


def test_one_step_lowers_the_dae_loss(tiny_dir):
    torch.manual_seed(0)
    model = DAEForSeqReconstruction.from_encoder_pretrained(tiny_dir)
    model.config.encoder.hidden_dropout_prob = 0.0
    model.eval()  # no dropout: the same batch gives the same loss
    inputs = batch(tiny_dir)
    noised = {"input_ids": inputs["input_ids"][:, :4], "attention_mask": inputs["attention_mask"][:, :4]}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = model(**noised, **dae_targets(inputs)).loss
    first.backward()
    optimizer.step()
    second = model(**noised, **dae_targets(inputs)).loss
    assert second.item() < first.item()


def test_dae_loss_ignores_padding(bert_dir):
    model = DAEForSeqReconstruction.from_encoder_pretrained(bert_dir).eval()
    inputs = AutoTokenizer.from_pretrained(bert_dir)(TEXTS[:1], return_tensors="pt")
    padded = AutoTokenizer.from_pretrained(bert_dir)(TEXTS[:1], padding="max_length", max_length=20, return_tensors="pt")
    with torch.no_grad():
        short = model(**inputs, **dae_targets(inputs))
        long = model(**inputs, **dae_targets(padded))
    torch.testing.assert_close(short.loss, long.loss)
    assert long.logits.shape == (inputs["input_ids"].shape[1] - 1, model.config.encoder.vocab_size)


def test_length_bucketing_gives_the_same_losses_and_gradients(tiny_dir):
    """Short and long texts run as separate groups (two encoder and two decoder calls) with the results of one
    padded batch: embeddings, DAE loss and every gradient."""
    texts = ["book a table"] * 6 + [" ".join(["play some jazz music please"] * 10)] * 6
    inputs = AutoTokenizer.from_pretrained(tiny_dir)(texts, padding=True, truncation=True, return_tensors="pt")
    results = {}
    for bucketing in (False, True):
        torch.manual_seed(0)
        model = DAEForSeqReconstruction.from_encoder_pretrained(tiny_dir, length_bucketing=bucketing).eval()
        calls = []
        model.encoder.register_forward_hook(lambda *args: calls.append("encoder"))
        model.decoder.base_model.register_forward_hook(lambda *args: calls.append("decoder"))
        output = model(**inputs, **dae_targets(inputs))
        output.loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results[bucketing] = (output, grads, sorted(calls))
    (plain, plain_grads, plain_calls), (bucketed, bucketed_grads, bucketed_calls) = results[False], results[True]
    assert plain_calls == ["decoder", "encoder"] and bucketed_calls == ["decoder"] * 2 + ["encoder"] * 2
    torch.testing.assert_close(bucketed.sentence_embedding, plain.sentence_embedding, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(bucketed.loss, plain.loss, atol=1e-5, rtol=1e-4)
    assert bucketed_grads.keys() == plain_grads.keys()
    for name, grad in plain_grads.items():
        torch.testing.assert_close(bucketed_grads[name], grad, atol=1e-5, rtol=1e-3, msg=name)


def test_fresh_layers_keep_the_pretrained_embedding(tiny_dir):
    """Bottleneck and projection start as the identity: a new ThreePhaseModel is the mean-pooled base encoder."""
    model = ThreePhaseModel.from_encoder_pretrained(tiny_dir).eval()
    base = AutoModel.from_pretrained(tiny_dir).eval()
    inputs = batch(tiny_dir)
    with torch.no_grad():
        hidden = base(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        torch.testing.assert_close(model(**inputs).sentence_embedding, (hidden * mask).sum(1) / mask.sum(1))


def test_auto_classes_and_pipeline(tmp_path, tiny_dir):
    clf = ThreePhaseForSequenceClassification.from_encoder_pretrained(
        tiny_dir, id2label={0: "weather", 1: "music"}, label2id={"weather": 0, "music": 1}
    )
    clf.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_dir).save_pretrained(tmp_path)
    assert type(AutoModelForSequenceClassification.from_pretrained(tmp_path)) is ThreePhaseForSequenceClassification
    assert type(AutoModel.from_pretrained(tmp_path)) is ThreePhaseModel
    assert type(AutoModelForPreTraining.from_pretrained(tmp_path)) is DAEForSeqReconstruction
    predictions = pipeline("text-classification", model=str(tmp_path))(TEXTS)
    assert [p["label"] in {"weather", "music"} for p in predictions] == [True] * 3


def test_classifier_problem_types(bert_dir):
    inputs = batch(bert_dir)
    single = ThreePhaseForSequenceClassification.from_encoder_pretrained(bert_dir, num_labels=3).eval()
    out = single(**inputs, labels=torch.tensor([0, 1, 2]))
    assert out.logits.shape == (3, 3)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 2])))
    multi = ThreePhaseForSequenceClassification.from_encoder_pretrained(
        bert_dir, num_labels=2, problem_type="multi_label_classification"
    ).eval()
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = multi(**inputs, labels=targets)
    torch.testing.assert_close(out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, targets))


def test_class_weights_weight_the_cross_entropy_and_survive_save_and_load(tmp_path, bert_dir):
    inputs, labels = batch(bert_dir), torch.tensor([0, 0, 2])
    model = ThreePhaseForSequenceClassification.from_encoder_pretrained(bert_dir, num_labels=3,
                                                                       class_weights=[0.5, 1.0, 4.0]).eval()
    with torch.no_grad():  # logits apart, so that the classes' losses differ and their weights matter
        model.classifier.out_proj.bias.copy_(torch.tensor([2.0, 0.0, -2.0]))
    out = model(**inputs, labels=labels)
    expected = torch.nn.functional.cross_entropy(out.logits, labels, weight=torch.tensor([0.5, 1.0, 4.0]))
    torch.testing.assert_close(out.loss, expected)
    assert not torch.allclose(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))
    model.save_pretrained(tmp_path)
    assert ThreePhaseForSequenceClassification.from_pretrained(tmp_path).config.class_weights == [0.5, 1.0, 4.0]


def test_real_minilm_dae_round_trip(tmp_path, minilm_dir):
    dae = DAEForSeqReconstruction.from_encoder_pretrained(minilm_dir)
    dae.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(tmp_path)
    body = AutoModel.from_pretrained(tmp_path).eval()
    clf = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=2).eval()
    original = AutoModel.from_pretrained(minilm_dir).eval()
    inputs = AutoTokenizer.from_pretrained(minilm_dir)(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = original(**inputs).last_hidden_state
        torch.testing.assert_close(body.encoder(**inputs).last_hidden_state, expected)
        torch.testing.assert_close(clf.encoder(**inputs).last_hidden_state, expected)
        torch.testing.assert_close(body(**inputs).last_hidden_state, expected)
    assert type(body) is ThreePhaseModel and type(clf) is ThreePhaseForSequenceClassification
    # the decoder's self-attention and feed-forward weights are the encoder's, from the same checkpoint
    assert dae.decoder.base_model.encoder.layer[5].output.dense.weight is dae.encoder.encoder.layer[5].output.dense.weight


def test_opt_in_remote_code_loads_without_the_package(tmp_path, bert_dir):
    """After `register_for_auto_class()`, the saved folder carries our code and loads with trust_remote_code alone
    (run in subprocesses: registering changes class attributes for the whole process)."""
    import subprocess
    import sys

    save = ("import hf_threephase; hf_threephase.register_for_auto_class(); "
            "hf_threephase.ThreePhaseForSequenceClassification.from_encoder_pretrained("
            f"{str(bert_dir)!r}, num_labels=3).save_pretrained({str(tmp_path)!r})")
    subprocess.run([sys.executable, "-c", save], check=True, capture_output=True)
    assert {"modeling_threephase.py", "configuration_threephase.py"} <= {p.name for p in tmp_path.iterdir()}
    load = ("import sys; from transformers import AutoModelForSequenceClassification as A; "
            f"m = A.from_pretrained({str(tmp_path)!r}, trust_remote_code=True); "
            "print(type(m).__name__, type(m).__module__.startswith('transformers_modules'), 'hf_threephase' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", load], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["ThreePhaseForSequenceClassification", "True", "False"]
