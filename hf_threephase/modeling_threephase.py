"""The 3-Phase models: DAE (phase 1), sentence encoder (phase 2) and classifier (phase 3).

All three share submodule names (`encoder`, `pooling`, `bottleneck`, then `projection`, then `classifier`), so phase
N+1 is `Class.from_pretrained(phase_N_dir)`, as `BertForPreTraining` -> `BertForSequenceClassification`.
"""

import copy
import inspect
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, BertConfig, PreTrainedConfig, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
from transformers.utils import ModelOutput

from .bucketing import length_buckets
from .configuration_threephase import ThreePhaseConfig
from .losses import reconstruction_loss, siamese_cosine_loss

logger = logging.getLogger("hf_threephase")


@dataclass
class DAEOutput(ModelOutput):
    """
    Args:
        loss: scalar float32, reconstruction cross-entropy in nats per target token (when `labels` is given).
        logits: float, vocabulary scores `(num_target_tokens, vocab_size)` at the target positions only (the
            non-padding decoder positions when no `labels` are given).
        sentence_embedding: float `(batch_size, bottleneck_size)`, the bottleneck vector the decoder reconstructs
            from.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    sentence_embedding: torch.FloatTensor | None = None


@dataclass
class ThreePhaseModelOutput(ModelOutput):
    """
    Args:
        loss: scalar float32, MSE(cos(u, v), target) over the pairs (when `pair_targets` is given).
        sentence_embedding: float `(batch_size, projection_size)`, the projection output: what the contrastive
            phase trains.
        bottleneck_output: float `(batch_size, bottleneck_size)`, the bottleneck output before the projection.
        last_hidden_state: float `(batch_size, sequence_length, hidden_size)`, the encoder's token states (zeros at
            padding when `config.length_bucketing`).
    """

    loss: torch.FloatTensor | None = None
    sentence_embedding: torch.FloatTensor | None = None
    bottleneck_output: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None


@dataclass
class JointOutput(ModelOutput):
    """
    Args:
        loss: scalar float32, `dae_loss + cl_loss` (`JointTrainer` weights the two); `dae_loss` alone without
            `pair_targets`.
        dae_loss: scalar float32, reconstruction cross-entropy of the noised sentences, nats per target token.
        cl_loss: scalar float32, MSE between the cosine of each pair's embeddings and its target (with `pair_targets`).
        sentence_embedding: float `(num_texts, projection_size)`, the embeddings of `pair_input_ids` (for in-batch
            pairs, whose loss `JointTrainer` computes over the batch of every process).
    """

    loss: torch.FloatTensor | None = None
    dae_loss: torch.FloatTensor | None = None
    cl_loss: torch.FloatTensor | None = None
    sentence_embedding: torch.FloatTensor | None = None


def bucketed_states(module, input_ids, attention_mask, token_type_ids=None, **row_inputs) -> torch.Tensor:
    """`module(...).last_hidden_state`, run per length bucket (see `bucketing`): the same token states, with zeros at
    the padding a bucket does not need. `row_inputs` (e.g. `encoder_hidden_states`) are split by row only.

    With several buckets the word embeddings are looked up once for the whole batch and passed as `inputs_embeds`:
    the backward of a lookup fills a dense vocabulary-sized gradient, too costly to repeat per bucket."""
    batch, width = input_ids.shape
    positions = torch.arange(1, width + 1, device=attention_mask.device)
    lengths = (attention_mask * positions).amax(1).tolist()  # last real position + 1, for either padding side
    groups = length_buckets(lengths)
    if len(groups) > 1:
        sequences = {"inputs_embeds": module.get_input_embeddings()(input_ids)}
    else:
        sequences = {"input_ids": input_ids}
    sequences["attention_mask"] = attention_mask
    if token_type_ids is not None:
        sequences["token_type_ids"] = token_type_ids
    states, rows = [], []
    for group in groups:
        index = torch.tensor(group, device=input_ids.device)
        group_width = max(max(lengths[i] for i in group), 1)
        kwargs = {name: value[index] for name, value in row_inputs.items()}
        kwargs.update({name: value[index, :group_width] for name, value in sequences.items()})
        hidden = module(**kwargs).last_hidden_state
        states.append(nn.functional.pad(hidden, (0, 0, 0, width - group_width)))
        rows.extend(group)
    inverse = torch.empty(batch, dtype=torch.long, device=input_ids.device)
    inverse[torch.tensor(rows, device=input_ids.device)] = torch.arange(batch, device=input_ids.device)
    return torch.cat(states)[inverse]


def run_encoder(module, config: ThreePhaseConfig, input_ids, attention_mask, token_type_ids=None, **row_inputs):
    """Token states of `module`, per length bucket when `config.length_bucketing`."""
    if config.length_bucketing:
        return bucketed_states(module, input_ids, attention_mask, token_type_ids, **row_inputs)
    kwargs = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
    return module(input_ids=input_ids, attention_mask=attention_mask, **kwargs, **row_inputs).last_hidden_state


class Pooling(nn.Module):
    """Masked mean of the token states, or the first token's state."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.mode == "cls":
            return hidden_states[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class IdentityInitLinear(nn.Linear):
    """A linear layer initialised to the identity (zero bias), so that a fresh layer keeps the pooled embedding."""


class ClassificationHead(nn.Module):
    """dropout -> dense -> activation -> dropout -> out_proj."""

    def __init__(self, config: ThreePhaseConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.dense = nn.Linear(config.projection_size, config.classifier_hidden_size)
        self.activation = ACT2FN[config.classifier_activation]
        self.out_proj = nn.Linear(config.classifier_hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.dense(self.dropout(features)))
        return self.out_proj(self.dropout(x))


@contextmanager
def transformers_errors_only():
    """transformers logs errors only inside the block (its load reports, where we report what matters ourselves)."""
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)


def load_phase_folder(cls, folder, **kwargs) -> PreTrainedModel:
    """`cls.from_pretrained(folder, **kwargs)` on a 3-Phase phase folder. The top-level modules the folder's phase
    lacks (the projection after the DAE, the head after CL) start fresh by design: one info line instead of
    transformers' load report; a module the folder holds only in part is reported as a warning."""
    with transformers_errors_only():
        model, loading = cls.from_pretrained(folder, output_loading_info=True, **kwargs)
    held = set()
    for weights in Path(folder).glob("*.safetensors"):
        with safe_open(weights, framework="pt") as handle:
            held |= {key.split(".")[0] for key in handle.keys()}
    if not held:  # a Hub id: what the load report says it lacks
        missing = set(loading["missing_keys"])
        held = {key.split(".")[0] for key in model.state_dict() if key not in missing}
    fresh = sorted({key.split(".")[0] for key in model.state_dict()} - held)
    partial = sorted(key for key in loading["missing_keys"] if key.split(".")[0] in held)
    if fresh:
        logger.info("%s from %s: new %s (a projection or bottleneck starts as the identity, a head at random)",
                    cls.__name__, folder, ", ".join(fresh))
    if partial:
        logger.warning("%s from %s: the folder lacks %s (started fresh)", cls.__name__, folder, partial)
    return model


def _parameter_name(model: PreTrainedModel) -> str:
    """The name of a model's input word-embedding matrix among its parameters."""
    weight = model.get_input_embeddings().weight
    return next(name for name, p in model.named_parameters() if p is weight)


def _mapped_class(mapping, config_class):
    """The class an auto mapping gives for a config class (the first, where it gives several, as for Funnel)."""
    model_class = mapping[config_class]
    return model_class[0] if isinstance(model_class, (list, tuple)) else model_class


def build_encoder(encoder_config) -> PreTrainedModel:
    """The base model for `encoder_config`, without its own pooler where the architecture has one."""
    model_class = _mapped_class(AutoModel._model_mapping, type(encoder_config))
    kwargs = {"add_pooling_layer": False} if "add_pooling_layer" in inspect.signature(model_class).parameters else {}
    return model_class._from_config(encoder_config, **kwargs)


def decoder_config(encoder_config: PreTrainedConfig, own: bool | None = None) -> PreTrainedConfig:
    """The config of the DAE decoder for an encoder: the encoder's own architecture as a causal LM with
    cross-attention where transformers has that form (BERT, RoBERTa, XLM-R, ELECTRA, ...); else (DistilBERT,
    DeBERTa-v2, MPNet, ...) a BERT decoder of the encoder's sizes (vocabulary, hidden size, layers, heads, feed-forward
    size, positions), whose word embeddings the DAE ties to the encoder's.

    `own` forces the choice (as a saved DAE's `config.dae_decoder` does); None decides it.

    Raises:
        ValueError: the encoder's word embeddings are not hidden-sized (as in ALBERT), so that no decoder can share
            them, or its sizes cannot be read from its config.
    """
    if own is None:
        own = has_cross_attention_decoder(encoder_config)
    if own:
        config = copy.deepcopy(encoder_config)
    else:
        def size(*names):
            value = next((getattr(encoder_config, n) for n in names if getattr(encoder_config, n, None)), None)
            if value is None:
                raise ValueError(f"its config gives no {names[0]} to size a BERT decoder by")
            return value

        hidden = size("hidden_size")
        with torch.device("meta"), transformers_errors_only():  # shapes only, no memory
            embedding = build_encoder(encoder_config).get_input_embeddings().weight.shape[1]
        if embedding != hidden:
            raise ValueError(f"its word embeddings have {embedding} dimensions and its hidden states {hidden}: a "
                             "decoder cannot share them")
        config = BertConfig(
            vocab_size=size("vocab_size"), hidden_size=hidden, num_hidden_layers=size("num_hidden_layers"),
            num_attention_heads=size("num_attention_heads"),
            intermediate_size=size("intermediate_size", "hidden_dim", "ffn_dim", "d_inner"),
            hidden_act=getattr(encoder_config, "hidden_act", None) or getattr(encoder_config, "activation", "gelu"),
            max_position_embeddings=getattr(encoder_config, "max_position_embeddings", None) or 512,
            pad_token_id=encoder_config.pad_token_id, type_vocab_size=1,
            layer_norm_eps=getattr(encoder_config, "layer_norm_eps", 1e-12),
        )
    config.is_decoder = True
    config.add_cross_attention = True
    return config


def _one_layer_copy(encoder_config: PreTrainedConfig) -> PreTrainedConfig:
    """A copy of a config with one layer and the smallest vocabulary that holds its special tokens, for probes."""
    config = copy.deepcopy(encoder_config)
    config.num_hidden_layers = 1
    special = [getattr(config, f"{name}_token_id", None) for name in ("pad", "bos", "eos", "sep", "cls")]
    config.vocab_size = 1 + max([3, *(i for i in special if isinstance(i, int))])
    return config


_PROBED: dict[str, bool] = {}
_BUILT: dict[str, str | None] = {}  # DAE builds probed by `check_encoder_config`: None, or why not


def has_cross_attention_decoder(encoder_config: PreTrainedConfig) -> bool:
    """Whether transformers has a causal-LM form of this architecture that cross-attends to one vector: its forward
    takes `encoder_hidden_states`, and a one-layer copy with a small vocabulary runs on the CPU with decoder and
    encoder lengths that differ (MegatronBERT's cross-attention, for one, cannot). Probed once per configuration,
    without touching the global random state; a DAE records the answer in `config.dae_decoder`."""
    config_class = type(encoder_config)
    if config_class not in AutoModelForCausalLM._model_mapping or config_class not in AutoModel._model_mapping:
        return False
    forward = _mapped_class(AutoModel._model_mapping, config_class).forward
    if "encoder_hidden_states" not in inspect.signature(forward).parameters:
        return False
    key = encoder_config.to_json_string()
    if key not in _PROBED:
        config = _one_layer_copy(encoder_config)
        config.is_decoder, config.add_cross_attention = True, True
        try:  # on the CPU even inside from_pretrained's meta-device context
            with torch.device("cpu"), torch.random.fork_rng(devices=[]), transformers_errors_only(), torch.no_grad():
                decoder = AutoModelForCausalLM.from_config(config)
                decoder.base_model(input_ids=torch.full((1, 3), 2),
                                   encoder_hidden_states=torch.zeros(1, 1, config.hidden_size))
            _PROBED[key] = True
        except Exception:  # any failure means: use the BERT decoder, which is known to work
            logger.info("DAE decoder for %s: its causal-LM form cannot cross-attend to one vector; a BERT decoder of "
                        "its sizes instead", encoder_config.model_type)
            _PROBED[key] = False
    return _PROBED[key]


class ThreePhasePreTrainedModel(PreTrainedModel):
    config_class = ThreePhaseConfig
    base_model_prefix = "threephase"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    # Our losses are means over their own batch: the Trainer must scale them for gradient accumulation itself
    # (the DAE alone counts its tokens over the whole step).
    accepts_loss_kwargs = False

    def post_init(self):
        """Also: a phase loads the folder of any other phase quietly, dropping the top-level modules it lacks (the
        DAE decoder, the projection, the head): keys outside its own children are expected leftovers."""
        super().post_init()
        own = "|".join(re.escape(name) for name, _ in self.named_children())
        self._keys_to_ignore_on_load_unexpected.add(rf"^(?!(?:{own})\.)")

    def _init_weights(self, module):
        if isinstance(module, IdentityInitLinear):
            with torch.no_grad():
                module.weight.copy_(torch.eye(*module.weight.shape))
                module.bias.zero_()
        elif isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()

    def _build_body(self, config: ThreePhaseConfig):
        self.encoder = build_encoder(config.encoder)
        self.pooling = Pooling(config.pooling_mode)
        self.bottleneck = IdentityInitLinear(config.hidden_size, config.bottleneck_size)

    def _encode(self, input_ids, attention_mask, token_type_ids=None):
        """Token states and the bottleneck vector."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = run_encoder(self.encoder, self.config, input_ids, attention_mask, token_type_ids)
        return hidden, self.bottleneck(self.pooling(hidden, attention_mask))

    def get_input_embeddings(self):
        return self.encoder.get_input_embeddings()

    def bottleneck_embedding(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """The bottleneck vector `(batch_size, bottleneck_size)`: what the DAE decoder reconstructs from."""
        return self._encode(input_ids, attention_mask, token_type_ids)[1]

    def embed(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """The sentence embedding at this phase `(batch_size, dim)`: the projection output where there is one, else
        the bottleneck."""
        bottleneck = self.bottleneck_embedding(input_ids, attention_mask, token_type_ids)
        projection = getattr(self, "projection", None)
        return bottleneck if projection is None else projection(bottleneck)

    @classmethod
    def check_encoder_config(cls, encoder_config: PreTrainedConfig):
        """Raises `ValueError` (saying why) when this model cannot be built on such an encoder: for every phase, an
        encoder-decoder architecture (T5, BART: a seq2seq-LM model type), whose `AutoModel` needs decoder inputs to
        encode a sentence, even from an encoder saved alone."""
        seq2seq = encoder_config.model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
        if encoder_config.is_encoder_decoder or seq2seq:
            raise ValueError("it is an encoder-decoder model, and every phase runs on an encoder alone (BERT, RoBERTa, "
                             "MPNet, ...)")

    @classmethod
    def from_encoder_pretrained(cls, pretrained_model_name_or_path, **config_kwargs):
        """Build this phase's model on a plain checkpoint (BERT, RoBERTa, ...): its encoder weights, new layers fresh.
        Returned in evaluation mode, as `from_pretrained` returns a model (the Trainer switches to training)."""
        encoder_config = AutoConfig.from_pretrained(pretrained_model_name_or_path)
        model = cls(ThreePhaseConfig(encoder=encoder_config, **config_kwargs))
        encoder = AutoModel.from_pretrained(pretrained_model_name_or_path, config=encoder_config, use_safetensors=True)
        model.encoder.load_state_dict(encoder.state_dict(), strict=False)
        model.config.base_model = str(pretrained_model_name_or_path)
        return model.eval()


class DAEForSeqReconstruction(ThreePhasePreTrainedModel):
    """
    Phase 1, TSDAE-style: encoder -> pooling -> bottleneck; a decoder of the same architecture (`is_decoder`,
    cross-attention) reconstructs the clean tokens from the single bottleneck vector. The decoder shares every
    weight with the encoder except its cross-attention (and its LM-head transform). An encoder without a causal-LM
    form in transformers (DistilBERT, DeBERTa-v2, ...) gets a BERT decoder of its sizes that shares its word
    embeddings only (see `decoder_config`).
    """

    # Given `num_items_in_batch` (the Trainer counts the collator's `shift_labels` over accumulation steps and
    # processes), the loss is one token mean over the whole optimizer step, as for a batch that size in one process.
    accepts_loss_kwargs = True

    def __init__(self, config: ThreePhaseConfig):
        super().__init__(config)
        if config.bottleneck_size != config.hidden_size:
            raise ValueError(
                f"The DAE decoder cross-attends to the bottleneck vector, so bottleneck_size ({config.bottleneck_size}) "
                f"must equal the encoder's hidden size ({config.hidden_size})"
            )
        self._build_body(config)
        if config.dae_decoder is None:
            config.dae_decoder = "own" if has_cross_attention_decoder(config.encoder) else "bert"
        self.decoder = AutoModelForCausalLM.from_config(decoder_config(config.encoder, config.dae_decoder == "own"))
        self._tied_weights_keys = self._decoder_ties()
        self.post_init()

    @classmethod
    def check_encoder_config(cls, encoder_config: PreTrainedConfig):
        """Raises `ValueError` when no decoder can share this encoder's word embeddings: none hidden-sized (ALBERT),
        or none at all (the character model CANINE, whose own causal-LM form does not exist); or when a one-layer DAE
        of this architecture (with a small vocabulary, random weights) cannot be built, take a same-sized encoder's
        weights and reconstruct a sentence (GPT-2, whose tied decoder does not fit its encoder's weights). Probed once
        per configuration, on the CPU, without touching the global random state."""
        super().check_encoder_config(encoder_config)
        try:
            decoder_config(encoder_config)
        except NotImplementedError:  # transformers' get_input_embeddings of a model without word embeddings
            raise ValueError("it has no word-embedding matrix for a decoder to share") from None
        key = encoder_config.to_json_string()
        if key not in _BUILT:
            small = _one_layer_copy(encoder_config)
            ids = torch.full((1, 3), 2)
            try:
                with torch.device("cpu"), torch.random.fork_rng(devices=[]), transformers_errors_only(), torch.no_grad():
                    model = DAEForSeqReconstruction(ThreePhaseConfig(encoder=small))  # Joint's DAE part too
                    model.encoder.load_state_dict(AutoModel.from_config(small).state_dict(), strict=False)
                    model(input_ids=ids, attention_mask=torch.ones_like(ids), decoder_input_ids=ids, labels=ids)
                _BUILT[key] = None
            except Exception as err:  # noqa: BLE001 (whatever fails here would fail the run after other work)
                logger.debug("DAE build probe for %s", encoder_config.model_type, exc_info=True)
                why = " ".join(line.strip() for line in str(err).strip().splitlines()[:2])
                _BUILT[key] = f"a DAE of it cannot be built and loaded ({why})"
        if _BUILT[key]:
            raise ValueError(_BUILT[key])

    def _decoder_ties(self) -> dict[str, str]:
        """{decoder parameter: encoder parameter} for every decoder weight that the encoder also has; with a decoder
        of another architecture, the word embeddings only."""
        prefix = self.decoder.base_model_prefix
        if type(self.decoder.config) is not type(self.config.encoder):
            return {f"decoder.{prefix}.{_parameter_name(self.decoder.base_model)}":
                    f"encoder.{_parameter_name(self.encoder)}"}
        encoder_names = {name for name, _ in self.encoder.named_parameters()}
        return {
            f"decoder.{prefix}.{name}": f"encoder.{name}"
            for name, _ in self.decoder.base_model.named_parameters()
            if name in encoder_names
        }

    def _decoder_head(self) -> nn.Module:
        """The decoder's LM head (transform + vocabulary projection): its children but the base model, in the order
        they were made (one module for BERT and RoBERTa; ELECTRA's transform and projection are two)."""
        return nn.Sequential(*[m for n, m in self.decoder.named_children() if n != self.decoder.base_model_prefix])

    @classmethod
    def from_encoder_pretrained(cls, pretrained_model_name_or_path, **config_kwargs):
        """Encoder and decoder both from the checkpoint (its LM head too, where it has one); cross-attention fresh.
        A decoder of another architecture (see `decoder_config`) starts fresh but for the tied word embeddings.
        What starts fresh by design is logged at info level; anything else the checkpoint lacks, as a warning."""
        model = super().from_encoder_pretrained(pretrained_model_name_or_path, **config_kwargs)
        if type(model.decoder.config) is not type(model.config.encoder):
            logger.info("DAE decoder for %s: a %s of its sizes, fresh but for the word embeddings it shares with the "
                        "encoder", model.config.encoder.model_type, type(model.decoder).__name__)
            return model
        with transformers_errors_only():  # its load report lists what we check below
            decoder, loading = AutoModelForCausalLM.from_pretrained(
                pretrained_model_name_or_path, config=copy.deepcopy(model.decoder.config), use_safetensors=True,
                output_loading_info=True,
            )
        model.decoder.load_state_dict(decoder.state_dict(), strict=False)
        prefix = model.decoder.base_model_prefix
        fresh = [k for k in loading["missing_keys"] if "crossattention" in k or not k.startswith(f"{prefix}.")]
        lacking = sorted(set(loading["missing_keys"]) - set(fresh))
        logger.info("DAE decoder from %s: %d cross-attention and LM-head tensors start fresh", pretrained_model_name_or_path,
                    len(fresh))
        if lacking:
            logger.warning("DAE decoder from %s: the checkpoint lacks %s (started fresh)", pretrained_model_name_or_path,
                           lacking)
        return model.eval()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **kwargs,
    ) -> DAEOutput:
        r"""
        The keys of transformers' encoder-decoder models (`DenoisingCollator` builds them):

        input_ids / attention_mask: int64 `(batch_size, sequence_length)`, the noised sentences the encoder reads.
        decoder_input_ids / decoder_attention_mask: int64 `(batch_size, target_length)`, the clean sentences
            without their last token (teacher forcing); without them, only the `sentence_embedding` is returned.
        labels: int64 `(batch_size, target_length)`, the clean sentences without their first token, -100 at
            padding: the reconstruction targets.
        num_items_in_batch: the target tokens of the whole optimizer step (the Trainer counts `labels`); the loss is
            the mean over this batch's targets without it.

        Raises:
            ValueError: `labels` without `decoder_input_ids`.
        """
        _, embedding = self._encode(input_ids, attention_mask, token_type_ids)
        if decoder_input_ids is None:
            if labels is not None:
                raise ValueError("DAEForSeqReconstruction: labels need decoder_input_ids (see DenoisingCollator)")
            return DAEOutput(sentence_embedding=embedding)
        logits, loss = self.decode(embedding, decoder_input_ids, decoder_attention_mask, labels, num_items_in_batch)
        return DAEOutput(loss=loss, logits=logits, sentence_embedding=embedding)

    def decode(self, embedding: torch.Tensor, decoder_input_ids: torch.Tensor,
               decoder_attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
               num_items_in_batch: torch.Tensor | int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The decoder's vocabulary scores and reconstruction loss given sentence vectors `embedding`
        `(batch_size, bottleneck_size)` (the only key and value of its cross-attention) and the decoder keys of
        `forward`. Returns `(logits, loss)`; `loss` is None without `labels`."""
        if decoder_attention_mask is None:
            decoder_attention_mask = (decoder_input_ids != self.config.encoder.pad_token_id).long()
        decoded = run_encoder(
            self.decoder.base_model,
            self.config,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_hidden_states=embedding[:, None],
        )
        # The vocabulary projection only where a target token exists: padding never reaches the 30k-way matmul.
        target_mask = decoder_attention_mask.bool() if labels is None else labels != -100
        logits = self._decoder_head()(decoded[target_mask])
        loss = None if labels is None else reconstruction_loss(logits, labels[target_mask], num_items_in_batch)
        return logits, loss

    def new_parameter_names(self) -> list[str]:
        """The decoder parameters the encoder does not share: cross-attention and the LM-head transform (fresh when
        the checkpoint has no LM head, as sentence-transformers checkpoints do)."""
        tied = set(self._tied_weights_keys)
        shared = {id(p) for p in self.encoder.parameters()}
        return [f"decoder.{name}" for name, p in self.decoder.named_parameters()
                if f"decoder.{name}" not in tied and id(p) not in shared]


class ThreePhaseModel(ThreePhasePreTrainedModel):
    """Phase 2 body: encoder -> pooling -> bottleneck -> projection; returns the sentence embedding."""

    # On a DAE folder (as `AutoModel` loads one) the projection starts as the identity by design: the embedding is the
    # DAE's bottleneck vector, nothing to report.
    _keys_to_ignore_on_load_missing = [r"^projection\."]

    def __init__(self, config: ThreePhaseConfig):
        super().__init__(config)
        self._build_body(config)
        self.projection = IdentityInitLinear(config.bottleneck_size, config.projection_size)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        pair_targets: torch.Tensor | None = None,
        **kwargs,
    ) -> ThreePhaseModelOutput:
        r"""
        input_ids / attention_mask: int64 `(batch_size, sequence_length)`. With `pair_targets`, the batch holds the
            u-sides of the pairs, then their v-sides (`PairCollator`), so `batch_size = 2 * num_pairs`.
        pair_targets: float `(num_pairs,)` cosine targets; gives the loss MSE(cos(u, v), target).
        """
        hidden, bottleneck = self._encode(input_ids, attention_mask, token_type_ids)
        embedding = self.projection(bottleneck)
        loss = None if pair_targets is None else siamese_cosine_loss(embedding, pair_targets)
        return ThreePhaseModelOutput(
            loss=loss, sentence_embedding=embedding, bottleneck_output=bottleneck, last_hidden_state=hidden
        )


class ThreePhaseForSequenceClassification(ThreePhasePreTrainedModel):
    """Phase 3: the phase-2 body + a 2-layer MLP head; cross-entropy (or per `problem_type`)."""

    def __init__(self, config: ThreePhaseConfig):
        super().__init__(config)
        self._build_body(config)
        self.projection = IdentityInitLinear(config.bottleneck_size, config.projection_size)
        self.classifier = ClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        r"""
        input_ids / attention_mask: int64 `(batch_size, sequence_length)`.
        labels: int64 `(batch_size,)` class ids (float `(batch_size, num_labels)` for multi-label `problem_type`).

        Returns `loss` (scalar float32, for `config.problem_type`; weighted by `config.class_weights` where given)
        and `logits` float `(batch_size, num_labels)`.
        """
        logits = self.classifier(self.embed(input_ids, attention_mask, token_type_ids))
        loss = None if labels is None else self.classification_loss(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of `forward` from logits `(batch_size, num_labels)`: cross-entropy weighted by
        `config.class_weights` where given, else transformers' loss for `config.problem_type`; a scalar float32."""
        if self.config.class_weights is not None:
            weight = torch.tensor(self.config.class_weights, dtype=torch.float32, device=logits.device)
            return nn.functional.cross_entropy(logits.float(), labels, weight=weight)
        return self.loss_function(labels, logits, self.config)


class ThreePhaseForJointTraining(DAEForSeqReconstruction):
    """The Joint variant: the DAE plus the contrastive projection, trained on L_DAE + L_CL in one step. Its checkpoint
    loads into `ThreePhaseModel` and `ThreePhaseForSequenceClassification` like a phase-2 one."""

    # Its `loss` is a plain sum of two batch means: a Trainer must not rescale it (`JointTrainer` scales the terms).
    accepts_loss_kwargs = False

    def __init__(self, config: ThreePhaseConfig):
        super().__init__(config)
        self.projection = IdentityInitLinear(config.bottleneck_size, config.projection_size)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        pair_input_ids: torch.Tensor | None = None,
        pair_attention_mask: torch.Tensor | None = None,
        pair_targets: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **kwargs,
    ) -> JointOutput:
        r"""input_ids ... labels, num_items_in_batch: the denoising batch (see `DAEForSeqReconstruction.forward`);
        pair_input_ids / pair_attention_mask: int64 `(num_texts, sequence_length)`: with `pair_targets`, the u-sides
            then the v-sides (`num_texts = 2 * num_pairs`); without, texts whose pairs the Trainer forms;
        pair_targets: float `(num_pairs,)` cosine targets (see `ThreePhaseModel.forward`)."""
        dae_loss = super().forward(input_ids, attention_mask, decoder_input_ids=decoder_input_ids,
                                   decoder_attention_mask=decoder_attention_mask, labels=labels,
                                   num_items_in_batch=num_items_in_batch).loss
        embedding = self.embed(pair_input_ids, pair_attention_mask)
        if pair_targets is None:
            return JointOutput(loss=dae_loss, dae_loss=dae_loss, sentence_embedding=embedding)
        cl_loss = siamese_cosine_loss(embedding, pair_targets)
        return JointOutput(loss=dae_loss + cl_loss, dae_loss=dae_loss, cl_loss=cl_loss, sentence_embedding=embedding)


__all__ = [
    "DAEForSeqReconstruction",
    "DAEOutput",
    "JointOutput",
    "ThreePhaseForJointTraining",
    "ThreePhaseForSequenceClassification",
    "ThreePhaseModel",
    "ThreePhaseModelOutput",
    "ThreePhasePreTrainedModel",
]
