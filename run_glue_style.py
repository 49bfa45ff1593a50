#!/usr/bin/env python
"""The paper's experiments as one driver: tasks x variants x seeds -> one JSON per run, Tables 3 and 4 in Markdown.

    python run_glue_style.py --model_name_or_path <model> --task_name snips2 sst5 --variants 3phase ft \\
        --seeds 0 1 2 --data_dir ../shared/data --max_train_samples 3000 --results_dir benchmarks/results/glue_style

A finished (task, variant, seed) run is skipped, so the grid can run in pieces, in the background, across sessions.
A task reads `<data_dir>/<task>/{train,validation,test}.jsonl` (+ labels.json) when that folder exists, else its Hub
dataset. `--variants setfit` adds SetFit with the same body (an extra row; needs the setfit package).
"""

import argparse
import json
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path

from transformers import TrainingArguments

from hf_threephase import VARIANTS, PhaseArguments, ThreePhaseArguments, run_phases
from hf_threephase.data import DataTrainingArguments, load_labelled_data
from hf_threephase.imbalance import class_multipliers
from hf_threephase.phase_records import RECORD_FILE

# task: (Hub dataset, config, text column, label column)
TASKS = {
    "snips2": ("benayas/snips", None, "text", "category"),
    "sst2": ("stanfordnlp/sst2", None, "sentence", "label"),
    "sst5": ("SetFit/sst5", None, "text", "label"),
    "agnews": ("fancyzhx/ag_news", None, "text", "label"),
    "imdb": ("stanfordnlp/imdb", None, "text", "label"),
    "snips": ("benayas/snips", None, "text", "category"),
}
TABLE3 = ["ft", "setfit", "3phase", "joint"]
SAME_AS_3PHASE = ("no_imb trains exactly the 3phase run when the imbalance correction adds no copies (every class "
                  "multiplier 1 on this train split), so the 3phase result is reported")


def data_arguments(task: str, cli) -> DataTrainingArguments:
    folder = Path(cli.data_dir) / task if cli.data_dir else None
    limits = dict(max_train_samples=cli.max_train_samples, max_eval_samples=cli.max_eval_samples,
                  max_predict_samples=cli.max_predict_samples)
    if folder is not None and folder.is_dir():
        names = folder / "labels.json"
        return DataTrainingArguments(
            train_file=str(folder / "train.jsonl"), validation_file=str(folder / "validation.jsonl"),
            test_file=str(folder / "test.jsonl"), label_names_file=str(names) if names.exists() else None, **limits)
    name, config, text, label = TASKS[task]
    return DataTrainingArguments(dataset_name=name, dataset_config_name=config, text_column=text, label_column=label,
                                 **limits)


def run_setfit(model: str, data, output_dir: Path, seed: int, cli) -> dict:
    from setfit import SetFitModel, Trainer
    from setfit import TrainingArguments as SetFitArguments

    from hf_threephase.metrics import classification_metrics

    args = SetFitArguments(output_dir=str(output_dir), batch_size=cli.batch_size, num_epochs=1, num_iterations=cli.pairs_per_example // 2 or 1,
                           seed=seed, report_to="none", show_progress_bar=False, max_length=cli.max_seq_length)
    trainer = Trainer(model=SetFitModel.from_pretrained(model), args=args, train_dataset=data["train"])
    trainer.train()
    predictions = trainer.model.predict(data["test"]["text"], batch_size=64, as_numpy=True)
    return {"test": classification_metrics(data["test"]["label"], predictions)}


def correction_adds_copies(train, label_space) -> bool:
    """Whether 3phase's default imbalance correction up-samples any class of this train split."""
    default = ThreePhaseArguments()
    multipliers = class_multipliers(label_space.pair_labels(train), default.imbalance_max_ratio,
                                    default.imbalance_min_ratio)
    return any(m > 1 for m in multipliers.values())


# The first phases that runs of a task and seed may share, each with the driver settings that do not change what it
# computes (the variants that start with it run the same phase: same data, settings and seed, set before every phase).
SHAREABLE_FIRST_PHASES = {
    "dae": {"task_name", "variants", "seeds", "results_dir", "cl_epochs", "ft_epochs", "pairs_per_example",
            "save_steps"},
}


