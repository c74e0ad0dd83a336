"""A folder always describes its weights (docs/reliability.md §3): a run resumes only from a checkpoint
of its own settings, a finished run rerun says so and changes nothing, and the model folder's card and
metrics.json hold the settings its weights were trained with. One smoke run, in process, serves them all."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import SMOKE, read_metrics, snapshot

from posenc_hf.folder.checkpoints import last_complete_checkpoint
from posenc_hf.training.plan import read_plan
from posenc_hf.training.run_settings import NOT_SHAPING, RunSettingsCallback, checkpoint_settings, run_settings
from posenc_hf.training.runner import format_summary, run_training


def arguments(output_dir, *extra):
    """The plan of the smoke config in `output_dir`, with `extra` options."""
    return read_plan([SMOKE, "--output_dir", str(output_dir), "--report_to", "none", *extra])


def settings_of(plan):
    return run_settings(plan.model_args, plan.data_args, plan.run_args)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished smoke run: its output_dir (two checkpoints and the model folder)."""
    output_dir = tmp_path_factory.mktemp("finished")
    run_training(arguments(output_dir, "--num_threads", "1"))
    return output_dir


def metrics(output_dir):
    return read_metrics(output_dir / "model")


def card_settings(folder):
    """The settings table of the card in `folder`, {name: value}."""
    card = (folder / "README.md").read_text()
    table = card.split("<details>", 1)[1].split("</details>", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| `")]
    return {name.strip("| `"): json.loads(value.strip("| `").replace("\\|", "|")) for name, value in rows}


@pytest.mark.reliability
@pytest.mark.parametrize(
    "extra",
    [[], ["--logging_steps", "1", "--save_total_limit", "1", "--num_threads", "2", "--disable_tqdm", "false"]],
    ids=["same-command", "other-logging-and-threads"],
)
def test_rerunning_a_finished_run_says_so_and_leaves_the_folder_as_it_is(finished_run, extra):
    before = snapshot(finished_run)
    result = run_training(arguments(finished_run, *extra))
    summary = format_summary(result, finished_run)
    assert result.finished_before and summary.strip().startswith(f"Already finished: {finished_run / 'model'}")
    assert len(summary.strip().splitlines()) == 1
    assert result.test_metrics == metrics(finished_run)["test"]
    assert snapshot(finished_run) == before  # byte for byte, checkpoints included


# (field, value): a training argument, the schedule, the length of training, the data source and its
# options, the tokenizer, a model field.
CHANGES = [
    ("learning_rate", "3e-3"),
    ("seed", "7"),
    ("num_train_epochs", "3"),
    ("lr_scheduler_type", "cosine"),
    ("per_device_train_batch_size", "4"),
    ("max_samples", "40"),
    ("corpus", "sentiment"),
    ("vocab_size", "400"),
    ("hidden_dropout_prob", "0.2"),
]


@pytest.mark.reliability
@pytest.mark.parametrize("field, value", CHANGES, ids=[field for field, _ in CHANGES])
def test_a_rerun_with_a_changed_setting_is_refused_naming_it_old_and_new(finished_run, field, value):
    before = snapshot(finished_run)
    new_arguments = arguments(finished_run, f"--{field}", value)
    with pytest.raises(ValueError) as error:
        run_training(new_arguments)
    message = str(error.value)
    old, new = metrics(finished_run)["settings"][field], settings_of(new_arguments)[field]
    last = Path(last_complete_checkpoint(finished_run)).name
    assert "\n" not in message
    assert message.startswith(f"{finished_run} holds a run trained with other settings ({last}: {field} {old!r} -> ")
    assert f"{field} {old!r} -> {new!r})" in message and old != new
    assert "--output_dir NEW_FOLDER" in message and "--overwrite_output_dir true" in message
    assert message.endswith("(nothing was deleted).")
    assert snapshot(finished_run) == before


@pytest.mark.reliability
def test_a_model_folder_alone_of_other_settings_is_refused_too(finished_run, tmp_path):
    shutil.copytree(finished_run / "model", tmp_path / "model")
    with pytest.raises(ValueError, match=r"holds a run trained with other settings \(model: seed 0 -> 7\)"):
        run_training(arguments(tmp_path, "--seed", "7"))


@pytest.mark.reliability
def test_a_checkpoint_or_folder_that_records_no_settings_is_refused(finished_run, tmp_path):
    """What an older posenc_hf wrote: nothing tells whether it continues this run."""
    checkpoint = Path(last_complete_checkpoint(finished_run))
    shutil.copytree(checkpoint, tmp_path / "old" / checkpoint.name)
    state_path = tmp_path / "old" / checkpoint.name / "trainer_state.json"
    state = json.loads(state_path.read_text())
    del state["stateful_callbacks"][RunSettingsCallback.__name__]
    state_path.write_text(json.dumps(state))
    shutil.copytree(finished_run / "model", tmp_path / "older" / "model")
    report_path = tmp_path / "older" / "model" / "metrics.json"
    report_path.write_text(json.dumps({**metrics(finished_run), "settings": None}))
    for where in (tmp_path / "old" / checkpoint.name, tmp_path / "older" / "model"):
        with pytest.raises(ValueError, match=f"^{where} records no run settings .*--overwrite_output_dir true"):
            run_training(arguments(where.parent))


def test_the_settings_leave_out_only_what_does_not_shape_the_weights(finished_run):
    recorded = metrics(finished_run)["settings"]
    plan = arguments(finished_run)
    model_args, data_args, run_args = plan.model_args, plan.data_args, plan.run_args
    every_field = {*vars(model_args), *vars(data_args), *run_args.to_dict()}
    assert set(recorded) == every_field - NOT_SHAPING | {"num_processes"}
    assert {"learning_rate", "seed", "max_samples", "corpus", "hidden_dropout_prob", "max_length"} <= set(recorded)
    assert not {"output_dir", "num_threads", "stop_after_step", "hub_token", "report_to"} & set(recorded)


@pytest.mark.reliability
def test_card_metrics_and_checkpoints_record_the_settings_the_weights_were_trained_with(finished_run, tmp_path):
    """Also after --overwrite_output_dir retrained the folder with another learning rate for one epoch,
    which discards the old checkpoints and model folder, and nothing else."""
    output_dir = tmp_path / "run"
    shutil.copytree(finished_run, output_dir)
    (output_dir / "notes.txt").write_text("mine")
    retrain = ["--learning_rate", "3e-3", "--num_train_epochs", "1", "--overwrite_output_dir", "true"]
    run_training(arguments(output_dir, *retrain, "--num_threads", "1"))
    for folder, extra in ((finished_run, []), (output_dir, retrain)):
        settings = settings_of(arguments(folder, *extra))
        assert metrics(folder)["settings"] == settings
        assert card_settings(folder / "model") == settings
        assert f"| learning rate | {settings['learning_rate']:g} |" in (folder / "model" / "README.md").read_text()
        for checkpoint in folder.glob("checkpoint-*"):
            assert checkpoint_settings(checkpoint) == settings
    assert sorted(path.name for path in output_dir.iterdir()) == ["checkpoint-6", "model", "notes.txt"]
    assert metrics(output_dir)["settings"]["learning_rate"] == 0.003
    assert metrics(finished_run)["settings"]["learning_rate"] == 0.001  # smoke.yaml's


@pytest.mark.reliability
def test_a_damaged_folder_of_the_same_settings_is_written_again_from_the_last_checkpoint(finished_run, tmp_path):
    output_dir = tmp_path / "run"
    shutil.copytree(finished_run, output_dir)
    weights = output_dir / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    result = run_training(arguments(output_dir, "--num_threads", "1"))
    assert not result.finished_before
    assert weights.read_bytes() == (finished_run / "model" / "model.safetensors").read_bytes()
    assert metrics(output_dir)["test"] == metrics(finished_run)["test"]
