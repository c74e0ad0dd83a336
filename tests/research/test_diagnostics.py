"""The diagnostics give known answers on tiny inputs, and the study command runs end to end (`--smoke`)."""

import json
import math
import shutil

import helpers
import pytest
import torch
from datasets import Dataset
from helpers import REPO_ROOT
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from posenc_hf.data.tokenization import train_tokenizer
from posenc_hf.model.positions_posenc import sinusoidal_table
from research.diagnostics import (
    GradientNormCallback,
    collapse_shares,
    diagnose,
    effective_rank,
    normalized_entropy,
    position_probe,
    similarity_by_distance,
    table_report,
)
from research.study import main as study_main
from research.study.plan import PLANS
from research.study.runner import prepare_data

TEXTS = [
    "the cat saw a dog near the old fish",
    "a bird and a cat met the dog",
    "some fish left",
    "the quick small bird found a very happy cat then the dog and the fish",
] * 4
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]])  # lengths 6, 3, 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_model(num_layers=2, position_embedding_type="learned"):
    return helpers.tiny_model(
        vocab_size=120,
        num_attention_heads=2,
        num_hidden_layers=num_layers,
        max_position_embeddings=32,
        num_labels=4,
        position_embedding_type=position_embedding_type,
    )


def padded_attention(weights_for_length, mask=MASK, heads=2):
    """(batch × heads × L × L) weights: `weights_for_length(n)` (n × n) on the real tokens, zero elsewhere."""
    batch, length = mask.shape
    weights = torch.zeros(batch, heads, length, length)
    for row, n in enumerate(mask.sum(dim=1).tolist()):
        weights[row, :, :n, :n] = weights_for_length(n)
    return weights


# --- attention entropy and collapse -----------------------------------------------------------


def test_uniform_attention_has_normalised_entropy_one():
    weights = padded_attention(lambda n: torch.full((n, n), 1.0 / n))
    entropy = normalized_entropy(weights, MASK)
    assert entropy.shape == (6 + 3 + 4, 2)  # one row per real query, one column per head
    assert torch.allclose(entropy, torch.ones_like(entropy), atol=1e-6)
    assert collapse_shares(entropy.mean(dim=0)) == {"uniform_share": 1.0, "one_hot_share": 0.0, "collapsed_share": 1.0}


def test_one_hot_attention_has_entropy_zero_and_counts_as_collapsed():
    weights = padded_attention(lambda n: torch.eye(n))
    entropy = normalized_entropy(weights, MASK)
    assert torch.allclose(entropy, torch.zeros_like(entropy), atol=1e-6)
    assert collapse_shares(entropy.mean(dim=0)) == {"uniform_share": 0.0, "one_hot_share": 1.0, "collapsed_share": 1.0}


def test_in_between_attention_is_not_collapsed():
    def mostly_on_first(n):
        rows = torch.full((n, n), 0.2 / (n - 1))
        rows[:, 0] = 0.8
        return rows

    entropy = normalized_entropy(padded_attention(mostly_on_first), MASK)
    assert ((entropy > 0.3) & (entropy < 0.9)).all()
    assert collapse_shares(entropy.mean(dim=0))["collapsed_share"] == 0.0


def test_a_model_with_zero_queries_and_keys_attends_uniformly():
    model = tiny_model(num_layers=3)
    with torch.no_grad():
        for layer in model.posenc.layers:
            layer.attention.qkv.weight[:32].zero_()  # query and key rows: every score is 0
            layer.attention.qkv.bias[:32].zero_()
    tokenizer = train_tokenizer(TEXTS, vocab_size=120, model_max_length=32)
    report = diagnose(model, TEXTS, tokenizer, batch_size=5)
    attention = report["attention"]
    assert len(attention["entropy"]) == 3 and len(attention["entropy"][0]) == 2
    assert attention["entropy_per_layer"] == pytest.approx([1.0] * 3, abs=1e-5)
    assert attention["uniform_share"] == 1.0
    assert len(report["position_probe"]["accuracy_per_layer"]) == 4  # embeddings + 3 layers
    assert report["position_table"]["num_positions"] == max(len(ids) for ids in tokenizer(TEXTS)["input_ids"])


def test_diagnose_reads_a_saved_model_folder(tmp_path):
    """The folder's model and tokenizer give the report of the same model and tokenizer in memory."""
    tokenizer = train_tokenizer(TEXTS, vocab_size=120, model_max_length=32)
    model = tiny_model(num_layers=2)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    report = diagnose(str(tmp_path), TEXTS)
    assert len(report["attention"]["entropy_per_layer"]) == 2
    assert len(report["position_probe"]["accuracy_per_layer"]) == 3
    assert report == diagnose(model, TEXTS, tokenizer)


# --- position information ---------------------------------------------------------------------


def hidden_states_of(table, mask):
    """Hidden states that are the position table itself: token i of every sequence is row i."""
    return table[: mask.shape[1]].expand(mask.shape[0], -1, -1)


def test_a_probe_on_the_position_table_itself_is_near_perfect():
    mask = torch.ones(60, 16, dtype=torch.long)
    mask[::2, 10:] = 0  # half the sequences are shorter
    table = sinusoidal_table(16, 32)
    outputs = [(mask, [hidden_states_of(table, mask), torch.randn(60, 16, 32)], None)]
    probe = position_probe(outputs)
    assert probe["accuracy_per_layer"][0] > 0.99
    assert probe["accuracy_per_layer"][1] < 0.5  # noise carries no position
    assert probe["majority_baseline"] == pytest.approx(60 / (60 * 10 + 30 * 6))  # positions 0-9: every sequence


