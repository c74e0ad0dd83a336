"""Saves that are killed, run out of disk or fail halfway leave the previous good folder (or none),
never a half-written one; checkpoints that a kill left half-written are skipped on resume."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from posenc_hf import checkpoints, tasks, training
from posenc_hf.checkpoints import atomic_folder, check_model_folder, last_complete_checkpoint, resolve_checkpoint

# Writes 200 files of 300 kB into each DEST through atomic_folder, slowly, and says when it is midway.
SLOW_SAVE = """
import sys, time
from contextlib import ExitStack
from pathlib import Path
from posenc_hf.checkpoints import atomic_folder
marker, destinations = Path(sys.argv[1]), sys.argv[2:]
with ExitStack() as stack:
    stagings = [stack.enter_context(atomic_folder(dest)) for dest in destinations]
    for i in range(200):
        for staging in stagings:
            (staging / f"part-{i:03d}.bin").write_bytes(b"new!" * 75_000)
        if i == 20:
            marker.write_text("midway")
        time.sleep(0.05)
"""


def snapshot(folder):
    """{relative path: bytes} of every file under `folder`, or None when it does not exist."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_good_folder(folder):
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"good weights")
    (folder / "README.md").write_text("the good card")
    (folder / "plots").mkdir()
    (folder / "plots" / "loss.png").write_bytes(b"png")
    return snapshot(folder)


