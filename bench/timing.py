"""Interleaved timing: every repeat runs each candidate once, in rotating order, so that load from
other processes on a shared machine falls on all candidates alike. Results are medians and spreads."""

import math
import statistics
import time

import torch


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def train_step_fn(model, batch):
    """One training step as a closure: forward with labels, backward, AdamW step, zero the grads.

    AdamW is the fused implementation, as `Trainer` uses by default (`optim="adamw_torch_fused"`).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def step():
        model.train()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def infer_fn(model, batch, batch_size=None):
    """One inference forward (eval mode, `inference_mode`) as a closure; `batch_size=1` for latency."""
    inputs = {key: batch[key][:batch_size] for key in ("input_ids", "attention_mask")}

    def forward():
        model.eval()
        with torch.inference_mode():
            model(**inputs)

    return forward


def time_block(fn, inner, device):
    """Seconds per call of `fn`, averaged over `inner` back-to-back calls."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / inner


def calibrate(fn, block_s, device):
    """How many calls make one timed block last about `block_s` seconds (after two warm-up calls)."""
    fn()
    once = time_block(fn, 1, device)
    return max(1, math.ceil(block_s / max(once, 1e-6)))


def interleaved(fns, repeats, block_s, device):
    """Seconds per call for each named closure: a list of `repeats` values, measured in rotating order."""
    names = list(fns)
    inner = {name: calibrate(fns[name], block_s, device) for name in names}
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(time_block(fns[name], inner[name], device))
    return times


def summary(values):
    """Median, spread (min, max, quartiles) and count of a list of numbers."""
    values = sorted(values)
    q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return {
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
        "q1": q1,
        "q3": q3,
        "n": len(values),
    }


def throughput(seconds, samples):
    """Summary of samples per second from seconds per call."""
    return summary([samples / s for s in seconds])


def paired_ratio(slow, fast):
    """Summary of per-repeat speed ratios slow/fast (>1: `fast` is faster); pairing cancels load drift."""
    return summary([s / f for s, f in zip(slow, fast, strict=True)])
