"""transformers' own common model tests, run against the PosEnc models, for every position scheme.

The same structure transformers holds BERT to (`tests/models/bert/test_modeling_bert.py`): a model
tester that builds a tiny config and inputs, a test class on `ModelTesterMixin`, and `ConfigTester`.
`ModelTesterMixin` and `ConfigTester` come from the sdist of the installed transformers, fetched by
`.ci/fetch_transformers_tests.py` (`.ci/run` calls it); see `tests/transformers_common_tests/`.
Without them this module skips, or fails when `CI=true`.

    HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
        python -m pytest tests/model/test_transformers_common.py -q -p no:randomly

Tests that cannot apply to an encoder-only, non-generative text model are skipped with a reason each
(`DOES_NOT_APPLY` in `common_test_selection.py`, beside this file); most of the others (GPU, flash
attention, DeepSpeed, multi-GPU, vision/audio) skip themselves through transformers' own `require_*`
decorators.

One class per scheme (`position_embedding_type`). `PosEncModelTest` (learned) runs every common test, in
31 s on 2 cores; all of them for each of the eight schemes would take 4 minutes of a suite that must stay
under 15. So the seven others run the tests that read what a scheme computes or the tensors it adds
(`PER_SCHEME`, in `common_test_selection.py`): forward passes and heads, attention weights and hidden
states, batching, padding and eager-SDPA equivalence, inputs_embeds, save/load, weight initialisation
(T5's bucket table, FIRE's MLP, KERPLE's kernel, the buffers of sinusoidal, rotary and ALiBi), training
and gradient checkpointing, and RoPE scaling for rotary, together 5-7 s each. The rest
(`SAME_FOR_EVERY_SCHEME`) skip with the reason they cannot differ between schemes: they exercise how
transformers loads, casts and ties weights, which attention function it picks, the token embeddings, or
class attributes, none of which reads `position_embedding_type`. A test that a newer transformers adds,
and `common_test_selection.py` does not sort, runs for every scheme. For each scheme that has no table
(all but learned and sinusoidal) the table-resizing test skips, and the RoPE tests run for rotary only.
"""

import os
import unittest
import warnings
from unittest import mock

import pytest
import transformers_common_tests

IN_CI = os.environ.get("CI", "").lower() == "true"
UNAVAILABLE = None  # why transformers' common tests cannot run here, if they cannot
if not transformers_common_tests.fetched():
    UNAVAILABLE = (
        f"transformers' common tests not fetched: run .ci/run or python .ci/fetch_transformers_tests.py "
        f"(expected in {transformers_common_tests.CACHE_DIR})"
    )
else:
    try:
        with warnings.catch_warnings():
            # Marks (flash_attn_test, torch_compile_test, ...) that transformers registers in its conftest.py.
            warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
            from transformers_common_tests.test_configuration_common import ConfigTester
            from transformers_common_tests.test_modeling_common import ModelTesterMixin, ids_tensor
    except ModuleNotFoundError as error:  # a test dependency, e.g. parameterized
        if error.name and error.name.startswith("transformers_common_tests"):
            raise
        UNAVAILABLE = f"transformers' common tests need {error.name!r}: pip install -e '.[dev]'"

if UNAVAILABLE is not None:
    if not IN_CI:
        pytest.skip(UNAVAILABLE, allow_module_level=True)

    class ModelTesterMixin:
        """CI=true: their absence is a failure. Every test of the class below fails in `setUp`, naming
        why (rather than a collection error, which would stop the whole test run)."""

        def setUp(self):
            self.fail(f"{UNAVAILABLE} (CI=true: they must run in CI)")

    ConfigTester = ids_tensor = None

import torch  # noqa: E402
from common_test_selection import skip_reason  # noqa: E402
from transformers.models.auto import modeling_auto  # noqa: E402
from transformers.testing_utils import torch_device  # noqa: E402

