"""Checks that need the tokenizer, the model's config or the phase registry; the runner makes them before any phase
trains (arguments and data are checked in `validation` and `data`, each phase's data when the runner builds them)."""

import logging
import os
from collections import Counter

import torch
from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

from .files import first_line
from .registry import PHASES, VARIANTS
from .validation import InputError

logger = logging.getLogger("hf_threephase")
# Diagnostics (`hf_threephase.diagnostics`) that examples yield only when they hold a same-class and an other-class pair.
PAIR_METRICS = ("cosine_gap", "same_class_cosine", "other_class_cosine")


def max_seq_length_limit(tokenizer, encoder_config) -> int | None:
    """The most tokens a text may have on this model: the tokenizer's `model_max_length` where it sets one, and the
    encoder's position table (`max_position_embeddings`, less the positions up to the padding index where the table
    starts after it, as RoBERTa's does: 514 rows, 512 tokens); None where neither says."""
    from .modeling_threephase import build_encoder

    limits = [getattr(encoder_config, "max_position_embeddings", None)]
    if limits[0]:
        try:
            with torch.device("meta"):  # shapes only, no memory
                encoder = build_encoder(encoder_config)
        except Exception:  # an architecture that cannot be built on the meta device: its table as the config says
            encoder = None
        table = next((m for n, m in encoder.named_modules() if n.endswith("position_embeddings")), None) \
            if encoder is not None else None
        if isinstance(table, torch.nn.Embedding) and table.padding_idx is not None:
            limits[0] = table.num_embeddings - table.padding_idx - 1
    if tokenizer.model_max_length < VERY_LARGE_INTEGER:
        limits.append(tokenizer.model_max_length)
    return min((limit for limit in limits if limit), default=None)


def capped_max_seq_length(requested: int, tokenizer, encoder_config) -> int:
    """`requested`, or the model's limit when that is smaller (with a warning, as run_glue.py does).

    Raises:
        InputError: `requested` leaves no token of text beside the tokenizer's special tokens.
    """
    special = tokenizer.num_special_tokens_to_add()
    if requested <= special:
        raise InputError(f"--max_seq_length {requested} leaves no room for text: the tokenizer adds {special} special "
                         "tokens to every text")
    limit = max_seq_length_limit(tokenizer, encoder_config)
    if limit is not None and requested > limit:
        logger.warning("--max_seq_length %d is more than the model takes (%d tokens: its tokenizer's model_max_length "
                       "and position table): using %d", requested, limit, limit)
        return limit
    return requested


def check_encoder(phases: tuple[str, ...], encoder_config):
    """Every phase's model can be built on this encoder (`check_encoder_config` of its model class).

    Raises:
        InputError: one that cannot, saying why and which registered variants run on this encoder.
    """

    def problem(phase: str) -> str | None:
        check = getattr(PHASES[phase].model_class, "check_encoder_config", None)
        try:
            if check is not None:
                check(encoder_config)
        except ValueError as err:
            return str(err)
        return None

    for phase in phases:
        why = problem(phase)
        if why is not None:
            runs = [name for name, variant in VARIANTS.items() if all(problem(p) is None for p in variant.phases)]
            raise InputError(f"the {phase} phase cannot run on this {encoder_config.model_type} model: {why}; the "
                             f"variants that run on it: {', '.join(runs) or 'none'}")


def check_selection(phase: str, phase_args, labels, label_names, where: str):
    """A phase that keeps its best checkpoint on a pair diagnostic (e.g. CL on `cosine_gap`) needs validation examples
    (`labels`: their class ids) of two classes, two of one class.

    Raises:
        InputError: they have not, naming the split (`where`), its class sizes and the way out.
    """
    metric = (phase_args.metric_for_best_model or "").removeprefix("eval_")
    sizes = Counter(labels)
    if not phase_args.load_best_model_at_end or metric not in PAIR_METRICS or (
            len(sizes) > 1 and max(sizes.values()) > 1):
        return
    shown = ", ".join(f"{label_names[c]} {n}" for c, n in sorted(sizes.items()))
    remedy = "a larger --diagnostic_samples" if where.startswith("--diagnostic_samples") else "a larger validation split"
    raise InputError(f"{where}: the {phase} phase keeps its best checkpoint on {metric}, which needs validation "
                     f"examples of two classes, two of one class (class sizes: {shown}): give {remedy}, or "
                     f"--{phase}_model_selection last")


def check_metric(metric_name: str | None, metric_for_best_model: str | None, num_labels: int):
    """`--metric_name` loads and runs on predictions of FT's shape, and `--metric_for_best_model` is one of the keys
    FT's evaluation then reports; checked before any phase trains (FT would otherwise fail at its first evaluation,
    after the phases before it).

    Raises:
        InputError: the module cannot be loaded or run, or it does not report the chosen metric.
    """
    if metric_name is None:
        return
    import numpy as np
    from transformers import EvalPrediction

    from .metrics import with_metric
    from .phases import load_metric

    compute = with_metric(load_metric(metric_name))
    labels = np.arange(max(num_labels, 2)) % num_labels
    try:
        reported = compute(EvalPrediction(np.eye(num_labels)[labels], labels))
    except Exception as err:
        raise InputError(f"--metric_name {metric_name}: fails on FT's predictions ({first_line(err)})") from None
    chosen = (metric_for_best_model or "").removeprefix("eval_")
    if chosen and chosen not in {*reported, "loss"}:
        raise InputError(f"--metric_for_best_model {chosen!r} is not a metric FT reports with --metric_name "
                         f"{metric_name} (one of: {', '.join([*reported, 'loss'])})")


def check_report_to(report_to: str | list[str] | None):
    """Each integration of `--report_to` is one transformers knows and can start here: the Trainer would otherwise fail
    on it when the first phase starts (wandb not installed, a misspelt name).

    Raises:
        InputError: the first that is not, with transformers' reason.
    """
    from transformers.integrations import INTEGRATION_TO_CALLBACK

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        if name in ("all", "none") and names != [name]:
            raise InputError(f"--report_to {' '.join(names)}: '{name}' stands alone")
        if name == "none" or (name == "all" and names == [name]):
            continue
        if name not in INTEGRATION_TO_CALLBACK:
            raise InputError(f"--report_to {name}: not an integration transformers knows (one of: "
                             f"{', '.join(INTEGRATION_TO_CALLBACK)}, all, none)")
        try:
            INTEGRATION_TO_CALLBACK[name]()  # what the Trainer builds; it raises when its package is missing
        except Exception as err:  # RuntimeError, ImportError, ValueError: each integration its own
            raise InputError(f"--report_to {name}: {first_line(err)}") from None


def warn_fsdp_on_cpu(training_args):
    """accelerate shards with FSDP on accelerators only: asked for on a CPU (`--fsdp`, or an accelerate FSDP config),
    it runs plain data parallelism. Says so in one line."""
    asked = training_args.fsdp or os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if asked and training_args.device.type == "cpu":
        logger.warning("FSDP was asked for, but accelerate shards on accelerators only: on this CPU every process "
                       "holds the whole model (plain data parallelism)")