def reuse_first_phase(task: str, variant: str, seed: int, cli, results_dir: Path, output_dir: Path) -> str | None:
    """Copy a finished run's first phase into `output_dir` when this run's would be the same computation: a donor
    variant that starts with the same shareable phase, whose recorded command matches this one outside that phase's
    independent settings, and whose folder records its data and settings (`run_phases` checks them). Returns the
    donor's run name (also when an earlier, stopped invocation of this run copied it), or None."""
    first = VARIANTS[variant].phases[0]
    if first not in SHAREABLE_FIRST_PHASES:
        return None
    marker = output_dir / f".{first}_reused_from"
    if (output_dir / first).exists():
        return marker.read_text() if marker.exists() else None
    independent = SHAREABLE_FIRST_PHASES[first]
    settings = {k: v for k, v in vars(cli).items() if k not in independent}
    for donor in VARIANTS:
        record_path = results_dir / f"{task}-{donor}-s{seed}.json"
        folder = Path(cli.output_dir) / f"{task}-{donor}-s{seed}" / first
        if donor == variant or VARIANTS[donor].phases[0] != first or not record_path.exists():
            continue
        record = json.loads(record_path.read_text())
        command = {k: v for k, v in record["command"].items() if k not in independent}
        # a folder without its record (written before records existed) would be refused by run_phases: not a donor
        if "same_run_as" not in record and command == settings and (folder / RECORD_FILE).exists():
            output_dir.mkdir(parents=True, exist_ok=True)
            marker.write_text(folder.parent.name)
            shutil.copytree(folder, output_dir / f".{first}.tmp", dirs_exist_ok=True)
            (output_dir / f".{first}.tmp").replace(output_dir / first)
            return folder.parent.name
    return None


def run_one(task: str, variant: str, seed: int, cli, results_dir: Path) -> dict:
    data, label_space = load_labelled_data(data_arguments(task, cli), seed=seed)
    if variant == "no_imb" and not correction_adds_copies(data["train"], label_space):
        base = results_dir / f"{task}-3phase-s{seed}.json"
        if not base.exists():
            write_run(base, run_one(task, "3phase", seed, cli, results_dir), cli)
        return {**json.loads(base.read_text()), "variant": variant, "same_run_as": "3phase", "note": SAME_AS_3PHASE}
    output_dir = Path(cli.output_dir) / f"{task}-{variant}-s{seed}"
    start = time.time()
    # A rerun after a stop goes on from the phase folders and checkpoints there: its wall_s is this invocation only.
    resumed = variant != "setfit" and output_dir.is_dir() and any(p.is_dir() for p in output_dir.iterdir())
    provenance = {"resumed": True} if resumed else {}
    if variant == "setfit":
        result = run_setfit(cli.model_name_or_path, data, output_dir, seed, cli)
    else:
        args = ThreePhaseArguments(variant=variant, pairs_per_example=cli.pairs_per_example,
                                   max_seq_length=cli.max_seq_length,
                                   positive_pair_fraction="0.5")  # 1:1, the default when the grid's tables ran
        epochs = {"dae": cli.dae_epochs, "cl": cli.cl_epochs, "joint": cli.cl_epochs, "ft": cli.ft_epochs}
        args.phase_arguments = {phase: PhaseArguments(num_train_epochs=n) for phase, n in epochs.items()}
        training_args = TrainingArguments(
            output_dir=str(output_dir), seed=seed,
            learning_rate=cli.learning_rate, per_device_train_batch_size=cli.batch_size,
            per_device_eval_batch_size=64, report_to="none", disable_tqdm=True, logging_steps=50,
            save_steps=cli.save_steps)
        if donor := reuse_first_phase(task, variant, seed, cli, results_dir, output_dir):
            provenance["reused_phases"] = {VARIANTS[variant].phases[0]: donor}
        result = run_phases(cli.model_name_or_path, data, label_space, args, training_args, data_source=task)
    sizes = Counter(map(str, data["train"]["label"]))
    return {"task": task, "variant": variant, "seed": seed, "wall_s": time.time() - start,
            "train_examples": len(data["train"]), "train_class_sizes": dict(sorted(sizes.items())),
            "test": result["test"], **provenance}


def write_run(path: Path, record: dict, cli):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**record, "command": record.get("command", vars(cli))}, indent=2))
    tmp.replace(path)


def cell(runs: list[dict], metric: str) -> str:
    values = [100 * r["test"][metric] for r in runs]
    mark = "†" if any("same_run_as" in r for r in runs) else ""
    if len(values) == 1:
        return f"{values[0]:.2f}{mark} (n=1)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}{mark} (n={len(values)})"


