"""Start a classifier from a pretrained PosEnc folder (a masked-LM or another classifier): the
encoder's weights load, the classification head is new, and one message says which is which.

The architecture comes from the folder's config, not from the run's model fields; the run chooses
only what fine-tuning may change: labels and dropout; a warning names each other model field the run
sets that the folder's config overrides. The folder's tokenizer is the run's tokenizer
(`posenc_hf.training.prepare` passes it, and checks that its max_length fits the position table), so
token ids mean what they meant in pretraining.
"""

import copy
import logging

from ..model.configuration_posenc import PosEncConfig
from ..model.modeling_posenc import PosEncForSequenceClassification
from .arguments import config_values

logger = logging.getLogger(__name__)

FINE_TUNING_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout")
NOT_ARCHITECTURE = ("problem_type",)  # the run's own: it says what the data is, whatever the folder was


def pretrained_architecture(model_args):
    """The folder's config with this run's dropout; a warning names each YAML model field it overrides."""
    config = PosEncConfig.from_pretrained(model_args.model_name_or_path)
    overridden = overridden_fields(model_args, config)
    if overridden:
        logger.warning(
            "%s brings its own architecture; these model fields of the run are not used: %s (only %s apply "
            "when fine-tuning a pretrained folder)",
            model_args.model_name_or_path,
            ", ".join(f"{name}={ours!r} (the folder's: {theirs!r})" for name, (ours, theirs) in overridden.items()),
            ", ".join(FINE_TUNING_FIELDS),
        )
    for name in FINE_TUNING_FIELDS:
        setattr(config, name, getattr(model_args, name))
    return config


def overridden_fields(model_args, config):
    """{field: (the run's value, the folder's)} for each model field the run sets away from its default
    to a value the folder's config does not hold (a field given its default value is not told apart
    from one left unset)."""
    defaults = type(model_args)()
    fields = [name for name in config_values(model_args) if name not in (*FINE_TUNING_FIELDS, *NOT_ARCHITECTURE)]
    return {
        name: (getattr(model_args, name), folder_value(config, name))
        for name in fields
        if getattr(model_args, name) != getattr(defaults, name)
        and getattr(model_args, name) != folder_value(config, name)
    }


def folder_value(config, name):
    """A run field's value in a config: `rope_theta` lives in `rope_parameters`."""
    if name == "rope_theta":
        return (config.rope_parameters or {}).get("rope_theta")
    return getattr(config, name)


def fine_tuning_config(architecture, tokenizer, label_names, source):
    """The pretrained architecture with this run's labels; errors when the tokenizer does not fit it."""
    if architecture.vocab_size != len(tokenizer):
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but {source} was pretrained with "
            f"vocab_size={architecture.vocab_size}: use the folder's own tokenizer (leave tokenizer_name_or_path "
            "unset)."
        )
    config = copy.deepcopy(architecture)
    config.id2label = dict(enumerate(label_names))
    config.label2id = {name: i for i, name in enumerate(label_names)}
    config.problem_type = None
    return config


def load_pretrained_classifier(model_name_or_path, config, attn_implementation="sdpa"):
    """A `PosEncForSequenceClassification` with the folder's encoder and a new head; logs what loaded."""
    model, info = PosEncForSequenceClassification.from_pretrained(
        model_name_or_path, config=config, attn_implementation=attn_implementation, output_loading_info=True
    )
    loaded = sorted(set(model.state_dict()) - set(info["missing_keys"]))
    if not any(key.startswith(f"{model.base_model_prefix}.") for key in loaded):
        raise ValueError(f"{model_name_or_path} holds no PosEnc encoder weights: nothing to start from")
    message = loading_message(model_name_or_path, loaded, info["missing_keys"], info["unexpected_keys"])
    logger.warning(message)
    return model, message


def loading_message(source, loaded, new, unused):
    """Which weights came from `source` (grouped by module), which are new, which it held but are unused."""
    return "\n".join(
        [
            f"Classifier initialised from {source}:",
            f"  loaded ({len(loaded)} tensors): {', '.join(module_groups(loaded))}",
            f"  newly initialised ({len(new)}): {', '.join(sorted(new)) or 'nothing'}",
            f"  in the folder but not used ({len(unused)}): {', '.join(sorted(unused)) or 'nothing'}",
        ]
    )


def module_groups(keys):
    """Parameter names shortened to their module: `posenc.layers.0`, `posenc.embeddings.word_embeddings`."""
    groups = []
    for key in keys:
        parts = key.split(".")
        group = ".".join(parts[:3] if len(parts) > 3 else parts[:-1])
        if group not in groups:
            groups.append(group)
    return groups
