"""hf-threephase: the 3-Phase fine-tuning recipe (DAE -> contrastive -> fine-tuning) on Hugging Face Trainer."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
)

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
from .configuration_threephase import ThreePhaseConfig
from .imbalance import imbalance_multipliers, upsample
from .modeling_threephase import (
    DAEForSeqReconstruction,
    DAEOutput,
    JointOutput,
    ThreePhaseForJointTraining,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
    ThreePhaseModelOutput,
    ThreePhasePreTrainedModel,
)
from .pairs import ContrastivePairs, pair_target
from .arguments import PhaseArguments, ThreePhaseArguments
from .label_space import LabelSpace
from .registry import PHASES, VARIANTS, PhaseCard, PhaseContext, PhaseData, PhaseSpec, register_phase, register_variant
from .runner import run_phases
from .trainers import JointTrainer, PhaseTrainer, SiameseCosineTrainer

__version__ = "0.1.0"

AutoConfig.register("threephase", ThreePhaseConfig, exist_ok=True)
AutoModel.register(ThreePhaseConfig, ThreePhaseModel, exist_ok=True)
AutoModelForPreTraining.register(ThreePhaseConfig, DAEForSeqReconstruction, exist_ok=True)
AutoModelForSequenceClassification.register(ThreePhaseConfig, ThreePhaseForSequenceClassification, exist_ok=True)

__all__ = [
    "PHASES", "VARIANTS", "ContrastivePairs", "DAEForSeqReconstruction", "DAEOutput", "DenoisingCollator",
    "DenoisingDataset", "InBatchPairCollator", "InBatchPairDataset", "JointCollator", "JointDataset", "JointOutput", "JointTrainer", "LabelSpace", "PairCollator",
    "PairDataset", "PhaseArguments", "PhaseCard", "PhaseContext", "PhaseData", "PhaseSpec", "PhaseTrainer", "SiameseCosineTrainer",
    "ThreePhaseArguments", "ThreePhaseConfig", "ThreePhaseForJointTraining", "ThreePhaseForSequenceClassification",
    "ThreePhaseModel", "ThreePhaseModelOutput", "ThreePhasePreTrainedModel", "imbalance_multipliers", "pair_target",
    "register_for_auto_class", "register_phase", "register_variant", "run_phases", "upsample",
]


def register_for_auto_class():
    """Opt in to saving our code beside the weights, so a pushed checkpoint loads with `trust_remote_code=True`
    where hf_threephase is not installed."""
    ThreePhaseConfig.register_for_auto_class()
    ThreePhaseModel.register_for_auto_class("AutoModel")
    DAEForSeqReconstruction.register_for_auto_class("AutoModelForPreTraining")
    ThreePhaseForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
