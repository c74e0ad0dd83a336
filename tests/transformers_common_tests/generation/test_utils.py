"""Stand-in for transformers' `tests/generation/test_utils.py`, which its sdist does not ship."""


class GenerationTesterMixin:
    """Empty on purpose: the real mixin tests `generate()` (greedy, sampling, beam search, caches),
    and PosEnc models are encoder-only and cannot generate (`can_generate()` is False), so our test
    class does not inherit it. `test_modeling_common.py` only imports it to check that a test class
    inherits it exactly when its models can generate."""
