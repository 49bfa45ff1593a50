import json
import logging
import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import TOPICS, corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run_glue_style  # noqa: E402


def write_task(tmp_path) -> list[dict]:
    task = tmp_path / "data" / "snips2"
    task.mkdir(parents=True)
    names = sorted(TOPICS)
    rows = [{"text": t, "label": names.index(l)} for t, l in corpus()]
    for split, chosen in {"train": rows, "validation": rows[::3], "test": rows[1::3]}.items():
        (task / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    (task / "labels.json").write_text(json.dumps(names))
    return rows


def test_grid_writes_runs_and_tables_and_skips_finished_runs(tmp_path, bert_dir, monkeypatch):
    rows = write_task(tmp_path)
    results = tmp_path / "results"
    argv = ["run_glue_style.py", "--model_name_or_path", str(bert_dir), "--task_name", "snips2", "--variants", "ft",
            "cl_ft", "--seeds", "0", "1", "--data_dir", str(tmp_path / "data"), "--ft_epochs", "1",
            "--max_seq_length", "32", "--learning_rate", "1e-3", "--output_dir", str(tmp_path / "runs"),
            "--results_dir", str(results)]
    monkeypatch.setattr(sys, "argv", argv)
    run_glue_style.main()
    files = sorted(p.name for p in results.glob("*.json"))
    assert files == ["snips2-cl_ft-s0.json", "snips2-cl_ft-s1.json", "snips2-ft-s0.json", "snips2-ft-s1.json"]
    record = json.loads((results / "snips2-ft-s1.json").read_text())
    assert record["seed"] == 1 and record["train_examples"] == len(rows) and 0 <= record["test"]["accuracy"] <= 1
    assert record["train_class_sizes"] == {"0": 12, "1": 20, "2": 40}
    tables = (results / "tables.md").read_text()
    assert "### Table 3 layout" in tables and "| cl_ft | " in tables and "(n=2)" in tables
    written = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    (results / "tables.md").unlink()
    monkeypatch.setattr(sys, "argv", argv[:5] + ["--variants", "ft", "--seeds", "0"] + argv[11:])
    run_glue_style.main()  # finished runs are skipped; the tables cover every run in results_dir
    assert {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")} == written
    assert (results / "tables.md").read_text() == tables
    first = json.loads((results / "snips2-ft-s0.json").read_text())
    assert "resumed" not in first
    (results / "snips2-ft-s0.json").unlink()  # as if stopped after the last phase: the rerun says it resumed
    run_glue_style.main()
    rerun = json.loads((results / "snips2-ft-s0.json").read_text())
    assert rerun["resumed"] is True and rerun["test"] == first["test"]


def test_no_imb_reports_the_3phase_run_when_the_correction_adds_nothing(tmp_path, bert_dir, monkeypatch):
    write_task(tmp_path)  # class sizes 12, 20, 40: every multiplier is 1
    results = tmp_path / "results"
    results.mkdir()
    base = {"task": "snips2", "variant": "3phase", "seed": 0, "wall_s": 5.0, "train_examples": 72,
            "test": {"accuracy": 0.5, "f1": 0.4}, "command": {"variants": ["3phase"]}, "profile": "new"}
    (results / "snips2-3phase-s0.json").write_text(json.dumps(base))
    monkeypatch.setattr(sys, "argv", ["run_glue_style.py", "--model_name_or_path", str(bert_dir), "--task_name",
                                      "snips2", "--variants", "no_imb", "--seeds", "0", "--data_dir",
                                      str(tmp_path / "data"), "--output_dir", str(tmp_path / "runs"),
                                      "--results_dir", str(results)])
    run_glue_style.main()
    record = json.loads((results / "snips2-no_imb-s0.json").read_text())
    assert record["variant"] == "no_imb" and record["same_run_as"] == "3phase"
    assert record["test"] == base["test"] and record["command"] == base["command"]
    assert not (tmp_path / "runs").exists()  # nothing was trained
    assert "| no_imb | 50.00† (n=1) |" in (results / "tables.md").read_text()


def test_tables_are_rewritten_after_every_run_so_a_stop_keeps_them(tmp_path, monkeypatch):
    def run_one(task, variant, seed, cli, results_dir):
        if seed == 1:
            raise KeyboardInterrupt  # the grid stopped during the second run
        return {"task": task, "variant": variant, "seed": seed, "test": {"accuracy": 0.75, "f1": 0.5}}

    monkeypatch.setattr(run_glue_style, "run_one", run_one)
    monkeypatch.setattr(sys, "argv", ["run_glue_style.py", "--model_name_or_path", "unused", "--task_name", "sst5",
                                      "--variants", "ft", "--seeds", "0", "1", "--results_dir", str(tmp_path)])
    with pytest.raises(KeyboardInterrupt):
        run_glue_style.main()
    assert "| ft | 75.00 (n=1) |" in (tmp_path / "tables.md").read_text()


def test_correction_adds_copies_only_for_an_imbalanced_split():
    from datasets import Dataset

    from hf_threephase import LabelSpace

    three, two = LabelSpace(("a", "b", "c")), LabelSpace(("a", "b"))
    assert not run_glue_style.correction_adds_copies(Dataset.from_dict({"label": [0] * 12 + [1] * 20 + [2] * 40}), three)
    assert run_glue_style.correction_adds_copies(Dataset.from_dict({"label": [0] * 2 + [1] * 40}), two)


def test_variants_that_start_with_dae_reuse_a_finished_runs_dae_phase(tmp_path, bert_dir, monkeypatch, caplog):
    write_task(tmp_path)

    def grid_argv(variants, name):
        return ["run_glue_style.py", "--model_name_or_path", str(bert_dir), "--task_name", "snips2", "--variants",
                *variants, "--seeds", "0", "--data_dir", str(tmp_path / "data"), "--dae_epochs", "1", "--cl_epochs",
                "1", "--ft_epochs", "1", "--max_seq_length", "32", "--learning_rate", "1e-3", "--output_dir",
                str(tmp_path / name / "runs"), "--results_dir", str(tmp_path / name / "results")]

    def grid(variants, name):
        monkeypatch.setattr(sys, "argv", grid_argv(variants, name))
        run_glue_style.main()
        return tmp_path / name

    shared = grid(["3phase", "dae_ft"], "shared")
    alone = grid(["dae_ft"], "alone")
    record = json.loads((shared / "results" / "snips2-dae_ft-s0.json").read_text())
    assert record["reused_phases"] == {"dae": "snips2-3phase-s0"}
    donor = shared / "runs" / "snips2-3phase-s0" / "dae" / "model.safetensors"
    assert (shared / "runs" / "snips2-dae_ft-s0" / "dae" / "model.safetensors").read_bytes() == donor.read_bytes()
    # The reused DAE phase is the one dae_ft trains on its own: same weights, same final test metrics.
    computed = json.loads((alone / "results" / "snips2-dae_ft-s0.json").read_text())
    assert "reused_phases" not in computed
    assert (alone / "runs" / "snips2-dae_ft-s0" / "dae" / "model.safetensors").read_bytes() == donor.read_bytes()
    assert computed["test"] == record["test"]
    (shared / "results" / "snips2-dae_ft-s0.json").unlink()  # a rerun after a stop still says whose DAE it holds
    grid(["dae_ft"], "shared")
    rerun = json.loads((shared / "results" / "snips2-dae_ft-s0.json").read_text())
    assert rerun["reused_phases"] == {"dae": "snips2-3phase-s0"} and rerun["resumed"]
    assert rerun["test"] == record["test"]
    card = "snips2-dae_ft-s0/dae/README.md"  # the reused folder's card names this run, as if trained here
    timed = re.compile(r"^Wall time of the phase: .*$", re.M)  # the donor's wall time, not this run's
    assert timed.sub("", (shared / "runs" / card).read_text()) == timed.sub("", (alone / "runs" / card).read_text())
    # Another checkpoint interval computes the same DAE: reused; another DAE setting: the copy is refused by the
    # package's records and the DAE trained anew, and the record says nothing was reused.
    grid(["3phase"], "other")
    (tmp_path / "other" / "results" / "snips2-3phase-s0.json").unlink()
    interval = grid_argv(["dae_ft"], "other") + ["--save_steps", "7"]
    monkeypatch.setattr(sys, "argv", interval)
    run_glue_style.main()
    assert json.loads((tmp_path / "other" / "results" / "snips2-dae_ft-s0.json").read_text())["reused_phases"] == {
        "dae": "snips2-3phase-s0"}
    monkeypatch.setattr(sys, "argv", grid_argv(["dae_ft"], "longer") + ["--dae_epochs", "2"])
    shutil.copytree(tmp_path / "other" / "runs" / "snips2-3phase-s0", tmp_path / "longer" / "runs" / "snips2-3phase-s0")
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        run_glue_style.main()
    assert "the copy of dae is refused" in caplog.text  # tried, refused by the records, trained anew
    longer = json.loads((tmp_path / "longer" / "results" / "snips2-dae_ft-s0.json").read_text())
    assert "reused_phases" not in longer
    trained = tmp_path / "longer" / "runs" / "snips2-dae_ft-s0" / "dae" / "model.safetensors"
    assert trained.read_bytes() != donor.read_bytes()


def test_paired_table_subtracts_ft_on_the_same_seed_only():
    def run(variant, seed, accuracy, f1):
        return {"task": "sst5", "variant": variant, "seed": seed, "test": {"accuracy": accuracy, "f1": f1}}

    results = [run("ft", 0, 0.50, 0.40), run("ft", 1, 0.60, 0.50), run("3phase", 0, 0.52, 0.40),
               run("3phase", 1, 0.59, 0.46), run("3phase", 2, 0.99, 0.99), run("joint", 0, 0.49, 0.41),
               run("joint", 1, 0.60, 0.52)]
    table = run_glue_style.paired_table(results, ["sst5", "snips2"], ["3phase", "joint"])
    # seed 2 has no FT run, so it is left out: differences +2, -1 (accuracy) and 0, -4 (F1).
    assert "| 3phase | +0.50 ± 2.12 / -2.00 ± 2.83 (1/0/1) | – |" in table
    assert "| joint | -0.50 ± 0.71 / +1.50 ± 0.71 (0/1/1) | – |" in table


def test_setfit_is_a_row_of_table_3_only_not_an_ablation():
    results = [{"task": "sst5", "variant": v, "seed": 0, "test": {"accuracy": 0.5, "f1": 0.4}}
               for v in ("ft", "setfit", "3phase", "dae_ft")]
    tables = run_glue_style.tables(results).split("### ")
    table3, ablations = tables[1], tables[2:4]
    assert "| setfit |" in table3 and all("| setfit |" not in t and "| dae_ft |" in t for t in ablations)


def test_a_results_folder_of_another_profile_is_refused_before_any_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "sst5-3phase-s1.json").write_text(json.dumps({"task": "sst5", "variant": "3phase", "seed": 1,
                                                              "test": {"accuracy": 0.5, "f1": 0.4}}))  # no profile: old
    monkeypatch.setattr(sys, "argv", ["run_glue_style.py", "--model_name_or_path", "unused", "--task_name", "sst5",
                                      "--variants", "ft", "--seeds", "0", "--results_dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        run_glue_style.main()
    assert "sst5-3phase-s1.json ran --profile old, not new: use another --results_dir" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sst5-3phase-s1.json"]  # nothing run, no table written
