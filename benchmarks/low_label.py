#!/usr/bin/env python
r"""Where does 3-Phase beat fine-tuning? The low-label benchmark on the real all-MiniLM-L6-v2.

Regimes:
- `k_shot`: k labelled train texts per class (drawn with the run's seed, shared by every arm of that seed), the
  other train texts as text-only DAE data (at most --text_only), and the test split in full.
- `imbalanced`: a long-tailed train split drawn per seed (class sizes --tail, largest first, the classes in a seeded
  order), no text-only data; macro F1 is the headline there.
Both select on one validation subset, at most --val_per_class texts per class drawn with seed 0, the same for every
run, and read the test split once.

Arms: ft; ft_weighted (class-weighted cross-entropy, what a practitioner tries first on imbalanced data); ft_frozen (a head on the frozen encoder, the paper's probe, at learning rate 1e-3); dae_ft; cl_ft; 3phase; joint; no_imb and
extra_imb (the imbalance correction off / at max_ratio 20); setfit (SetFit 1.x at its own defaults: its
oversampling pair strategy, one epoch, a logistic-regression head, the same body), setfit_it20 (20 iterations: 20
positive and 20 negative pairs per text, the SetFit paper's setting) and setfit_e2e (a differentiable head trained with the body unfrozen). Runs, data
draws, SetFit and phase reuse go through `harness.py`; every run pins the old recipe settings (harness.OLD_DEFAULTS)
under its budget, and a sweep's flags override them. FT keeps the checkpoint best in
validation accuracy (the package's default) unless --metric_for_best_model names another metric (e.g. f1, for the
macro-F1 headline): such runs form settings of their own (`k32-sel_f1`), and so do sweeps (--sweep_name with
--sweep_flags: `k32-sel_f1-pairs2`), compared with ft and setfit of the setting without the sweep. Arms share phases
(`phase_donors`): a run starts from copies of the finished phases before FT of the same arm and seed without the sweep,
else on the default selection (SetFit, which selects nothing, takes that run's result), else dae_ft, no_imb and
extra_imb from 3phase's DAE; the runner reuses a copy only if its recorded data and settings match, and a refused copy
is removed with those after it and trained anew. A finished run is
skipped; a stopped one resumes from its phase folders and checkpoints. Each run writes a JSON (results, diagnostics,
this invocation's wall seconds per phase, in which a reused phase counts 0, and the command); the summary table goes
to <task>-<regime>-summary.md.

    python benchmarks/low_label.py --task sst5 --k 8 32 --seeds 0 1 2 3 4
    python benchmarks/low_label.py --task sst5 --k 8 32 --seeds 0 1 2 --metric_for_best_model f1
    python benchmarks/low_label.py --task sst5 --regime imbalanced --arms ft ft_weighted 3phase no_imb extra_imb cl_ft \
        --seeds 0 1 2 --metric_for_best_model f1
    python benchmarks/low_label.py --task sst5 --k 32 --seeds 0 1 2 --metric_for_best_model f1 --arms cl_ft \
        --sweep_name pairs2 --sweep_flags "--pairs_per_example 2"
"""

import argparse
import json
import logging
import re
import shlex
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import harness
from harness import DATA, ROOT, mean_std, paired_cells
from hf_threephase.registry import VARIANTS

logger = logging.getLogger("hf_threephase")
# The budget every table here ran at, with the old recipe settings (harness.OLD_DEFAULTS) pinned; a sweep's flags
# come later and override them (the new defaults ran as the sweeps `lpft` for ft and `ib10lp` for cl_ft and 3phase:
# harness.NEW_DEFAULTS with --cl_num_train_epochs 10).
BUDGET = ["--max_seq_length", "64", "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "64",
          "--learning_rate", "5e-5", "--dae_num_train_epochs", "1", "--cl_num_train_epochs", "2",
          "--joint_num_train_epochs", "2", "--ft_num_train_epochs", "20", "--save_steps", "50"]
