"""Stand-in for transformers' `tests/utils/test_configuration_utils.py`, which its sdist does not ship.

`test_configuration_common.py` imports only `config_common_kwargs` from it: one non-default value for
every attribute `PreTrainedConfig.__init__` sets, which `ConfigTester` passes to the config class
and then checks it kept.
"""

# Copied from transformers, tests/utils/test_configuration_utils.py (transformers v5, the version
# whose `PreTrainedConfig` takes `dtype`), https://github.com/huggingface/transformers
# Copyright 2019 HuggingFace Inc. Licensed under the Apache License, Version 2.0
# (http://www.apache.org/licenses/LICENSE-2.0).
config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}
