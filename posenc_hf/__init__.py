"""posenc_hf: small transformer-encoder text classifiers with learnable positional encodings.

Importing the package registers `PosEncConfig`, `PosEncModel` and
`PosEncForSequenceClassification` with transformers' Auto classes.
"""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from .configuration_posenc import PosEncConfig
from .modeling_posenc import PosEncForSequenceClassification, PosEncModel, PosEncPreTrainedModel

__version__ = "0.1.0"

AutoConfig.register(PosEncConfig.model_type, PosEncConfig, exist_ok=True)
AutoModel.register(PosEncConfig, PosEncModel, exist_ok=True)
AutoModelForSequenceClassification.register(PosEncConfig, PosEncForSequenceClassification, exist_ok=True)

__all__ = ["PosEncConfig", "PosEncModel", "PosEncForSequenceClassification", "PosEncPreTrainedModel"]
