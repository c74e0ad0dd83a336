"""The model card is filled from the real objects, carries Hub metadata, and round-trips its scores."""

import json
import re
import string

import helpers
import pytest
from helpers import CARD_TEMPLATE, assert_per_class_rows, front_matter_and_body
from huggingface_hub import ModelCard
from transformers import TrainingArguments

from posenc_hf import PosEncForMaskedLM
from posenc_hf.folder.card import (
    best_validation_metrics,
    read_card_metrics,
    render_model_card,
    write_masked_lm_card,
    write_model_card,
)
from posenc_hf.folder.metrics import classification_report
from posenc_hf.folder.plots import write_all_plots
from posenc_hf.model.positions_posenc import POSITION_EMBEDDINGS

LABELS = ["Biology", "Chemistry", "Maths", "Physics"]
LOG_HISTORY = [
    {"loss": 1.3, "epoch": 1.0},
    {"eval_loss": 1.1, "eval_accuracy": 0.55, "eval_macro_f1": 0.5, "epoch": 1.0},
    {"loss": 0.9, "epoch": 2.0},
    {"eval_loss": 0.8, "eval_accuracy": 0.75, "eval_macro_f1": 0.74, "epoch": 2.0},
    {"loss": 0.7, "epoch": 3.0},
    {"eval_loss": 0.85, "eval_accuracy": 0.7, "eval_macro_f1": 0.69, "epoch": 3.0},
]
DATA_INFO = {
    "name": "subject",
    "description": "Questions labelled with their school subject.",
    "splits": {"train": 576, "validation": 72, "test": 72},
    "label_names": LABELS,
    "label_counts": {"train": dict.fromkeys(LABELS, 144), "test": dict.fromkeys(LABELS, 18)},
    "datasheet": "posenc_hf/data/corpora/subject/DATASHEET.md",
    "example_text": "what is the derivative of sin x",
}


def tiny_model(position_embedding_type="learned"):
    return helpers.tiny_model(
        num_attention_heads=2, num_hidden_layers=1, num_labels=4, position_embedding_type=position_embedding_type
    ).train()


SMALL_DATA = {"name": "subject", "splits": {"train": 10, "test": 9}}  # only the keys a card needs


def small_card(model, test_report, folder, plots=None, data_info=SMALL_DATA):
    """The card of `model` from its test report alone: the required data keys, no validation, `plots` or none."""
    training_args = TrainingArguments(output_dir=str(folder), report_to=[])
    metrics = {"test": test_report}
    return render_model_card(CARD_TEMPLATE, model=model, training_args=training_args, metrics=metrics,
                             data_info=data_info, plots=plots or {})  # fmt: skip


@pytest.fixture(scope="module")
def test_report():
    return classification_report([0, 1, 2, 3, 0, 1, 2, 2, 3], [0, 1, 2, 3, 1, 1, 2, 3, 3], LABELS)


@pytest.fixture(scope="module")
def card_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("card")


@pytest.fixture(scope="module")
def card_inputs(card_folder, test_report):
    model = tiny_model()
    training_args = TrainingArguments(
        output_dir=str(card_folder / "run"),
        num_train_epochs=3,
        per_device_train_batch_size=16,
        learning_rate=3e-4,
        warmup_steps=0.1,
        weight_decay=0.01,
        seed=1234,
        report_to=[],
    )
    plots = write_all_plots(card_folder, LOG_HISTORY, model, test_report["confusion_matrix"], LABELS)
    metrics = {"test": test_report, "validation": best_validation_metrics(LOG_HISTORY)}
    return {
        "model": model,
        "training_args": training_args,
        "metrics": metrics,
        "data_info": DATA_INFO,
        "plots": plots,
        "model_id": "someone/posenc-subject",
    }


