"""Multi-label end to end: a tiny CSV (comma-separated labels, `problem_type: multi_label_classification`)
and a tiny JSON Lines file (lists of labels, detected) each train a few steps in this process and leave
a folder whose pipeline scores every label and whose `posenc-predict` lists the labels above the
threshold the run chose on validation."""

import csv
import io
import json
import sys

import pytest
from helpers import MULTI_LABELS, SMOKE, multi_label_rows, read_metrics

from posenc_hf.folder.predict import load_classifier, main
from posenc_hf.training.plan import read_plan
from posenc_hf.training.runner import format_summary, run_training

ROWS = multi_label_rows(60)


def write_data(folder, kind):
    if kind == "jsonl":
        path = folder / "feelings.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
        return path, []
    path = folder / "feelings.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["text", "label"], *([row["text"], ",".join(row["label"])] for row in ROWS)])
    return path, ["--problem_type", "multi_label_classification"]  # a CSV cell is text: say it holds lists


@pytest.fixture(scope="module", params=["csv", "jsonl"])
def trained(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"multi_label_{request.param}")
    data, options = write_data(folder, request.param)
    argv = [SMOKE, "--corpus", str(data), "--output_dir", str(folder / "run"), "--num_train_epochs", "1", *options]
    result = run_training(read_plan(argv))
    return result, read_metrics(result.folder)


def test_the_folder_is_a_multi_label_model_with_its_threshold(trained):
    result, metrics = trained
    config = json.loads((result.folder / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == MULTI_LABELS
    assert (
        config["multi_label_threshold"]
        == metrics["test"]["threshold"]
        == metrics["validation_at_threshold"]["threshold"]
    )
    assert list(metrics["test"]["per_class"]) == MULTI_LABELS and metrics["test"]["examples"] == 6
    assert {"micro_f1", "macro_f1", "exact_match"} <= set(metrics["test"]) and "micro_f1" in metrics["validation"]
    card = (result.folder / "README.md").read_text()
    assert "multi_label_threshold" in card and "top_k=None" in card
    assert (result.folder / "plots" / "per_class_f1.png").is_file()
    assert f"Test micro-F1 {metrics['test']['micro_f1']:.4f}" in format_summary(result, "run")


def test_the_pipeline_scores_every_label_and_posenc_predict_lists_those_above_the_threshold(
    trained, monkeypatch, capsys
):
    result, metrics = trained
    texts = [ROWS[7]["text"], ROWS[0]["text"]]
    scores = load_classifier(result.folder)(texts, top_k=None)
    assert [sorted(score["label"] for score in text_scores) for text_scores in scores] == [MULTI_LABELS] * 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    assert main([str(result.folder), "--json", *texts]) == 0
    threshold = metrics["test"]["threshold"]
    for line, text_scores in zip(capsys.readouterr().out.splitlines(), scores, strict=True):
        record = json.loads(line)
        assert record["threshold"] == threshold
        assert [label["label"] for label in record["labels"]] == [
            s["label"] for s in text_scores if s["score"] >= threshold
        ]