ARMS = [*(a for a in harness.ARMS if a not in ("3phase_old", "3phase_pos02", "3phase_auto")), "setfit_it20",
        "setfit_e2e"]
SETFITS = tuple(harness.SETFIT)
# (phase, diagnostic) shown in the summary, after the phase, on validation
SHOWN = [("dae", "information_gap"), ("dae", "centroid_accuracy"), ("cl", "cosine_gap"), ("cl", "mean_pairwise_cosine"),
         ("cl", "centroid_accuracy"), ("joint", "information_gap"), ("joint", "cosine_gap"),
         ("joint", "mean_pairwise_cosine")]


def data_flags(task: str, regime: str, k: int | None, seed: int, cli) -> list[str]:
    """The data flags of a run: the shared validation subset, and the regime's train data."""
    work = Path(cli.output_dir) / "data"
    validation = work / f"{task}-validation-{cli.val_per_class}.jsonl"
    if not validation.exists():
        harness.write_jsonl(validation, harness.per_class_subset(harness.read_rows(task, "validation"),
                                                                 cli.val_per_class, np.random.default_rng(0)))
    flags = harness.file_flags(task, validation=validation)
    if regime == "k_shot":
        return [*flags, *harness.k_shot_flags(k, cli.text_only)]
    train = imbalanced_train_file(task, seed, cli)
    if not train.exists():
        rows = harness.read_rows(task, "train")
        rng = np.random.default_rng(seed)
        order = rng.permutation(sorted({row["label"] for row in rows}))
        drawn = []
        for label, size in zip(order, cli.tail):
            members = [i for i, row in enumerate(rows) if row["label"] == label]
            drawn += rng.choice(members, size=min(size, len(members)), replace=False).tolist()
        harness.write_jsonl(train, [rows[i] for i in sorted(drawn)])
    return [*flags[:flags.index("--train_file")], "--train_file", str(train),
            *flags[flags.index("--train_file") + 2:]]


def imbalanced_train_file(task: str, seed: int, cli) -> Path:
    return Path(cli.output_dir) / "data" / f"{task}-imbalanced-{'-'.join(map(str, cli.tail))}-s{seed}.jsonl"


def train_class_sizes(task: str, seed: int, cli) -> dict[str, int]:
    """The imbalanced regime's train split of `seed`: {label name: texts} for every label, largest first."""
    names = json.loads((DATA / task / "labels.json").read_text())
    counts = Counter(json.loads(line)["label"] for line in imbalanced_train_file(task, seed, cli).read_text().splitlines())
    return dict(sorted(((name, counts[label]) for label, name in enumerate(names)), key=lambda item: -item[1]))


def run_one(task: str, regime: str, k: int | None, arm: str, seed: int, cli) -> dict:
    name = f"{task}-{regime_name(regime, k, cli)}-{arm}-s{seed}"
    output_dir = Path(cli.output_dir) / name
    extra = (["--metric_for_best_model", cli.metric_for_best_model] if cli.metric_for_best_model else [])
    budget = [*BUDGET, *extra, *shlex.split(cli.sweep_flags)]
    if arm in SETFITS:
        argv = harness.recipe_argv("ft", output_dir, seed, data_flags(task, regime, k, seed, cli), budget, "old")
        base = Path(cli.results_dir) / f"{task}-{regime_name(regime, k)}-{arm}-s{seed}.json"
        if cli.metric_for_best_model and base.exists():  # SetFit selects nothing: the same run
            return {"same_run_as": base.stem, **{key: value for key, value in json.loads(base.read_text()).items()
                                                 if key in ("command", "test", "wall_s", "train_wall_s", "diagnostics",
                                                            "label_names", "setfit")}}
        return harness.setfit_on_argv(argv, seed, harness.SETFIT[arm])
    argv = harness.recipe_argv(arm, output_dir, seed, data_flags(task, regime, k, seed, cli), budget, "old")
    return harness.run_recipe(argv, phase_donors(task, regime, k, arm, seed, cli))


