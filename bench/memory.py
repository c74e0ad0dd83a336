"""Peak memory of inference and of training, each model in a forked child process.

CPU: the rise of the process's resident set (Linux `VmHWM`, reset through `/proc/self/clear_refs`
after setup, so that import-time peaks do not count). CUDA: `torch.cuda.max_memory_allocated`, in-process.
Both are measured above the memory held once model, optimizer-free weights and batch exist.

`python -m bench.memory '<json spec>'` measures one spec in this process and prints one JSON line.
"""

import json
import multiprocessing
import sys

import torch

from bench.models import Shape, build, make_batch
from bench.timing import infer_fn, train_step_fn

MB = 2**20


def rss_bytes(field):
    """`VmRSS` or `VmHWM` of this process in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak(device):
    """Start peak tracking from the memory in use now."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return rss_bytes("VmRSS")


def peak(device):
    if device == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return rss_bytes("VmHWM")


def measure(spec):
    """Peak MB above setup for a few inference calls, then for three training steps (AdamW state included)."""
    device = spec["device"]
    torch.set_num_threads(spec["threads"])
    shape = Shape(**spec["shape"])
    model = build(spec["model"], shape, device)
    batch = make_batch(shape, spec["padded"], device)
    base = reset_peak(device)
    forward = infer_fn(model, batch)
    for _ in range(3):
        forward()
    infer_mb = (peak(device) - base) / MB
    step = train_step_fn(model, batch)
    for _ in range(3):
        step()
    return {"infer_mb": infer_mb, "train_mb": (peak(device) - base) / MB}


def _child(spec, queue):
    queue.put(measure(spec))


def measure_in_subprocess(spec):
    """`measure(spec)` in a forked child: no import cost, and no earlier allocation hides this one's peak.

    Call it before the parent runs any parallel torch op (a forked OpenMP pool can hang). On CUDA the
    allocator's own peak counter needs no fresh process, so the spec is measured in this one.
    """
    if spec["device"] == "cuda":
        return measure(spec)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(spec, queue))
    child.start()
    result = queue.get(timeout=600)
    child.join()
    return result


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
