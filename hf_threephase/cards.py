"""A model card per phase folder, rendered from `model_cards/phase_card.md` with huggingface_hub."""

from importlib.resources import files
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

# The top-level model_cards/ folder, installed as the data package `hf_threephase.model_cards` (see setup.cfg).
TEMPLATE = files("hf_threephase.model_cards") / "phase_card.md"
PHASES = {
    "dae": ("Denoising autoencoder (DAE)", "AutoModel",
            "A TSDAE-style denoising autoencoder: the encoder, pooling and bottleneck learned to let a tied decoder "
            "reconstruct each sentence from its pooled vector after word deletion. The decoder stays behind: "
            "`AutoModel` loads the encoder and bottleneck."),
    "cl": ("Contrastive learning (CL)", "AutoModel",
           "Supervised Siamese contrastive learning: MSE between the cosine of two sentence embeddings and 1 (same "
           "class) or 0, after the imbalance correction of rare classes. `AutoModel` returns the sentence embedding."),
    "joint": ("Joint DAE + CL", "AutoModel",
              "The DAE and contrastive losses summed in one optimizer step."),
    "ft": ("Fine-tuning (FT)", "AutoModelForSequenceClassification",
           "A 2-layer MLP head on the adapted encoder, trained with cross-entropy; the checkpoint was chosen on the "
           "validation split (`metric_for_best_model` below; `selection_score` is accuracy with ties broken on "
           "validation loss), and the test split was used once."),
}


def render_card(phase: str, *, model_id: str, base_model: str, variant: str, phases: list[str], data: dict,
                label_names: list[str], metrics: dict, hyperparameters: dict, template: Path = TEMPLATE) -> ModelCard:
    """The card of one phase folder. Anything named like a token is left out of the hyper-parameters."""
    title, auto_class, description = PHASES[phase]
    card_data = ModelCardData(
        library_name="transformers", base_model=None if Path(base_model).exists() else base_model,
        tags=["hf-threephase", f"threephase-{phase}", "text-classification" if phase == "ft" else "sentence-embedding"],
        pipeline_tag="text-classification" if phase == "ft" else "feature-extraction",
    )
    public = {k: v for k, v in sorted(hyperparameters.items()) if "token" not in k}
    return ModelCard.from_template(
        card_data, template_path=str(template), model_name=f"{model_id} ({phase})", model_id=model_id,
        phase_title=title, phase_description=description, auto_class=auto_class, variant=variant,
        phase_list=" → ".join(p.upper() for p in phases), base_model=base_model, data=data,
        label_names=label_names, metrics=metrics, hyperparameters=public,
    )