def phase_donors(task: str, regime: str, k: int | None, arm: str, seed: int, cli) -> dict[str, Path]:
    """Finished phase folders this run may start from ({phase: folder}, in chain order). For arms that start with a
    DAE (dae_ft, no_imb, extra_imb), first 3phase's DAE of the same seed in this setting: the same computation.
    Else the phases before FT of the same arm and seed in the first of these settings that has them: without
    --sweep_name (a sweep may leave the early phases as they are), on the default selection (FT's metric changes only
    FT); else 3phase's DAE of the same seed in those."""
    root = Path(cli.output_dir)
    phases = VARIANTS[harness.ARMS[arm].variant].phases[:-1]
    shares_dae = arm != "3phase" and phases[:1] == ("dae",)
    bases = [regime_name(regime, k, cli, sweep=False)] if cli.sweep_name else []
    bases += [regime_name(regime, k)] if cli.metric_for_best_model else []
    dae = root / f"{task}-{regime_name(regime, k, cli)}-3phase-s{seed}" / "dae"
    if shares_dae and (dae / "config.json").exists():
        return {"dae": dae}
    for setting in bases:
        if found := harness.finished_phases(root / f"{task}-{setting}-{arm}-s{seed}", phases):
            return found
    for setting in bases if shares_dae else []:
        dae = root / f"{task}-{setting}-3phase-s{seed}" / "dae"
        if (dae / "config.json").exists():
            return {"dae": dae}
    return {}


def regime_name(regime: str, k: int | None, cli=None, sweep: bool = True) -> str:
    """A setting's name: `k8`, `imbalanced`; `-sel_f1` where FT selects on --metric_for_best_model f1; `-<name>` for a
    sweep's --sweep_name."""
    name = f"k{k}" if regime == "k_shot" else "imbalanced"
    if cli is not None and cli.metric_for_best_model:
        name += f"-sel_{cli.metric_for_best_model}"
    if cli is not None and sweep and cli.sweep_name:
        name += f"-{cli.sweep_name}"
    return name


