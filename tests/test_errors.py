"""One case per bad input: the command exits with status 2 and one line that names the problem."""

import importlib.util
import json

import pytest
import torch
from conftest import corpus

from hf_threephase import DAEForSeqReconstruction
from hf_threephase.cli import main, parse_args, run
from hf_threephase.validation import FinishedPhaseMismatch

GOOD = [{"text": t, "label": l} for t, l in corpus()]


def jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def with_row(row):
    return jsonl(GOOD[:1] + [row] + GOOD[1:])


# name: (files to write as {name: content}, extra flags, expected message)
CASES = {
    "missing file": ({}, ["--train_file", "{tmp}/nowhere.jsonl"], "--train_file: no such file: {tmp}/nowhere.jsonl"),
    "empty file": ({"train.jsonl": ""}, [], "--train_file: {tmp}/train.jsonl is empty"),
    "a folder for a file": ({}, ["--test_file", "{tmp}"], "--test_file: {tmp} is a folder"),
    "unknown format": ({"train.txt": "hello\n"}, ["--train_file", "{tmp}/train.txt"],
                       "--train_file: {tmp}/train.txt: unknown format (use .csv, .json, .jsonl)"),
    "missing text column": ({}, ["--text_column", "sentence"], "{tmp}/train.jsonl: no column 'sentence'"),
    "missing label column": ({}, ["--label_column", "intent"], "{tmp}/train.jsonl: no column 'intent' (columns: text, "
                                                               "label)"),  # none of ours listed
    "blank text": ({"train.jsonl": with_row({"text": "   ", "label": "music"})}, [],
                   "{tmp}/train.jsonl row 2: empty text in column 'text'"),
    "null label": ({"train.jsonl": with_row({"text": "hello", "label": None})}, [],
                   "{tmp}/train.jsonl row 2: missing label in column 'label'"),
    "nan label": ({"train.csv": "text,label\nhello,1\nworld,\nagain,0\n"},
                  ["--train_file", "{tmp}/train.csv", "--validation_file", "{tmp}/train.csv",
                   "--test_file", "{tmp}/train.csv"], "{tmp}/train.csv row 2: missing label in column 'label'"),
    "unseen label": ({"test.jsonl": jsonl([{"text": "go team", "label": "sports"}])}, [],
                     "{tmp}/test.jsonl row 1: label 'sports' does not occur in train"),
    "single class": ({"train.jsonl": jsonl([r for r in GOOD if r["label"] == "music"])}, [],
                     "{tmp}/train.jsonl: a single class ['music']: contrastive learning and fine-tuning need two"),
    "inconsistent depth": ({"train.jsonl": with_row({"text": "hello", "label": "music/jazz/live"})},
                           ["--label_separator", "/"], "{tmp}/train.jsonl row 2: label 'music/jazz/live' has 3 "
                                                       "levels, the others 1"),
    "not utf-8": ({"train.jsonl": b'{"text": "caf\xe9", "label": "food"}\n'}, [],
                  "--train_file: {tmp}/train.jsonl line 1 is not UTF-8 (byte 13)"),
    "not a checkpoint": ({}, ["--model_name_or_path", "{tmp}"], "--model_name_or_path {tmp}: not a model checkpoint"),
    "no such folder": ({}, ["--model_name_or_path", "{tmp}/nowhere"],
                       "--model_name_or_path {tmp}/nowhere: no such local folder, and not loadable from the Hub ("),
    "pickled weights only": ({"config.json": '{"model_type": "bert"}', "pytorch_model.bin": b"not loaded"},
                             ["--model_name_or_path", "{tmp}"],
                             "--model_name_or_path {tmp}: no .safetensors weights (pickled weights are not loaded)"),
    "noise ratio": ({}, ["--noise_ratio", "1.0"], "--noise_ratio must be in [0, 1), got 1.0"),
    "ratio <= 0": ({}, ["--imbalance_max_ratio", "0"], "--imbalance_max_ratio must be > 0, got 0.0"),
    "batch size 0": ({}, ["--per_device_train_batch_size", "0"], "--per_device_train_batch_size must be >= 1, got 0"),
    "epochs < 0": ({}, ["--num_train_epochs", "-1"], "--num_train_epochs must be > 0, got -1.0"),
    "learning rate 0": ({}, ["--learning_rate", "0"], "--learning_rate must be > 0, got 0.0"),
    "phase batch size 0": ({}, ["--cl_batch_size", "0"], "--cl_batch_size must be > 0, got 0"),
    "pairs per example": ({}, ["--pairs_per_example", "0"], "--pairs_per_example must be an integer >= 1 or 'auto', got '0'"),
    "positive pair fraction": ({}, ["--positive_pair_fraction", "1"],
                               "--positive_pair_fraction must be in (0, 1) or 'auto', got '1'"),
    "positive pair fraction 0": ({}, ["--positive_pair_fraction", "0"],
                                 "--positive_pair_fraction must be in (0, 1) or 'auto', got '0'"),
    "positive pair fraction text": ({}, ["--positive_pair_fraction", "half"],
                                    "--positive_pair_fraction must be in (0, 1) or 'auto', got 'half'"),
    "positive pair fraction nan": ({}, ["--positive_pair_fraction", "nan"],
                                   "--positive_pair_fraction must be in (0, 1) or 'auto', got 'nan'"),
    "unknown variant": ({}, ["--variant", "four_phase"], "--variant must be one of 3phase, joint, ft, dae_ft, cl_ft, "
                                                          "no_imb, extra_imb, got 'four_phase'"),
    "unknown selection metric": ({}, ["--metric_for_best_model", "f2"], "--metric_for_best_model 'f2' is not a "
                                 "metric FT reports (one of: accuracy, precision, recall, f1, selection_score, loss"),
    "float label not whole": ({"train.jsonl": jsonl([{"text": "a", "label": 1}, {"text": "b", "label": 2.5}])}, [],
                              "{tmp}/train.jsonl row 2: label 2.5 is not a class: a number label must be whole"),
    # integers beyond 2**53 reach us as floats: 10**20 + 1 and 10**20 + 2 would read as one class
    "huge integer labels": ({"train.jsonl": jsonl([{"text": "a", "label": 10**20 + 1}, {"text": "b", "label": 10**20 + 2}])},
                            [], "{tmp}/train.jsonl row 1: label 1e+20 is a whole number too large for a float to hold "
                                "exactly (over 2**53; a JSON reader gives such integers as floats): write the labels as "
                                "strings"),
    # multilabel-lists-silent: a label column of lists stops with one line instead of a class per distinct list
    "lists of labels": ({"train.jsonl": jsonl([{"text": "my card was charged twice", "label": ["billing"]},
                                               {"text": "refund it", "label": ["billing", "refund"]}])}, [],
                        "{tmp}/train.jsonl row 1: label ['billing'] is a list: multi-label classification is not "
                        "supported (give one label per row)"),
    "nested label": ({"train.jsonl": jsonl([{"text": "a", "label": {"name": "music"}}])}, [],
                     "{tmp}/train.jsonl row 1: label {{'name': 'music'}} is not a class: a label is a string, an "
                     "integer, a whole float or a boolean"),
    "mixed label kinds": ({"train.jsonl": with_row({"text": "hello", "label": 3})}, [],
                          "{tmp}/train.jsonl row 2: label 3 is a number, but row 1's is a string: a label column "
                          "holds one kind of value"),
    "blank label": ({"train.jsonl": with_row({"text": "hello", "label": "  "})}, [],
                    "{tmp}/train.jsonl row 2: missing label in column 'label'"),
    "label without a name": ({"names.json": '["a", "b"]', "train.jsonl": jsonl([{"text": "x", "label": 2}])},
                             ["--label_names_file", "{tmp}/names.json"],
                             "{tmp}/train.jsonl row 1: label 2 has no name: --label_names_file {tmp}/names.json has 2 "
                             "(ids 0 to 1)"),
    "label not in the names file": ({"names.json": '["food", "music"]'}, ["--label_names_file", "{tmp}/names.json"],
                                    "{tmp}/train.jsonl row 1: label 'weather' is not one of --label_names_file "
                                    "{tmp}/names.json"),
    "names file not a list": ({"names.json": '{"0": "a"}'}, ["--label_names_file", "{tmp}/names.json"],
                              "--label_names_file {tmp}/names.json: expected a JSON list of names"),
    # cl-small-validation: refused before the DAE trains
    "validation of one example per class": (
        {"validation.jsonl": jsonl([{"text": "will it snow", "label": "weather"}, {"text": "play blues", "label": "music"},
                                    {"text": "book a table", "label": "food"}])}, [],
        "{tmp}/validation.jsonl: the cl phase keeps its best checkpoint on cosine_gap, which needs validation examples "
        "of two classes, two of one class (class sizes: food 1, music 1, weather 1): give a larger validation split, "
        "or --cl_model_selection last"),
    "validation of one class": (
        {"validation.jsonl": jsonl([r for r in GOOD if r["label"] == "weather"][:3])}, ["--variant", "cl_ft"],
        "{tmp}/validation.jsonl: the cl phase keeps its best checkpoint on cosine_gap, which needs validation examples "
        "of two classes, two of one class (class sizes: weather 3)"),
    "diagnostic subset too small": ({}, ["--diagnostic_samples", "2"],
                                    "--diagnostic_samples 2 (a subset of {tmp}/validation.jsonl): the cl phase keeps its "
                                    "best checkpoint on cosine_gap"),
    "one labelled example per class": ({}, ["--train_samples_per_class", "1"],
                                       "--train_samples_per_class 1 of {tmp}/train.jsonl: contrastive learning needs "
                                       "two classes there, and two examples of one (class sizes: food 1, music 1, "
                                       "weather 1)"),
    "unknown flag": ({}, ["--warmup_ratio", "0.1"], "unknown flag --warmup_ratio (did you mean --warmup_steps?)"),
    "a list written as text": ({"train.jsonl": with_row({"text": "refund it", "label": "['billing', 'refund']"})}, [],
                               "{tmp}/train.jsonl row 2: label \"['billing', 'refund']\" is a list: multi-label"),
    "a number as text": ({"train.jsonl": with_row({"text": 42, "label": "music"})}, [],
                         "{tmp}/train.jsonl row 2: text 42 in column 'text' is not a string"),
    "a code that is no index": ({"names.json": '["weather", "music", "food"]',
                                 "train.jsonl": jsonl([{"text": "a", "label": "01"}, {"text": "b", "label": "1"}])},
                                ["--label_names_file", "{tmp}/names.json"],
                                "{tmp}/train.jsonl row 1: label '01' is not one of --label_names_file"),
    "no_imb with a ratio": ({}, ["--variant", "no_imb", "--imbalance_max_ratio", "10"],
                            "--imbalance_max_ratio 10.0 contradicts --variant no_imb"),
    "zero accumulation": ({}, ["--gradient_accumulation_steps", "0"], "--gradient_accumulation_steps must be >= 1"),
    "no eval samples": ({}, ["--max_eval_samples", "0"], "--max_eval_samples must be >= 1, got 0"),
    "abbreviated flag": ({}, ["--num_train_epoch", "1"],
                         "unknown flag --num_train_epoch (did you mean --num_train_epochs?)"),
    "misspelled flag": ({}, ["--nosie_ratio", "0.1"], "unknown flag --nosie_ratio (did you mean --noise_ratio?)"),
    "stray argument": ({}, ["extra"], "unexpected argument 'extra' (flags come as --name value)"),
    "missing stop-word file": ({}, ["--stopwords_file", "{tmp}/none.txt", "--imbalance_max_ratio", "20"],
                               "the imbalance correction adds stop-word-noised copies of rare classes of "
                               "{tmp}/train.jsonl, but: [Errno 2] No such file or directory: '{tmp}/none.txt'"),
    "stop-word file not utf-8": ({"stop.txt": b"caf\xe9\nthe\n"}, ["--stopwords_file", "{tmp}/stop.txt",
                                                                      "--imbalance_max_ratio", "20"],
                                 "the imbalance correction adds stop-word-noised copies of rare classes of "
                                 "{tmp}/train.jsonl, but: {tmp}/stop.txt is not UTF-8 (byte 3)"),
    "a jsonl row that is null": ({"test.jsonl": jsonl(GOOD[:2]) + "null\n"}, [],
                                 "--test_file: {tmp}/test.jsonl line 3: not a JSON object"),
    "a json file that is null": ({"data.json": "null"}, [*(x for s in ("train", "validation", "test")
                                                          for x in (f"--{s}_file", "{tmp}/data.json"))],
                                 "--train_file: {tmp}/data.json: not a JSON array of rows"),
    "a json object of columns": ({"data.json": json.dumps({"text": ["a", "b"], "label": ["x", "y"], "name": "t"})},
                                 [*(x for s in ("train", "validation", "test") for x in (f"--{s}_file", "{tmp}/data.json"))],
                                 "--train_file: {tmp}/data.json: an object of lists, not a list of rows"),
    "a json list of nulls": ({"data.json": "[null, null]"}, [*(x for s in ("train", "validation", "test")
                                                             for x in (f"--{s}_file", "{tmp}/data.json"))],
                             "--train_file: {tmp}/data.json row 1: not a JSON object"),
    "a json syntax error": ({"data.json": '[{"text": "a", "label": "x"},\n]'},
                            [*(x for s in ("train", "validation", "test") for x in (f"--{s}_file", "{tmp}/data.json"))],
                            "--train_file: {tmp}/data.json line 2 column 1: not valid JSON"),
    "load_best_model_at_end": ({}, ["--load_best_model_at_end"], "--load_best_model_at_end does not apply"),
    "a jsonl syntax error": ({"test.jsonl": jsonl(GOOD[:2]) + '{"text": "a", \n'}, [],
                             "--test_file: {tmp}/test.jsonl line 3 column 15: not valid JSON"),
    "output_dir is a file": ({}, ["--output_dir", "{tmp}/train.jsonl"], "--output_dir {tmp}/train.jsonl: a file, not "
                                                                        "a folder"),
    "a value of the wrong type": ({}, ["--max_seq_length", "abc"], "--max_seq_length: invalid int value: 'abc'"),
    "an unloadable metric": ({}, ["--variant", "ft", "--metric_name", "{tmp}/no_metric"],
                             "--metric_name {tmp}/no_metric: cannot load it"),
    "peft and frozen encoder": ({}, ["--use_peft", "true", "--freeze_encoder", "true"],
                                "--use_peft and --freeze_encoder both decide what of the encoder trains: choose one"),
    # TrainingArguments under which FT's evaluation would not score the whole split (it failed after DAE and CL)
    "loss-only evaluation": ({}, ["--prediction_loss_only", "true"], "--prediction_loss_only true: FT selects its "
                                                                      "checkpoint on, and reports, metrics of the"),
    "unconcatenated evaluation": ({}, ["--eval_do_concat_batches", "false"], "--eval_do_concat_batches false: FT's "
                                                                            "metrics (its checkpoint selection"),
    "per-batch metrics": ({}, ["--batch_eval_metrics", "true"], "--batch_eval_metrics true: FT's metrics"),
    "other label names": ({}, ["--label_names", "label"], "--label_names label: every phase's batches hold their "
                                                          "targets as 'labels'"),
    "half-precision evaluation": ({}, ["--bf16_full_eval", "true", "--use_cpu", "true"],
                                  "--bf16_full_eval true: the Trainer casts the model in place to evaluate"),
    "smoothing a weighted loss": ({}, ["--label_smoothing_factor", "0.1", "--class_weighted_loss", "true"],
                                  "--label_smoothing_factor 0.1 with --class_weighted_loss: the Trainer's label "
                                  "smoother replaces FT's class-weighted loss; choose one"),
}