def kill_midway(destinations, marker):
    """Run SLOW_SAVE into `destinations` and SIGKILL it once it has written 20 files of 200 to each."""
    command = [sys.executable, "-c", SLOW_SAVE, str(marker), *map(str, destinations)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the save never got midway"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    process.stderr.close()


def test_save_killed_midway_leaves_the_previous_folder_or_none(tmp_path):
    """Two saves killed by SIGKILL at the same moment: one over a good folder, one a first save."""
    replaced, first = tmp_path / "replaced" / "model", tmp_path / "first" / "model"
    before = write_good_folder(replaced)
    kill_midway([replaced, first], tmp_path / "midway")
    assert snapshot(replaced) == before  # untouched
    assert not first.exists()  # still absent
    for dest in (replaced, first):
        assert (dest.parent / ".model.tmp").is_dir()  # the half-written copy is beside it, not in it
        with atomic_folder(dest) as staging:  # the next save clears the stale copy
            (staging / "model.safetensors").write_bytes(b"new weights")
        assert snapshot(dest) == {"model.safetensors": b"new weights"}
        assert sorted(p.name for p in dest.parent.iterdir()) == ["model"]


def test_error_while_saving_leaves_the_previous_folder_and_no_debris(tmp_path):
    dest = tmp_path / "model"
    before = write_good_folder(dest)
    with pytest.raises(OSError, match="No space left"):
        with atomic_folder(dest) as staging:
            (staging / "model.safetensors").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_kill_between_the_two_renames_is_undone_by_the_next_save(tmp_path):
    """The only window where the folder is absent: the old one moved aside, the new one not yet in."""
    dest = tmp_path / "model"
    before = write_good_folder(tmp_path / ".model.old")
    (tmp_path / ".model.tmp").mkdir()
    (tmp_path / ".model.tmp" / "model.safetensors").write_bytes(b"new")
    with pytest.raises(ValueError, match=r"No such model folder: .*model \(a save was interrupted: .*\.model\.old\)"):
        check_model_folder(dest)
    with atomic_folder(dest) as staging:
        assert snapshot(dest) == before  # restored first
        (staging / "x").write_text("y")
    assert snapshot(dest) == {"x": b"y"}


def test_failed_rename_puts_the_previous_folder_back(tmp_path, monkeypatch):
    dest = tmp_path / "model"
    before = write_good_folder(dest)
    real_replace = os.replace

    def replace(source, target):
        if Path(source).name == ".model.tmp":
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(source, target)

    monkeypatch.setattr(checkpoints.os, "replace", replace)
    with pytest.raises(OSError, match="cross-device"):
        with atomic_folder(dest) as staging:
            (staging / "model.safetensors").write_bytes(b"new")
    assert snapshot(dest) == before


def test_every_file_is_flushed_before_the_rename(tmp_path, monkeypatch):
    flushed = []
    monkeypatch.setattr(checkpoints, "fsync_path", lambda path: flushed.append(Path(path)))
    with atomic_folder(tmp_path / "model") as staging:
        (staging / "plots").mkdir()
        for name in ("model.safetensors", "README.md", "plots/loss.png"):
            (staging / name).write_bytes(b"data")
    expected = {tmp_path / ".model.tmp" / name for name in ("model.safetensors", "README.md", "plots/loss.png")}
    assert expected <= set(flushed)
    assert flushed[-1] == tmp_path  # the parent's entry for the renamed folder


def test_model_folder_weights_card_plots_and_metrics_all_go_through_the_temporary_folder(tmp_path, monkeypatch):
    """`write_model_folder` writes nothing into the final folder: a failure while writing the card
    (the last file) leaves the previous folder as it was."""
    dest = tmp_path / "model"
    before = write_good_folder(dest)
    written = {}

    def fake_plots(folder, *args, **kwargs):
        written["plots"] = Path(folder)
        return {}

    def failing_card(folder, *args, **kwargs):
        written["card"] = Path(folder)
        (Path(folder) / "README.md").write_text("half a ca")
        raise OSError(errno.ENOSPC, "No space left on device")

    saved = SimpleNamespace(weights=None, tokenizer=None)
    model = SimpleNamespace(save_pretrained=lambda folder: setattr(saved, "weights", Path(folder)))
    tokenizer = SimpleNamespace(save_pretrained=lambda folder: setattr(saved, "tokenizer", Path(folder)))
    trainer = SimpleNamespace(model=model, state=SimpleNamespace(log_history=[]), args=None)
    report = {"test": {"confusion_matrix": [[1]]}}
    monkeypatch.setattr(tasks, "write_all_plots", fake_plots)
    monkeypatch.setattr(tasks, "write_model_card", failing_card)

    def write_task_files(staging):
        tasks.Classification().write_files(staging, trainer, report, {"label_names": ["a"]}, "card.md")

    with pytest.raises(OSError, match="No space left"):
        training.write_model_folder(dest, trainer, tokenizer, report, write_task_files)
    staging = tmp_path / ".model.tmp"
    assert saved.weights == saved.tokenizer == written["plots"] == written["card"] == staging
    assert snapshot(dest) == before and not staging.exists()


# --- checkpoints a kill left half-written --------------------------------------------------------


def make_checkpoint(output_dir, step, complete=True, model_type="posenc"):
    checkpoint = output_dir / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text(json.dumps({"model_type": model_type}))
    (checkpoint / "model.safetensors").write_bytes(b"weights")
    if complete:
        (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return checkpoint


def run_args(output_dir, resume=None):
    return SimpleNamespace(output_dir=str(output_dir), resume_from_checkpoint=resume)


def test_resume_skips_a_checkpoint_without_trainer_state(tmp_path, caplog):
    make_checkpoint(tmp_path, 6)
    make_checkpoint(tmp_path, 12, complete=False)
    with caplog.at_level(logging.WARNING):
        assert resolve_checkpoint(run_args(tmp_path)) == str(tmp_path / "checkpoint-6")
    assert "Skipping incomplete checkpoint" in caplog.text and "checkpoint-12" in caplog.text
    assert (tmp_path / "checkpoint-12").is_dir()  # left for the resumed run to write again


def test_resume_skips_a_checkpoint_with_a_cut_trainer_state_or_config(tmp_path):
    make_checkpoint(tmp_path, 6)
    cut = make_checkpoint(tmp_path, 12)
    (cut / "trainer_state.json").write_text('{"global_step": 1')
    killed_early = tmp_path / "checkpoint-18"
    killed_early.mkdir()
    (killed_early / "config.json").write_text('{"model_ty')
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-6")


def test_resume_with_only_half_written_checkpoints_starts_afresh(tmp_path):
    make_checkpoint(tmp_path, 6, complete=False)
    assert resolve_checkpoint(run_args(tmp_path)) is None
    with pytest.raises(ValueError, match="no checkpoint in"):
        resolve_checkpoint(run_args(tmp_path, resume="last"))


def test_resume_from_a_named_half_written_checkpoint_is_refused(tmp_path):
    checkpoint = make_checkpoint(tmp_path, 12, complete=False)
    with pytest.raises(ValueError, match=r"Cannot resume from .*checkpoint-12: it has no trainer_state.json"):
        resolve_checkpoint(run_args(tmp_path, resume=str(checkpoint)))


def test_another_models_checkpoint_is_refused_even_half_written(tmp_path):
    make_checkpoint(tmp_path, 6)
    make_checkpoint(tmp_path, 100, complete=False, model_type="bert")
    with pytest.raises(ValueError, match="checkpoint of another model .*model_type='bert'"):
        resolve_checkpoint(run_args(tmp_path))
