#!/usr/bin/env python
"""The paper's experiments as one driver: tasks x variants x seeds -> one JSON per run, Tables 3 and 4 in Markdown.

    python run_glue_style.py --model_name_or_path <model> --task_name snips2 sst5 --variants 3phase ft \\
        --seeds 0 1 2 --data_dir ../shared/data --max_train_samples 3000 --results_dir benchmarks/results/glue_style

A finished (task, variant, seed) run is skipped, so the grid can run in pieces, in the background, across sessions.
A task reads `<data_dir>/<task>/{train,validation,test}.jsonl` (+ labels.json) when that folder exists, else its Hub
dataset. `--variants setfit` adds SetFit with the same body (an extra row; needs the setfit package; it draws
`--pairs_per_example` pairs per text: half as many iterations). The runs go through `benchmarks/harness.py`: the
package's command line in process, at the recipe settings of `--profile` (`new`, the default: the package's defaults,
in-batch pairs, 1/K same-class weight, LP-FT; `old`: sampled pairs at 1:1 and a random head, those of
`benchmarks/results/glue_style/`), each profile with its own default results and run folders; a results folder
holding runs of the other profile is refused before any run. A variant that starts with the same phase as another
variant's finished run of the task and seed starts from a copy of it, which the package's records accept only if it
is the same computation (else it is trained anew). A run's `wall_s` counts from reading its data to its results.
"""

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
import harness  # noqa: E402
from hf_threephase import VARIANTS, ThreePhaseArguments  # noqa: E402
from hf_threephase.cli import parse_args  # noqa: E402
from hf_threephase.data import load_labelled_data  # noqa: E402
from hf_threephase.imbalance import class_multipliers  # noqa: E402

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


def data_flags(task: str, cli) -> list[str]:
    """A task's data flags: `<data_dir>/<task>/` when that folder exists, else its Hub dataset; the split limits."""
    limits = [x for flag in ("max_train_samples", "max_eval_samples", "max_predict_samples")
              if getattr(cli, flag) is not None for x in (f"--{flag}", str(getattr(cli, flag)))]
    if cli.data_dir and (Path(cli.data_dir) / task).is_dir():
        return [*harness.file_flags(task, Path(cli.data_dir)), *limits]
    name, config, text, label = TASKS[task]
    return ["--dataset_name", name, *(["--dataset_config_name", config] if config else []), "--text_column", text,
            "--label_column", label, *limits]


def budget_flags(cli) -> list[str]:
    """The grid's budget: epochs per phase (Joint at the CL epochs), learning rate, batch, length, checkpoints; the
    sampled-pair budget only where the profile samples pairs."""
    pairs = ["--pairs_per_example", str(cli.pairs_per_example)] if cli.profile == "old" else []
    return ["--dae_num_train_epochs", str(cli.dae_epochs), "--cl_num_train_epochs", str(cli.cl_epochs),
            "--joint_num_train_epochs", str(cli.cl_epochs), "--ft_num_train_epochs", str(cli.ft_epochs),
            "--learning_rate", str(cli.learning_rate), "--per_device_train_batch_size", str(cli.batch_size),
            "--per_device_eval_batch_size", "64", "--max_seq_length", str(cli.max_seq_length), "--logging_steps", "50",
            "--save_steps", str(cli.save_steps), *pairs]


def correction_adds_copies(train, label_space) -> bool:
    """Whether 3phase's default imbalance correction up-samples any class of this train split."""
    default = ThreePhaseArguments()
    multipliers = class_multipliers(label_space.pair_labels(train), default.imbalance_max_ratio,
                                    default.imbalance_min_ratio)
    return any(m > 1 for m in multipliers.values())


def first_phase_donors(task: str, variant: str, seed: int, cli) -> dict:
    """The first phase of the first other variant's run of this task and seed that starts with the same phase and has
    it finished ({phase: folder}, or {}): `harness.run_recipe` copies it and the package's records accept it only if
    its data and settings are this run's (else it is trained anew)."""
    first = VARIANTS[variant].phases[0]
    for donor in VARIANTS:
        folder = Path(cli.output_dir) / f"{task}-{donor}-s{seed}" / first
        if donor != variant and VARIANTS[donor].phases[0] == first and (folder / "config.json").exists():
            return {first: folder}
    return {}


