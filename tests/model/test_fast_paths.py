"""The CPU speed paths (fast_paths_posenc.py): cheap dropout and skipping padding give what the plain path gives."""

import pytest
import torch
from helpers import batch, tiny_model


def test_fast_dropout_drops_the_asked_share_and_keeps_the_mean():
    from posenc_hf.model.fast_paths_posenc import fast_dropout

    torch.manual_seed(0)
    ones = torch.ones(400, 1000)
    dropped = fast_dropout(ones, 0.1, training=True)
    assert (dropped == 0).float().mean().item() == pytest.approx(0.1, abs=0.003)
    assert dropped.mean().item() == pytest.approx(1.0, abs=0.01)
    assert torch.equal(fast_dropout(ones, 0.1, training=False), ones)


def test_training_with_attention_dropout_runs_and_is_seeded():
    model = tiny_model(attention_probs_dropout_prob=0.1).train()
    input_ids, mask = batch(2, 8), torch.tensor([[1] * 8, [1] * 5 + [0] * 3])
    torch.manual_seed(3)
    first = model(input_ids, attention_mask=mask).logits
    torch.manual_seed(3)
    again = model(input_ids, attention_mask=mask).logits
    assert torch.equal(first, again)
    assert not torch.allclose(first, model.eval()(input_ids, attention_mask=mask).logits)


def test_padding_positions_are_skipped_and_come_back_as_zeros():
    model = tiny_model()
    input_ids, mask = batch(2, 8), torch.tensor([[1] * 8, [1] * 5 + [0] * 3])
    out = model.posenc(input_ids, attention_mask=mask, output_hidden_states=True)
    assert out.last_hidden_state[1, 5:].abs().max() == 0
    assert out.last_hidden_state[1, :5].abs().min() > 0
    torch.testing.assert_close(
        out.last_hidden_state[1, :5], model.posenc(input_ids[1:, :5]).last_hidden_state[0], atol=1e-5, rtol=0
    )


def test_cpu_attention_runs_in_float32_for_half_precision_inputs():
    from posenc_hf.model.fast_paths_posenc import float32_attention
    from posenc_hf.model.modeling_posenc import eager_attention_forward

    seen = []

    def recording(module, query, key, value, attention_mask, **kwargs):
        seen.append((query.dtype, attention_mask.dtype, torch.is_autocast_enabled("cpu")))
        return eager_attention_forward(module, query, key, value, attention_mask, **kwargs)

    module = torch.nn.Module().eval()
    query, key, value = torch.randn(3, 2, 4, 5, 8).unbind(0)
    mask = torch.zeros(2, 1, 1, 5).masked_fill(torch.tensor([False, False, False, True, True]), -1e30)
    expected, _ = eager_attention_forward(module, query, key, value, mask, scaling=8**-0.5)
    half = [t.to(torch.bfloat16) for t in (query, key, value, mask)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = float32_attention(recording)(module, *half, scaling=8**-0.5)
    assert seen == [(torch.float32, torch.float32, False)]
    assert output.dtype == torch.bfloat16
    torch.testing.assert_close(output.float(), expected, atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_bf16_autocast_on_cpu_matches_float32(implementation):
    model = tiny_model(attn_implementation=implementation)
    input_ids, mask = batch(3, 9), torch.ones(3, 9, dtype=torch.long)
    mask[0, 5:] = 0
    expected = model(input_ids, attention_mask=mask).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(input_ids, attention_mask=mask).logits
    torch.testing.assert_close(logits.float(), expected, atol=5e-2, rtol=5e-2)
    model.to(torch.bfloat16)
    torch.testing.assert_close(model(input_ids, attention_mask=mask).logits.float(), expected, atol=5e-2, rtol=5e-2)
