"""research.search (optuna through Trainer.hyperparameter_search) and research.bert_peer (the same-size
BERT of the quality comparison), each on the smoke config: what they write, not what they score."""

import json

import pytest
from helpers import SMOKE, read_metrics

FAST = ["--num_train_epochs", "2", "--num_threads", "1"]


def test_search_runs_trials_on_validation_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("optuna", reason="research.search needs the research extra: pip install -e '.[research]'")
    from research import search

    monkeypatch.chdir(tmp_path)  # its study database goes to runs/search/
    out = tmp_path / "search.json"
    assert search.main([SMOKE, "--trials", "2", "--out", str(out), *FAST]) == 0
    result = json.loads(out.read_text())
    assert [t["state"] for t in result["trials"]] == ["COMPLETE", "COMPLETE"]
    drawn = set(result["trials"][0]["params"])
    assert {"learning_rate", "hidden_dropout_prob", "num_hidden_layers", "pooling"} <= drawn
    assert result["best"]["objective"] == max(t["value"] for t in result["trials"])
    assert search.main([SMOKE, "--trials", "3", "--out", str(out), *FAST]) == 0  # two done: one more, not three
    assert len(json.loads(out.read_text())["trials"]) == 3


def test_bert_peer_trains_bert_with_the_runs_sizes(tmp_path):
    from research import bert_peer

    assert bert_peer.main([SMOKE, "--output_dir", str(tmp_path), "--report_to", "none", *FAST]) == 0
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["hidden_size"] == 16 and config["num_hidden_layers"] == 1 and config["num_attention_heads"] == 2
    assert config["intermediate_size"] == 4 * 16 and config["id2label"]["0"] == "Biology"
    metrics = read_metrics(tmp_path / "model")
    assert set(metrics["test"]) >= {"accuracy", "macro_f1"} and "validation" in metrics
