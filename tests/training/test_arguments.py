"""Run arguments as a newcomer meets them: a short `--help` that leads with the config and the project's
fields, a suggestion for a misspelt option, a run folder named after the data, and defaults that
keep the log free of warnings about settings the package chose; and bad values in a YAML file or on the
command line refused before any data is read (docs/reliability.md §1, run configs)."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from helpers import CONFIG_ERRORS, REPO_ROOT, RUN, SMOKE, read_metrics

from posenc_hf import PosEncConfig
from posenc_hf.data.tokenization import train_tokenizer
from posenc_hf.folder.checkpoints import check_checkpoint_matches
from posenc_hf.model.positions_posenc import POSITION_EMBEDDINGS
from posenc_hf.training.arguments import parse_run_arguments
from posenc_hf.training.plan import read_plan
from posenc_hf.training.prepare import build_config

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
    assert read_plan(argv).run_args.output_dir == output_dir


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
        ("position_embedding_type: rope\n", "position_embedding_type must be one of .*'rotary'.*got 'rope'"),
        ("randomized_eval_positions: shuffled\n", "randomized_eval_positions must be one of"),
        ("rope_theta: abc\n", "invalid float value: 'abc'"),
        ("rope_theta: 0\n", "rope_theta must be a positive number, got 0"),
    ],
)
def test_run_config_bad_yaml_fails_before_any_work(tmp_path, yaml_text, message):
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    with pytest.raises(CONFIG_ERRORS, match=message):  # a model field: PosEncConfig's own check names it
        read_plan([str(path)])


@pytest.mark.reliability
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hiden_size", "32"], "Unknown command-line arguments: --hiden_size 32"),
        (["--num_hidden_layers", "two"], "invalid int value: 'two'"),
        (["--vocab_size", "-5"], "vocab_size must be a positive integer, got -5"),
        (["--rope_theta", "big"], "invalid float value: 'big'"),
        (["--randomize_positions", "maybe"], "--randomize_positions"),
    ],
)
def test_run_config_bad_command_line(argv, message):
    with pytest.raises(ValueError, match=message):
        read_plan(argv)


# --- the position schemes' fields --------------------------------------------------------------

LABELS = ["Biology", "Chemistry"]
# (YAML, what the run's PosEncConfig then holds): each field a run can set for the schemes and for
# randomized positions. rope_theta is no config field: PosEncConfig folds it into rope_parameters.
SCHEME_FIELDS = [
    (
        "position_embedding_type: t5\nrelative_attention_num_buckets: 16\nrelative_attention_max_distance: 64\n",
        {"position_embedding_type": "t5", "relative_attention_num_buckets": 16, "relative_attention_max_distance": 64},
    ),
    ("position_embedding_type: fire\nfire_mlp_width: 8\n", {"position_embedding_type": "fire", "fire_mlp_width": 8}),
    (
        "position_embedding_type: rotary\nrope_theta: 500.0\n",
        {"position_embedding_type": "rotary", "rope_parameters": {"rope_type": "default", "rope_theta": 500.0}},
    ),
    (
        "randomize_positions: true\nrandomized_eval_positions: sampled\n",
        {"randomize_positions": True, "randomized_eval_positions": "sampled"},
    ),
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(["what is a cell", "what is an atom"] * 3, vocab_size=60, model_max_length=16)


def run_config(tokenizer, argv):
    """The `PosEncConfig` a run of `argv` trains (`prepare.build_config`, as train/run.py builds it)."""
    return build_config(read_plan(argv).model, tokenizer, LABELS)


def as_command_line(yaml_text):
    """The same fields as `--name value` options."""
    return [token for line in yaml_text.splitlines() for token in ("--" + line.split(": ")[0], line.split(": ")[1])]


@pytest.mark.parametrize("source", ["yaml", "command line"])
@pytest.mark.parametrize("yaml_text, expected", SCHEME_FIELDS, ids=["t5", "fire", "rotary", "randomized"])
def test_each_scheme_field_reaches_the_runs_config(tmp_path, tokenizer, source, yaml_text, expected):
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text if source == "yaml" else "")
    config = run_config(tokenizer, [str(path)] + (as_command_line(yaml_text) if source == "command line" else []))
    assert {name: getattr(config, name) for name in expected} == expected


def test_the_defaults_build_the_default_config(tokenizer):
    """A run that sets none of the new fields trains what PosEncConfig() describes."""
    config, default = run_config(tokenizer, []), PosEncConfig()
    names = {name for _, expected in SCHEME_FIELDS for name in expected}
    assert {name: getattr(config, name) for name in names} == {name: getattr(default, name) for name in names}


def test_a_checkpoint_of_another_rope_theta_is_not_resumed(tmp_path, tokenizer):
    """rope_theta shapes what a rotary model computes: a checkpoint of another θ is another run's."""
    rotary = ["--position_embedding_type", "rotary"]
    run_config(tokenizer, rotary).save_pretrained(tmp_path / "checkpoint-1")
    with pytest.raises(ValueError, match=r"rope_parameters .*10000.0.* -> .*500.0"):
        check_checkpoint_matches(tmp_path / "checkpoint-1", run_config(tokenizer, [*rotary, "--rope_theta", "500"]))
    check_checkpoint_matches(tmp_path / "checkpoint-1", run_config(tokenizer, rotary))


def test_help_lists_every_scheme_and_their_fields(capsys):
    text = help_text(capsys, "--help")
    line = next(line for line in text.splitlines() if line.startswith("  --position_embedding_type "))
    assert [kind for kind in POSITION_EMBEDDINGS if kind not in line] == []
    for option in ("relative_attention_num_buckets 32", "relative_attention_max_distance 128", "fire_mlp_width 32",
                   "randomize_positions False", "randomized_eval_positions ordered", "rope_theta 10000.0"):  # fmt: skip
        assert f"\n  --{option} " in text, option


@pytest.mark.slow
def test_a_run_with_randomized_alibi_positions_writes_a_folder_that_says_so(tmp_path):
    """train/run.py end to end: the fields reach the folder's config, its settings, its card and its plots."""
    options = ["--position_embedding_type", "alibi", "--randomize_positions", "true"]
    options += ["--randomized_eval_positions", "sampled", "--max_position_embeddings", "64", "--num_threads", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, RUN, SMOKE]
    command += ["--output_dir", str(tmp_path), *options]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "model"
    config = json.loads((folder / "config.json").read_text())
    assert (config["position_embedding_type"], config["max_position_embeddings"]) == ("alibi", 64)
    assert (config["randomize_positions"], config["randomized_eval_positions"]) == (True, "sampled")
    settings = read_metrics(folder)["settings"]
    assert (settings["randomize_positions"], settings["randomized_eval_positions"]) == (True, "sampled")
    card = (folder / "README.md").read_text()
    assert "alibi" in yaml.safe_load(card.split("---\n", 2)[1])["tags"]
    assert "**alibi** position embeddings" in card and "ALiBi (Press et al. 2022)" in card
    assert "Trained with randomized positions" in card and "`randomized_eval_positions: sampled`" in card
    assert "![Attention bias per head against distance](plots/position_bias.png)" in card
    assert (folder / "plots" / "position_bias.png").is_file()
    assert not (folder / "plots" / "position_embeddings.png").exists()
