"""Write a model card (the `README.md` of a saved model folder) from the real objects of a training run.

Every number in the card is read from the model, its config, the `TrainingArguments`, the metrics and
the data description: nothing is typed by hand, so the card cannot drift from the run.

The template (`model_card.md` at the top of the repository; `posenc_hf/model_card.md` links to it and the
wheel ships it) is a `string.Template`: `$name` or
`${name}` is a placeholder, `$$` a literal dollar sign. `card_fields` fills every placeholder, and
`substitute` raises `KeyError` for any it does not, so no placeholder survives into a card. Values
with Markdown structure (tables, lists, images) are built here, the prose stays in the template, except
the sentences that differ by position scheme (what its plots show, what longer input does:
`card_positions.py`).
Hub metadata goes on top, written by `huggingface_hub`'s card classes: `ModelCardData` (YAML between `---`
lines) with the test scores as `EvalResult`s (its `model-index`), read back by `ModelCard`
(`read_card_metrics`). The positional-encoding section's sentences are `card_positions.py`'s.

`data_info` keys (only `name` and `splits` are required; the others render gracefully when absent):

- `name` (str): the corpus's short name, e.g. `"subject"`.
- `splits` (dict split -> int): examples per split, e.g. `{"train": 576, "validation": 72, "test": 72}`;
  `"streamed"` for a split read as a stream, which is not counted.
- `description` (str): a paragraph on what the texts and labels are.
- `hub_id` (str | None): the Hub dataset id; fills the YAML `datasets` list and the model-index.
- `file` (str | None): the name of the local file or folder the data was read from.
- `label_names` (list of str): class names in id order; default: the model config's `id2label`.
- `label_counts` (dict split -> dict label name -> int): examples per class per split.
- `datasheet` (str): a link or path to the data's datasheet.
- `license` (str): the data's licence; default: known for the corpora in `KNOWN_DATA`.
- `citation` (str, Markdown): how to cite the data; default: known for the corpora in `KNOWN_DATA`.
- `limitations` (list of str): data-specific limitations, one bullet each.
- `dropped_rows` (dict where -> {"rows": int, "columns": {column: int}}, or "streamed"): the rows
  `drop_rows_with_empty_cells` left out (`load_corpus`'s `dropped_rows`), said after the description.
- `example_text` (str): the text classified in the usage snippets.

`metrics` keys: `test` (required), the dict `posenc_hf.folder.metrics.classification_report` returns for the
test split; `validation` (optional), the best validation scores as `best_validation_metrics` returns;
`settings` (optional), every setting that shaped the weights (`posenc_hf.training.run_settings`), shown whole;
`max_length_clipped` (optional), how the run clipped its max_length (`training.clip_max_length`).
A multi-label model (`config.problem_type == "multi_label_classification"`) gets the same card with
multi-label wording: `test` is then `posenc_hf.folder.metrics.multi_label_report`'s (micro and macro scores
at the decision threshold), `validation_at_threshold` (optional) its validation scores at that
threshold, and the card says how to get a score per label and which threshold to apply.
"""

import json
import string
from datetime import date
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import __version__
from ..model.configuration_posenc import MULTI_LABEL
from ..model.positions_posenc import POSITION_EMBEDDINGS
from .card_data import data_fields, markdown_table
from .card_positions import position_fields
from .card_training import training_fields
from .checkpoints import atomic_file

