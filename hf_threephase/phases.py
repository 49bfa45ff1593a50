"""The built-in phases and variants, registered in one place (see `registry`): each phase's model, data, Trainer,
validation metric, defaults and card text."""

import logging
from collections import Counter
from typing import Any

import numpy as np
from datasets import concatenate_datasets
from transformers import DataCollatorWithPadding, TrainingArguments

from .collators import (
    DenoisingCollator,
    DenoisingDataset,
    InBatchPairCollator,
    InBatchPairDataset,
    JointCollator,
    JointDataset,
    PairCollator,
    PairDataset,
)
from .imbalance import IMBALANCE_PRESETS, class_multipliers, upsampled_examples
from .metrics import with_metric
from .modeling_threephase import (
    DAEForSeqReconstruction,
    ThreePhaseForJointTraining,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
)
from .files import first_line
from .noise import load_stopwords
from .pairs import ContrastivePairs, pairs_per_example, positive_pair_fraction
from .probe import fit_head
from .registry import PhaseCard, PhaseContext, PhaseData, PhaseSpec, register_phase, register_variant
from .trainers import JointTrainer, PhaseTrainer, SiameseCosineTrainer
from .validation import InputError

logger = logging.getLogger("hf_threephase")


def cl_examples(context: PhaseContext, seed: int) -> tuple[Any, list, dict]:
    """The tokenised train examples after the imbalance correction (noised copies of rare classes, eq. 5), their pair
    labels, and the correction's facts: `{"imbalance_correction": {"multipliers": {class name: m > 1},
    "examples_before": int, "examples_after": int, "stopwords": the stop-word list's source}}`, or `{}` when it adds
    no copy.

    Raises:
        InputError: train cannot form pairs (fewer than two classes, or no class of two examples), or the correction
            adds copies and no stop-word list can be read; naming train's source.
    """
    args, examples = context.args, context.tokenized["train"]
    labels = context.label_space.pair_labels(context.data["train"])
    where = context.data["train"].info.description or "the train split"
    multipliers = (class_multipliers(labels, args.imbalance_max_ratio, args.imbalance_min_ratio)
                   if args.imbalance_max_ratio is not None else {})
    if not any(m > 1 for m in multipliers.values()):
        return examples, labels_that_pair(context, labels, where), {}
    try:
        stopwords = load_stopwords(file=args.stopwords_file)
    except (LookupError, OSError) as err:
        raise InputError(f"the imbalance correction adds stop-word-noised copies of rare classes of {where}, "
                         f"but: {err}") from None
    before = len(labels)
    examples, labels, unchanged = upsampled_examples(
        examples, context.data["train"]["text"], labels, context.tokenize, args.imbalance_max_ratio,
        args.imbalance_min_ratio, stopwords, seed=seed)
    repeated = (f"; {unchanged} of the {len(labels) - before} copies had no stop word to delete and repeat their "
                "text" if unchanged else "")
    added = {class_name(context, c): m for c, m in sorted(multipliers.items(), key=lambda cm: repr(cm[0])) if m > 1}
    logger.info(f"imbalance correction of {where} (max_ratio {args.imbalance_max_ratio}, min_ratio "
                f"{args.imbalance_min_ratio}): " + ", ".join(f"{name} x{m}" for name, m in added.items())
                + f"; {before} -> {len(labels)} CL examples, each added copy with its own stop words deleted "
                f"(stop words: {stopwords.source}){repeated}")
    facts = {"multipliers": added, "examples_before": before, "examples_after": len(labels),
             "stopwords": stopwords.source, **({"copies_unchanged": unchanged} if unchanged else {})}
    return examples, labels_that_pair(context, labels, where), {"imbalance_correction": facts}


def labels_that_pair(context: PhaseContext, labels: list, where: str) -> list:
    counts = Counter(labels)
    if len(counts) < 2 or max(counts.values()) < 2:
        sizes = ", ".join(f"{class_name(context, c)} {n}" for c, n in sorted(counts.items()))
        raise InputError(f"{where}: contrastive learning needs two classes there, and two examples of one (class "
                         f"sizes: {sizes})")
    return labels


def class_name(context: PhaseContext, label) -> str:
    return "/".join(label) if isinstance(label, tuple) else context.label_space.names[label]


