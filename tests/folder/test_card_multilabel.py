"""A multi-label model's card: micro- and macro-F1, per-label scores and the threshold, and its Hub metadata."""

import helpers
import pytest
from helpers import CARD_TEMPLATE, assert_per_class_rows, front_matter_and_body
from transformers import TrainingArguments

from posenc_hf.folder.card import (
    best_validation_metrics,
    read_card_metrics,
    render_model_card,
)

EMOTIONS = ["anger", "fear", "joy"]
MULTI_LABEL_LOG = [
    {"loss": 0.7, "epoch": 1.0},
    {"eval_loss": 0.6, "eval_micro_f1": 0.41, "eval_macro_f1": 0.3, "epoch": 1.0},
    {"loss": 0.5, "epoch": 2.0},
    {"eval_loss": 0.55, "eval_micro_f1": 0.52, "eval_macro_f1": 0.44, "epoch": 2.0},
]


@pytest.fixture(scope="module")
def multi_label_inputs(tmp_path_factory):
    import numpy as np

    from posenc_hf.folder.metrics import multi_label_report
    from posenc_hf.folder.plots import write_multi_label_plots

    folder = tmp_path_factory.mktemp("multi_label_card")
    model = helpers.tiny_model(num_labels=3, problem_type="multi_label_classification")
    references = [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1]]
    logits = np.array([[2, -2, 0.1], [-2, 1, 1], [1, -1, -3], [-1, -2, -2], [-3, -3, 2]], dtype=np.float32)
    test = multi_label_report(logits, references, EMOTIONS, threshold=0.35)
    metrics = {
        "test": test,
        "validation": best_validation_metrics(MULTI_LABEL_LOG),
        "validation_at_threshold": {"threshold": 0.35, "micro_f1": 0.5, "macro_f1": 0.47},
    }
    data_info = {"name": "feelings", "splits": {"train": 40, "validation": 5, "test": 5}, "file": "feelings.jsonl"}
    return {
        "model": model,
        "training_args": TrainingArguments(output_dir=str(folder / "run"), report_to=[]),
        "metrics": metrics,
        "data_info": {**data_info, "label_names": EMOTIONS},
        "plots": write_multi_label_plots(folder, MULTI_LABEL_LOG, model, test),
        "model_id": "someone/posenc-feelings",
    }


def test_a_multi_label_card_reports_micro_and_macro_f1_per_label_and_the_threshold(multi_label_inputs):
    card = render_model_card(CARD_TEMPLATE, **multi_label_inputs)
    metadata, body = front_matter_and_body(card)
    test = multi_label_inputs["metrics"]["test"]
    for expected in [
        "tags English text with any number of its 3 labels (anger, fear, joy)",
        f"Test micro-F1 {test['micro_f1']:.4f}, macro-F1 {test['macro_f1']:.4f} at the decision threshold 0.35",
        f"| micro-F1 | {test['micro_f1']:.4f} |",
        f"| macro-F1 | {test['macro_f1']:.4f} |",
        f"| exact match (all of a text's labels right) | {test['exact_match']:.4f} |",
        "On the held-out **test** split (5 examples)",
        "decision threshold **0.35**, chosen on the validation split",
        "(validation macro-F1 0.4700 at it)",
        "`multi_label_threshold`",
        "(epoch 2) at threshold 0.5: micro-F1 0.5200, macro-F1 0.4400, loss 0.5500",
        "print(classifier('A short text to classify.', top_k=None, truncation=True))",
        "applies a sigmoid to each label",
        "![Test F1 per label](plots/per_class_f1.png)",
    ]:
        assert expected in body, expected
    assert_per_class_rows(body, test["per_class"])
    assert "accuracy" not in body.split("## Evaluation")[1].split("## Limitations")[0]
    assert "always answers with one of" not in body
    assert "multi-label-classification" in metadata["tags"] and metadata["metrics"] == ["f1"]
    assert read_card_metrics(card) == {"micro_f1": test["micro_f1"], "macro_f1": test["macro_f1"]}
