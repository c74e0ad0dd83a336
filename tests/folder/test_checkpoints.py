"""Output folders and model folders as a user meets them (docs/reliability.md §1-§3, §5): another run's
checkpoints in the output folder refused in one line that says what to do; saves that are killed, run
out of disk or fail halfway leave the previous good folder (or none), never a half-written one;
checkpoints a kill left half-written skipped on resume; damaged model folders named before loading."""

import errno
import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import helpers
import pytest
from helpers import snapshot, write_good_folder
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import posenc_hf
from posenc_hf.folder import checkpoints
from posenc_hf.folder.checkpoints import (
    atomic_folder,
    check_checkpoint_matches,
    check_model_folder,
    last_complete_checkpoint,
    resolve_checkpoint,
)
from posenc_hf.folder.predict import load_classifier


def test_another_runs_checkpoints_are_refused_in_one_line_saying_what_to_do(tmp_path):
    helpers.tiny_config(hidden_size=16).save_pretrained(tmp_path / "subject" / "checkpoint-540")
    with pytest.raises(ValueError) as error:
        check_checkpoint_matches(tmp_path / "subject" / "checkpoint-540", helpers.tiny_config(hidden_size=32))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'subject'} holds checkpoints of another run (checkpoint-540 differs in ")
    assert "hidden_size 16 -> 32" in message
    assert message.endswith(
        "pass --output_dir NEW_FOLDER to start this run there, or that run's settings to resume it "
        "(nothing was deleted)."
    )


def test_a_checkpoint_must_agree_on_what_its_position_table_is_built_from(tmp_path):
    """The fields come from the position encoding's class: the sinusoidal table (rebuilt at load, not saved)
    is scaled by `initializer_range`, a learned table is loaded whatever the initialisation was."""
    for kind in ("sinusoidal", "learned"):
        helpers.tiny_config(position_embedding_type=kind).save_pretrained(tmp_path / kind / "checkpoint-1")
    with pytest.raises(ValueError, match="initializer_range 0.02 -> 0.05"):
        check_checkpoint_matches(
            tmp_path / "sinusoidal" / "checkpoint-1",
            helpers.tiny_config(position_embedding_type="sinusoidal", initializer_range=0.05),
        )
    check_checkpoint_matches(
        tmp_path / "learned" / "checkpoint-1",
        helpers.tiny_config(position_embedding_type="learned", initializer_range=0.05),
    )


# --- atomic saves (docs/reliability.md §2) ---------------------------------------------------------

# Writes 200 files of 300 kB into each DEST through atomic_folder, slowly, and says when it is midway.
SLOW_SAVE = """
import sys, time
from contextlib import ExitStack
from pathlib import Path
from posenc_hf.folder.checkpoints import atomic_folder
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


@pytest.mark.slow
@pytest.mark.reliability
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


@pytest.mark.reliability
def test_error_while_saving_leaves_the_previous_folder_and_no_debris(tmp_path):
    dest = tmp_path / "model"
    before = write_good_folder(dest)
    with pytest.raises(OSError, match="No space left"):
        with atomic_folder(dest) as staging:
            (staging / "model.safetensors").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.reliability
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


@pytest.mark.reliability
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


@pytest.mark.reliability
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


# --- checkpoints a kill left half-written (docs/reliability.md §3) ---------------------------------


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


@pytest.mark.reliability
def test_resume_skips_a_checkpoint_without_trainer_state(tmp_path, caplog):
    make_checkpoint(tmp_path, 6)
    make_checkpoint(tmp_path, 12, complete=False)
    with caplog.at_level(logging.WARNING):
        assert resolve_checkpoint(run_args(tmp_path)) == str(tmp_path / "checkpoint-6")
    assert "Skipping incomplete checkpoint" in caplog.text and "checkpoint-12" in caplog.text
    assert (tmp_path / "checkpoint-12").is_dir()  # left for the resumed run to write again


@pytest.mark.reliability
def test_resume_skips_a_checkpoint_with_a_cut_trainer_state_or_config(tmp_path):
    make_checkpoint(tmp_path, 6)
    cut = make_checkpoint(tmp_path, 12)
    (cut / "trainer_state.json").write_text('{"global_step": 1')
    killed_early = tmp_path / "checkpoint-18"
    killed_early.mkdir()
    (killed_early / "config.json").write_text('{"model_ty')
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-6")


@pytest.mark.reliability
def test_resume_with_only_half_written_checkpoints_starts_afresh(tmp_path):
    make_checkpoint(tmp_path, 6, complete=False)
    assert resolve_checkpoint(run_args(tmp_path)) is None
    with pytest.raises(ValueError, match="no checkpoint in"):
        resolve_checkpoint(run_args(tmp_path, resume="last"))


@pytest.mark.reliability
def test_resume_from_a_named_half_written_checkpoint_is_refused(tmp_path):
    checkpoint = make_checkpoint(tmp_path, 12, complete=False)
    with pytest.raises(ValueError, match=r"Cannot resume from .*checkpoint-12: it has no trainer_state.json"):
        resolve_checkpoint(run_args(tmp_path, resume=str(checkpoint)))


@pytest.mark.reliability
def test_another_models_checkpoint_is_refused_even_half_written(tmp_path):
    make_checkpoint(tmp_path, 6)
    make_checkpoint(tmp_path, 100, complete=False, model_type="bert")
    with pytest.raises(ValueError, match="checkpoint of another model .*model_type='bert'"):
        resolve_checkpoint(run_args(tmp_path))


# --- damaged model folders (docs/reliability.md §1, §5): check_model_folder inside load_classifier,
# beside what PosEncPreTrainedModel.from_pretrained (and so AutoModel*) says of the same damage ----


@pytest.fixture
def damaged(tiny_folder, tmp_path):
    """A fresh copy of the tiny folder to damage."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    return folder


def edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.reliability
def test_folder_without_tokenizer_json(damaged):
    (damaged / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"incomplete: tokenizer.json \(the tokenizer\) is missing"):
        load_classifier(damaged)
    with pytest.raises(ValueError, match="Couldn't instantiate the backend tokenizer"):
        AutoTokenizer.from_pretrained(damaged)  # transformers' message


@pytest.mark.reliability
def test_folder_without_weights_and_a_pickle_in_their_place(damaged):
    (damaged / "model.safetensors").unlink()
    (damaged / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="model.safetensors .* is missing .*pytorch_model.bin: pickle files"):
        load_classifier(damaged)
    with pytest.raises(OSError, match="no file named model.safetensors"):
        AutoModelForSequenceClassification.from_pretrained(damaged)


class Sentinel:
    """A pickle that, when loaded, creates the file `path`."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.reliability
def test_a_pickle_in_place_of_the_weights_is_never_loaded(damaged, tmp_path):
    (damaged / "model.safetensors").unlink()
    sentinel = tmp_path / "unpickled"
    (damaged / "pytorch_model.bin").write_bytes(pickle.dumps(Sentinel(sentinel)))
    with pytest.raises(OSError, match="no file named model.safetensors"):
        AutoModelForSequenceClassification.from_pretrained(damaged)
    with pytest.raises(ValueError, match="pickle files, which this package never loads"):
        load_classifier(damaged)
    assert not sentinel.exists()


@pytest.mark.reliability
@pytest.mark.parametrize("keep", [0.5, 100 / 10**9], ids=["half", "first-bytes"])
def test_folder_with_truncated_weights(damaged, keep):
    weights = damaged / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ValueError, match="model.safetensors is damaged: it is .* bytes"):
        load_classifier(damaged)
    with pytest.raises(OSError, match="weights file of .* cannot be read .* truncated or damaged"):
        AutoModelForSequenceClassification.from_pretrained(damaged)


@pytest.mark.reliability
def test_folder_with_a_config_of_another_model_type(damaged):
    edit_config(damaged, model_type="bert")
    with pytest.raises(ValueError, match="model_type='bert', not 'posenc'"):
        load_classifier(damaged)
    with pytest.raises(ValueError, match="model_type='bert', not 'posenc'"):
        posenc_hf.PosEncForSequenceClassification.from_pretrained(damaged)


@pytest.mark.reliability
def test_folder_with_a_damaged_config_json(damaged):
    (damaged / "config.json").write_text('{"model_type": "posenc", "hidden_')
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        check_model_folder(damaged)
    with pytest.raises(OSError, match="is not a valid JSON file"):
        AutoModelForSequenceClassification.from_pretrained(damaged)  # transformers' message


@pytest.mark.reliability
@pytest.mark.parametrize(
    "changes, tensor, saved, expected",
    [
        ({"hidden_size": 32, "intermediate_size": 64}, "posenc.embeddings.word_embeddings.weight", "16", "32"),
        ({"vocab_size": 500}, "posenc.embeddings.word_embeddings.weight", "16", "16"),
        ({"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0, "b": 1}}, "classifier.weight", "(4, 16)", "(2, 16)"),
    ],
    ids=["hidden", "vocab", "labels"],
)
def test_weights_that_do_not_fit_the_config_name_tensor_and_both_shapes(damaged, changes, tensor, saved, expected):
    edit_config(damaged, **changes)
    with pytest.raises(ValueError) as error:
        AutoModelForSequenceClassification.from_pretrained(damaged)
    message = str(error.value)
    line = next(line for line in message.splitlines() if line.strip().startswith(tensor + ":"))
    assert "in the weights file" in line and "in the model the config describes" in line
    assert saved in line.split("in the weights file")[0] and expected in line.split("in the weights file")[1]
    with pytest.raises(ValueError, match=tensor.replace(".", r"\.")):
        load_classifier(damaged)  # the pipeline wraps it, the names and shapes survive


@pytest.mark.reliability
def test_mismatched_weights_load_when_asked_to_reinitialise(damaged):
    edit_config(damaged, id2label={"0": "a", "1": "b"}, label2id={"a": 0, "b": 1})
    model = AutoModelForSequenceClassification.from_pretrained(damaged, ignore_mismatched_sizes=True)
    assert model.classifier.weight.shape == (2, 16)
