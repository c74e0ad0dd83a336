"""Runs interrupted by SIGINT, SIGKILL and SIGTERM, then resumed, end like an uninterrupted run
(docs/reliability.md §3)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO_ROOT, RUN, SMOKE, read_metrics
from safetensors.torch import load_file

# `interrupt_harness.py` runs the real `train/run.py` and pauses before a chosen step, so that each
# signal lands at a known point (no race with a fast epoch). Every run uses one torch thread, so that
# the uninterrupted reference can run beside the interrupted ones on two cores.

SIGNAL_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
ONE_THREAD = [SMOKE, "--num_threads", "1", "--output_dir"]
HARNESS = str(REPO_ROOT / "tests" / "training" / "interrupt_harness.py")


def start(script, output_dir, env=SIGNAL_ENV):
    command = [sys.executable, script, *ONE_THREAD, str(output_dir)]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    """Wait for a run of the plain command; its stderr (the log)."""
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-4000:]
    return stderr


def interrupt(output_dir, after_step, sig):
    """The same command, sent `sig` while paused after optimizer step `after_step`."""
    marker = Path(output_dir).parent / "paused"
    marker.unlink(missing_ok=True)
    env = {**SIGNAL_ENV, "PAUSE_AFTER_STEP": str(after_step), "PAUSE_MARKER": str(marker)}
    process = start(HARNESS, output_dir, env)
    deadline = time.monotonic() + 600
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"never paused after step {after_step}:\n{process.communicate()[1][-4000:]}")
        time.sleep(0.05)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout, stderr


def complete(checkpoint):
    return (checkpoint / "trainer_state.json").is_file() and (checkpoint / "model.safetensors").is_file()


def eval_losses(checkpoint):
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return [(entry["step"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]


@pytest.mark.slow
@pytest.mark.reliability
def test_interrupted_three_ways_then_resumed_ends_like_an_uninterrupted_run(tmp_path):
    """SIGINT and SIGTERM stop cleanly after saving a checkpoint (exit code 130), SIGKILL loses only the
    steps since the last checkpoint, a checkpoint left half-written by a kill is skipped, and rerunning
    the same command each time ends with the model, validation and test metrics of an uninterrupted run
    with the same seed."""
    out = tmp_path / "run"  # 6 optimizer steps per epoch, 2 epochs; a checkpoint at the end of each
    reference = tmp_path / "uninterrupted"
    uninterrupted_run = start(RUN, reference)  # runs beside the interrupted ones

    # 1. Ctrl-C in epoch 1: the step finishes, a checkpoint is saved, exit code 130.
    code, stdout, _ = interrupt(out, 3, signal.SIGINT)
    assert code == 130 and "Stopped (SIGINT) after saving a checkpoint" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-4"] and complete(out / "checkpoint-4")

    # 2. The same command resumes from it; SIGKILL in epoch 2, after checkpoint-6 is complete.
    code, _, stderr = interrupt(out, 8, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert f"Found checkpoint {out / 'checkpoint-4'}" in stderr
    assert complete(out / "checkpoint-6") and not (out / "model").exists()

    # A kill while Trainer was writing checkpoint-12 would leave it like this: no trainer_state.json
    # (written last), weights cut short.
    half = out / "checkpoint-12"
    shutil.copytree(out / "checkpoint-6", half)
    (half / "trainer_state.json").unlink()
    weights = (half / "model.safetensors").read_bytes()
    (half / "model.safetensors").write_bytes(weights[: len(weights) // 3])

    # 3. The same command skips the half-written checkpoint, resumes from checkpoint-6; SIGTERM.
    code, stdout, stderr = interrupt(out, 9, signal.SIGTERM)
    assert code == 130 and "Stopped (SIGTERM) after saving a checkpoint" in stdout
    assert f"Skipping incomplete checkpoint {half}" in stderr
    assert f"Found checkpoint {out / 'checkpoint-6'}" in stderr
    assert complete(out / "checkpoint-10")

    # 4. The same command, to the end: resumes from checkpoint-10.
    assert f"Found checkpoint {out / 'checkpoint-10'}" in finish(start(RUN, out))

    finish(uninterrupted_run)
    resumed = read_metrics(out / "model")
    uninterrupted = read_metrics(reference / "model")
    assert resumed["test"] == uninterrupted["test"]
    timing = ("runtime", "samples_per_second", "steps_per_second")
    assert {k: v for k, v in resumed["validation"].items() if k not in timing} == {
        k: v for k, v in uninterrupted["validation"].items() if k not in timing
    }
    assert eval_losses(out / "checkpoint-12") == eval_losses(reference / "checkpoint-12")
    ours, theirs = load_file(out / "model" / "model.safetensors"), load_file(reference / "model" / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    # Not compared: the logged training loss of an epoch that an interruption cut (Trainer does
    # not checkpoint its running loss, so that log averages only the steps after the resume).