# --- the position table -----------------------------------------------------------------------


def test_effective_rank_of_an_identity_like_table_equals_its_size():
    assert effective_rank(torch.eye(7)) == pytest.approx(7.0)
    assert effective_rank(3.0 * torch.eye(12)[:, :10].T) == pytest.approx(10.0)  # scaled, rectangular
    assert effective_rank(torch.ones(5, 8)) == pytest.approx(1.0)  # every row the same: rank 1


def test_similarity_by_distance_of_orthogonal_positions():
    similarity = similarity_by_distance(torch.eye(6))
    assert len(similarity) == 6
    assert similarity[0] == pytest.approx(1.0)
    assert similarity[1:] == pytest.approx([0.0] * 5)


def test_table_report_per_position_type():
    assert table_report(tiny_model(position_embedding_type="none")) is None
    model = tiny_model(position_embedding_type="sinusoidal")
    report = table_report(model, num_positions=10)
    assert report["num_positions"] == 10 and len(report["similarity_by_distance"]) == 10
    first_rows = model.get_position_embeddings().weight[:10]  # of the table's 32
    assert report["effective_rank"] == pytest.approx(effective_rank(first_rows))
    assert report["similarity_by_distance"] == pytest.approx(similarity_by_distance(first_rows))


# --- gradient norms during training -----------------------------------------------------------


def test_gradient_norm_callback_logs_one_norm_per_layer_per_step(tmp_path):
    tokenizer = train_tokenizer(TEXTS, vocab_size=120, model_max_length=32)
    dataset = Dataset.from_dict({"text": TEXTS, "label": [0, 1, 2, 3] * 4}).map(
        lambda batch: tokenizer(batch["text"]), batched=True, remove_columns=["text"]
    )
    callback = GradientNormCallback()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=4,
        per_device_train_batch_size=4,
        logging_steps=2,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = Trainer(
        model=tiny_model(num_layers=3),
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=[callback],
    )
    trainer.train()
    assert [entry["step"] for entry in callback.history] == [1, 2, 3, 4]
    assert callback.norms().shape == (4, 3)
    assert (callback.norms() > 0).all()
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logged) == 2
    assert all({"grad_norm_layer_1", "grad_norm_layer_2", "grad_norm_layer_3"} <= entry.keys() for entry in logged)
    assert logged[0]["grad_norm_layer_2"] == pytest.approx(callback.norms()[:2, 1].mean())
    assert callback.plot(tmp_path / "norms.png").read_bytes()[:8] == PNG_SIGNATURE


# --- the study command ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    """`python -m research.study --smoke` into a temporary folder: (folder, report path, results)."""
    out = tmp_path_factory.mktemp("study")
    report = study_main(["--smoke", "--out", str(out), "--workers", "1"])
    return out, report, json.loads((out / "study" / "results.json").read_text())


def test_study_smoke_runs_the_grid_and_writes_the_report(smoke_study):
    out, report, results = smoke_study
    assert len(results["records"]) == 2  # one point with warm-up, the same without
    assert {r["warmup"] for r in results["records"]} == {True, False}
    record = results["records"][0]
    smoke = PLANS["smoke"]
    test_texts = len(prepare_data("order", record["seed"], smoke.train_rows["order"]).corpus["test"])
    correct = record["test_accuracy"] * test_texts  # the share of the smoke test split classified right
    assert correct == pytest.approx(round(correct), abs=1e-9)
    assert len(record["grad_norm_per_layer"]) == record["depth"]
    assert all(math.isfinite(s["seconds"]) for s in results["length_scaling"]["series"])
    text = report.read_text()
    assert "## Claims and verdicts" in text and "Generated with `--smoke`" in text
    for name in ("position_probe", "attention_entropy", "gradient_norms", "cost_vs_length", "warmup"):
        assert (out / "study" / f"{name}.png").read_bytes()[:8] == PNG_SIGNATURE
        assert f"study/{name}.png" in text
    assert not (out / "study" / "runs.jsonl").exists()  # the journal goes once the study is done


def test_study_report_only_rebuilds_the_same_report(smoke_study):
    out, report, _ = smoke_study
    text = report.read_text()
    report.unlink()
    assert study_main(["--report_only", "--out", str(out)]).read_text() == text


def test_the_committed_study_report_rebuilds_from_its_committed_results(tmp_path):
    """docs/study.md is what --report_only makes of docs/study/results.json: the stored results still
    read with today's Plan and the report matches them (a renamed field breaks this, not the next study)."""
    docs = REPO_ROOT / "docs"
    shutil.copytree(docs / "study", tmp_path / "study")
    rebuilt = study_main(["--report_only", "--out", str(tmp_path)]).read_text()
    assert rebuilt == (docs / "study.md").read_text()


def test_study_resume_keeps_the_finished_runs(smoke_study):
    out, _, first = smoke_study
    journal = [json.dumps({"mode": "smoke", "record": record}) for record in first["records"]]
    (out / "study" / "runs.jsonl").write_text("\n".join(journal) + "\n")
    study_main(["--smoke", "--out", str(out), "--workers", "1", "--resume"])
    resumed = json.loads((out / "study" / "results.json").read_text())
    assert resumed["resumed_runs"] == 2
    assert resumed["records"] == first["records"]  # nothing trained again
