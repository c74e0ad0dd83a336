"""The main job end to end on the tiny smoke config (training/runner.py): `accelerate launch train/run.py`,
the folder it writes, resuming, DDP, masked-LM pretraining then fine-tuning, inference from the folder, the
push path, and errors before training. Writing the folder safely is in test_folder_writes.py, runs
interrupted by signals in test_interrupts.py."""

import json
import logging
import math
import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO_ROOT, RUN, SMOKE, read_metrics

from posenc_hf.folder.card import read_card_metrics
from posenc_hf.folder.predict import load_classifier

ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch"]
ACCELERATE += ["--config_file", str(REPO_ROOT / "train" / "accelerate.yaml")]  # the README's: nothing to warn about
SAMPLE_TEXTS = [
    "How do enzymes speed up reactions in cells?",
    "Balance the equation for burning methane in oxygen.",
    "Solve 3x + 7 = 22 for x.",
    "What force keeps the moon in orbit around the earth?",
]


def run_command(command, expect_ok=True, timeout=600, **kwargs):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)
    if expect_ok and result.returncode != 0:
        raise AssertionError(
            f"{command} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def train(output_dir, *extra, launcher=(*ACCELERATE, "--num_processes", "1"), expect_ok=True):
    return run_command([*launcher, RUN, SMOKE, "--output_dir", str(output_dir), *extra], expect_ok=expect_ok)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One smoke run through `accelerate launch`, shared by the tests that only read its folder."""
    output_dir = tmp_path_factory.mktemp("smoke")
    result = train(output_dir)
    return output_dir, result


@pytest.fixture(scope="session")
def smoke_folder(smoke_run):
    return smoke_run[0] / "model"


# --- what a run writes -----------------------------------------------------------------------


def test_smoke_run_writes_a_hub_ready_folder(smoke_folder):
    names = {p.name for p in smoke_folder.iterdir()}
    expected = {
        "model.safetensors",
        "config.json",
        "configuration_posenc.py",
        "modeling_posenc.py",
        "heads_posenc.py",
        "positions_posenc.py",
        "checks_posenc.py",
        "fast_paths_posenc.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
        "metrics.json",
        "plots",
    }
    assert expected <= names, expected - names
    plots = {p.name for p in (smoke_folder / "plots").iterdir()}
    assert {
        "loss.png",
        "validation_metrics.png",
        "position_embeddings.png",
        "position_similarity.png",
        "confusion_matrix.png",
    } <= plots
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))]
    config = json.loads((smoke_folder / "config.json").read_text())
    assert set(config["auto_map"]) == {
        "AutoConfig",
        "AutoModel",
        "AutoModelForSequenceClassification",
        "AutoModelForMaskedLM",
    }
    assert config["id2label"] == {"0": "Biology", "1": "Chemistry", "2": "Maths", "3": "Physics"}


def test_every_checkpoint_carries_code_and_tokenizer(smoke_run):
    output_dir, _ = smoke_run
    checkpoints = sorted(output_dir.glob("checkpoint-*"))
    assert checkpoints
    for checkpoint in checkpoints:
        names = {p.name for p in checkpoint.iterdir()}
        assert {"modeling_posenc.py", "configuration_posenc.py", "tokenizer.json", "model.safetensors"} <= names


def test_accelerate_launch_uses_every_core_in_one_process(smoke_run):
    """accelerate sets OMP_NUM_THREADS=1; a single process must still use the machine's cores."""
    assert f"Using {os.cpu_count()} torch threads in each of 1 process(es)" in smoke_run[1].stderr


# Warnings about settings the package or the README chose, which a user can do nothing about.
NOISE = ["were not passed to `accelerate launch`", "pin_memory", "find_unused_parameters", "Writing model shards"]


def test_the_log_shows_progress_and_results_not_warnings(smoke_run):
    assert [noise for noise in NOISE if noise in smoke_run[1].stderr] == []


def test_summary_names_the_folder_and_the_test_metrics(smoke_run, smoke_folder):
    stdout = smoke_run[1].stdout
    metrics = read_metrics(smoke_folder)["test"]
    assert f"Test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}" in stdout
    assert str(smoke_folder) in stdout


def test_card_metrics_equal_the_metrics_json(smoke_folder):
    card = (smoke_folder / "README.md").read_text()
    metrics = read_metrics(smoke_folder)["test"]
    card_metrics = read_card_metrics(card)
    assert card_metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    assert card_metrics["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert "library_name: transformers" in card and "pipeline_tag: text-classification" in card
    assert "![" in card and "plots/loss.png" in card


def test_test_metrics_come_from_the_test_split(smoke_folder):
    test = read_metrics(smoke_folder)["test"]
    matrix = test["confusion_matrix"]
    assert sum(map(sum, matrix)) == 48  # max_samples caps the test split too
    assert test["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(len(matrix))) / 48)


# --- inference from the folder -----------------------------------------------------------------


def test_pipeline_returns_label_names_and_truncates(smoke_folder):
    classifier = load_classifier(smoke_folder)
    out = classifier(SAMPLE_TEXTS + ["atom " * 500])
    assert all(o["label"] in {"Biology", "Chemistry", "Maths", "Physics"} for o in out)


def test_folder_loads_without_the_package_via_pipeline(smoke_folder, run_without_package):
    classifier = load_classifier(smoke_folder)
    expected = classifier(SAMPLE_TEXTS, top_k=None)
    out = run_without_package(f"""
import json
from transformers import pipeline
classifier = pipeline("text-classification", model={str(smoke_folder)!r}, trust_remote_code=True)
assert type(classifier.model).__module__.startswith("transformers_modules"), type(classifier.model).__module__
print(json.dumps(classifier({SAMPLE_TEXTS!r}, top_k=None, truncation=True)))
""")
    got = json.loads(out.strip().splitlines()[-1])
    for mine, theirs in zip(expected, got, strict=True):
        assert [d["label"] for d in mine] == [d["label"] for d in theirs]
        assert [d["score"] for d in mine] == pytest.approx([d["score"] for d in theirs], abs=1e-6)


def test_posenc_predict_reads_stdin(smoke_folder):
    result = run_command(
        [sys.executable, "-m", "posenc_hf.folder.predict", str(smoke_folder), "--json", "--top-k", "2"],
        input="\n".join(SAMPLE_TEXTS) + "\n",
    )
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["text"] for line in lines] == SAMPLE_TEXTS
    assert all(len(line["labels"]) == 2 for line in lines)


def test_posenc_predict_takes_texts_as_arguments(smoke_folder):
    result = run_command([sys.executable, "-m", "posenc_hf.folder.predict", str(smoke_folder), *SAMPLE_TEXTS[:2]])
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].endswith(SAMPLE_TEXTS[0])


# --- push --------------------------------------------------------------------------------------


def test_push_uploads_every_file_of_the_folder(smoke_folder, monkeypatch):
    """No network: intercept the Hub client's card check and commit, and check what they would have sent."""
    from huggingface_hub import HfApi, hf_api

    from posenc_hf.folder.hub import push_folder

    sent = {}

    def fake_create_repo(self, repo_id, **kwargs):
        return type("RepoUrl", (), {"repo_id": repo_id})()

    def fake_create_commit(self, repo_id, operations, **kwargs):
        sent["repo_id"] = repo_id
        sent["paths"] = {op.path_in_repo for op in operations}
        return f"https://huggingface.co/{repo_id}/commit/0"

    monkeypatch.setattr(HfApi, "create_repo", fake_create_repo)
    monkeypatch.setattr(HfApi, "create_commit", fake_create_commit)
    monkeypatch.setattr(hf_api, "is_xet_available", lambda: False)  # one create_commit, not the streamed pipeline
    monkeypatch.setattr(HfApi, "_validate_yaml", lambda self, content, **kw: sent.setdefault("card", content))
    push_folder(smoke_folder, "someone/posenc-smoke", token="hf_fake")
    on_disk = {str(p.relative_to(smoke_folder)) for p in smoke_folder.rglob("*") if p.is_file()}
    assert sent["repo_id"] == "someone/posenc-smoke"
    assert on_disk == sent["paths"]
    assert sent["card"] == (smoke_folder / "README.md").read_text()  # the Hub checks the card's YAML first
    assert {"model.safetensors", "modeling_posenc.py", "tokenizer.json", "README.md", "plots/loss.png"} <= on_disk


# --- resume and DDP ----------------------------------------------------------------------------


def test_stopped_then_resumed_run_ends_like_an_uninterrupted_one(smoke_folder, tmp_path):
    train(tmp_path, "--stop_after_step", "6")  # the end of epoch 1 of 2: a checkpoint, then stop
    assert (tmp_path / "checkpoint-6").is_dir() and not (tmp_path / "model").exists()
    train(tmp_path)  # the same command resumes
    resumed, uninterrupted = read_metrics(tmp_path / "model"), read_metrics(smoke_folder)
    assert resumed["test"] == uninterrupted["test"]
    assert resumed["final_train_loss"] == pytest.approx(uninterrupted["final_train_loss"], rel=1e-6)
    history = json.loads((tmp_path / "checkpoint-12" / "trainer_state.json").read_text())["log_history"]
    reference = json.loads((smoke_folder.parent / "checkpoint-12" / "trainer_state.json").read_text())["log_history"]
    assert [entry.get("eval_loss") for entry in history] == [entry.get("eval_loss") for entry in reference]


def test_two_process_cpu_ddp_matches_one_process_of_the_same_global_batch(smoke_folder, tmp_path):
    ddp = (*ACCELERATE, "--multi_gpu", "--num_processes", "2")
    result = train(tmp_path, "--use_cpu", "true", "--per_device_train_batch_size", "4", launcher=ddp)
    assert [noise for noise in NOISE if noise in result.stderr] == []
    ddp_metrics, single = read_metrics(tmp_path / "model"), read_metrics(smoke_folder)
    assert ddp_metrics["num_processes"] == 2 and single["num_processes"] == 1
    assert ddp_metrics["final_train_loss"] == pytest.approx(single["final_train_loss"], abs=0.05)


def test_two_machines_of_one_process_each_train_as_one_ddp_run(smoke_folder, tmp_path):
    """Multi-node as far as one machine allows: two launches of train/accelerate_multinode.yaml
    (machine_rank 0 and 1) meet on 127.0.0.1 and train as one two-process DDP run."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    launch += [
        str(REPO_ROOT / "train" / "accelerate_multinode.yaml"),
        "--main_process_port",
        str(29500 + os.getpid() % 500),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    args = [RUN, SMOKE, "--output_dir", str(tmp_path), "--use_cpu", "true", "--per_device_train_batch_size", "4"]
    machines = [
        subprocess.Popen(
            [*launch, "--machine_rank", str(rank), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    outputs = [machine.communicate(timeout=600)[0] for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "Model folder" in outputs[0] and "Model folder" not in outputs[1]  # the main process writes it
    two_machines, single = read_metrics(tmp_path / "model"), read_metrics(smoke_folder)
    assert two_machines["num_processes"] == 2
    assert two_machines["final_train_loss"] == pytest.approx(single["final_train_loss"], abs=0.05)


# --- errors before training --------------------------------------------------------------------


@pytest.mark.slow
def test_unknown_config_key_fails_before_training(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("corpus: subject\nhiden_size: 32\n")
    result = run_command([sys.executable, RUN, str(config)], expect_ok=False)
    assert result.returncode != 0
    assert "Unknown config key 'hiden_size'" in result.stderr and "hidden_size" in result.stderr


@pytest.mark.slow
def test_missing_config_file_fails_clearly(tmp_path):
    result = run_command([sys.executable, RUN, str(tmp_path / "nope.yaml")], expect_ok=False)
    assert result.returncode != 0 and "Config file not found" in result.stderr


@pytest.mark.slow
def test_position_table_shorter_than_tokenizer_max_length_fails_before_training(tmp_path):
    result = train(tmp_path, "--max_position_embeddings", "16", expect_ok=False)
    assert result.returncode != 0
    assert "max_position_embeddings=16 is smaller than the tokenizer's model_max_length=32" in result.stderr
    assert not list(tmp_path.glob("checkpoint-*"))


@pytest.mark.slow
def test_output_dir_with_another_models_checkpoint_is_left_alone(tmp_path):
    checkpoint = tmp_path / "checkpoint-100"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    (checkpoint / "model.safetensors").write_bytes(b"precious")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = train(tmp_path, expect_ok=False)
    assert result.returncode != 0
    assert "checkpoint of another model" in result.stderr and "model_type='bert'" in result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (checkpoint / "model.safetensors").read_bytes() == b"precious"


def test_output_dir_with_a_differently_shaped_posenc_checkpoint_is_left_alone(smoke_run, tmp_path):

    shutil.copytree(next(smoke_run[0].glob("checkpoint-*")), tmp_path / "checkpoint-6")
    result = train(tmp_path, "--hidden_size", "32", expect_ok=False)
    assert result.returncode != 0
    assert "hidden_size 16 -> 32" in result.stderr
    assert not (tmp_path / "model").exists()


# --- task mlm, then a classifier from its folder -------------------------------------------------


def test_pretrain_then_fine_tune_through_the_run_pipeline(tmp_path, caplog):
    from posenc_hf.training.plan import read_plan
    from posenc_hf.training.runner import run_training

    fast = ["--num_train_epochs", "1", "--report_to", "none", "--num_threads", "1"]
    pretrained = run_training(read_plan([SMOKE, "--task", "mlm", "--output_dir", str(tmp_path / "mlm"), *fast]))
    assert (pretrained.folder / "model.safetensors").is_file()
    scores = pretrained.test_metrics  # the masked LM's headline: its validation loss, as metrics.json holds it
    assert scores == read_metrics(pretrained.folder)["validation"]
    assert scores["perplexity"] == pytest.approx(math.exp(scores["mlm_loss"]))
    assert json.loads((pretrained.folder / "config.json").read_text())["architectures"] == ["PosEncForMaskedLM"]
    with caplog.at_level(logging.WARNING, logger="posenc_hf.training.pretrained"):
        plan = read_plan(
            [SMOKE, "--model_name_or_path", str(pretrained.folder), "--output_dir", str(tmp_path / "cls"), *fast]
            + ["--hidden_size", "32"]  # not used: the architecture is the pretrained folder's, and a warning says so
        )
        result = run_training(plan, REPO_ROOT / "model_card.md")
    assert "these model fields of the run are not used: hidden_size=32 (the folder's: 16)" in caplog.text
    assert "newly initialised (2): classifier.bias, classifier.weight" in caplog.text
    assert (result.folder / "tokenizer.json").read_text() == (pretrained.folder / "tokenizer.json").read_text()
    config = json.loads((result.folder / "config.json").read_text())
    assert config["hidden_size"] == 16 and config["architectures"] == ["PosEncForSequenceClassification"]
