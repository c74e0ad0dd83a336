"""Measurements behind the speed-relevant defaults: each decision compares a few candidates of our
model (training and/or inference samples/s, interleaved), and `torch.compile` is tried as an option."""

import time

import torch
import torch.nn.functional as F

from bench.models import build, make_batch
from bench.timing import infer_fn, interleaved, paired_ratio, throughput, time_block, train_step_fn

REDUCED_PRECISION = torch.bfloat16  # the autocast dtype measured against float32


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def candidates(device="cpu"):
    """`{decision: (modes, {label: (overrides, threads or None)})}`; the first label is the reference.

    Overrides go to the model's config, except `model` (which of `bench.models.MODELS`, default ours with
    its defaults) and `autocast` (a dtype to run the step under `torch.autocast`)."""
    threads = sorted({1, 2, torch.get_num_threads()})
    reduced = {f"{dtype_name(REDUCED_PRECISION)} autocast": ({"autocast": REDUCED_PRECISION}, None)}
    precision = {"float32": ({}, None), **reduced}
    return {
        "precision (ours)": (("train", "infer"), precision),
        "precision (BERT)": (
            ("train", "infer"),
            {label: ({**overrides, "model": "bert"}, None) for label, (overrides, _) in precision.items()},
        ),
        "attention dropout": (("train",), {"0.0": ({}, None), "0.1": ({"attention_probs_dropout_prob": 0.1}, None)}),
        "hidden dropout": (("train",), {"0.1": ({}, None), "0.0": ({"hidden_dropout_prob": 0.0}, None)}),
        "attention kernel": (
            ("train", "infer"),
            {"sdpa": ({"attn_implementation": "sdpa"}, None), "eager": ({"attn_implementation": "eager"}, None)},
        ),
        "threads": (("train", "infer"), {str(n): ({}, n) for n in threads}),
    }


def with_autocast(fn, dtype, device):
    """`fn` run under `torch.autocast(device, dtype)` (None: as it is)."""
    if dtype is None:
        return fn

    def wrapped():
        with torch.autocast(torch.device(device).type, dtype=dtype):
            fn()

    return wrapped


def with_threads(fn, threads):
    """`fn` run with `torch.set_num_threads(threads)`, restoring the previous count (None: leave it)."""
    if threads is None:
        return fn

    def wrapped():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            fn()
        finally:
            torch.set_num_threads(previous)

    return wrapped


def decide(decision, modes, options, shape, repeats, block_s, device):
    """One decision's rows: samples/s per candidate and per mode, and each candidate's ratio to the first."""
    batch = make_batch(shape, padded=True, device=device)
    fns = {}
    for label, (overrides, threads) in options.items():
        config = {key: value for key, value in overrides.items() if key not in ("model", "autocast")}
        model = build(overrides.get("model", "posenc_default"), shape, device, **config)
        for mode in modes:
            fn = train_step_fn(model, batch) if mode == "train" else infer_fn(model, batch)
            fns[label, mode] = with_threads(with_autocast(fn, overrides.get("autocast"), device), threads)
    seconds = interleaved(fns, repeats, block_s, device)
    reference = next(iter(options))
    return [
        {
            "decision": decision,
            "shape": shape.name,
            "mode": mode,
            "candidate": label,
            "samples_per_s": throughput(seconds[label, mode], shape.batch),
            "speed_vs_first": paired_ratio(seconds[reference, mode], seconds[label, mode]),
        }
        for label in options
        for mode in modes
    ]


def attention_kernel_fn(shape, dtype, mode, device):
    """SDPA alone at `shape` (padded key mask) in `dtype`: forward, plus backward for "train"."""
    head_dim = shape.hidden_size // shape.num_attention_heads
    batch = make_batch(shape, padded=True, device=device)
    keep = batch["attention_mask"][:, None, None, :].bool()
    qkv = [
        torch.randn(shape.batch, shape.num_attention_heads, shape.seq, head_dim, device=device, dtype=dtype)
        for _ in "qkv"
    ]
    if mode == "train":
        qkv = [t.requires_grad_() for t in qkv]

    def step():
        with torch.set_grad_enabled(mode == "train"):
            output = F.scaled_dot_product_attention(*qkv, attn_mask=keep)
            if mode == "train":
                output.sum().backward()

    return step


def attention_precision(shape, repeats, block_s, device):
    """Why attention computes in float32 on CPU even under autocast: the kernel alone in each dtype."""
    dtypes = {dtype_name(dtype): dtype for dtype in (torch.float32, REDUCED_PRECISION)}
    fns = {(label, mode): attention_kernel_fn(shape, dtype, mode, device) for label, dtype in dtypes.items()
           for mode in ("train", "infer")}  # fmt: skip
    seconds = interleaved(fns, repeats, block_s, device)
    return [
        {
            "decision": "attention kernel precision (SDPA alone)",
            "shape": shape.name,
            "mode": mode,
            "candidate": label,
            "samples_per_s": throughput(seconds[label, mode], shape.batch),
            "speed_vs_first": paired_ratio(seconds["float32", mode], seconds[label, mode]),
        }
        for label in dtypes
        for mode in ("train", "infer")
    ]


def all_decisions(shapes, repeats, block_s, device):
    """Every decision of `candidates()` at every shape in `shapes`."""
    rows = []
    for shape in shapes:
        for decision, (modes, options) in candidates(device).items():
            if decision == "threads" and device != "cpu":
                continue
            rows += decide(decision, modes, options, shape, repeats, block_s, device)
        if device == "cpu":
            rows += attention_precision(shape, repeats, block_s, device)
    return rows


def first_call_s(fn, device):
    """Seconds of the first call (for a compiled model: tracing and compiling included)."""
    return time_block(fn, 1, device)


def try_compile(shape, repeats, block_s, device):
    """`torch.compile` on our default model: compile time of the first training step and first inference,
    then steady-state samples/s against the same model uncompiled. Inductor's caches are disabled so
    that the compile time is that of a fresh process. Returns `{"error": ...}` if compiling fails."""
    import torch._inductor.config as inductor_config

    inductor_config.force_disable_caches = True
    batch = make_batch(shape, padded=True, device=device)
    eager, compiled = build("posenc_default", shape, device), build("posenc_default", shape, device)
    fns = {"eager train": train_step_fn(eager, batch), "eager infer": infer_fn(eager, batch)}
    compiled = torch.compile(compiled)
    fns.update({"compiled train": train_step_fn(compiled, batch), "compiled infer": infer_fn(compiled, batch)})
    try:
        start = time.perf_counter()
        compile_s = {"train": first_call_s(fns["compiled train"], device)}
        compile_s["infer"] = first_call_s(fns["compiled infer"], device)
        total_s = time.perf_counter() - start
        seconds = interleaved(fns, repeats, block_s, device)
    except Exception as error:  # inductor needs a C++ compiler on CPU; report rather than fail the run
        return {"shape": shape.name, "error": f"{type(error).__name__}: {error}"[:500]}
    return {
        "shape": shape.name,
        "compile_s": {**compile_s, "total": total_s},
        "samples_per_s": {name: throughput(s, shape.batch) for name, s in seconds.items()},
        "speed_vs_eager": {
            mode: paired_ratio(seconds[f"eager {mode}"], seconds[f"compiled {mode}"]) for mode in ("train", "infer")
        },
    }