CARD_TEMPLATE = Path(__file__).with_name("model_card.md")  # the repository's model_card.md, shipped in the wheel
MODEL_INDEX_METRICS = {  # ours -> (type, name), per problem type
    "single_label_classification": {"accuracy": ("accuracy", "accuracy"), "macro_f1": ("f1", "macro F1")},
    MULTI_LABEL: {"micro_f1": ("f1", "micro F1"), "macro_f1": ("f1", "macro F1")},
}
TEST_SCORES = {  # ours -> the card's name, per problem type
    "single_label_classification": {
        "accuracy": "accuracy",
        "macro_f1": "macro-F1",
        "macro_precision": "macro precision",
        "macro_recall": "macro recall",
        "weighted_f1": "weighted F1",
    },
    MULTI_LABEL: {
        "micro_f1": "micro-F1",
        "macro_f1": "macro-F1",
        "micro_precision": "micro precision",
        "micro_recall": "micro recall",
        "macro_precision": "macro precision",
        "macro_recall": "macro recall",
        "exact_match": "exact match (all of a text's labels right)",
    },
}
POOLING = {"mean": "mean over the non-padding tokens", "cls": "first token ([CLS])"}
NORM_PLACEMENT = {"post": "post-norm (BERT: after each residual sum)", "pre": "pre-norm (GPT-2: before each sub-layer)"}
PLOT_CAPTIONS = {
    "loss": "Training and validation loss",
    "validation_metrics": "Validation accuracy and macro-F1",
    "confusion_matrix": "Confusion matrix on the test split",
    "validation_f1": "Validation micro- and macro-F1 at threshold 0.5",
    "per_class_f1": "Test F1 per label",
    "position_embeddings": "Position embedding table",
    "position_similarity": "Cosine similarity between positions",
    "position_bias": "Attention bias per head against distance",
    "rotary_angles": "Rotary: cosine of each frequency pair's angle against distance",
}


def score(value):
    return f"{value:.4f}"


def best_validation_metrics(log_history, metric="macro_f1"):
    """The evaluation entry of `trainer.state.log_history` with the highest `eval_<metric>`, without `eval_`."""
    entries = [entry for entry in log_history if f"eval_{metric}" in entry]
    if not entries:
        return {}
    best = max(entries, key=lambda entry: entry[f"eval_{metric}"])
    return {
        key.removeprefix("eval_"): value for key, value in best.items() if key.startswith("eval_") or key == "epoch"
    }


def problem_type(model):
    """The model's problem type; a classifier that never computed a loss is single-label (BERT's inference)."""
    return model.config.problem_type or "single_label_classification"


def label_names_of(model, data_info):
    config_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return list(data_info.get("label_names") or config_names)


def model_name(model, data_info, model_id):
    """The last part of the Hub id, or a name made of the corpus and the position encoding."""
    if model_id:
        return model_id.rstrip("/").split("/")[-1]
    return f"posenc-{data_info['name']}-{model.config.position_embedding_type}"


def architecture_fields(model):
    config = model.config
    return {
        "hidden_size": config.hidden_size,
        "num_layers": config.num_hidden_layers,
        "num_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
        "num_parameters": f"{sum(p.numel() for p in model.parameters()):,}",
        "pooling": POOLING[config.pooling],
        "layer_norm_position": NORM_PLACEMENT[config.layer_norm_position],
        "attention_implementation": config._attn_implementation,
        "hidden_dropout": config.hidden_dropout_prob,
        "attention_dropout": config.attention_probs_dropout_prob,
    }


def settings_table(settings):
    """Every setting that shaped the weights (`metrics.json`'s `settings`), as a folded table; "" without."""
    if not settings:
        return ""
    rows = [[f"`{name}`", "`" + json.dumps(value).replace("|", "\\|") + "`"] for name, value in settings.items()]
    return (
        "<details><summary>Every setting that shaped these weights (<code>settings</code> in metrics.json)"
        "</summary>\n\n" + markdown_table(["setting", "value"], rows) + "\n\n</details>"
    )


def validation_summary(validation, multi_label=False):
    if not validation:
        return ""
    epoch = f" (epoch {validation['epoch']:g})" if "epoch" in validation else ""
    loss = f", loss {score(validation['loss'])}" if "loss" in validation else ""
    first = f"micro-F1 {score(validation['micro_f1'])}" if multi_label else f"accuracy {score(validation['accuracy'])}"
    scores = f"{first}, macro-F1 {score(validation['macro_f1'])}{loss}"
    return f"Best **validation** scores{epoch}{' at threshold 0.5' if multi_label else ''}: {scores}."


def plots_section(plots):
    if not plots:
        return ""
    images = [f"![{PLOT_CAPTIONS.get(name, name)}]({path})" for name, path in plots.items()]
    return "### Plots\n\n" + "\n\n".join(images)


