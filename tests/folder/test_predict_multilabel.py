"""A multi-label folder in use: `pipeline(..., top_k=None)` gives a sigmoid score per label, and
`posenc-predict` lists the labels that reach the folder's saved threshold, then the scores."""

import io
import json
import sys

import pytest
import torch
from helpers import MULTI_LABELS, TINY_THRESHOLD

from posenc_hf.folder.predict import decision_threshold, load_classifier, main

TEXTS = ["sunny day with the gene", "furious and scary atom"]


@pytest.fixture(scope="module")
def classifier(tiny_multi_label_folder):
    return load_classifier(tiny_multi_label_folder)


def run_cli(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    code = main(argv)
    return code, capsys.readouterr().out


def test_the_pipeline_gives_a_sigmoid_score_per_label(classifier):
    results = classifier(TEXTS, top_k=None)
    encoded = classifier.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        probabilities = classifier.model(**encoded).logits.sigmoid()
    for scores, expected in zip(results, probabilities, strict=True):
        assert sorted(score["label"] for score in scores) == MULTI_LABELS
        assert {score["label"]: score["score"] for score in scores} == pytest.approx(
            dict(zip(MULTI_LABELS, expected.tolist(), strict=True)), abs=1e-5
        )
    assert decision_threshold(classifier) == TINY_THRESHOLD


def test_posenc_predict_lists_the_labels_above_the_saved_threshold_then_every_score(
    classifier, tiny_multi_label_folder, monkeypatch, capsys
):
    code, out = run_cli(monkeypatch, capsys, [str(tiny_multi_label_folder), *TEXTS])
    assert code == 0
    for line, text, scores in zip(out.splitlines(), TEXTS, classifier(TEXTS, top_k=None), strict=True):
        labels, shown, printed_text = line.split("\t")
        above = [score["label"] for score in scores if score["score"] >= TINY_THRESHOLD]
        assert 0 < len(above) < len(MULTI_LABELS)  # the threshold decides: some labels in, some out
        assert labels.split(", ") == above and printed_text == text
        assert shown == ", ".join(f"{score['label']} {score['score']:.3f}" for score in scores)


def test_posenc_predict_json_carries_labels_scores_and_threshold(
    classifier, tiny_multi_label_folder, monkeypatch, capsys
):
    code, out = run_cli(monkeypatch, capsys, [str(tiny_multi_label_folder), "--json", "--top-k", "2", TEXTS[0]])
    record = json.loads(out)
    scores = classifier(TEXTS[0], top_k=None)
    assert (code, record["text"], record["threshold"]) == (0, TEXTS[0], TINY_THRESHOLD)
    assert [label["label"] for label in record["labels"]] == [
        s["label"] for s in scores if s["score"] >= TINY_THRESHOLD
    ]
    assert [score["label"] for score in record["scores"]] == [score["label"] for score in scores[:2]]
