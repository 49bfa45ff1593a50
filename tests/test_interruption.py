"""SIGKILL at the worst moments, then the same command again; and the same command twice gives the same results."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hf_threephase.runner import last_complete_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def command(bert_dir, files, out) -> list[str]:
    return [sys.executable, str(ROOT / "run_threephase.py"), "--model_name_or_path", str(bert_dir),
            "--train_file", str(files["train"]), "--validation_file", str(files["validation"]), "--test_file",
            str(files["test"]), "--text_column", "sentence", "--label_column", "topic", "--output_dir", str(out),
            "--num_train_epochs", "2", "--learning_rate", "1e-3", "--per_device_train_batch_size", "16",
            "--pairs_per_example", "2", "--max_seq_length", "32", "--report_to", "none", "--disable_tqdm", "true",
            "--seed", "5", "--save_steps", "3"]


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def kill_when(argv, ready) -> None:
    """Start the command, SIGKILL it as soon as `ready()` holds (polled every 5 ms)."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not ready():
        assert child.poll() is None, "the run ended before the moment to kill it"
        assert time.time() < deadline
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def without_timings(results: dict) -> dict:
    """The results but their timings, and the command (it names another --output_dir)."""
    return {split: {k: v for k, v in values.items() if "runtime" not in k and "per_second" not in k}
            if isinstance(values, dict) else values for split, values in results.items()
            if split not in ("wall_s", "command")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, bert_dir, files) -> dict:
    out = tmp_path_factory.mktemp("whole") / "run"
    run(command(bert_dir, files, out))
    return json.loads((out / "results.json").read_text())


def test_sigkill_inside_a_phase(tmp_path, bert_dir, files, uninterrupted):
    out = tmp_path / "run"
    work = out / ".work" / "cl"
    kill_when(command(bert_dir, files, out), lambda: work.is_dir() and any(work.glob("checkpoint-*/trainer_state.json")))
    assert (out / "dae").is_dir() and not (out / "cl").exists()
    run(command(bert_dir, files, out))
    assert json.loads((out / "results.json").read_text())["test"] == uninterrupted["test"]


def test_sigkill_while_a_phase_folder_is_written(tmp_path, bert_dir, files, uninterrupted):
    out = tmp_path / "run"
    kill_when(command(bert_dir, files, out), lambda: (out / ".cl.tmp" / "model.safetensors").exists())
    assert not (out / "cl").exists()  # a half-written folder is never taken for a finished phase
    run(command(bert_dir, files, out))
    assert not (out / ".cl.tmp").exists()
    assert json.loads((out / "results.json").read_text())["test"] == uninterrupted["test"]


def test_same_command_same_results(tmp_path, bert_dir, files, uninterrupted):
    out = tmp_path / "run"
    run(command(bert_dir, files, out))
    again = json.loads((out / "results.json").read_text())
    assert json.dumps(without_timings(again), sort_keys=True) == json.dumps(without_timings(uninterrupted),
                                                                           sort_keys=True)


def test_a_checkpoint_killed_while_saving_is_skipped(tmp_path, caplog):
    for step, state in ((2, '{"global_step": 2}'), (4, "")):  # checkpoint-4: trainer_state.json begun, not written
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    with caplog.at_level(logging.WARNING, logger="hf_threephase"):
        assert last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    assert f"{tmp_path / 'checkpoint-4'} was not written to the end" in caplog.text
    assert last_complete_checkpoint(str(tmp_path / "none")) is None