def test_card_reports_the_real_model_run_and_scores(card_inputs, test_report):
    card = render_model_card(CARD_TEMPLATE, **card_inputs)
    num_parameters = sum(p.numel() for p in card_inputs["model"].parameters())
    for expected in [
        "| hidden size | 16 |",
        f"| parameters | {num_parameters:,} |",
        "| learning rate | 0.0003 |",
        "| batch size per device | 16 |",
        "| seed | 1234 |",
        "| warmup | 10% of the training steps |",
        f"| accuracy | {test_report['accuracy']:.4f} |",
        f"| macro-F1 | {test_report['macro_f1']:.4f} |",
        "| `Maths` | 144 | 18 |",
        "**learned** position embeddings",
        "The position table has 12 positions.",
        "(epoch 2): accuracy 0.7500, macro-F1 0.7400",
        'model="someone/posenc-subject", trust_remote_code=True',
        "'what is the derivative of sin x'",
        "Apache-2.0",
    ]:
        assert expected in card, expected
    assert_per_class_rows(card, test_report["per_class"])


def test_card_embeds_every_plot_that_exists(card_inputs, card_folder):
    card = render_model_card(CARD_TEMPLATE, **card_inputs)
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card)
    assert sorted(embedded) == sorted(card_inputs["plots"].values())
    assert all((card_folder / path).is_file() for path in embedded)


def test_hub_metadata(card_inputs):
    metadata, _ = front_matter_and_body(render_model_card(CARD_TEMPLATE, **card_inputs))
    assert metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == "text-classification"
    assert metadata["license"] == "apache-2.0"
    assert metadata["language"] == "en"
    assert "learned-positional-encoding" in metadata["tags"]
    assert metadata["datasets"] == []
    assert metadata["metrics"] == ["accuracy", "f1"]
    [entry] = metadata["model-index"]
    assert entry["name"] == "posenc-subject"
    [result] = entry["results"]
    assert result["task"] == {"type": "text-classification", "name": "Text Classification"}
    assert result["dataset"] == {"name": "subject", "type": "subject", "split": "test"}


def test_huggingface_hub_reads_the_written_card_back(card_inputs, card_folder):
    """The Hub's own card class parses the folder's README.md: its metadata and one test score per metric."""
    card = ModelCard.load(write_model_card(card_folder, CARD_TEMPLATE, **card_inputs))
    assert (card.data.pipeline_tag, card.data.model_name) == ("text-classification", "posenc-subject")
    test = card_inputs["metrics"]["test"]
    scores = {(r.metric_type, r.dataset_split): r.metric_value for r in card.data.eval_results}
    assert scores == {("accuracy", "test"): test["accuracy"], ("f1", "test"): test["macro_f1"]}
    assert card.text.lstrip().startswith("#")  # the template follows the metadata


def test_the_masked_lm_card_is_a_fill_mask_card_of_its_encoder(tmp_path):
    model = helpers.tiny_model(PosEncForMaskedLM, num_hidden_layers=3, hidden_size=16)
    report = {
        "texts": {"train": 40, "validation": 8},
        "pretrain_splits": ["train", "unlabelled"],
        "validation": {"mlm_loss": 2.5, "perplexity": 12.18},
    }
    card = ModelCard.load(write_masked_lm_card(tmp_path, model, report, "subject"))
    assert card.data.pipeline_tag == "fill-mask" and "masked-lm" in card.data.tags
    assert "A 3-layer PosEnc encoder (hidden size 16, learned positions)" in card.text
    assert "40 texts of the train, unlabelled split(s)" in card.text and "perplexity 12.2" in card.text