def evaluation_fields(metrics, plots, problem):
    test = metrics["test"]
    per_class = [
        [f"`{name}`", score(c["precision"]), score(c["recall"]), score(c["f1"]), c["support"]]
        for name, c in test["per_class"].items()
    ]
    multi_label = problem == MULTI_LABEL
    return {
        "test_examples": test["examples"] if multi_label else sum(c["support"] for c in test["per_class"].values()),
        "test_scores_table": markdown_table(
            ["metric", "value"], [[name, score(test[key])] for key, name in TEST_SCORES[problem].items()]
        ),
        "threshold_note": threshold_note(metrics) if multi_label else "",
        "per_class_table": markdown_table(["label", "precision", "recall", "F1", "support"], per_class),
        "validation_summary": validation_summary(metrics.get("validation"), multi_label),
        "plots_section": plots_section(plots),
    }


def threshold_note(metrics):
    """How a multi-label model's scores became labels, and where its threshold comes from."""
    threshold, chosen = metrics["test"]["threshold"], metrics.get("validation_at_threshold")
    there = f" (validation macro-F1 {score(chosen['macro_f1'])} at it)" if chosen else ""
    return (
        f"A label is predicted when its sigmoid score reaches the decision threshold **{threshold:g}**, chosen on "
        f"the validation split as the one of 0.05, 0.10, ..., 0.95 with the best macro-F1{there}; the scores "
        f"above are at that threshold. It is saved in `config.json` as `multi_label_threshold`. Support counts "
        f"the texts that carry each label; a text may carry several."
    )


def task_fields(model, metrics, label_names):
    """The wording that differs between a single-label and a multi-label classifier."""
    test, num_labels = metrics["test"], len(label_names)
    if problem_type(model) != MULTI_LABEL:
        return {
            "what_it_does": f"sorts English text into {num_labels} classes",
            "headline_scores": f"Test accuracy {score(test['accuracy'])}, macro-F1 {score(test['macro_f1'])}.",
            "out_of_domain_answers": f"The model always answers with one of its {num_labels} classes, even for "
            "input that belongs to none of them.",
            "pipeline_options": "truncation=True",
            "scores_note": "",
        }
    threshold = test["threshold"]
    return {
        "what_it_does": f"tags English text with any number of its {num_labels} labels",
        "headline_scores": f"Test micro-F1 {score(test['micro_f1'])}, macro-F1 {score(test['macro_f1'])} "
        f"at the decision threshold {threshold:g}, chosen on validation.",
        "out_of_domain_answers": "Each label's score is independent of the others and was tuned on in-domain text: "
        "input that carries none of the labels may still score above the threshold.",
        "pipeline_options": "top_k=None, truncation=True",
        "scores_note": "`top_k=None` gives a score for every label: the model is multi-label (`problem_type` is "
        "`multi_label_classification` in its config), so the pipeline applies a sigmoid to each label, not a "
        f"softmax across them. The labels of a text are those scoring at least the threshold {threshold:g} "
        '(`model.config.multi_label_threshold`): `[s["label"] for s in scores if s["score"] >= '
        f'{threshold:g}]`. `posenc-predict FOLDER "text"` applies it for you.',
    }


def card_fields(model, training_args, metrics, data_info, plots, model_id):
    """Every placeholder of the template, from the real objects."""
    return {
        "title": model_name(model, data_info, model_id),
        "model_id": model_id or "path/to/this-model",
        "package_version": __version__,
        "year": date.today().year,
        **architecture_fields(model),
        **position_fields(model, metrics, plots),
        **data_fields(data_info, label_names_of(model, data_info)),
        **training_fields(training_args, metrics),
        "run_settings": settings_table(metrics.get("settings")),
        **evaluation_fields(metrics, plots, problem_type(model)),
        **task_fields(model, metrics, label_names_of(model, data_info)),
    }


