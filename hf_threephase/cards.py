"""A model card per phase folder, rendered from `model_cards/phase_card.md` with huggingface_hub."""

from importlib.resources import files
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from .registry import PHASES

# The top-level model_cards/ folder, installed as the data package `hf_threephase.model_cards` (see setup.cfg).
TEMPLATE = files("hf_threephase.model_cards") / "phase_card.md"


def render_card(phase: str, *, model_id: str, base_model: str, variant: str, phases: list[str], data: dict,
                label_names: list[str], metrics: dict, hyperparameters: dict, template: Path = TEMPLATE) -> ModelCard:
    """The card of one phase folder. Anything named like a token is left out of the hyper-parameters."""
    card = PHASES[phase].card
    card_data = ModelCardData(
        library_name="transformers", base_model=None if Path(base_model).exists() else base_model,
        tags=["hf-threephase", f"threephase-{phase}",
              "text-classification" if card.pipeline_tag == "text-classification" else "sentence-embedding"],
        pipeline_tag=card.pipeline_tag,
    )
    public = {k: v for k, v in sorted(hyperparameters.items()) if "token" not in k}
    return ModelCard.from_template(
        card_data, template_path=str(template), model_name=f"{model_id} ({phase})", model_id=model_id,
        phase_title=card.title, phase_description=card.description, auto_class=card.auto_class, variant=variant,
        phase_list=" → ".join(p.upper() for p in phases), base_model=base_model, data=data,
        label_names=label_names, metrics=metrics, hyperparameters=public,
    )