def test_card_metrics_round_trip_the_metrics_json(card_inputs, card_folder):
    metrics_json = card_folder / "metrics.json"
    metrics_json.write_text(json.dumps(card_inputs["metrics"]))
    card = write_model_card(card_folder, CARD_TEMPLATE, **card_inputs).read_text(encoding="utf-8")
    test = json.loads(metrics_json.read_text())["test"]
    assert read_card_metrics(card) == {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"]}


def test_minimal_data_info_no_position_table_no_validation(test_report, tmp_path):
    """Only the required keys, a "none" model and no plots: the card still renders, without gaps."""
    card = small_card(
        tiny_model("none"),
        test_report,
        tmp_path,
        data_info={"name": "my-csv", "splits": {"train": 10, "test": 9}, "hub_id": "someone/my-csv"},
    )
    metadata, body = front_matter_and_body(card)
    assert metadata["datasets"] == ["someone/my-csv"]
    assert "no-positional-encoding" in metadata["tags"]
    assert metadata["model-index"][0]["name"] == "posenc-my-csv-none"
    assert "LABEL_0" in body  # label names fall back to the config's id2label
    assert "No citation was recorded" in body
    assert "Best **validation**" not in body and "![" not in body


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
def test_the_card_states_what_the_position_encoding_says_of_itself(kind, test_report, tmp_path):
    model, facts = tiny_model(kind), POSITION_EMBEDDINGS[kind]
    card = small_card(model, test_report, tmp_path)
    metadata, body = front_matter_and_body(card)
    positions, hidden = model.config.max_position_embeddings, model.config.hidden_size
    assert facts.tag in metadata["tags"]
    explanation = facts.card_explanation.format(
        config=model.config, positions=positions, hidden=hidden, count=positions * hidden
    )
    assert explanation in body


@pytest.mark.parametrize("name, expected", [("mmlu", "Measuring Massive Multitask"), ("goemotions", "GoEmotions")])
def test_known_corpora_are_cited(card_inputs, name, expected):
    card = render_model_card(CARD_TEMPLATE, **{**card_inputs, "data_info": {**DATA_INFO, "name": name}})
    assert expected in card


def test_an_unknown_placeholder_fails_loudly(card_inputs, tmp_path):
    template = tmp_path / "template.md"
    template.write_text("# $title\n\n$not_a_field\n")
    with pytest.raises(KeyError, match="not_a_field"):
        render_model_card(template, **card_inputs)


def test_best_validation_metrics_picks_the_best_macro_f1():
    assert best_validation_metrics(LOG_HISTORY) == {"loss": 0.8, "accuracy": 0.75, "macro_f1": 0.74, "epoch": 2.0}
    assert best_validation_metrics([{"loss": 1.0, "epoch": 1.0}]) == {}


def test_template_is_a_string_template_with_placeholders():
    """Filling it cannot leave one: `substitute` raises for any it is not given (the test below)."""
    template = string.Template(CARD_TEMPLATE.read_text())
    assert template.is_valid() and {"title", "position_explanation", "test_scores_table"} <= set(
        template.get_identifiers()
    )


def run_data_info(corpus, tmp_path):
    """`data_info` as a training run on `corpus` builds it (`posenc_hf.training.runner.data_summary`)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    from posenc_hf.training.runner import data_summary

    features = Features({"text": Value("string"), "label": ClassLabel(names=LABELS)})
    split = Dataset.from_dict({"text": ["cell", "atom", "sum", "force"], "label": [0, 1, 2, 3]}, features=features)
    return data_summary(corpus, DatasetDict(train=split, validation=split, test=split))


@pytest.mark.parametrize(
    "corpus, name, dataset_type",
    [
        ("../work/reviews.csv", "reviews", "reviews"),  # a file: its stem, never the path
        ("someone/tweets", "tweets", "someone/tweets"),  # a Hub dataset: its id
        ("subject", "subject", "subject"),
    ],
)
def test_a_runs_card_names_its_data_by_what_it_is(card_inputs, tmp_path, corpus, name, dataset_type):
    inputs = {**card_inputs, "model_id": None, "data_info": run_data_info(corpus, tmp_path)}
    metadata, body = front_matter_and_body(render_model_card(CARD_TEMPLATE, **inputs))
    assert body.lstrip().startswith(f"# posenc-{name}-learned\n")
    assert metadata["model-index"][0]["results"][0]["dataset"] == {"name": name, "type": dataset_type, "split": "test"}
    assert ("Data licence: Apache-2.0" in body) == (corpus == "subject")  # a user's data gets no licence of ours


def test_a_users_file_named_like_a_built_in_corpus_gets_no_built_in_licence(card_inputs, tmp_path):
    inputs = {**card_inputs, "data_info": run_data_info("../work/subject.csv", tmp_path)}
    _, body = front_matter_and_body(render_model_card(CARD_TEMPLATE, **inputs))
    assert "Texts and labels read from `subject.csv`." in body
    assert "Written for this project" not in body and "Data licence" not in body


# --- what the card says of each position scheme -----------------------------------------------

POSITION_PLOTS = {  # the plots of what each scheme holds, as the card's positional-encoding section names them
    "learned": ["position_embeddings", "position_similarity"],
    "sinusoidal": ["position_embeddings", "position_similarity"],
    "none": [],
    "rotary": ["rotary_angles"],
    **dict.fromkeys(["alibi", "t5", "fire", "kerple"], ["position_bias"]),
}


def scheme_card(kind, test_report, folder, **overrides):
    """(model, card body, plots) of a tiny `kind` model whose plots were written into `folder`."""
    model = helpers.tiny_model(num_attention_heads=2, num_labels=4, position_embedding_type=kind, **overrides)
    plots = write_all_plots(folder, LOG_HISTORY, model, test_report["confusion_matrix"], LABELS)
    card = small_card(model, test_report, folder, plots)
    return model, front_matter_and_body(card)[1], plots


def positions_section(body):
    return body.split("## Positional encoding", 1)[1].split("## Training data", 1)[0]


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
def test_the_card_embeds_and_links_the_plots_of_what_its_scheme_holds(kind, test_report, tmp_path):
    _, body, plots = scheme_card(kind, test_report, tmp_path)
    expected = [f"plots/{name}.png" for name in POSITION_PLOTS[kind]]
    embedded = re.findall(r"!\[[^\]]*\]\((plots/[^)]+)\)", body.split("### Plots", 1)[1])
    assert [path for path in embedded if "position" in path or "rotary" in path] == expected
    assert all((tmp_path / path).is_file() for path in embedded)
    linked = re.findall(r"\]\((plots/[^)]+)\)", positions_section(body))
    assert linked == expected
    assert ("Nothing about positions is plotted" in body) == (kind == "none")
    assert ("nothing learned, so what the rotation does" in body) == (kind == "rotary")


def test_a_card_without_plots_names_none(test_report, tmp_path):
    """The card written before its plots (training.add_reports writes it again with them) links nothing."""
    card = small_card(tiny_model("alibi"), test_report, tmp_path)
    assert "plots/" not in card and "Plotted" not in card


@pytest.mark.parametrize(
    "kind, overrides, says",
    [
        ("learned", {}, "The position table has 12 positions. Longer input raises a `ValueError`"),
        ("rotary", {}, "No table caps the input length: input of more than 12 tokens"),
        ("none", {}, "No table caps the input length"),
        ("alibi", {"randomize_positions": True}, "reads a text at positions 0, 1, …, n − 1"),
        (
            "alibi",
            {"randomize_positions": True, "randomized_eval_positions": "sampled"},
            "drawn from [0, 12), so longer input raises a `ValueError`",
        ),
    ],
)
def test_what_the_card_says_of_longer_input_is_what_the_model_does(kind, overrides, says, test_report, tmp_path):
    model, body, _ = scheme_card(kind, test_report, tmp_path, **overrides)
    section = positions_section(body)
    assert says in section
    assert ("Trained with randomized positions" in section) == bool(overrides)
    longer = helpers.batch(length=13)  # one token past max_position_embeddings
    if "raises a `ValueError`" in says:
        with pytest.raises(ValueError):
            model(longer)
    else:
        assert model(longer).logits.shape == (2, 4)