def run_one(task: str, variant: str, seed: int, cli, results_dir: Path) -> dict:
    output_dir = Path(cli.output_dir) / f"{task}-{variant}-s{seed}"
    argv = harness.recipe_argv("ft" if variant == "setfit" else variant, output_dir, seed, data_flags(task, cli),
                               budget_flags(cli), cli.profile, cli.model_name_or_path)
    data, label_space = load_labelled_data(parse_args(argv)[1], seed=seed)
    if variant == "no_imb" and not correction_adds_copies(data["train"], label_space):
        base = results_dir / f"{task}-3phase-s{seed}.json"
        if not base.exists():
            write_run(base, run_one(task, "3phase", seed, cli, results_dir), cli)
        return {**json.loads(base.read_text()), "variant": variant, "same_run_as": "3phase", "note": SAME_AS_3PHASE}
    start = time.time()
    # A rerun after a stop goes on from the phase folders and checkpoints there: its wall_s is this invocation only.
    resumed = variant != "setfit" and output_dir.is_dir() and any(p.is_dir() for p in output_dir.iterdir())
    if variant == "setfit":
        settings = harness.SetFitSettings(num_iterations=cli.pairs_per_example // 2 or 1, name="setfit")
        result = harness.run_setfit(cli.model_name_or_path, data["train"], data["test"], seed,
                                    len(label_space.names), settings, cli.max_seq_length, cli.batch_size)
    else:
        result = harness.run_recipe(argv, first_phase_donors(task, variant, seed, cli))
    sizes = Counter(map(str, data["train"]["label"]))
    return {"task": task, "variant": variant, "seed": seed, "profile": cli.profile, "wall_s": time.time() - start,
            "train_examples": len(data["train"]), "train_class_sizes": dict(sorted(sizes.items())),
            "test": result["test"], **({"resumed": True} if resumed else {}),
            **({"reused_phases": result["phases_from"]} if result.get("phases_from") else {})}


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
    ablations = [v for v in variants if v != "setfit"]  # SetFit is Table 3's row, not an ablation
    return "\n\n".join([
        table("Table 3 layout: test accuracy, mean ± std over seeds", main_rows, "accuracy"),
        table("Table 4 layout: ablations, test accuracy", ablations, "accuracy"),
        table("Table 4 layout: ablations, test macro F1", ablations, "f1"),
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
    parser.add_argument("--pairs_per_example", type=int, default=2, help="sampled CL pairs per text (profile old) "
                        "and SetFit's pairs (half as many iterations)")
    parser.add_argument("--profile", choices=list(harness.PROFILES), default="new",
                        help="the recipe settings: the package's defaults (new) or those before issue 34 (old)")
    parser.add_argument("--max_seq_length", type=int, default=64)
    parser.add_argument("--save_steps", type=int, default=50, help="checkpoint interval of DAE, CL and Joint, to resume")
    parser.add_argument("--output_dir", help="run folders; default runs/glue_style (profile old) or "
                        "runs/glue_style_new")
    parser.add_argument("--results_dir", help="one JSON per run and tables.md; default "
                        "benchmarks/results/glue_style (profile old) or benchmarks/results/glue_style_new")
    cli = parser.parse_args()
    suffix = "" if cli.profile == "old" else f"_{cli.profile}"
    cli.output_dir = cli.output_dir or f"runs/glue_style{suffix}"
    cli.results_dir = cli.results_dir or f"benchmarks/results/glue_style{suffix}"
    results_dir = Path(cli.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(results_dir.glob("*.json")):  # before any run: one profile per results folder
        recorded = json.loads(path.read_text()).get("profile", "old")  # records before profiles: old
        if recorded != cli.profile:
            parser.error(f"{path} ran --profile {recorded}, not {cli.profile}: use another --results_dir")
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
