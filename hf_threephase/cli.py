"""`run_threephase.py` / `hf-threephase`: one HF-style command for every variant (the shape of run_glue.py)."""

import argparse
import dataclasses
import difflib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import transformers
import yaml
from transformers import AutoConfig, HfArgumentParser, TrainingArguments
from transformers.hf_argparser import string_to_bool

from .arguments import (LOGGING_SHARE, LoraArguments, RecipeArguments, ThreePhaseArguments, logs_by_default,
                        phase_argument_classes)
from .cards import CardArguments
from .data import DataTrainingArguments, cut_source, load_labelled_data
from .files import check_writable_folder, first_line
from .logs import quiet_by_design_notices
from .phase_records import unreadable_weights
from .registry import PHASES, VARIANTS, final_phase, reads_text_only
from .run_info import command_line, precision_line
from .runner import run_phases
from .preflight import check_report_to
from .validation import InputError, check_arguments

logger = logging.getLogger("hf_threephase")

DESCRIPTION = (
    "The 3-Phase fine-tuning recipe (arXiv 2405.14437) on transformers' Trainer: a denoising autoencoder (DAE), then "
    "supervised contrastive learning (CL), then fine-tuning (FT) of a classifier, each phase saved as a folder that "
    "from_pretrained loads. Give a model, a train and a test split, and --output_dir; flags can also come from one "
    ".json or .yaml file (run_threephase.py args.json)."
)
USAGE = ("%(prog)s --model_name_or_path MODEL --output_dir DIR (--train_file F --test_file F | --dataset_name NAME) "
         "[--variant V] [options]\n       %(prog)s ARGS.json|ARGS.yaml")
# run_glue.py's switches: every run here trains all its phases, evaluates on validation and predicts the test split.
RUN_GLUE_SWITCHES = ("do_train", "do_eval", "do_predict")
# refused with a message, so not offered in --help; false in an arguments file is left out
REFUSED_FLAGS = (*RUN_GLUE_SWITCHES, "load_best_model_at_end")
ARGS_FILE_SUFFIXES = (".json", ".yaml", ".yml")
# text-typed flags that hold a count (`--pairs_per_example 10` or `auto`): a file's whole float 10.0 is 10
COUNT_TEXT_FLAGS = frozenset({"pairs_per_example"})


@dataclass
class ModelArguments:
    _argument_group_name = "Model"

    model_name_or_path: str = field(
        metadata={"help": "A plain checkpoint (BERT, RoBERTa, ...) or a 3-Phase phase folder, local or on the Hub."}
    )


