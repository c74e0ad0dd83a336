"""Model FLOPs counted from the shapes, and the machine's measured fp32 matmul peak.

A multiply-add counts 2 FLOPs. Only matmuls count (LayerNorm, softmax, GELU, dropout, the embedding
lookup and the optimizer are left out, so the achieved share of peak is that of the useful work).
Padding positions are counted: the models compute them.
"""

import torch

from bench.timing import interleaved, summary


def forward_flops(shape, model_name):
    """FLOPs of one forward pass for one sequence of `shape.seq` tokens."""
    s, h, i = shape.seq, shape.hidden_size, shape.ffn
    projections = 2 * s * h * (3 * h + h)  # fused or separate q, k, v, then the output projection
    feed_forward = 2 * s * h * i * 2  # up and down
    attention = 2 * s * s * h * 2  # scores q·k and the weighted sum of v, over all heads
    head = 2 * h * shape.num_labels + (2 * h * h if model_name == "bert" else 0)  # BERT adds a dense pooler
    return shape.num_hidden_layers * (projections + feed_forward + attention) + head


def train_flops(shape, model_name):
    """FLOPs of one training step per sequence: the backward pass costs twice the forward."""
    return 3 * forward_flops(shape, model_name)


def matmul_peak(device, size, repeats, block_s):
    """Summary of fp32 `torch.mm` GFLOP/s on square `size` matrices: the machine's practical peak."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device) for _ in range(2))
    out = torch.empty(size, size, device=device)
    seconds = interleaved({"mm": lambda: torch.mm(a, b, out=out)}, repeats, block_s, device)["mm"]
    return summary([2 * size**3 / s / 1e9 for s in seconds])
