"""LoRA adapters on the encoder (PEFT), merged at the end of a phase so every saved folder is a plain checkpoint."""

from pathlib import Path

from peft import LoraConfig, get_peft_model
from peft.utils import NoMatchingPeftModuleError

from .files import first_line
from .validation import InputError


def add_lora(model, r: int = 8, alpha: int = 16, dropout: float = 0.1, target_modules: list[str] | None = None) -> str:
    """Put LoRA adapters on `model.encoder` (target modules default to peft's choice for the architecture, e.g.
    query/value for BERT and RoBERTa). The encoder's own weights freeze; the layers the recipe adds (bottleneck,
    projection, head, the DAE decoder's cross-attention) stay trainable. Returns the trainable-parameter line.

    Raises:
        InputError: target modules the encoder does not have.
    """
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules)
    try:
        model.encoder = get_peft_model(model.encoder, config)
    except NoMatchingPeftModuleError as err:  # the first phase's model, before any training
        raise InputError(f"--lora_target_modules {' '.join(target_modules or [])}: {first_line(err)}") from None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return f"trainable params: {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)"


def merge_lora(model, adapter_dir: Path | None = None):
    """Fold the adapters into the encoder's weights (optionally saving the unmerged adapter first)."""
    if adapter_dir is not None:
        model.encoder.save_pretrained(str(adapter_dir))
    model.encoder = model.encoder.merge_and_unload()
