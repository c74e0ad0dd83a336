"""posenc_hf: small transformer-encoder text classifiers with learnable positional encodings.

Importing the package registers `PosEncConfig`, `PosEncModel`, `PosEncForSequenceClassification`
and `PosEncForMaskedLM` with transformers' Auto classes.
"""

from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

from .model.configuration_posenc import PosEncConfig
from .model.modeling_posenc import (
    PosEncForMaskedLM,
    PosEncForSequenceClassification,
    PosEncModel,
    PosEncPreTrainedModel,
)

__version__ = "0.1.0"

AutoConfig.register(PosEncConfig.model_type, PosEncConfig, exist_ok=True)
AutoModel.register(PosEncConfig, PosEncModel, exist_ok=True)
AutoModelForSequenceClassification.register(PosEncConfig, PosEncForSequenceClassification, exist_ok=True)
AutoModelForMaskedLM.register(PosEncConfig, PosEncForMaskedLM, exist_ok=True)

__all__ = [
    "PosEncConfig",
    "PosEncModel",
    "PosEncForSequenceClassification",
    "PosEncForMaskedLM",
    "PosEncPreTrainedModel",
]