from posenc_hf import PosEncConfig, PosEncForMaskedLM, PosEncForSequenceClassification, PosEncModel  # noqa: E402
from posenc_hf.model.attention_positions_posenc import PosEncRotaryEmbedding  # noqa: E402
from posenc_hf.model.configuration_posenc import POSITION_EMBEDDING_TYPES  # noqa: E402

# transformers' tests pick a class's role (base model, sequence classifier, masked LM: which labels
# to build, what to train) by its name in these tables, where an in-library model is listed.
# `AutoModel*.register` (done by `import posenc_hf`) does not list it there, so the test class lists
# it for its own run.
AUTO_TABLES = (
    (modeling_auto.MODEL_MAPPING_NAMES, PosEncModel),
    (modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES, PosEncForSequenceClassification),
    (modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES, PosEncForMaskedLM),
)


class PosEncModelTester:
    def __init__(
        self,
        parent,
        batch_size=13,
        seq_length=7,
        is_training=True,
        use_input_mask=True,
        use_labels=True,
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=64,
        initializer_range=0.02,
        num_labels=3,
        pad_token_id=0,
        position_embedding_type="learned",
        scope=None,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = is_training
        self.use_input_mask = use_input_mask
        self.use_labels = use_labels
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.num_labels = num_labels
        self.pad_token_id = pad_token_id
        self.position_embedding_type = position_embedding_type
        self.scope = scope

    def padding_mask(self):
        """Right padding, as a tokenizer makes it: random lengths in [1, seq_length], the first row
        unpadded and the last one half padding, so that every batch has both kinds of rows."""
        lengths = ids_tensor([self.batch_size], self.seq_length) + 1
        lengths[-1] = max(1, self.seq_length // 2)
        lengths[0] = self.seq_length
        positions = torch.arange(self.seq_length, device=lengths.device)
        return (positions[None, :] < lengths[:, None]).long()

    def prepare_config_and_inputs(self):
        # Token ids avoid the padding id; padded positions hold it.
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 1) + 1

        input_mask = None
        if self.use_input_mask:
            input_mask = self.padding_mask()
            input_ids = input_ids.masked_fill(input_mask == 0, self.pad_token_id)

        sequence_labels = None
        token_labels = None
        if self.use_labels:
            sequence_labels = ids_tensor([self.batch_size], self.num_labels)
            token_labels = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
            if input_mask is not None:
                token_labels = token_labels.masked_fill(input_mask == 0, -100)

        config = self.get_config()
        return config, input_ids, input_mask, sequence_labels, token_labels

    def get_config(self):
        return PosEncConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            max_position_embeddings=self.max_position_embeddings,
            initializer_range=self.initializer_range,
            num_labels=self.num_labels,
            pad_token_id=self.pad_token_id,
            position_embedding_type=self.position_embedding_type,
        )

    def create_and_check_model(self, config, input_ids, input_mask, sequence_labels, token_labels):
        model = PosEncModel(config=config)
        model.to(torch_device)
        model.eval()
        result = model(input_ids, attention_mask=input_mask)
        result = model(input_ids)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.pooler_output.shape, (self.batch_size, self.hidden_size))

    def create_and_check_for_sequence_classification(
        self, config, input_ids, input_mask, sequence_labels, token_labels
    ):
        model = PosEncForSequenceClassification(config)
        model.to(torch_device)
        model.eval()
        result = model(input_ids, attention_mask=input_mask, labels=sequence_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.num_labels))
        self.parent.assertEqual(result.loss.shape, ())

    def create_and_check_for_masked_lm(self, config, input_ids, input_mask, sequence_labels, token_labels):
        model = PosEncForMaskedLM(config=config)
        model.to(torch_device)
        model.eval()
        result = model(input_ids, attention_mask=input_mask, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        self.parent.assertEqual(result.loss.shape, ())

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, input_mask, _, _ = self.prepare_config_and_inputs()
        inputs_dict = {"input_ids": input_ids, "attention_mask": input_mask}
        return config, inputs_dict


class PosEncCommonTests(ModelTesterMixin):
    """The common tests for one position scheme (`position_embedding_type`); not a `TestCase` itself, so
    that only the classes made from it below are collected."""

    position_embedding_type = "learned"
    all_model_classes = (PosEncModel, PosEncForSequenceClassification, PosEncForMaskedLM)
    # The models implement `get_position_embeddings` / `resize_position_embeddings`.
    test_resize_position_embeddings = True
    # transformers dates a model by a "# Copyright <year>" line in its config file and skips this
    # test for models before 2023 unless set; configuration_posenc.py has no such line (year 0).
    test_can_init_all_missing_weights_before_2023 = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._auto_tables = [mock.patch.dict(table, {"posenc": model.__name__}) for table, model in AUTO_TABLES]
        for patch in cls._auto_tables:
            patch.start()

    @classmethod
    def tearDownClass(cls):
        for patch in reversed(cls._auto_tables):
            patch.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.model_tester = PosEncModelTester(self, position_embedding_type=self.position_embedding_type)
        # BERT's odd hidden_size, with one head: PosEncConfig refuses a size its heads do not divide (and, for
        # rotary, which rotates pairs of dimensions, an odd head size)
        hidden_size = 38 if self.position_embedding_type == "rotary" else 37
        self.config_tester = ConfigTester(
            self,
            config_class=PosEncConfig,
            hidden_size=hidden_size,
            num_attention_heads=1,
            position_embedding_type=self.position_embedding_type,
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        config_and_inputs = self.model_tester.prepare_config_and_inputs()
        self.model_tester.create_and_check_model(*config_and_inputs)

    def test_for_sequence_classification(self):
        config_and_inputs = self.model_tester.prepare_config_and_inputs()
        self.model_tester.create_and_check_for_sequence_classification(*config_and_inputs)

    def test_for_masked_lm(self):
        config_and_inputs = self.model_tester.prepare_config_and_inputs()
        self.model_tester.create_and_check_for_masked_lm(*config_and_inputs)

    def test_model_rope_scaling_frequencies(self):
        """transformers' test finds a RoPE module by its name (`rotary_emb`) and calls it for (cos, sin).
        PosEnc's sits where every scheme does, at `embeddings.position_embeddings`, and returns them from
        `rotation`: the test reads it under that name."""

        class RotaryEmb(PosEncRotaryEmbedding):
            forward = PosEncRotaryEmbedding.rotation

        build = PosEncModel.__init__

        def init(model, config):
            build(model, config)
            model.named_modules = lambda *args, **kwargs: iter([("rotary_emb", RotaryEmb(config))])

        with mock.patch.object(PosEncModel, "__init__", init):
            super().test_model_rope_scaling_frequencies()


# ----------------------------------------------------------------------------------------------
# One test class per position scheme, running the tests `skip_reason` (common_test_selection.py) lets through.


def skipped(reason):
    @unittest.skip(reason=reason)
    def test(self, *args):
        pass

    return test


def scheme_test_class(kind, full=False):
    """A `TestCase` of the common tests for `kind`: with `full` all of them (but those that do not apply),
    else the ones `skip_reason` lets through, the others skipped naming why they cannot differ."""
    namespace = {"position_embedding_type": kind}
    for name in dir(PosEncCommonTests):
        test = getattr(PosEncCommonTests, name)
        if name.startswith("test_") and callable(test) and (reason := skip_reason(kind, name, full)) is not None:
            namespace[name] = skipped(reason)
    name = "PosEncModelTest" if full else f"PosEnc{kind.capitalize()}ModelTest"
    return type(name, (PosEncCommonTests, unittest.TestCase), {"__module__": __name__, **namespace})


PosEncModelTest = scheme_test_class("learned", full=True)
for _kind in POSITION_EMBEDDING_TYPES:
    if _kind != "learned":
        globals()[f"PosEnc{_kind.capitalize()}ModelTest"] = scheme_test_class(_kind)
