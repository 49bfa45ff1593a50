"""ThreePhaseConfig: one configuration for the DAE, contrastive and classification phases."""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

POOLING_MODES = ("mean", "cls")
DAE_DECODERS = ("own", "bert")


@strict
class ThreePhaseConfig(PreTrainedConfig):
    r"""
    Configuration of every 3-Phase model. The base encoder's configuration is nested under `encoder` (as
    `EncoderDecoderConfig` nests its parts); the sizes of the layers the recipe adds default to its hidden size.

    Args:
        encoder (`PreTrainedConfig` or `dict`): configuration of the base encoder (BERT, RoBERTa, ...).
        pooling_mode (`str`, defaults to `"mean"`): `"mean"` (masked mean of token states) or `"cls"`.
        bottleneck_size (`int`, *optional*): output size of the bottleneck layer; defaults to the hidden size.
        projection_size (`int`, *optional*): output size of the contrastive projection; defaults to the bottleneck size.
        classifier_hidden_size (`int`, *optional*): hidden size of the 2-layer MLP head; defaults to the projection size.
        classifier_dropout (`float`, defaults to 0.1): dropout before each layer of the head.
        classifier_activation (`str`, defaults to `"gelu"`): activation between the two layers of the head.
        length_bucketing (`bool`, defaults to `True`): run each batch as groups of rows of similar length, each padded
            only to its own longest (see `hf_threephase.bucketing`); same outputs, less compute on padding. Turn off
            for tracing or export, which need one static forward.
        dae_decoder (`str`, *optional*): the DAE decoder's architecture, decided once when a DAE is first built on an
            encoder: `"own"` (the encoder's causal-LM form, every shared weight tied) or `"bert"` (a BERT decoder of
            its sizes, word embeddings tied); see `modeling_threephase.decoder_config`.
        class_weights (`list[float]`, *optional*): per class id, the weight of its examples in the classifier's
            cross-entropy (`torch.nn.functional.cross_entropy`'s `weight`); None: unweighted.
        phases (`list[str]`, *optional*): the phases these weights have been trained through, in order.
        base_model (`str`, *optional*): the plain checkpoint the first phase started from.

    Example:

    ```python
    >>> from transformers import BertConfig
    >>> from hf_threephase import ThreePhaseConfig
    >>> config = ThreePhaseConfig(encoder=BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2))
    >>> config.bottleneck_size
    32
    ```
    """

    model_type = "threephase"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PreTrainedConfig | dict | None = None
    pooling_mode: str = "mean"
    bottleneck_size: int | None = None
    projection_size: int | None = None
    classifier_hidden_size: int | None = None
    classifier_dropout: float | int = 0.1
    classifier_activation: str = "gelu"
    length_bucketing: bool = True
    dae_decoder: str | None = None
    class_weights: list[float] | None = None
    phases: list[str] | None = None
    base_model: str | None = None
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.pooling_mode not in POOLING_MODES:
            raise ValueError(f"pooling_mode must be one of {POOLING_MODES}, got {self.pooling_mode!r}")
        if self.dae_decoder not in (None, *DAE_DECODERS):
            raise ValueError(f"dae_decoder must be one of {DAE_DECODERS}, got {self.dae_decoder!r}")
        if self.bottleneck_size is None:
            self.bottleneck_size = self.encoder.hidden_size
        if self.projection_size is None:
            self.projection_size = self.bottleneck_size
        if self.classifier_hidden_size is None:
            self.classifier_hidden_size = self.projection_size
        if self.phases is None:
            self.phases = []

    @property
    def hidden_size(self) -> int:
        return self.encoder.hidden_size

    @property
    def initializer_range(self) -> float:
        return getattr(self.encoder, "initializer_range", 0.02)


__all__ = ["ThreePhaseConfig"]
