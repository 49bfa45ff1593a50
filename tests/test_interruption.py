"""SIGKILL at the worst moments, then the same command again; and the same command twice gives the same results."""

import errno
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import TrainerCallback, TrainingArguments

from hf_threephase import ThreePhaseArguments, run_phases
from hf_threephase.cli import main
from hf_threephase.data import DataTrainingArguments, load_labelled_data
from hf_threephase.runner import find_checkpoint
from hf_threephase.validation import InputError
from test_run_threephase import FAST, Interrupt, data_flags

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


def test_a_checkpoint_killed_while_saving_is_skipped(tmp_path):
    for step, state in ((2, '{"global_step": 2}'), (4, "")):  # checkpoint-4: trainer_state.json begun, not written
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-6").mkdir()  # killed before trainer_state.json
    assert find_checkpoint(str(tmp_path)) == (str(tmp_path / "checkpoint-2"),
                                              [str(tmp_path / "checkpoint-6"), str(tmp_path / "checkpoint-4")])
    assert find_checkpoint(str(tmp_path / "none")) == (None, [])


# --- what a rerun says it resumes, and does ---

def ft_run(out, bert_dir, files, callbacks=None) -> dict:
    """The FT phase alone, 3 epochs of 5 steps, a checkpoint each epoch."""
    data, space = load_labelled_data(DataTrainingArguments(
        train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]),
        text_column="sentence", label_column="topic"))
    training_args = TrainingArguments(output_dir=str(out), num_train_epochs=3, per_device_train_batch_size=16,
                                      learning_rate=1e-3, report_to="none", disable_tqdm=True, seed=5)
    return run_phases(str(bert_dir), data, space, ThreePhaseArguments(variant="ft", max_seq_length=32), training_args,
                      callbacks=callbacks)


@pytest.fixture(scope="module")
def interrupted_ft(tmp_path_factory, bert_dir, files) -> Path:
    """An FT phase stopped in its third epoch: checkpoints of its first two epochs in .work/ft."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.raises(KeyboardInterrupt):
        ft_run(out, bert_dir, files, [Interrupt("ft", 2.3)])
    assert sorted(p.name for p in (out / ".work" / "ft").glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]
    return out


class FirstStep(TrainerCallback):
    """Records the step training begins at (a resumed state's), and which checkpoints exist then."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.step = state.global_step
        self.checkpoints = sorted(p.name for p in Path(args.output_dir).glob("checkpoint-*"))


def lines_on_resuming(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hf_threephase"
            and any(words in r.getMessage() for words in ("checkpoint", "step 0", "resum"))]


# repro: ../shared/repros/readonly-and-full-disk, part (c): a save cut short, then the rerun
@pytest.mark.parametrize("case", ["resumable", "only an incomplete one", "an incomplete newest"])
def test_a_rerun_says_in_one_line_what_it_resumes_and_does_it(case, tmp_path, bert_dir, files, interrupted_ft,
                                                              caplog, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(interrupted_ft, out)
    work = out / ".work" / "ft"
    if case == "only an incomplete one":
        shutil.rmtree(work / "checkpoint-5")
        (work / "checkpoint-10" / "trainer_state.json").unlink()  # killed before writing it
        expected = (f"the ft phase starts from step 0: removed {work / 'checkpoint-10'}: not written to the end (the "
                    "run stopped while saving it), and no earlier checkpoint")
        step, left = 0, []
    elif case == "an incomplete newest":
        (work / "checkpoint-10" / "trainer_state.json").write_text('{"global_step": 1')  # killed while writing it
        expected = (f"resuming the ft phase from {work / 'checkpoint-5'} (step 5 of 15); removed "
                    f"{work / 'checkpoint-10'}: not written to the end (the run stopped while saving it)")
        step, left = 5, ["checkpoint-5"]
    else:
        expected = f"resuming the ft phase from {work / 'checkpoint-10'} (step 10 of 15)"
        step, left = 10, ["checkpoint-10", "checkpoint-5"]
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # and nothing is written to the current folder
    first = FirstStep()
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        results = ft_run(out, bert_dir, files, [first])
    assert lines_on_resuming(caplog) == [expected]
    assert (first.step, first.checkpoints) == (step, left)  # what it said: resumed there, the incomplete one gone
    assert set(results["test"]) >= {"accuracy", "f1"} and not list(work.glob("checkpoint-*"))
    assert not any((tmp_path / "cwd").iterdir())


def test_a_fresh_phase_says_it_starts_from_step_0(tmp_path, bert_dir, files, caplog):
    with caplog.at_level(logging.INFO, logger="hf_threephase"):
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(tmp_path / "out"),
              "--variant", "ft", *FAST])
    assert lines_on_resuming(caplog) == [
        f"the ft phase starts from step 0 (no checkpoint to resume in {tmp_path / 'out' / '.work' / 'ft'})"]


# --- an --output_dir that cannot be written: one line before any work ---

def test_an_output_dir_under_a_file_stops_before_any_work(tmp_path, bert_dir, files, capsys, monkeypatch):
    out = files["train"] / "run"  # its parent is a file: NotADirectoryError, for root too

    def loaded(*args, **kwargs):
        raise AssertionError("the data was read before --output_dir was checked")

    monkeypatch.setattr("hf_threephase.cli.load_labelled_data", loaded)
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), *FAST])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --output_dir {out}: cannot write there ({files['train']} is a file, not a folder)"]
    expected = f"--output_dir {out / 'deeper'}: cannot write there ({files['train']} is a file, not a folder)"
    with pytest.raises(InputError, match=f"^{re.escape(expected)}$"):
        ft_run(out / "deeper", bert_dir, files)  # a Python caller's run too


# repro: ../shared/repros/readonly-and-full-disk (setfit#562, transformers PR #35580)
@pytest.mark.parametrize("error, why", [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied")])
def test_a_read_only_output_dir_stops_before_any_work(tmp_path, bert_dir, files, capsys, monkeypatch, error, why):
    read_only, mkdir = tmp_path / "ro", os.mkdir
    read_only.mkdir()

    def refused(path, *args, **kwargs):  # as a read-only mount (or a folder of another user) refuses, root too
        if Path(path).is_relative_to(read_only):
            raise OSError(error, os.strerror(error), str(path))
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refused)
    out = read_only / "run"
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out), *FAST])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: --output_dir {out}: cannot write there ({why})"]
    assert not any(read_only.iterdir())


def test_a_folder_without_write_permission_stops_before_any_work(tmp_path, bert_dir, files, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("chmod does not stop this process (root: the tests above simulate it)")
        with pytest.raises(SystemExit):
            main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(locked), *FAST])
    finally:
        locked.chmod(0o700)
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --output_dir {locked}: cannot write there (permission denied)"]