@dataclass
class ThreePhaseTrainingArguments(TrainingArguments):
    """`TrainingArguments` with `--output_dir` required (no silent `./trainer_output`), in a `--help` group of
    their own."""

    _argument_group_name = ("Training (transformers.TrainingArguments): epochs, learning rate and batch size are every "
                            "phase's defaults")

    output_dir: str = field(metadata={"help": "Where the phase folders, results.json, predictions.jsonl and the "
                                              "pictures go; a rerun resumes there."})
    logging_steps: float = field(
        default=LOGGING_SHARE, metadata={"help": "Log every X update steps, or a share of each phase's steps when "
                                                 "below 1 (the default: every 2 %% of each phase's steps)."})
    # transformers 5 dropped TrainingArguments.overwrite_output_dir; run_glue users expect it
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Train every phase of the variant again, removing its finished folders and "
                                         "checkpoints in --output_dir. Without it, a finished phase is reused, and an "
                                         "unfinished one resumed, only when its data and settings match this "
                                         "command's; otherwise the command stops."})


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where the help text says it ("Default: ...") or the flag is required."""

    def _get_help_string(self, action):
        if action.required:
            return f"{action.help} (required)"
        if "Default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


# TrainingArguments flags whose meaning or default differs here (arguments.selection_policy, LOGGING_SHARE)
HELP_HERE = {
    "eval_strategy": "Not used: each phase with a validation metric evaluates once an epoch (the FT phase, the DAE's "
                     "reconstruction loss, CL's cosine gap). Default: each phase's own.",
    "eval_steps": "Not used: phases evaluate once an epoch. Default: None",
    "save_strategy": "When a phase that keeps its last weights saves a checkpoint to resume from; a phase that keeps "
                     "its best saves every epoch. Default: steps ('best' saves every epoch).",
    "metric_for_best_model": "The FT phase's validation metric for its best checkpoint: accuracy, f1, precision, "
                             "recall (macro), loss, or a key of --metric_name; larger is better unless the name ends "
                             "in loss. Default: selection_score (accuracy, ties broken by the lower loss).",
    "push_to_hub": "After the last phase, push each phase folder: the final classifier to --hub_model_id, the "
                   "others to <hub_model_id>-<phase>; the Hub and the token are checked before any training. "
                   "Default: False",
    "hub_model_id": "The repo of the final classifier (the other phases get -<phase>). Default: the --output_dir "
                    "folder's name",
    "save_total_limit": "Most checkpoints a phase that keeps its last weights leaves in <output_dir>/.work/<phase> "
                        "(a phase that keeps its best keeps 2). Default: None (all)",
}


def build_parser() -> HfArgumentParser:
    """Groups: model, data, recipe, one per registered phase, LoRA, model cards, then TrainingArguments."""
    parser = HfArgumentParser(
        (ModelArguments, DataTrainingArguments, RecipeArguments, *phase_argument_classes(), LoraArguments,
         CardArguments, ThreePhaseTrainingArguments),
        description=DESCRIPTION, usage=USAGE, formatter_class=HelpFormatter,
        allow_abbrev=False,  # --num_train_epoch is a typo to name, not a prefix to accept
        exit_on_error=False)  # a value of the wrong type raises, to become one line naming the flag (and file)
    variants = "; ".join(f"{name} ({variant.description or ' -> '.join(variant.phases)})"
                         for name, variant in VARIANTS.items())
    parser._option_string_actions["--variant"].help = f"The chain of phases to run: {variants}."
    for name, text in HELP_HERE.items():
        parser._option_string_actions[f"--{name}"].help = text
    own = ", ".join(f"{name} {spec.defaults['warmup_steps']:.3g}" for name, spec in PHASES.items()
                    if "warmup_steps" in spec.defaults)
    parser._option_string_actions["--warmup_steps"].help = (
        f"Warmup steps, or a share of each phase's steps when below 1. Phases with their own default ({own} of "
        "their steps) keep it unless this is above 0; --<phase>_warmup_steps 0 turns one off. Default: 0")
    for name in REFUSED_FLAGS:
        parser._option_string_actions[f"--{name}"].help = argparse.SUPPRESS
    return parser


def given_flags(argv: list[str]) -> set[str]:
    """The flag names on a command line."""
    return {arg[2:].split("=")[0].replace("-", "_") for arg in argv if arg.startswith("--")}


def flag_value(argv: list[str], name: str) -> str | None:
    """The value `--name` (or `--name-with-dashes`) has on a command line: `true` for a bare boolean flag; None when
    it is not given."""
    value = None
    for i, arg in enumerate(argv):
        flag, sep, given = arg.partition("=")
        if flag.startswith("--") and flag[2:].replace("-", "_") == name:
            following = argv[i + 1] if i + 1 < len(argv) else "--"
            value = given if sep else ("true" if following.startswith("--") else following)
    return value


def truthy(value: str | None) -> bool:
    """Whether a boolean flag's text is true (transformers' reading); False for a text the parser will refuse."""
    try:
        return value is not None and string_to_bool(value)
    except argparse.ArgumentTypeError:
        return False


def file_flags(path: str, int_flags: frozenset[str] = frozenset()) -> list[str]:
    """A .json / .yaml arguments file as command-line flags, so that its values are read and checked as typed ones
    are (`"max_seq_length": "32"` is 32; `null` keeps the default; a whole float of one of `int_flags` is an int).

    Raises:
        InputError: a file that cannot be read, or that does not hold one mapping of flag names to values.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        values = json.loads(text) if path.lower().endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise InputError(f"{path}: cannot read it ({first_line(err)})") from None
    if not isinstance(values, dict):
        raise InputError(f'{path}: expected a mapping of flag names to values, e.g. {{"output_dir": "out"}}')

    def text_of(value, key: str) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if key in int_flags and isinstance(value, float) and value.is_integer():  # JSON's 32.0 is the count 32
            return str(int(value))
        return json.dumps(value) if isinstance(value, dict) else str(value)

    argv = []
    for key, value in values.items():
        if value is None or (key in REFUSED_FLAGS and value is False):
            continue
        if not isinstance(value, list):
            argv.append(f"--{key}={text_of(value, key)}")  # one token: a value such as "--" stays a value
        elif not value:
            raise InputError(f"{path}: {key}: an empty list (leave the key out for the default)")
        else:
            argv += [f"--{key}", *(text_of(v, key) for v in value)]
    return argv


