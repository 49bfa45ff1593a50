"""The low-label regime in one command: k labelled texts per class, the rest (and a text-only file) for the DAE."""

import json
import logging

import pytest

from conftest import corpus

from hf_threephase.cli import main
from test_run_threephase import FAST, data_flags


def test_text_only_data_reach_the_dae_alone(tmp_path, bert_dir):
    rows = corpus()
    splits = {"train": rows, "validation": [(f"{t} now", l) for t, l in rows[::3]],
              "test": [(f"{t} later", l) for t, l in rows[1::3]]}
    for split, chosen in splits.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in chosen))
    validation = [t for t, _ in splits["validation"]]
    (tmp_path / "texts.txt").write_text("\n".join([f"an unlabelled note number {i}" for i in range(30)]
                                                  + validation[:5] + ["", "   "]) + "\n")
    out = tmp_path / "run"
    results = main(["--model_name_or_path", str(bert_dir), "--output_dir", str(out), "--variant", "3phase",
                    *[x for s in splits for x in (f"--{s}_file", str(tmp_path / f"{s}.jsonl"))],
                    "--train_samples_per_class", "6", "--unlabeled_from_train", "true",
                    "--unlabeled_file", str(tmp_path / "texts.txt"), *FAST])
    counts = {phase: json.loads((out / phase / "phase_metrics.json").read_text())["train_examples"]
              for phase in ("dae", "cl", "ft")}
    # FT: 3 classes x 6 labelled texts; CL: the same 18 (paired within batches); the DAE: those 18, the 54 train texts
    # the draw left out and the 30 new lines - never a validation or test text, nor an empty line
    assert counts == {"ft": 18, "cl": 18, "dae": 18 + (len(rows) - 18) + 30}
    assert set(results["diagnostics"]) == {"dae", "cl", "ft"}
    assert all({"before", "after"} <= set(d) for d in results["diagnostics"].values())


def test_a_variant_without_a_dae_says_it_ignores_text_only_data_and_does_not_read_it(tmp_path, bert_dir, caplog):
    rows = corpus()
    splits = {"train": rows, "validation": rows[::3], "test": rows[1::3]}
    for split, chosen in splits.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in chosen))
    # every line is a validation text: a run that read the file would stop on "no text that is not also ..."
    (tmp_path / "texts.txt").write_text("\n".join(t for t, _ in splits["validation"]) + "\n")
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main(["--model_name_or_path", str(bert_dir), "--output_dir", str(tmp_path / "run"), "--variant", "cl_ft",
              *[x for s in splits for x in (f"--{s}_file", str(tmp_path / f"{s}.jsonl"))],
              "--unlabeled_file", str(tmp_path / "texts.txt"), "--max_unlabeled_samples", "3", *FAST])
    assert ("--unlabeled_file, --max_unlabeled_samples: the cl_ft variant runs cl -> ft, and none of them reads "
            "text-only data; ignored") in caplog.text
    assert "text-only data for the DAE" not in caplog.text


def test_class_weighted_loss_uses_balanced_weights_of_the_train_labels(tmp_path, bert_dir, files):
    main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "o"),
          "--variant", "ft", "--class_weighted_loss", "true", *FAST])
    train = [json.loads(line)["topic"] for line in files["train"].read_text().splitlines()]
    config = json.loads((tmp_path / "o" / "ft" / "config.json").read_text())
    names = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    assert config["class_weights"] == pytest.approx([len(train) / (len(names) * train.count(n)) for n in names])
    assert "| class_weighted_loss | True |" in (tmp_path / "o" / "ft" / "README.md").read_text()
