"""The built-in phases and variants, registered in one place (see `registry`): each phase's model, data, Trainer,
TrainingArguments policy and card text."""

from transformers import DataCollatorWithPadding, EarlyStoppingCallback, TrainingArguments

from .collators import DenoisingCollator, DenoisingDataset, JointCollator, JointDataset, PairCollator, PairDataset
from .imbalance import IMBALANCE_PRESETS, class_multipliers, upsampled_examples
from .metrics import with_metric
from .modeling_threephase import (
    DAEForSeqReconstruction,
    ThreePhaseForJointTraining,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
)
from .noise import load_stopwords
from .pairs import ContrastivePairs
from .registry import PhaseCard, PhaseContext, PhaseData, PhaseSpec, register_phase, register_variant
from .trainers import JointTrainer, SiameseCosineTrainer
from .validation import InputError


def no_selection(training_args: TrainingArguments, eval_strategy: str = "no") -> dict:
    """The policy of a phase that keeps its last weights: saves where the user's --save_strategy/--save_steps say
    (to resume from), selects nothing."""
    save = "epoch" if training_args.save_strategy == "best" else training_args.save_strategy
    return dict(eval_strategy=eval_strategy, load_best_model_at_end=False, metric_for_best_model=None,
                greater_is_better=None, save_strategy=save)


def pair_data(context: PhaseContext, split: str, seed: int, upsampled: bool):
    """Tokenised examples of a split and their pairs; for training, after the imbalance correction (noised copies of
    rare classes).

    Raises:
        InputError: the split cannot form pairs, or the correction adds copies and no stop-word list can be read;
            naming the split's source.
    """
    args, examples = context.args, context.tokenized[split]
    labels = context.label_space.pair_labels(context.data[split])
    where = context.data[split].info.description or f"the {split} split"
    if upsampled and args.imbalance_max_ratio is not None and max(
            class_multipliers(labels, args.imbalance_max_ratio, args.imbalance_min_ratio).values()) > 1:
        try:
            stopwords = load_stopwords(file=args.stopwords_file)
        except (LookupError, OSError) as err:
            raise InputError(f"the imbalance correction adds stop-word-noised copies of rare classes of {where}, "
                             f"but: {err}") from None
        examples, labels = upsampled_examples(
            examples, context.data[split]["text"], labels, context.tokenize, args.imbalance_max_ratio,
            args.imbalance_min_ratio, stopwords)
    try:
        pairs = ContrastivePairs(labels, args.pairs_per_example, seed)
    except ValueError as err:
        raise InputError(f"{where}: {err}: contrastive learning needs at least two classes there, and two examples "
                         "of one") from None
    return examples, pairs


# --- DAE ---

def dae_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    train = DenoisingDataset(context.tokenized["train"], context.args.noise_ratio, training_args.seed)
    return PhaseData(train=train, collator=DenoisingCollator(context.tokenizer))


register_phase(PhaseSpec(
    name="dae", model_class=DAEForSeqReconstruction, build_data=dae_data, training_policy=no_selection,
    recipe_fields=("noise_ratio",),
    card=PhaseCard(
        "Denoising autoencoder (DAE)",
        "A TSDAE-style denoising autoencoder: the encoder, pooling and bottleneck learned to let a tied decoder "
        "reconstruct each sentence from its pooled vector after word deletion. The decoder stays behind: "
        "`AutoModel` loads the encoder and bottleneck."),
))


# --- CL ---

def cl_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    seed = training_args.seed
    return PhaseData(train=PairDataset(*pair_data(context, "train", seed, upsampled=True)),
                     eval=PairDataset(*pair_data(context, "validation", seed, upsampled=False)),
                     collator=PairCollator(context.tokenizer))


register_phase(PhaseSpec(
    name="cl", model_class=ThreePhaseModel, build_data=cl_data, trainer_class=SiameseCosineTrainer,
    recipe_fields=("imbalance_max_ratio", "imbalance_min_ratio", "stopwords_file", "pairs_per_example"),
    training_policy=lambda training_args: dict(no_selection(training_args, eval_strategy="epoch"),
                                               label_names=["pair_targets"], prediction_loss_only=True),
    trainer_kwargs=lambda context, data: {
        "diagnostic_dataset": context.tokenized["validation"],
        "diagnostic_pair_labels": context.label_space.pair_labels(context.data["validation"])},
    card=PhaseCard(
        "Contrastive learning (CL)",
        "Supervised Siamese contrastive learning: MSE between the cosine of two sentence embeddings and 1 (same "
        "class) or 0, after the imbalance correction of rare classes. `AutoModel` returns the sentence embedding."),
))


# --- Joint ---

def joint_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    seed = training_args.seed
    train = JointDataset(*pair_data(context, "train", seed, upsampled=True), context.args.noise_ratio, seed)
    return PhaseData(train=train, collator=JointCollator(context.tokenizer))


register_phase(PhaseSpec(
    name="joint", model_class=ThreePhaseForJointTraining, build_data=joint_data, trainer_class=JointTrainer,
    recipe_fields=("noise_ratio", "imbalance_max_ratio", "imbalance_min_ratio", "stopwords_file", "pairs_per_example",
                   "joint_cl_weight"),
    training_policy=no_selection, trainer_kwargs=lambda context, data: {"cl_weight": context.args.joint_cl_weight},
    card=PhaseCard("Joint DAE + CL", "The DAE and contrastive losses summed in one optimizer step."),
))


# --- FT ---

def ft_data(context: PhaseContext, training_args: TrainingArguments) -> PhaseData:
    columns = ["input_ids", "label"]
    return PhaseData(train=context.tokenized["train"].select_columns(columns),
                     eval=context.tokenized["validation"].select_columns(columns),
                     collator=DataCollatorWithPadding(context.tokenizer))


def ft_policy(training_args: TrainingArguments) -> dict:
    """Saved every epoch and selected on the user's --metric_for_best_model, else on `selection_score`."""
    chosen = training_args.metric_for_best_model
    return dict(eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True, save_total_limit=2,
                metric_for_best_model=chosen or "selection_score",
                greater_is_better=training_args.greater_is_better if chosen else True)


def ft_trainer_kwargs(context: PhaseContext, data: PhaseData) -> dict:
    metric = None
    if context.args.metric_name is not None:
        import evaluate

        metric = evaluate.load(context.args.metric_name)
    return {"compute_metrics": with_metric(metric),
            "callbacks": [EarlyStoppingCallback(early_stopping_patience=context.args.early_stopping_patience)]}


def freeze_encoder(context: PhaseContext, model):
    if context.args.freeze_encoder:
        model.encoder.requires_grad_(False)


register_phase(PhaseSpec(
    name="ft", model_class=ThreePhaseForSequenceClassification, build_data=ft_data, training_policy=ft_policy,
    trainer_kwargs=ft_trainer_kwargs, config_kwargs=lambda context: context.label_space.config_kwargs(),
    prepare_model=freeze_encoder, selects_checkpoint=True, final=True,
    recipe_fields=("classifier_dropout", "freeze_encoder", "early_stopping_patience", "metric_name"),
    card=PhaseCard(
        "Fine-tuning (FT)",
        "A 2-layer MLP head on the adapted encoder, trained with cross-entropy; the checkpoint was chosen on the "
        "validation split (`metric_for_best_model` below; `selection_score` is accuracy with ties broken on "
        "validation loss), and the test split was used once.",
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