def parse_args(argv: list[str] | None = None):
    """Flags, or a single .json / .yaml file holding them. Returns the model, data, recipe, card and training
    arguments; the per-phase overrides (one `--help` group per registered phase) land in the recipe's
    `phase_arguments`.

    Raises:
        InputError: run_glue's `--do_train` / `--do_eval` / `--do_predict` and `--load_best_model_at_end`, which do
            not apply here; a value of the wrong type or out of range (`check_arguments`); an unknown flag. Errors
            from an arguments file name it.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    known = [option for action in parser._actions for option in action.option_strings]
    source = ""
    try:
        if len(argv) > 1 and argv[0].lower().endswith(ARGS_FILE_SUFFIXES):
            raise InputError(f"{argv[0]}: an arguments file comes alone; put the other flags in it")
        if len(argv) == 1 and argv[0].lower().endswith(ARGS_FILE_SUFFIXES):
            ints = frozenset(action.dest for action in parser._actions if action.type is int) | COUNT_TEXT_FLAGS
            source, argv = f"{argv[0]}: ", file_flags(argv[0], ints)
        if truthy(flag_value(argv, "load_best_model_at_end")):  # before TrainingArguments checks it
            raise InputError("--load_best_model_at_end does not apply: each phase with a validation metric "
                             "keeps its best checkpoint, with early stopping (--<phase>_model_selection last keeps "
                             "its last weights); drop it")
        *parsed, rest = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
        if rest:
            raise InputError(unknown_flag(rest[0], known))
    except InputError as err:  # from a check of ours or a dataclass's __post_init__: named by the file it came from
        raise InputError(f"{source}{err}") from None
    except argparse.ArgumentError as err:  # --max_seq_length: invalid int value: 'abc'
        name = f"{err.argument_name.split('/')[0]}: " if err.argument_name else ""
        raise InputError(f"{source}{name}{err.message}") from None
    except ValueError as err:  # a check in TrainingArguments (or another dataclass): one line, not a traceback
        message = first_line(err)
        if "bf16" in message and "use_cpu" in message:
            flag = next((f"--{name}" for name in ("bf16", "bf16_full_eval") if truthy(flag_value(argv, name))),
                        "--bf16")
            message = (f"{flag} true needs a GPU; on this machine add --use_cpu true to use bf16 on the CPU "
                       "(native only with AVX-512 BF16 or AMX, and measured slower than fp32 even there: see the "
                       "README)")
        raise InputError(source + message) from None
    switches = sorted(set(RUN_GLUE_SWITCHES) & given_flags(argv))
    if switches:
        raise InputError(f"{source}--{switches[0]} does not apply: every run trains its phases, evaluates on the validation "
                         "split and predicts the test split once; drop " + ", ".join(f"--{s}" for s in switches))
    model_args, data_args, recipe, *per_phase, lora, card_args, training_args = parsed
    try:
        threephase_args = ThreePhaseArguments(**dataclasses.asdict(recipe), **dataclasses.asdict(lora))
        threephase_args.phase_arguments = {p.phase_name: p.phase_arguments() for p in per_phase}
        check_arguments(threephase_args, training_args)
        check_report_to(training_args.report_to)
    except InputError as err:
        raise InputError(f"{source}{err}") from None
    return model_args, data_args, threephase_args, training_args, card_args


def unknown_flag(flag: str, known: list[str]) -> str:
    """A one-line message for a flag the parser does not know, naming the closest known one."""
    name = flag.split("=", 1)[0]
    if not name.startswith("-"):
        return f"unexpected argument {flag!r} (flags come as --name value)"
    close = difflib.get_close_matches(name, known, n=1)
    return f"unknown flag {name}" + (f" (did you mean {close[0]}?)" if close else " (see --help)")


def check_model(path: str):
    """A checkpoint, and (where it is a local folder) one with safetensors weights: nothing is unpickled."""
    try:
        AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        what = "not a model checkpoint" if Path(path).exists() else "no such local folder, and not loadable from the Hub"
        # transformers' own first line ("We couldn't connect to ..."), not the Hub error under it (as first_line gives)
        raise InputError(f"--model_name_or_path {path}: {what} ({str(err).strip().splitlines()[0]})") from None
    if Path(path).is_dir() and not any(Path(path).glob("*.safetensors")):
        raise InputError(f"--model_name_or_path {path}: no .safetensors weights (pickled weights are not loaded)")
    problem = Path(path).is_dir() and unreadable_weights(Path(path))  # its header or offsets not whole
    if problem:
        raise InputError(f"--model_name_or_path {path}: {problem}")


def main(argv: list[str] | None = None, program: str = "hf-threephase") -> dict:
    """Parse, check, run; bad input ends the command with a one-line error and exit status 2. `program` starts the
    command recorded in results.json (`python run_threephase.py` from that script)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(*parse_args(argv), command=command_line(argv, program))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def console_main() -> int:
    """The `hf-threephase` console script: `main`, exit status 0 (its results are in results.json)."""
    main()
    return 0