def hub_metadata(model, metrics, data_info, model_id):
    """The Hub's metadata: what the model is, for search, and its test scores as `EvalResult`s (the
    card's `model-index`)."""
    problem, test = problem_type(model), metrics["test"]
    results = [
        EvalResult(
            task_type="text-classification",
            task_name="Text Classification",
            dataset_type=data_info.get("hub_id") or data_info["name"],
            dataset_name=data_info["name"],
            dataset_split="test",
            metric_type=metric_type,
            metric_name=name,
            metric_value=float(test[key]),
        )
        for key, (metric_type, name) in MODEL_INDEX_METRICS[problem].items()
    ]
    return ModelCardData(
        library_name="transformers",
        pipeline_tag="text-classification",
        license="apache-2.0",
        language="en",
        tags=[
            "posenc",
            "text-classification",
            *(["multi-label-classification"] if problem == MULTI_LABEL else []),
            POSITION_EMBEDDINGS[model.config.position_embedding_type].tag,
        ],
        datasets=[data_info["hub_id"]] if data_info.get("hub_id") else [],
        metrics=sorted({metric_type for metric_type, _ in MODEL_INDEX_METRICS[problem].values()}),
        model_name=model_name(model, data_info, model_id),
        eval_results=results,
    )


def render_card(template_text, fields, card_data):
    """A card as Markdown: the Hub metadata (`ModelCardData`) between `---` lines, then the template with
    every placeholder filled (`substitute` raises `KeyError` for one left unfilled)."""
    body = string.Template(template_text).substitute(fields)
    return f"---\n{card_data.to_yaml()}\n---\n\n{body}"


def render_model_card(template_path=None, *, model, training_args, metrics, data_info, plots, model_id=None):
    """The classifier's card, from the template at `template_path` (default: the package's `model_card.md`)."""
    return render_card(
        Path(template_path or CARD_TEMPLATE).read_text(encoding="utf-8"),
        card_fields(model, training_args, metrics, data_info, plots, model_id),
        hub_metadata(model, metrics, data_info, model_id),
    )


def write_model_card(folder, template_path=None, **card_inputs):
    """Render the classifier's card and write it to `folder/README.md`, where the Hub looks for it."""
    return write_card_file(folder, render_model_card(template_path, **card_inputs))


def write_card_file(folder, text):
    """`folder/README.md`, replaced whole (written beside it, flushed, renamed over it): a card written
    again to show its plots is never cut short."""
    path = Path(folder) / "README.md"
    with atomic_file(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return path


MASKED_LM_TEMPLATE = """# PosEnc masked LM pretrained on $data_name

A $num_layers-layer PosEnc encoder (hidden size $hidden_size, $position_embedding_type positions)
pretrained with BERT's masked-LM objective on $train_texts texts of the $pretrain_splits split(s) of
`$data_name` (no labels). Validation masked-LM loss $mlm_loss (perplexity $perplexity) on
$validation_texts held-out texts.

```python
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification
mlm = AutoModelForMaskedLM.from_pretrained("this-folder", trust_remote_code=True)
classifier = AutoModelForSequenceClassification.from_pretrained("this-folder", num_labels=4, trust_remote_code=True)
```
"""
MASKED_LM_METADATA = ModelCardData(library_name="transformers", pipeline_tag="fill-mask", tags=["posenc", "masked-lm"])


def write_masked_lm_card(folder, model, report, data_name):
    """The masked LM's card: what the encoder is, what text it read (`data_name`: the run's data, named as
    `data_summary` names it), how to fine-tune it."""
    config, validation = model.config, report["validation"]
    fields = {
        "data_name": data_name,
        "num_layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "position_embedding_type": config.position_embedding_type,
        "train_texts": report["texts"]["train"],
        "validation_texts": report["texts"]["validation"],
        "pretrain_splits": ", ".join(report["pretrain_splits"]),
        "mlm_loss": f"{validation['mlm_loss']:.4f}",
        "perplexity": f"{validation['perplexity']:.1f}",
    }
    return write_card_file(folder, render_card(MASKED_LM_TEMPLATE, fields, MASKED_LM_METADATA))


def read_card_metrics(card_text):
    """The test scores in the card's `model-index`, keyed as in the metrics JSON (`accuracy`, `macro_f1`;
    `micro_f1`, `macro_f1` for a multi-label model), read by `huggingface_hub.ModelCard`."""
    ours = {name: key for metrics in MODEL_INDEX_METRICS.values() for key, (_, name) in metrics.items()}
    return {ours[result.metric_name]: result.metric_value for result in ModelCard(card_text).data.eval_results}