def tables(results: list[dict]) -> str:
    """Tables 3 and 4 over every run in `results`: tasks as columns, variants as rows, in the drivers' orders."""
    order = [*VARIANTS, "setfit"]
    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    variants = [v for v in order if any(r["variant"] == v for r in results)]

    def table(title, rows, metric):
        lines = header(title, tasks)
        for variant in rows:
            cells = []
            for task in tasks:
                runs = [r for r in results if r["task"] == task and r["variant"] == variant]
                cells.append(cell(runs, metric) if runs else "–")
            lines.append(f"| {variant} | " + " | ".join(cells) + " |")
        if any("same_run_as" in r for r in results if r["variant"] in rows):
            lines += ["", f"† {SAME_AS_3PHASE}."]
        return "\n".join(lines)

    main_rows = [v for v in TABLE3 if v in variants]
    return "\n\n".join([
        table("Table 3 layout: test accuracy, mean ± std over seeds", main_rows, "accuracy"),
        table("Table 4 layout: ablations, test accuracy", variants, "accuracy"),
        table("Table 4 layout: ablations, test macro F1", variants, "f1"),
        paired_table(results, tasks, [v for v in variants if v != "ft"]),
    ]) + "\n"


def header(title: str, tasks: list[str]) -> list[str]:
    return [f"### {title}", "", "| variant | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]


def paired_table(results: list[dict], tasks: list[str], variants: list[str]) -> str:
    """Each variant minus FT on the same task and seed, accuracy / macro F1 in points: mean ± std of the per-seed
    differences and the seeds it is ahead / tied / behind on, so a gap can be read against the seed spread."""
    by_key = {(r["task"], r["variant"], r["seed"]): r["test"] for r in results}

    def diff_cell(task, variant):
        seeds = sorted(s for t, v, s in by_key if t == task and v == variant and (task, "ft", s) in by_key)
        if not seeds:
            return "–"
        diffs = {m: [100 * (by_key[task, variant, s][m] - by_key[task, "ft", s][m]) for s in seeds]
                 for m in ("accuracy", "f1")}
        parts = [f"{statistics.mean(d):+.2f}" + (f" ± {statistics.stdev(d):.2f}" if len(d) > 1 else "")
                 for d in diffs.values()]
        accuracy = diffs["accuracy"]
        counts = [sum(d > 0 for d in accuracy), sum(d == 0 for d in accuracy), sum(d < 0 for d in accuracy)]
        return f"{parts[0]} / {parts[1]} ({'/'.join(map(str, counts))})"

    lines = header("Paired with FT: variant − ft on the same seed, test accuracy / macro F1 (points), and seeds "
                   "ahead / tied / behind in accuracy", tasks)
    lines += [f"| {v} | " + " | ".join(diff_cell(t, v) for t in tasks) + " |" for v in variants]
    return "\n".join(lines)


def write_tables(results_dir: Path) -> str:
    """Rewrite `tables.md` over every run file in `results_dir`; returns the Markdown."""
    markdown = tables([json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))])
    (results_dir / "tables.md").write_text(markdown)
    return markdown


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_name_or_path", required=True)
    parser.add_argument("--task_name", nargs="+", choices=list(TASKS), required=True)
    parser.add_argument("--variants", nargs="+", choices=[*VARIANTS, "setfit"], default=["3phase", "ft"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--max_train_samples", type=int, default=None)
    parser.add_argument("--max_eval_samples", type=int, default=None)
    parser.add_argument("--max_predict_samples", type=int, default=None)
    parser.add_argument("--dae_epochs", type=float, default=1)
    parser.add_argument("--cl_epochs", type=float, default=1)
    parser.add_argument("--ft_epochs", type=float, default=3)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--pairs_per_example", type=int, default=2)
    parser.add_argument("--max_seq_length", type=int, default=64)
    parser.add_argument("--save_steps", type=int, default=50, help="checkpoint interval of DAE, CL and Joint, to resume")
    parser.add_argument("--output_dir", default="runs/glue_style")
    parser.add_argument("--results_dir", default="benchmarks/results/glue_style")
    cli = parser.parse_args()
    results_dir = Path(cli.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    for task in cli.task_name:
        for seed in cli.seeds:
            for variant in cli.variants:
                path = results_dir / f"{task}-{variant}-s{seed}.json"
                if path.exists():
                    continue
                write_run(path, run_one(task, variant, seed, cli, results_dir), cli)
                write_tables(results_dir)
    print(write_tables(results_dir))


if __name__ == "__main__":
    main()