if importlib.util.find_spec("wandb") is None:
    CASES["a tracker that is not installed"] = ({}, ["--report_to", "wandb"],
                                                "--report_to wandb: WandbCallback requires wandb to be installed")
CASES["an unknown tracker"] = ({}, ["--report_to", "wandbb"], "--report_to wandbb: not an integration transformers "
                                                              "knows (one of: azure_ml, comet_ml")

if not torch.cuda.is_available():
    CASES["bf16 without a GPU"] = ({}, ["--bf16", "true"], "--bf16 true needs a GPU; on this machine add --use_cpu true")
    CASES["bf16 evaluation without a GPU"] = ({}, ["--bf16_full_eval", "true"],
                                              "--bf16_full_eval true needs a GPU; on this machine add --use_cpu true")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, bert_dir, capsys):
    files, flags, expected = CASES[case]
    defaults = {"train.jsonl": jsonl(GOOD), "validation.jsonl": jsonl(GOOD[::3]), "test.jsonl": jsonl(GOOD[1::3])}
    for name, content in {**defaults, **files}.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    argv = ["--model_name_or_path", str(bert_dir), "--output_dir", str(tmp_path / "out"), "--report_to", "none",
            *[x for s in ("train", "validation", "test") for x in (f"--{s}_file", str(tmp_path / f"{s}.jsonl"))]]
    argv += [flag.format(tmp=tmp_path) for flag in flags]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: " + expected.format(tmp=tmp_path)), err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out" / "dae").exists()  # nothing started