def sampled_pairs(context: PhaseContext, labels: list, seed: int) -> ContrastivePairs:
    """`--contrastive_pairs sampled`: the authors' form, `pairs_per_example` seeded pairs per example and epoch at
    `positive_pair_fraction` same-class, each pair's two texts embedded by the batch that holds it."""
    args, where = context.args, context.data["train"].info.description or "the train split"
    budget = pairs_per_example(args.pairs_per_example, context.label_space.num_labels)
    fraction = positive_pair_fraction(args.positive_pair_fraction, context.label_space.num_labels)
    pairs = ContrastivePairs(labels, budget, seed, fraction)
    wanted = round(budget * len(labels))
    if len(pairs) < wanted or abs(pairs.positive_share - fraction) > 0.01:
        logger.warning(f"CL pairs of {where}: {len(pairs)} per epoch, {pairs.positive_share:.0%} same-class, not "
                       f"{budget} per example ({wanted}) at --positive_pair_fraction {fraction:g}: the class sizes "
                       "allow no closer draw of distinct pairs")
    return pairs


def cl_dataset(context: PhaseContext, seed: int) -> tuple[PairDataset | InBatchPairDataset, dict]:
    """The CL training set of `--contrastive_pairs` (`in_batch`: the corrected examples in class-aware batches;
    `sampled`: their sampled pairs) and the imbalance correction's facts."""
    examples, labels, facts = cl_examples(context, seed)
    if context.args.contrastive_pairs == "in_batch":
        return InBatchPairDataset(examples, labels, seed), facts
    return PairDataset(examples, sampled_pairs(context, labels, seed)), facts


def cl_trainer_kwargs(context: PhaseContext, data: PhaseData) -> dict:
    return {"positive_pair_fraction": positive_pair_fraction(context.args.positive_pair_fraction,
                                                             context.label_space.num_labels)}


def text_only_pool(context: PhaseContext):
    """What the DAE reconstructs: the labelled train texts plus the text-only data, when there is some."""
    train = context.tokenized["train"].select_columns(["input_ids", "word_ids"])
    if "text_only" not in context.tokenized:
        return train
    return concatenate_datasets([train, context.tokenized["text_only"].select_columns(["input_ids", "word_ids"])])


# --- DAE ---

def dae_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    noise, seed = context.args.noise_ratio, training_args.seed
    # no eval dataset: an evaluation is the diagnostics alone, whose `reconstruction_loss` (own vector, noised
    # validation texts) is the Trainer's eval loss computed once instead of twice; every process computes them in
    # full (same numbers), a few hundred texts
    return PhaseData(train=DenoisingDataset(text_only_pool(context), noise, seed),
                     collator=DenoisingCollator(context.tokenizer))


register_phase(PhaseSpec(
    name="dae", model_class=DAEForSeqReconstruction, build_data=dae_data, trainer_class=PhaseTrainer,
    selection_metric="reconstruction_loss", greater_is_better=False, expected_rise={"information_gap": 0.05},
    # benchmarks/dae_levers.py on MiniLM: the decoder's fresh parts at 20x the rate read the sentence vector and the
    # encoder stays isotropic (information gap 0.007 -> 0.074, mean pairwise cosine 0.85 -> 0.26 after 63 steps)
    defaults={"warmup_steps": 0.5, "new_parameters_learning_rate": 1e-3}, recipe_fields=("noise_ratio",),
    reads_text_only=True,
    card=PhaseCard(
        "Denoising autoencoder (DAE)",
        "A TSDAE-style denoising autoencoder: the encoder, pooling and bottleneck learned to let a tied decoder "
        "reconstruct each sentence from its pooled vector after word deletion. The decoder stays behind: "
        "`AutoModel` loads the encoder and bottleneck."),
))


# --- CL ---

PAIR_FIELDS = ("imbalance_max_ratio", "imbalance_min_ratio", "stopwords_file", "contrastive_pairs",
               "pairs_per_example", "positive_pair_fraction")


def cl_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    train, facts = cl_dataset(context, training_args.seed)
    collator = (InBatchPairCollator if train.ordered else PairCollator)(context.tokenizer)
    return PhaseData(train=train, collator=collator, facts=facts)


register_phase(PhaseSpec(
    name="cl", model_class=ThreePhaseModel, build_data=cl_data, trainer_class=SiameseCosineTrainer,
    trainer_kwargs=cl_trainer_kwargs,
    selection_metric="cosine_gap", expected_rise={"cosine_gap": 0.0}, defaults={"warmup_steps": 1 / 3},
    recipe_fields=PAIR_FIELDS,
    card=PhaseCard(
        "Contrastive learning (CL)",
        "Supervised Siamese contrastive learning: MSE between the cosine of two sentence embeddings and 1 (same "
        "class) or 0, after the imbalance correction of rare classes. `AutoModel` returns the sentence embedding."),
))


# --- Joint ---

def joint_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    seed = training_args.seed
    pool = text_only_pool(context) if "text_only" in context.tokenized else None
    pairs, facts = cl_dataset(context, seed)
    train = JointDataset(pairs, context.args.noise_ratio, seed, dae_examples=pool)
    return PhaseData(train=train, collator=JointCollator(context.tokenizer), facts=facts)