def summary(results_dir: Path, task: str, regime: str) -> str:
    runs = [json.loads(p.read_text()) for p in sorted(results_dir.glob(f"{task}-*.json"))]
    runs = [r for r in runs if r.get("regime") == regime]
    lines = [f"### {task}, {regime}: test macro F1 / accuracy (%), mean ± std over seeds; paired macro-F1 difference "
             "per seed to ft and to setfit, with their mean ± std (seeds ahead / tied within 0.5 / behind)", "",
             "| setting | arm | seeds | macro F1 | accuracy | − ft, per seed | a/t/b | − setfit, per seed | a/t/b | "
             "wall s (a reused phase: 0) | phase diagnostics after (mean) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    k_of = {r["setting"]: r["k"] or 0 for r in runs}
    for setting in sorted(k_of, key=k_of.get):
        by = {(r["arm"], r["seed"]): r for r in runs if r["setting"] == setting}
        base = next((r["base_setting"] for r in runs if r["setting"] == setting and "base_setting" in r), setting)
        references = {(r["arm"], r["seed"]): r for r in runs if r["setting"] == base}
        for arm in [a for a in ARMS if any(a == b for b, _ in by)]:
            seeds = sorted(s for a, s in by if a == arm)
            if all("same_run_as" in by[arm, s] for s in seeds):  # SetFit's run of the base setting, listed there
                continue
            f1 = [100 * by[arm, s]["test"]["f1"] for s in seeds]
            acc = [100 * by[arm, s]["test"]["accuracy"] for s in seeds]
            paired = []
            for reference in ("ft", "setfit"):
                diffs = [f1[i] - 100 * references[reference, s]["test"]["f1"] for i, s in enumerate(seeds)
                         if (reference, s) in references]
                paired += ["", ""] if arm == reference or not diffs else paired_cells(diffs)
            wall = statistics.mean(sum(v for v in by[arm, s]["wall_s"].values() if v) for s in seeds)
            shown = []
            if all("train_class_sizes" in by[arm, s] for s in seeds):  # imbalanced: each class's F1 by its size rank
                ranked = [list(by[arm, s]["train_class_sizes"].items()) for s in seeds]
                f1_by_rank = [statistics.mean(by[arm, s]["test"]["per_class"][classes[i][0]]["f1"]
                                              for s, classes in zip(seeds, ranked)) for i in range(len(ranked[0]))]
                shown.append(f"test F1 (0–1) of the classes of {' / '.join(str(n) for _, n in ranked[0])} train "
                             f"texts: {' / '.join(f'{v:.3f}' for v in f1_by_rank)}")
            for phase, metric in SHOWN:
                values = [by[arm, s]["diagnostics"][phase]["after"][metric] for s in seeds
                          if phase in by[arm, s].get("diagnostics", {})]
                if values:
                    shown.append(f"{phase} {metric} {statistics.mean(values):.3f}")
            lines.append(f"| {setting} | {arm} | {len(seeds)} | {mean_std(f1)} | {mean_std(acc)} | "
                         f"{' | '.join(paired)} | {wall:.0f} | {'; '.join(shown)} |")
    lines += ["", "A setting that differs only in FT's selection (`-sel_<metric>`) is compared with SetFit's run of the "
              "setting without it (SetFit selects nothing), listed there once."]
    table = "\n".join(lines) + "\n" + sweep_table(task, regime, runs)
    (results_dir / f"{task}-{regime}-summary.md").write_text(table)
    return table


# (phase, diagnostic) shown for a sweep, with the same arm's value without the sweep
SWEEP_SHOWN = {"dae": ("information_gap", "mean_pairwise_cosine", "centroid_accuracy"),
               "cl": ("cosine_gap", "mean_pairwise_cosine", "pair_loss", "centroid_accuracy")}


def sweep_table(task: str, regime: str, runs: list[dict]) -> str:
    """Each sweep's runs against the same arm and seeds in the setting without the sweep (its `base_setting`):
    macro F1 and its paired difference, the wall seconds of the phases it trained, and the swept phases' diagnostics
    after, beside the base's."""
    swept = sorted({(r["setting"], r["arm"]) for r in runs if "sweep_flags" in r})
    if not swept:
        return ""
    lines = ["", f"### {task}, {regime}, sweeps: each against the same arm and seeds without the sweep", "",
             "| setting | flags | arm | seeds | macro F1 | without the sweep | − without, per seed | a/t/b | − ft, per seed | "
             "wall s of the phases it trained (mean) | diagnostics after, on validation (without the sweep) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for setting, arm in swept:
        by = {r["seed"]: r for r in runs if (r["setting"], r["arm"]) == (setting, arm)}
        base_setting = next(iter(by.values()))["base_setting"]
        base = {r["seed"]: r for r in runs if (r["setting"], r["arm"]) == (base_setting, arm)}
        ft = {r["seed"]: r for r in runs if (r["setting"], r["arm"]) == (base_setting, "ft")}
        seeds = sorted(s for s in by if s in base)
        if not seeds:
            continue
        f1 = lambda group, s: 100 * group[s]["test"]["f1"]  # noqa: E731
        per_seed, tally = paired_cells([f1(by, s) - f1(base, s) for s in seeds])
        trained = [p for p in by[seeds[0]]["wall_s"] if all(by[s]["wall_s"][p] for s in seeds)]
        wall = ", ".join(f"{p} {statistics.mean(by[s]['wall_s'][p] for s in seeds):.0f}" for p in trained)
        shown = [f"{phase} {metric} {statistics.mean(by[s]['diagnostics'][phase]['after'][metric] for s in seeds):.3f} "
                 f"({statistics.mean(base[s]['diagnostics'][phase]['after'][metric] for s in seeds):.3f})"
                 for phase, metrics in SWEEP_SHOWN.items() if phase in trained for metric in metrics]
        lines.append(f"| {setting} | `{by[seeds[0]]['sweep_flags']}` | {arm} | {len(seeds)} | "
                     f"{mean_std([f1(by, s) for s in seeds])} | {mean_std([f1(base, s) for s in seeds])} | "
                     f"{per_seed} | {tally} | "
                     f"{', '.join(f'{f1(by, s) - f1(ft, s):+.2f}' for s in seeds if s in ft)} | {wall} | "
                     f"{'; '.join(shown)} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="sst5")
    parser.add_argument("--regime", choices=["k_shot", "imbalanced"], default="k_shot")
    parser.add_argument("--k", nargs="+", type=int, default=[8, 32], help="labelled texts per class (k_shot)")
    parser.add_argument("--tail", nargs="+", type=int, default=[810, 270, 90, 30, 10],
                        help="imbalanced: class sizes, largest first (one per class)")
    parser.add_argument("--text_only", type=int, default=5000, help="k_shot: cap on the text-only DAE texts")
    parser.add_argument("--val_per_class", type=int, default=100)
    parser.add_argument("--metric_for_best_model", help="FT's selection metric (e.g. f1; default: the package's, "
                        "accuracy), in settings named <k>-sel_<metric>: the phases before FT are copied from the run "
                        "of the same arm and seed on the default, and SetFit's result is that run's")
    parser.add_argument("--sweep_name", help="a sweep's setting suffix (`k32-sel_f1-pairs2`); its runs are compared "
                        "with ft and setfit of the setting without it")
    parser.add_argument("--sweep_flags", default="", help="run_threephase flags of the sweep, one string "
                        "(e.g. '--pairs_per_example 2')")
    parser.add_argument("--arms", nargs="+", default=["ft", "ft_frozen", "dae_ft", "cl_ft", "3phase", "joint",
                                                      "setfit"], choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--output_dir", default="runs/low_label")
    parser.add_argument("--results_dir", default=str(ROOT / "benchmarks" / "results" / "low_label"))
    cli = parser.parse_args()
    if bool(cli.sweep_name) != bool(cli.sweep_flags):
        parser.error("--sweep_name and --sweep_flags come together")
    if cli.sweep_name and (not re.fullmatch(r"[a-z][a-z0-9_]*", cli.sweep_name) or cli.sweep_name.startswith("sel_")):
        parser.error(f"--sweep_name {cli.sweep_name!r}: lower-case letters, digits and _, not starting with sel_")
    if cli.sweep_name and set(SETFITS) & set(cli.arms):
        parser.error("--sweep_flags are run_threephase flags: SetFit takes none; leave setfit out of a sweep")
    store = harness.ResultStore(cli.results_dir)
    settings = cli.k if cli.regime == "k_shot" else [None]
    arms = sorted(cli.arms, key=lambda a: a != "3phase")  # 3phase first: dae_ft, no_imb and extra_imb reuse its DAE
    for k in settings:
        for seed in cli.seeds:
            for arm in arms:
                setting = regime_name(cli.regime, k, cli)
                name = f"{cli.task}-{setting}-{arm}-s{seed}"
                if (done := store.get(name)) is not None:
                    recorded = done.get("sweep_flags", "")
                    if cli.sweep_name and recorded != cli.sweep_flags:
                        parser.error(f"{store.path(name)} ran --sweep_flags {recorded!r}, not {cli.sweep_flags!r}: another "
                                     "--sweep_name")
                    continue
                result = run_one(cli.task, cli.regime, k, arm, seed, cli)
                record = {"task": cli.task, "regime": cli.regime, "setting": setting, "k": k, "arm": arm,
                          "seed": seed, "text_only_cap": cli.text_only if cli.regime == "k_shot" else 0,
                          **({"train_class_sizes": train_class_sizes(cli.task, seed, cli)}
                             if cli.regime == "imbalanced" else {}),
                          **({"base_setting": regime_name(cli.regime, k, cli, sweep=False),
                              "sweep_flags": cli.sweep_flags} if cli.sweep_name else {}),
                          **result}
                if cost := harness.cl_cost(Path(cli.output_dir) / name):
                    record["cl_cost"] = cost
                store.put(name, record)
            print(summary(store.folder, cli.task, cli.regime), flush=True)


if __name__ == "__main__":
    sys.exit(main())
