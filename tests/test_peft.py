import json
import logging

import pytest
import torch
from conftest import corpus
from safetensors import safe_open
from transformers import AutoModel, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

from hf_threephase import ThreePhaseForSequenceClassification
from hf_threephase.adapters import add_lora, merge_lora
from hf_threephase.cli import main

TOPICS = ["food", "music", "weather"]


def test_lora_trains_adapters_and_new_layers_only_and_merges_exactly(tmp_path, bert_dir):
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    model = ThreePhaseForSequenceClassification.from_encoder_pretrained(bert_dir, num_labels=3)
    line = add_lora(model, r=4, alpha=8, dropout=0.0)
    assert line.startswith("trainable params: ") and "%" in line
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    rows = corpus()
    features = [{**tokenizer(t, truncation=True), "labels": TOPICS.index(l)} for t, l in rows]
    args = TrainingArguments(output_dir=str(tmp_path / "work"), max_steps=10, learning_rate=1e-2, report_to="none",
                             per_device_train_batch_size=16, save_strategy="no", disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=features, data_collator=DataCollatorWithPadding(tokenizer)).train()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("lora_" in n or not n.startswith("encoder.") for n in changed)
    assert {n.split(".")[0] for n in changed} == {"encoder", "bottleneck", "projection", "classifier"}

    model.eval()
    inputs = tokenizer([t for t, _ in rows[:6]], padding=True, return_tensors="pt")
    with torch.no_grad():
        adapted = model(**inputs).logits
    merge_lora(model, tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    model.save_pretrained(tmp_path / "merged")
    with safe_open(str(tmp_path / "merged" / "model.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if "lora" in k or "base_model" in k]
    loaded = ThreePhaseForSequenceClassification.from_pretrained(tmp_path / "merged").eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, adapted, rtol=1e-4, atol=1e-5)


def test_use_peft_in_every_phase(tmp_path, bert_dir, files, caplog):
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main(["--model_name_or_path", str(bert_dir), "--train_file", str(files["train"]), "--validation_file",
              str(files["validation"]), "--test_file", str(files["test"]), "--text_column", "sentence",
              "--label_column", "topic", "--output_dir", str(out), "--use_peft", "true", "--save_peft_adapter", "true",
              "--num_train_epochs", "1", "--learning_rate", "1e-3", "--pairs_per_example", "2",
              "--report_to", "none", "--disable_tqdm", "true"])
    lines = [r.getMessage() for r in caplog.records if "trainable params" in r.getMessage()]
    assert [line.split(" phase")[0] for line in lines] == ["dae", "cl", "ft"]
    for phase in ("dae", "cl", "ft"):
        assert (out / phase / "adapter" / "adapter_model.safetensors").is_file()
        with safe_open(str(out / phase / "model.safetensors"), "pt") as f:
            assert not [k for k in f.keys() if "lora" in k]
        AutoModel.from_pretrained(out / phase)
    assert json.loads((out / "results.json").read_text())["test"]["accuracy"] >= 0


def test_lora_target_modules_the_encoder_lacks_stop_the_run_in_one_line(tmp_path, bert_dir, files, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), "--train_file", str(files["train"]), "--validation_file",
              str(files["validation"]), "--test_file", str(files["test"]), "--text_column", "sentence",
              "--label_column", "topic", "--output_dir", str(tmp_path / "run"), "--use_peft", "true",
              "--lora_target_modules", "no_such_module", "--report_to", "none"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --lora_target_modules no_such_module: Target modules") and "Traceback" not in err
    assert not (tmp_path / "run" / "dae").exists()
