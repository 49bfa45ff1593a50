import json
from pathlib import Path

import pytest
from conftest import corpus
from transformers import AutoModel, AutoModelForSequenceClassification, TrainerCallback, TrainingArguments

from hf_threephase import VARIANTS, PhaseArguments, ThreePhaseArguments, ThreePhaseForSequenceClassification, ThreePhaseModel, run_phases
from hf_threephase.cli import main
from hf_threephase.data import DataTrainingArguments, load_labelled_data

FAST = ["--num_train_epochs", "1", "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "32",
        "--learning_rate", "1e-3", "--pairs_per_example", "2", "--max_seq_length", "32", "--report_to", "none",
        "--disable_tqdm", "true", "--logging_steps", "2"]


def data_flags(files):
    return ["--train_file", str(files["train"]), "--validation_file", str(files["validation"]), "--test_file",
            str(files["test"]), "--text_column", "sentence", "--label_column", "topic"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_writes_its_output_tree(tmp_path, bert_dir, files, variant):
    out = tmp_path / variant
    results = main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out),
                    "--variant", variant, *FAST])
    phases = list(VARIANTS[variant].phases)
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) == sorted(phases)
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())
    for phase in phases:
        folder = out / phase
        for name in ("model.safetensors", "config.json", "tokenizer.json", "README.md", "phase_metrics.json",
                     "embeddings.png", "embeddings.npy", "loss.png", "modeling_threephase.py", "modules.json"):
            assert (folder / name).is_file(), f"{phase}/{name}"
        assert type(AutoModel.from_pretrained(folder)) is ThreePhaseModel
        assert json.loads((folder / "config.json").read_text())["phases"] == phases[: phases.index(phase) + 1]
    clf = AutoModelForSequenceClassification.from_pretrained(out / "ft")
    assert type(clf) is ThreePhaseForSequenceClassification
    assert clf.config.id2label == {0: "food", 1: "music", 2: "weather"}
    assert (out / "ft" / "confusion_matrix.png").is_file() and (out / "embeddings.png").is_file()
    assert (out / "base_embeddings.npy").is_file() and (out / "predictions.jsonl").is_file()
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["variant"] == variant and saved["phases"] == phases
    assert set(saved["test"]) >= {"accuracy", "precision", "recall", "f1", "confusion_matrix"}
    assert sum(map(sum, saved["test"]["confusion_matrix"])) == len(corpus()[1::3])
    card = (out / "ft" / "README.md").read_text()  # FT's settings only
    assert "| accuracy |" in card and "| classifier_dropout | 0.1 |" in card and "noise_ratio" not in card


def test_ft_selects_on_the_users_metric_for_best_model(tmp_path, bert_dir, files):
    out = tmp_path / "run"
    fast = [x if x != "1" else "2" for x in FAST[:2]] + FAST[2:]  # two FT epochs: two checkpoints to choose from
    main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "cl_ft",
          "--metric_for_best_model", "eval_loss", *fast])  # the CL phase evaluates too, without this metric
    state = json.loads((out / "ft" / "trainer_state.json").read_text())
    epochs = [log["eval_loss"] for log in state["log_history"] if "eval_loss" in log]
    assert len(epochs) == 2 and state["best_metric"] == min(epochs)
    # the reported validation metrics are the kept checkpoint's
    assert json.loads((out / "ft" / "phase_metrics.json").read_text())["validation"]["loss"] == min(epochs)
    assert "| metric_for_best_model | eval_loss |" in (out / "ft" / "README.md").read_text()