def data_sources(data_args: DataTrainingArguments) -> dict[str, str]:
    """What the model cards name: the dataset (a Hub id, or the train file's folder) and each split's source (a file
    name with its folder, `name [split]`, or the share of train; after the flag that cut it, if one did); never an
    absolute path."""
    if data_args.dataset_name:
        sources = {split: f"{data_args.dataset_name} [{split}]" for split in ("train", "validation", "test")}
        hub = not Path(data_args.dataset_name).exists()  # a local dataset folder is no Hub id
        dataset = {"dataset": data_args.dataset_name, "dataset_id": data_args.dataset_name if hub else None}
    else:
        files = {split: Path(f) for split, f in (("train", data_args.train_file),
                                                 ("validation", data_args.validation_file),
                                                 ("test", data_args.test_file)) if f}
        sources = {split: f"{path.resolve().parent.name}/{path.name}" for split, path in files.items()}
        sources.setdefault("validation", f"{data_args.validation_split_percentage} % of {sources['train']} (seeded)")
        dataset = {"dataset": files["train"].resolve().parent.name, "dataset_id": None}
    return {**dataset, **{split: cut_source(data_args, split, source) for split, source in sources.items()}}


def run(model_args, data_args, threephase_args, training_args, card_args=None, command: str | None = None) -> dict:
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and training_args.world_size != launched:
        raise InputError(f"launched with {launched} processes but the Trainer sees {training_args.world_size}: "
                         "on a machine without GPUs add --use_cpu true")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    verbose = training_args.get_process_log_level() < logging.WARNING  # --log_level info / debug
    transformers.utils.logging.set_verbosity(min(training_args.get_process_log_level(), logging.WARNING))
    if not verbose:  # progress bars of loading, saving and datasets.map; the Trainer's own bars stay
        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
        quiet_by_design_notices()
    if training_args.should_save:  # before the model and the data are read
        check_writable_folder(training_args.output_dir)
    check_model(model_args.model_name_or_path)
    logger.info(precision_line(training_args))
    if logs_by_default(training_args):
        logger.info("--logging_steps not given: each phase logs its loss every 2 % of its steps")
    ignored = data_args.text_only_flags()
    if ignored and not reads_text_only(threephase_args.phases):
        logger.warning("%s: the %s variant runs %s, and none of them reads text-only data; ignored", ", ".join(ignored),
                       threephase_args.variant, " -> ".join(threephase_args.phases))
        data_args = data_args.without_text_only()
    data, label_space = load_labelled_data(data_args, seed=training_args.seed)
    logger.info("variant %s: phases %s on %s", threephase_args.variant, " -> ".join(threephase_args.phases),
                {split: len(ds) for split, ds in data.items()})
    results = run_phases(model_args.model_name_or_path, data, label_space, threephase_args, training_args,
                         data_source=data_sources(data_args), card_args=card_args, command=command,
                         overwrite_output_dir=training_args.overwrite_output_dir)
    if not training_args.should_save:
        return results
    print(closing_lines(Path(training_args.output_dir), threephase_args.phases, results))
    return results


def closing_lines(output_dir: Path, phases: tuple[str, ...], results: dict) -> str:
    """What the command prints at the end: the test numbers, where everything is, and how to load the folders."""
    test, final = results["test"], final_phase(phases)
    walls = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in results["wall_s"].items()
                      if seconds is not None)
    return "\n".join([
        f"test accuracy {test['accuracy']:.4f}, macro F1 {test['f1']:.4f} ({len(test['per_class'])} classes); "
        f"wall time {walls}",
        f"results: {output_dir / 'results.json'}; predictions: {output_dir / 'predictions.jsonl'}",
        f"pictures: {output_dir / 'embeddings.png'} (every phase, one PCA), {output_dir}/{final}/confusion_matrix.png, "
        f"{output_dir}/*/loss.png",
        f"model cards: {output_dir}/*/README.md",
        f"load: import hf_threephase, then pipeline(\"text-classification\", model=\"{output_dir / final}\"); without "
        "the package add trust_remote_code=True (the folders carry the model code); "
        f"SentenceTransformer(\"{output_dir / phases[max(len(phases) - 2, 0)]}\") gives that phase's sentence "
        "embedding (any phase folder works)",
    ])


if __name__ == "__main__":
    main()
