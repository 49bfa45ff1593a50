"""What a phase folder carries so that it loads where hf_threephase is not imported: the model code with an `auto_map`
(for `trust_remote_code=True`), and sentence-transformers module files that give the phase's `sentence_embedding`.

With hf_threephase imported, the registered classes are used and `trust_remote_code` is not needed: transformers
prefers registered code to a folder's code unless `trust_remote_code=True` is passed.
"""

import json
from pathlib import Path

from safetensors.torch import save_file
from transformers.dynamic_module_utils import custom_object_save

# Every Auto class a phase folder answers to, whatever the phase (the classes `hf_threephase` registers).
AUTO_MAP = {
    "AutoConfig": "configuration_threephase.ThreePhaseConfig",
    "AutoModel": "modeling_threephase.ThreePhaseModel",
    "AutoModelForPreTraining": "modeling_threephase.DAEForSeqReconstruction",
    "AutoModelForSequenceClassification": "modeling_threephase.ThreePhaseForSequenceClassification",
}


def add_remote_code(model, folder: Path):
    """Set `config.auto_map` (write the config after this) and copy the model code into `folder`:
    `modeling_threephase.py` and the modules it imports, `configuration_threephase.py` among them."""
    model.config.auto_map = dict(AUTO_MAP)
    custom_object_save(model, folder)


def _dense_module(folder: Path, linear):
    """A sentence-transformers `Dense` module (identity activation) holding `linear`'s weights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({
        "in_features": linear.in_features, "out_features": linear.out_features, "bias": True,
        "activation_function": "torch.nn.modules.linear.Identity"}, indent=2))
    save_file({"linear.weight": linear.weight.detach().float().contiguous().cpu(),
               "linear.bias": linear.bias.detach().float().contiguous().cpu()}, str(folder / "model.safetensors"))


def write_sentence_transformers_modules(model, folder: Path, max_seq_length: int):
    """sentence-transformers module files in a phase folder, so that `SentenceTransformer(folder).encode(texts)` is
    the phase's sentence embedding (`model.embed`, float `(n, dim)`): the folder's encoder (its `AutoModel`, whose
    `last_hidden_state` are the token states), the phase's pooling, the bottleneck and, where the phase has one, the
    projection, as `Dense` layers with the identity activation. The encoder weights are not copied."""
    layers = [model.bottleneck] + ([model.projection] if getattr(model, "projection", None) is not None else [])
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    mode = model.config.pooling_mode
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": model.config.hidden_size, "pooling_mode_cls_token": mode == "cls",
        "pooling_mode_mean_tokens": mode == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False}, indent=2))
    for i, linear in enumerate(layers, start=2):
        path = f"{i}_Dense"
        _dense_module(folder / path, linear)
        modules.append({"idx": i, "name": str(i), "path": path, "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length,
                                                                  "do_lower_case": False}, indent=2))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"similarity_fn_name": "cosine"}, indent=2))