class Interrupt(TrainerCallback):
    """Raises in `phase` once its training passes `epoch`, as a kill would."""

    def __init__(self, phase: str, epoch: float):
        self.phase, self.epoch = phase, epoch

    def on_step_end(self, args, state, control, **kwargs):
        if args.output_dir.endswith(self.phase) and state.epoch > self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("phase, epoch, save, options", [
    # the CL and DAE phases select their best epoch on validation: a kill after the first epoch's checkpoint
    ("cl", 1.3, {}, {}),
    ("dae", 1.3, {}, {}),
    # mid-epoch: keeping its last weights, the DAE phase saves where --save_steps says (5 steps an epoch, one at 2)
    ("dae", 0.5, {"save_steps": 2}, {"dae": PhaseArguments(model_selection="last")}),
])
def test_interrupted_phase_resumes_to_the_same_metrics(tmp_path, bert_dir, files, phase, epoch, save, options):
    data, names = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))

    def run(out, callbacks=None):
        args = ThreePhaseArguments(pairs_per_example=2, max_seq_length=32)
        args.phase_arguments = options
        training_args = TrainingArguments(output_dir=str(out), num_train_epochs=2, per_device_train_batch_size=16,
                                          learning_rate=1e-3, report_to="none", disable_tqdm=True, seed=3, **save)
        return run_phases(str(bert_dir), data, names, args, training_args, callbacks=callbacks)

    expected = run(tmp_path / "whole")
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run(out, [Interrupt(phase, epoch)])
    done = list(VARIANTS["3phase"].phases[: VARIANTS["3phase"].phases.index(phase)])
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) == sorted(done)
    assert [p.name for p in (out / ".work" / phase).iterdir() if p.name.startswith("checkpoint-")]
    written = {d: (out / d / "model.safetensors").stat().st_mtime_ns for d in done}
    resumed = run(out)
    assert {d: (out / d / "model.safetensors").stat().st_mtime_ns for d in done} == written  # finished: skipped
    assert resumed["test"] == expected["test"]
    state = {run: json.loads((tmp_path / run / phase / "trainer_state.json").read_text())
             for run in ("whole", "interrupted")}
    assert state["interrupted"]["best_metric"] == state["whole"]["best_metric"]  # the same checkpoint chosen
    if not options:
        assert state["whole"]["best_model_checkpoint"] is not None


def test_dae_and_cl_select_their_best_epoch_on_validation(tmp_path, bert_dir, files):
    out = tmp_path / "run"
    main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "3phase",
          *FAST, "--num_train_epochs", "3"])
    for phase, metric, best in (("dae", "eval_reconstruction_loss", min), ("cl", "eval_cosine_gap", max)):
        state = json.loads((out / phase / "trainer_state.json").read_text())
        evaluations = [log[metric] for log in state["log_history"] if metric in log]
        assert len(evaluations) >= 3 and state["best_metric"] == best(evaluations[:3])
        saved = json.loads((out / phase / "phase_metrics.json").read_text())
        assert saved["validation"][metric.removeprefix("eval_")] == pytest.approx(state["best_metric"])


def test_push_to_hub_uploads_each_phase(tmp_path, bert_dir, files, monkeypatch):
    calls = []

    class FakeHub:
        def __init__(self, token=None):
            calls.append(("token", token))

        def whoami(self):
            calls.append(("whoami",))

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls.append(("create", repo_id))

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls.append(("upload", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))

    monkeypatch.setattr("hf_threephase.hub.HfApi", FakeHub)
    main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
          "--variant", "dae_ft", "--push_to_hub", "true", "--hub_model_id", "me/tickets", "--hub_token", "hf_secret",
          *FAST])
    assert [c[:2] for c in calls if c[0] != "upload"] == [("token", "hf_secret"), ("whoami",), ("token", "hf_secret"),
                                                          ("create", "me/tickets-dae"), ("create", "me/tickets")]
    uploads = [c for c in calls if c[0] == "upload"]
    assert [u[1] for u in uploads] == ["me/tickets-dae", "me/tickets"]
    assert all({"model.safetensors", "README.md", "tokenizer.json"} <= set(u[2]) for u in uploads)
    for path in (tmp_path / "run").rglob("*"):
        if path.suffix in (".json", ".md"):
            assert "hf_secret" not in path.read_text(), path


def test_push_to_hub_without_the_hub_stops_before_training(tmp_path, bert_dir, files, monkeypatch, capsys):
    class OfflineHub:
        def __init__(self, token=None):
            pass

        def whoami(self):
            raise OSError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr("hf_threephase.hub.HfApi", OfflineHub)
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
              "--variant", "dae_ft", "--push_to_hub", "true", *FAST])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --push_to_hub: the Hub did not accept this run's token or could not be reached (Failed to resolve "
        "'huggingface.co'): check the connection; or drop --push_to_hub (nothing was trained)")
    assert not (tmp_path / "run" / "dae").exists()

    monkeypatch.setattr("hf_threephase.hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit):
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
              "--variant", "dae_ft", "--push_to_hub", "true", *FAST])
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --push_to_hub: offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE): unset it; or drop "
        "--push_to_hub (nothing was trained)")


