"""A phase declared in user code (here, this file) runs end to end: folder, card, --help group, results."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import DataCollatorWithPadding
from transformers.trainer_utils import TrainOutput

from hf_threephase import PHASES, VARIANTS, PhaseCard, PhaseData, PhaseSpec, ThreePhaseModel, register_phase, register_variant
from hf_threephase.cli import main
from hf_threephase.trainers import CompleteEvaluationTrainer
from test_run_threephase import FAST, data_flags


class NoTraining(CompleteEvaluationTrainer):
    """A Trainer that trains nothing."""

    def train(self, resume_from_checkpoint=None, **kwargs):
        return TrainOutput(global_step=0, training_loss=0.0, metrics={"train_loss": 0.0})


@pytest.fixture
def noop_phase():
    spec = register_phase(PhaseSpec(
        name="noop", model_class=ThreePhaseModel, trainer_class=NoTraining,
        build_data=lambda context, args: PhaseData(train=context.tokenized["train"].select_columns(["input_ids"]),
                                                   collator=DataCollatorWithPadding(context.tokenizer)),
        card=PhaseCard("No-op", "A phase that trains nothing: the base encoder with a fresh projection."),
    ))
    register_variant("noop_ft", ["noop", "ft"])
    yield spec
    del PHASES["noop"], VARIANTS["noop_ft"]


def test_a_phase_registered_outside_the_package_runs_end_to_end(tmp_path, bert_dir, files, noop_phase, capsys):
    out = tmp_path / "run"
    results = main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out),
                    "--variant", "noop_ft", "--noop_learning_rate", "0.5", *FAST])
    assert results["phases"] == ["noop", "ft"] and set(results["test"]) >= {"accuracy", "f1"}
    assert json.loads((out / "noop" / "config.json").read_text())["phases"] == ["noop"]
    assert json.loads((out / "ft" / "config.json").read_text())["phases"] == ["noop", "ft"]
    card = (out / "noop" / "README.md").read_text()
    assert "**No-op** phase" in card and "trains nothing" in card and "| learning_rate | 0.5 |" in card
    # it trained nothing: the encoder weights are the base model's
    base = load_file(bert_dir / "model.safetensors")
    saved = load_file(out / "noop" / "model.safetensors")
    torch.testing.assert_close(saved["encoder.embeddings.word_embeddings.weight"], base["embeddings.word_embeddings.weight"])

    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "No-op phase (--variant chains with 'noop'):" in help_text
    group = help_text.split("No-op phase")[1].split("\n\n")[0]
    assert all(f"--noop_{name}" in group for name in ("num_train_epochs", "learning_rate", "batch_size"))


def test_a_variant_must_chain_registered_phases_to_one_final_phase(noop_phase):
    with pytest.raises(ValueError, match="unknown phases"):
        register_variant("bad", ["noop", "mlm", "ft"])
    with pytest.raises(ValueError, match="must end with its only final phase"):
        register_variant("bad", ["ft", "noop"])
    with pytest.raises(ValueError, match="already registered"):
        register_phase(noop_phase)


def test_a_phase_whose_trainer_could_drop_evaluation_texts_is_refused():
    from transformers import Trainer

    spec = PhaseSpec(name="plain", model_class=ThreePhaseModel, build_data=lambda context, args: None,
                     card=PhaseCard("Plain", "A plain Trainer."), trainer_class=Trainer)
    with pytest.raises(TypeError, match="trainer_class Trainer must subclass hf_threephase.trainers."
                                        "CompleteEvaluationTrainer"):
        register_phase(spec)
    assert "plain" not in PHASES
