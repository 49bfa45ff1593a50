"""`run_threephase.py` / `hf-threephase`: one HF-style command for every variant (the shape of run_glue.py)."""

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import transformers
from transformers import AutoConfig, HfArgumentParser, TrainingArguments

from .arguments import ThreePhaseArguments, phase_argument_classes
from .data import DataTrainingArguments, load_labelled_data
from .registry import final_phase
from .runner import run_phases
from .validation import InputError, check_arguments

logger = logging.getLogger("hf_threephase")


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        metadata={"help": "A plain checkpoint (BERT, RoBERTa, ...) or a 3-Phase phase folder, local or on the Hub."}
    )


def parse_args(argv: list[str] | None = None):
    """Flags, or a single .json / .yaml file holding them. Returns the model, data, recipe and training arguments;
    the per-phase overrides (one `--help` group per registered phase) land in the recipe's `phase_arguments`."""
    argv = sys.argv[1:] if argv is None else argv
    phase_classes = phase_argument_classes()
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, ThreePhaseArguments, *phase_classes,
                               TrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        parsed = parser.parse_json_file(json_file=argv[0])
    elif len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        parsed = parser.parse_yaml_file(yaml_file=argv[0])
    else:
        parsed = parser.parse_args_into_dataclasses(args=argv)
    model_args, data_args, threephase_args, *per_phase, training_args = parsed
    threephase_args.phase_arguments = {p.phase_name: p.phase_arguments() for p in per_phase}
    return model_args, data_args, threephase_args, training_args


def check_model(path: str):
    """A checkpoint, and (where it is a local folder) one with safetensors weights: nothing is unpickled."""
    try:
        AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise InputError(f"--model_name_or_path {path}: not a model checkpoint ({str(err).splitlines()[0]})") from None
    if Path(path).is_dir() and not any(Path(path).glob("*.safetensors")):
        raise InputError(f"--model_name_or_path {path}: no .safetensors weights (pickled weights are not loaded)")


def main(argv: list[str] | None = None) -> dict:
    """Parse, check, run; bad input ends the command with a one-line error and exit status 2."""
    try:
        return run(*parse_args(argv))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def run(model_args, data_args, threephase_args, training_args) -> dict:
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and training_args.world_size != launched:
        raise InputError(f"launched with {launched} processes but the Trainer sees {training_args.world_size}: "
                         "on a machine without GPUs add --use_cpu true")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    check_arguments(threephase_args, training_args)
    check_model(model_args.model_name_or_path)
    data, label_space = load_labelled_data(data_args, seed=training_args.seed)
    source = data_args.dataset_name or ", ".join(
        Path(f).name for f in (data_args.train_file, data_args.validation_file, data_args.test_file) if f
    )
    logger.info("variant %s: phases %s on %s", threephase_args.variant, " -> ".join(threephase_args.phases),
                {split: len(ds) for split, ds in data.items()})
    results = run_phases(model_args.model_name_or_path, data, label_space, threephase_args, training_args,
                         data_source=source)
    if not training_args.should_save:
        return results
    output_dir = Path(training_args.output_dir)
    test = results["test"]
    print(f"test accuracy {test['accuracy']:.4f}, macro F1 {test['f1']:.4f}")
    print(f"results: {output_dir / 'results.json'}")
    final = final_phase(threephase_args.phases)
    print(f"pictures: {output_dir}/base_embeddings.png, {output_dir}/*/embeddings.png, "
          f"{output_dir}/{final}/confusion_matrix.png, {output_dir}/*/loss.png")
    return results


if __name__ == "__main__":
    main()