def test_data_loading_formats_and_labels(tmp_path, files):
    csv = tmp_path / "train.csv"
    csv.write_text("text,label\n" + "".join(f"sentence {i},{i % 2}\n" for i in range(50)))
    data, space = load_labelled_data(DataTrainingArguments(train_file=str(csv), test_file=str(csv)), seed=0)
    assert space.names == ("0", "1") and not space.hierarchical and len(data["validation"]) == 10 and len(data["train"]) == 40  # seeded 20 %
    again, _ = load_labelled_data(DataTrainingArguments(train_file=str(csv), test_file=str(csv)), seed=0)
    assert again["validation"]["text"] == data["validation"]["text"]

    tree = tmp_path / "tree.jsonl"
    tree.write_text("".join(json.dumps({"text": f"t{i}", "label": ["music/jazz", "music/rock", "food/pizza"][i % 3]})
                            + "\n" for i in range(30)))
    data, space = load_labelled_data(DataTrainingArguments(train_file=str(tree), validation_file=str(tree),
                                                           test_file=str(tree), label_separator="/"))
    assert space.names == ("food/pizza", "music/jazz", "music/rock") and space.hierarchy_levels == 2
    assert space.pair_labels(data["train"])[:2] == [("music", "jazz"), ("music", "rock")]
    assert data["train"][0]["label_path"] == ["music", "jazz"] and data["train"][0]["label"] == 1

    ordinal = tmp_path / "ordinal.jsonl"  # int labels named by a file: ids keep the file's order, not the alphabet's
    ordinal.write_text("".join(json.dumps({"text": f"t{i}", "label": i % 3}) + "\n" for i in range(30)))
    (tmp_path / "names.json").write_text(json.dumps(["very negative", "negative", "positive"]))
    data, space = load_labelled_data(DataTrainingArguments(train_file=str(ordinal), test_file=str(ordinal),
                                                           label_names_file=str(tmp_path / "names.json")))
    assert space.names == ("very negative", "negative", "positive")
    assert all(row["label"] == int(row["text"][1:]) % 3 for row in data["test"])

    unseen = tmp_path / "unseen.jsonl"
    unseen.write_text(json.dumps({"sentence": "x", "topic": "sports"}) + "\n")
    with pytest.raises(ValueError, match="unseen.jsonl row 1: label 'sports' does not occur in train"):
        load_labelled_data(DataTrainingArguments(train_file=str(files["train"]), test_file=str(unseen),
                                                 text_column="sentence", label_column="topic"))
    with pytest.raises(ValueError, match="train.jsonl: no column 'text'"):
        load_labelled_data(DataTrainingArguments(train_file=str(files["train"]), test_file=str(files["test"])))


METRIC_SCRIPT = '''import datasets
import evaluate


class ExactShare(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="share of exact matches", citation="", inputs_description="",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        return {"exact_share": sum(int(p == r) for p, r in zip(predictions, references)) / len(references)}
'''


def test_json_config_and_a_local_evaluate_metric(tmp_path, bert_dir, files, capsys):
    metric = tmp_path / "exact_share" / "exact_share.py"
    metric.parent.mkdir()
    metric.write_text(METRIC_SCRIPT)
    flags = ["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
             "--variant", "ft", "--metric_name", str(metric), *FAST]
    config = {flags[i].lstrip("-"): json.loads(v) if v[:1].isdigit() or v == "true" else v
              for i, v in zip(range(0, len(flags), 2), flags[1::2])}
    (tmp_path / "run.json").write_text(json.dumps(config))
    main([str(tmp_path / "run.json")])
    metrics = json.loads((tmp_path / "run" / "ft" / "phase_metrics.json").read_text())["validation"]
    assert metrics["exact_share"] == pytest.approx(metrics["accuracy"])

    with pytest.raises(SystemExit):  # a key the module does not report: refused before the DAE trains
        main([*flags[:flags.index("--variant")], "--variant", "3phase", "--metric_name", str(metric),
              "--metric_for_best_model", "exact", "--output_dir", str(tmp_path / "late"), *FAST])
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"error: --metric_for_best_model 'exact' is not a metric FT reports with --metric_name {metric} (one of: "
        "accuracy, precision, recall, f1, selection_score, exact_share, loss)")
    assert not (tmp_path / "late" / "dae").exists()