register_phase(PhaseSpec(
    name="joint", model_class=ThreePhaseForJointTraining, build_data=joint_data, trainer_class=JointTrainer,
    trainer_kwargs=lambda context, data: {"cl_weight": context.args.joint_cl_weight,
                                          **cl_trainer_kwargs(context, data)},
    expected_rise={"information_gap": 0.05, "cosine_gap": 0.0}, defaults={"warmup_steps": 1 / 3},
    recipe_fields=("noise_ratio", "joint_cl_weight", *PAIR_FIELDS), reads_text_only=True,
    card=PhaseCard("Joint DAE + CL", "The DAE and contrastive losses summed in one optimizer step."),
))


# --- FT ---

def ft_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    columns = ["input_ids", "label"]
    return PhaseData(train=context.tokenized["train"].select_columns(columns),
                     eval=context.tokenized["validation"].select_columns(columns),
                     collator=DataCollatorWithPadding(context.tokenizer))


def load_metric(name: str | None):
    """`--metric_name`: an `evaluate` module (a local script or a Hub id), or None.

    Raises:
        InputError: it cannot be loaded.
    """
    if name is None:
        return None
    import evaluate

    try:
        return evaluate.load(name)
    except Exception as err:  # not on disk and the Hub unreachable, or no such metric
        raise InputError(f"--metric_name {name}: cannot load it ({first_line(err)})") from None


def ft_trainer_kwargs(context: PhaseContext, data: PhaseData) -> dict:
    return {"compute_metrics": with_metric(load_metric(context.args.metric_name))}


def ft_config_kwargs(context: PhaseContext) -> dict:
    """The label space's config entries and, with `class_weighted_loss`, scikit-learn's 'balanced' class weights
    over the train labels."""
    kwargs = {**context.label_space.config_kwargs(), "class_weights": None}  # none carried over from a start folder
    if context.args.class_weighted_loss:
        from sklearn.utils.class_weight import compute_class_weight

        labels = np.asarray(context.data["train"]["label"])
        kwargs["class_weights"] = compute_class_weight(
            "balanced", classes=np.arange(context.label_space.num_labels), y=labels).tolist()
    return kwargs


def prepare_ft_model(context: PhaseContext, model) -> dict:
    """`--freeze_encoder`: only the head trains. `--lp_ft`: the head is first fitted on the frozen encoder's
    embeddings of train, selected on validation (`probe.fit_head`); its facts go to `phase_metrics.json` as
    `head_probe`."""
    if context.args.freeze_encoder:
        model.encoder.requires_grad_(False)
    if not context.args.lp_ft:
        return {}
    facts = fit_head(model, context.tokenizer, context.tokenized["train"], context.tokenized["validation"])
    logger.info(f"LP-FT: the head fitted on frozen embeddings in {facts['steps']} full-batch steps, validation loss "
                f"{facts['validation_loss_before']:.4f} -> {facts['validation_loss_after']:.4f}")
    return {"head_probe": facts}


register_phase(PhaseSpec(
    name="ft", model_class=ThreePhaseForSequenceClassification, build_data=ft_data,
    trainer_kwargs=ft_trainer_kwargs, config_kwargs=ft_config_kwargs,
    prepare_model=prepare_ft_model, selection_metric="selection_score", final=True,
    recipe_fields=("freeze_encoder", "lp_ft", "classifier_dropout", "class_weighted_loss", "metric_name"),
    card=PhaseCard(
        "Fine-tuning (FT)",
        "A 2-layer MLP head on the adapted encoder, trained with cross-entropy; the checkpoint was chosen on the "
        "validation split (`metric_for_best_model` below; its default, `selection_score`, is accuracy less "
        "loss / (1 + loss) / examples, so ties in accuracy go to the lower validation loss), and the test split was "
        "used once.",
        auto_class="AutoModelForSequenceClassification", pipeline_tag="text-classification"),
))


register_variant("3phase", ["dae", "cl", "ft"], description="DAE -> CL -> FT")
register_variant("joint", ["joint", "ft"], description="L_DAE + lambda * L_CL in one step -> FT")
register_variant("ft", ["ft"], description="fine-tuning only")
register_variant("dae_ft", ["dae", "ft"], description="DAE -> FT")
register_variant("cl_ft", ["cl", "ft"], description="CL -> FT")
register_variant("no_imb", ["dae", "cl", "ft"], description="3phase without the imbalance correction",
                 imbalance_max_ratio=None)
register_variant("extra_imb", ["dae", "cl", "ft"], description="3phase with max_ratio 20",
                 imbalance_max_ratio=IMBALANCE_PRESETS["extra"])
