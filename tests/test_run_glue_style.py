import json
import sys
from pathlib import Path

from conftest import TOPICS, corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run_glue_style  # noqa: E402


def test_grid_writes_runs_and_tables_and_skips_finished_runs(tmp_path, bert_dir, monkeypatch):
    task = tmp_path / "data" / "snips2"
    task.mkdir(parents=True)
    names = sorted(TOPICS)
    rows = [{"text": t, "label": names.index(l)} for t, l in corpus()]
    for split, chosen in {"train": rows, "validation": rows[::3], "test": rows[1::3]}.items():
        (task / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    (task / "labels.json").write_text(json.dumps(names))
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
