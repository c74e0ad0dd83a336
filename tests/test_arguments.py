"""Run arguments as a newcomer meets them: a short `--help` that leads with the config and the project's
fields, a suggestion for a misspelt option, a run folder named after the data, and defaults that
keep the log free of warnings about settings the package chose; and bad values in a YAML file or on the
command line refused before any data is read (docs/reliability.md §1, run configs)."""

from pathlib import Path

import pytest
import torch
from tiny import CONFIG_ERRORS

from posenc_hf.arguments import parse_run_arguments

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBJECT = str(REPO_ROOT / "configs" / "subject.yaml")


def help_text(capsys, *argv):
    with pytest.raises(SystemExit) as exit_:
        parse_run_arguments(list(argv))
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["--learnig_rate", "3e-4"], "Did you mean '--learning_rate'?"),
        (["--hiden-size", "32"], "Did you mean '--hidden_size'?"),
        (["--position_embeding_type=sinusoidal"], "Did you mean '--position_embedding_type'?"),
    ],
)
def test_a_misspelt_option_gets_a_suggestion(argv, hint):
    with pytest.raises(ValueError, match="Unknown command-line arguments: ") as error:
        parse_run_arguments(argv)
    assert hint in str(error.value)


def test_help_leads_with_usage_the_config_and_the_projects_fields(capsys):
    text = help_text(capsys, "--help")
    assert text.startswith("usage: python train/run.py [CONFIG.yaml] [--field value ...]")
    for option in ("--position_embedding_type", "--corpus", "--text_column", "--output_dir", "--lr_step_epochs"):
        assert f"\n  {option} " in text, option
    assert "--help-all" in text
    assert "--gradient_accumulation_steps" not in text  # TrainingArguments' long tail is behind --help-all
    assert len(text.splitlines()) < 100


def test_help_shows_the_configs_values(capsys):
    text = help_text(capsys, SUBJECT, "-h")
    assert "  --num_train_epochs 30 " in text and "  --learning_rate 0.001 " in text


def test_help_all_lists_every_training_argument(capsys):
    assert "--gradient_accumulation_steps" in help_text(capsys, "--help-all")


@pytest.mark.parametrize(
    "argv, output_dir",
    [
        ([SUBJECT], "runs/subject"),
        ([SUBJECT, "--corpus", "../work/reviews.csv", "--text_column", "review"], "runs/reviews"),
        ([SUBJECT, "--corpus", "someone/tweets"], "runs/tweets"),
        ([SUBJECT, "--task", "mlm"], "runs/subject-mlm"),
        ([SUBJECT, "--corpus", "../work/reviews.csv", "--output_dir", "elsewhere"], "elsewhere"),
    ],
)
def test_the_run_folder_is_named_after_the_data_unless_given(argv, output_dir):
    """So that training on your own data after the quick start never lands in the quick start's folder."""
    assert parse_run_arguments(argv)[2].output_dir == output_dir


def test_defaults_that_would_only_warn_are_off():
    """Pinned memory needs an accelerator (torch warns at every DataLoader without one); every parameter
    is used in every step, so DDP need not search for unused ones (it warns when it finds none)."""
    run_args = parse_run_arguments([SUBJECT])[2]
    assert run_args.dataloader_pin_memory == torch.accelerator.is_available()
    assert run_args.ddp_find_unused_parameters is False


# --- bad run configs (docs/reliability.md §1) -------------------------------------------------


@pytest.mark.reliability
@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("hiden_size: 32\n", "Unknown config key 'hiden_size'.*Did you mean 'hidden_size'"),
        ("hidden_size: abc\n", "Bad config value: argument --hidden_size.*invalid int value: 'abc'"),
        ("hidden_size: [1, 2]\n", r"'hidden_size' expected int, got list \(value: \[1, 2\]\)"),
        ("hidden_size: -8\n", "hidden_size must be a positive integer, got -8"),
        ("max_length: 0\n", "max_length must be a positive integer, got 0"),
        ("per_device_train_batch_size: 0\n", "per_device_train_batch_size must be a positive integer, got 0"),
        ("num_train_epochs: -1\n", "num_train_epochs must be a positive number, got -1"),
        ("learning_rate: abc\n", "invalid float value: 'abc'"),
        ("- a list\n", "must hold a mapping"),
        ("corpus: [\n", "is not valid YAML"),
    ],
)
def test_run_config_bad_yaml_fails_before_any_work(tmp_path, yaml_text, message):
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    with pytest.raises(CONFIG_ERRORS, match=message):  # a model field: PosEncConfig's own check names it
        parse_run_arguments([str(path)])


@pytest.mark.reliability
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hiden_size", "32"], "Unknown command-line arguments: --hiden_size 32"),
        (["--num_hidden_layers", "two"], "invalid int value: 'two'"),
        (["--vocab_size", "-5"], "vocab_size must be a positive integer, got -5"),
    ],
)
def test_run_config_bad_command_line(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_run_arguments(argv)
