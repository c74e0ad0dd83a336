"""Run arguments as a newcomer meets them: a short `--help` that leads with the config and the project's
fields, a suggestion for a misspelt option, a run folder named after the data, and defaults that
keep the log free of warnings about settings the package chose. (Bad values: test_reliability_inputs.py.)"""

from pathlib import Path

import pytest
import torch

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