def test_finished_phase_from_another_base_is_kept_and_refused(tmp_path, bert_dir, roberta_dir, files, capsys):
    out = tmp_path / "out"
    DAEForSeqReconstruction.from_encoder_pretrained(roberta_dir).save_pretrained(out / "dae")
    argv = ["--model_name_or_path", str(bert_dir), "--train_file", str(files["train"]), "--validation_file",
            str(files["validation"]), "--test_file", str(files["test"]), "--text_column", "sentence",
            "--label_column", "topic", "--output_dir", str(out), "--report_to", "none", "--disable_tqdm", "true"]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert f"error: {out / 'dae'} holds phases [] from {roberta_dir}, but this command runs ['dae'] from {bert_dir.name}" \
        in capsys.readouterr().err
    with pytest.raises(FinishedPhaseMismatch) as refused:  # what a caller (benchmarks/low_label.py) removes to retry
        run(*parse_args(argv))
    assert refused.value.folder == out / "dae"
    assert (out / "dae" / "model.safetensors").is_file()


def test_singleton_class_and_huge_text_still_run(tmp_path, bert_dir):
    rows = GOOD + [{"text": "a lonely example of its own kind", "label": "solo"},
                   {"text": "word " * 20_000, "label": "music"}]  # 100,000 characters: truncated
    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(jsonl(rows))
    results = main(["--model_name_or_path", str(bert_dir), "--output_dir", str(tmp_path / "out"), "--variant", "cl_ft",
                    *[x for s in ("train", "validation", "test") for x in (f"--{s}_file", str(tmp_path / f"{s}.jsonl"))],
                    "--num_train_epochs", "1", "--max_seq_length", "32", "--report_to", "none",
                    "--disable_tqdm", "true"])
    assert len(results["test"]["confusion_matrix"]) == 4