def test_a_phase_folder_keeps_its_own_pooling(tmp_path, bert_dir):
    from hf_threephase import DAEForSeqReconstruction
    from hf_threephase.runner import load_phase_model

    DAEForSeqReconstruction.from_encoder_pretrained(bert_dir, pooling_mode="cls").save_pretrained(tmp_path)
    assert load_phase_model(ThreePhaseModel, tmp_path, "mean").config.pooling_mode == "cls"
    assert load_phase_model(ThreePhaseModel, bert_dir, "cls").config.pooling_mode == "cls"
    assert load_phase_model(ThreePhaseModel, bert_dir).config.pooling_mode == "mean"


def test_a_pooling_mode_a_phase_folder_overrides_is_said(tmp_path, bert_dir, files, caplog):
    import logging

    from transformers import AutoTokenizer

    from hf_threephase import DAEForSeqReconstruction
    from hf_threephase.runner import PhaseRunner

    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    for pooling, given in (("cls", "mean"), ("mean", "cls")):
        start = tmp_path / pooling
        DAEForSeqReconstruction.from_encoder_pretrained(bert_dir, pooling_mode=pooling).save_pretrained(start)
        AutoTokenizer.from_pretrained(bert_dir).save_pretrained(start)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hf_threephase"):
            runner = PhaseRunner(str(start), data, space,
                                 ThreePhaseArguments(variant="ft", max_seq_length=32, pooling_mode=given),
                                 TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none"))
        assert runner.args.pooling_mode == pooling  # what the cards and records say
        said = f"--pooling_mode {given}: {start} is a phase folder, which keeps its own pooling ({pooling}); ignored"
        assert (said in caplog.text) == (given == "cls")  # the default, not given, goes without a word


@pytest.mark.parametrize("min_steps, epochs_run", [(0, 2), (12, 3), (10_000, 5)])
def test_early_stopping_counts_patience_only_after_its_minimum_steps(tmp_path, bert_dir, files, min_steps, epochs_run):
    # 72 train texts at batch 16: 5 steps an epoch; a learning rate too small to move the accuracy, so every
    # evaluation after the first is one without improvement
    out = tmp_path / "run"
    main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), "--variant", "ft",
          *FAST, "--num_train_epochs", "5", "--learning_rate", "1e-12", "--metric_for_best_model", "accuracy",
          "--early_stopping_patience", "1", "--early_stopping_min_steps", str(min_steps)])
    state = json.loads((out / "ft" / "trainer_state.json").read_text())
    assert state["epoch"] == epochs_run and state["best_global_step"] == 5
    record = json.loads((out / "ft" / "phase_inputs.json").read_text())["recipe"]
    # left out at 0, as in folders written before it; the callback's state, saved with each checkpoint, is then
    # transformers' own class's, so a checkpoint written before the option resumes its patience count
    assert record.get("early_stopping_min_steps") == (min_steps or None)
    saved = state["stateful_callbacks"]
    assert set(saved) & {"EarlyStoppingCallback", "MinStepsEarlyStoppingCallback"} == {
        "MinStepsEarlyStoppingCallback" if min_steps else "EarlyStoppingCallback"}
    if min_steps:
        assert saved["MinStepsEarlyStoppingCallback"]["args"]["min_steps"] == min_steps


def test_a_negative_early_stopping_min_steps_is_refused_before_training(tmp_path, bert_dir, files, capsys):
    with pytest.raises(SystemExit):
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "run"),
              "--variant", "ft", *FAST, "--early_stopping_min_steps", "-1"])
    assert "error: --early_stopping_min_steps must be >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
