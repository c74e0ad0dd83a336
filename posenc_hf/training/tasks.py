"""What differs between the two jobs `train/run.py` runs; `posenc_hf.training.runner` runs the rest.

A task turns the run's corpus into splits of text, the texts into model inputs, and supplies its
model, its collator and metrics, its report and the task-specific files of the model folder:

- `Classification` (`task: classification`, the default): the labelled splits, a
  `PosEncForSequenceClassification`, test metrics, plots and the model card.
- `MultiLabelClassification`: what `Classification` becomes for multi-label data (`for_data`; a label
  column of lists, or `problem_type: multi_label_classification`): one sigmoid per label, and a
  decision threshold chosen on validation, applied to test and saved in the config.
- `MaskedLM` (`task: mlm`): BERT's masked-LM pretraining on the corpus's unlabelled text
  (`posenc_hf.data.pretraining_texts` says which), a `PosEncForMaskedLM` whose folder fine-tunes as a
  classifier (`--model_name_or_path`), the validation masked-LM loss and a short card.
"""

import math

import numpy as np
import pyarrow.compute as pc
from datasets import Dataset, DatasetDict, List, Value
from transformers import DataCollatorForLanguageModeling, DataCollatorWithPadding, EarlyStoppingCallback

from ..data.labels import class_names, is_multi_label, label_array
from ..data.pretraining_texts import pretraining_texts
from ..data.tokenization import text_encoder
from ..folder.card import best_validation_metrics, write_masked_lm_card, write_model_card
from ..folder.card_training import kept_epoch
from ..folder.metrics import (
    choose_threshold,
    classification_report,
    multi_label_compute_metrics,
    multi_label_report,
    trainer_compute_metrics,
)
from ..folder.plots import write_all_plots, write_multi_label_plots
from ..model.configuration_posenc import MULTI_LABEL
from ..model.modeling_posenc import PosEncForMaskedLM, PosEncForSequenceClassification
from .losses import class_weighted_loss
from .pretrained import load_pretrained_classifier

NO_LABELS = ["LABEL_0", "LABEL_1"]  # a masked LM has no classes; transformers' default names
MLM_VALIDATION_SHARE = 0.05  # of the pretraining texts, held out for the masked-LM loss
# a run's problem_type -> what it asks of the data (`load_corpus`'s `multi_label`)
MULTI_LABEL_DATA = {None: None, "single_label_classification": False, MULTI_LABEL: True}
SINGLE_LABEL_ONLY = ("class_weight", "label_smoothing_factor")  # run fields that assume one label per text


def tokenize(splits, tokenizer, num_proc=None, **options):
    """Token ids, truncated to the tokenizer's model_max_length; padding is the collator's job.
    `options` go to the tokenizer (`posenc_hf.data.tokenization.text_encoder`); `num_proc` to `datasets`' `map`."""
    encode = text_encoder(tokenizer, **options)
    return splits.map(encode, batched=True, remove_columns=["text"], desc="Tokenizing", num_proc=num_proc)


def evaluation_by_length(tokenized):
    """`validation` and `test` ordered by token count (ties in file order): each evaluation batch is
    padded to its longest row, and scores do not depend on the order of the rows (GoEmotions at 434k
    rows: the test prediction took 36 s in file order). `train` keeps its order (Trainer shuffles it)."""
    return DatasetDict({split: rows if split == "train" else by_length(rows) for split, rows in tokenized.items()})


def by_length(rows):
    """`rows` ordered by the length of their `input_ids`, read from Arrow."""
    lengths = pc.list_value_length(rows.with_format("arrow")["input_ids"]).to_numpy()
    return rows.select(np.argsort(lengths, kind="stable"))


class Classification:
    """Text classification: train on `train`, select on `validation`, report on `test`."""

    name = "classification"
    summary_metrics = "test"

    def configure(self, run_args):
        return run_args

    def for_data(self, corpus):
        """The task for this corpus: multi-label data (lists of labels) is `MultiLabelClassification`'s."""
        return MultiLabelClassification() if is_multi_label(corpus["train"]) else self

    def splits(self, corpus, data_args, seed):
        return corpus

    def label_names(self, splits):
        return class_names(splits["train"])

    def tokenize(self, splits, tokenizer):
        """Token ids; validation and test ordered by length, so that their batches pad little."""
        return evaluation_by_length(tokenize(splits, tokenizer))

    def build_model(self, model_args, config):
        if model_args.model_name_or_path:  # the encoder loads, the head is new; logs which is which
            return load_pretrained_classifier(model_args.model_name_or_path, config, model_args.attn_implementation)[0]
        return PosEncForSequenceClassification._from_config(config, attn_implementation=model_args.attn_implementation)

    def trainer_parts(self, run_args, data_args, tokenized, tokenizer, label_names):
        train_labels = label_array(tokenized["train"]) if run_args.class_weight else None  # a stream has no array
        return {
            "data_collator": DataCollatorWithPadding(tokenizer),
            "compute_metrics": trainer_compute_metrics(label_names),
            "compute_loss_func": class_weighted_loss(run_args.class_weight, train_labels, len(label_names)),
            "callbacks": early_stopping(run_args),
        }

    def report(self, trainer, tokenized, run_args, data_args, label_names):
        predictions = trainer.predict(tokenized["test"], metric_key_prefix="test")
        metric = (run_args.metric_for_best_model or "macro_f1").removeprefix("eval_")
        return {
            "test": classification_report(predictions.predictions, predictions.label_ids, label_names),
            "validation": best_validation_metrics(trainer.state.log_history, metric),
            "final_train_loss": last_logged(trainer.state.log_history, "loss"),
        }

    def write_card(self, folder, trainer, report, data_info, card_template, plots):
        """The model card, from the run's real objects; `plots` ({name: file}) those it shows."""
        write_model_card(
            folder,
            card_template,
            model=trainer.model,
            training_args=trainer.args,
            metrics=report,
            data_info=data_info,
            plots=plots,
        )

    def write_plots(self, folder, trainer, report, data_info):
        """Loss, validation scores, the confusion matrix and the position table; {name: file}."""
        matrix, names = report["test"]["confusion_matrix"], data_info["label_names"]
        log_history, kept = trainer.state.log_history, kept_epoch(trainer.args, report)
        return write_all_plots(folder, log_history, trainer.model, matrix, names, kept)

    def summary_lines(self, metrics, folder):
        return [
            f"Test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}",
            f"Model folder: {folder}",
            f"  pipeline('text-classification', model='{folder}')",
        ]


class MultiLabelClassification(Classification):
    """Multi-label classification, as BERT does it: one sigmoid per label and a binary cross-entropy
    loss (`problem_type: multi_label_classification`), multi-hot float labels, the best checkpoint by
    validation `metric_for_best_model` (macro-F1 by default) at threshold 0.5. Then one decision
    threshold is chosen on the validation split (`posenc_hf.folder.metrics.choose_threshold`: the one of
    0.05, 0.10, ..., 0.95 with the best macro-F1), applied to the test split, and saved in the model's
    config as `multi_label_threshold` for `posenc-predict`."""

    name = MULTI_LABEL

    def tokenize(self, splits, tokenizer):
        """Token ids, and each row's labels as a multi-hot float row (BCE's targets; the collator stacks them)."""
        num_labels = len(self.label_names(splits))
        tokenized = super().tokenize(splits, tokenizer)
        return DatasetDict({split: multi_hot_labels(rows, num_labels) for split, rows in tokenized.items()})

    def trainer_parts(self, run_args, data_args, tokenized, tokenizer, label_names):
        set_fields = [name for name in SINGLE_LABEL_ONLY if getattr(run_args, name)]
        if set_fields:
            raise ValueError(
                f"{' and '.join(set_fields)} apply to single-label data; these labels are lists "
                f"(multi-label, trained with binary cross-entropy): unset {', '.join(set_fields)}"
            )
        return {
            "data_collator": DataCollatorWithPadding(tokenizer),
            "compute_metrics": multi_label_compute_metrics(label_names),
            "callbacks": early_stopping(run_args),
        }

    def report(self, trainer, tokenized, run_args, data_args, label_names):
        """Test scores at the threshold chosen on validation; the threshold also goes into the model's
        config (`multi_label_threshold`), so the saved folder carries it."""
        validation = trainer.predict(tokenized["validation"], metric_key_prefix="validation")
        threshold = choose_threshold(validation.predictions, validation.label_ids, label_names)
        trainer.model.config.multi_label_threshold = threshold
        test = trainer.predict(tokenized["test"], metric_key_prefix="test")
        at_threshold = multi_label_report(validation.predictions, validation.label_ids, label_names, threshold)
        metric = (run_args.metric_for_best_model or "macro_f1").removeprefix("eval_")
        return {
            "test": multi_label_report(test.predictions, test.label_ids, label_names, threshold),
            "validation": best_validation_metrics(trainer.state.log_history, metric),
            "validation_at_threshold": {name: at_threshold[name] for name in ("threshold", "micro_f1", "macro_f1")},
            "final_train_loss": last_logged(trainer.state.log_history, "loss"),
        }

    def write_plots(self, folder, trainer, report, data_info):
        """As `Classification`'s, with F1 per label instead of a confusion matrix."""
        log_history, kept = trainer.state.log_history, kept_epoch(trainer.args, report)
        return write_multi_label_plots(folder, log_history, trainer.model, report["test"], kept)

    def summary_lines(self, metrics, folder):
        return [
            f"Test micro-F1 {metrics['micro_f1']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
            f"(threshold {metrics['threshold']:g}, chosen on validation)",
            f"Model folder: {folder}",
            f"  pipeline('text-classification', model='{folder}', top_k=None)  # a score per label",
        ]


class MaskedLM:
    """Masked-LM pretraining: 15% of the tokens masked (BERT), best checkpoint by validation loss."""

    name = "mlm"
    summary_metrics = "validation"

    def configure(self, run_args):
        """Select checkpoints by validation masked-LM loss; keep no (vocabulary-wide) logits in evaluation."""
        run_args.metric_for_best_model = "loss"
        run_args.greater_is_better = False
        run_args.prediction_loss_only = True
        return run_args

    def splits(self, corpus, data_args, seed):
        """`train` and a seeded `validation` share of the unlabelled texts."""
        texts = pretraining_texts(corpus, data_args, seed)
        if len(texts) < 2:
            raise ValueError(f"pretraining needs at least 2 texts, got {len(texts)}")
        parts = Dataset.from_dict({"text": texts}).train_test_split(test_size=MLM_VALIDATION_SHARE, seed=seed)
        return DatasetDict({"train": parts["train"], "validation": parts["test"]})

    def for_data(self, corpus):
        return self

    def label_names(self, splits):
        return NO_LABELS

    def tokenize(self, splits, tokenizer):
        return tokenize(splits, tokenizer, return_special_tokens_mask=True)  # never mask [CLS] or [SEP]

    def build_model(self, model_args, config):
        """A new masked LM, or one to continue pretraining; the head runs only on masked tokens."""
        if model_args.model_name_or_path:
            model = PosEncForMaskedLM.from_pretrained(
                model_args.model_name_or_path, attn_implementation=model_args.attn_implementation
            )
        else:
            model = PosEncForMaskedLM._from_config(config, attn_implementation=model_args.attn_implementation)
        model.sparse_prediction = True
        return model

    def trainer_parts(self, run_args, data_args, tokenized, tokenizer, label_names):
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=data_args.mlm_probability)
        return {"data_collator": collator, "callbacks": []}

    def report(self, trainer, tokenized, run_args, data_args, label_names):
        loss = trainer.evaluate()["eval_loss"]
        return {
            "validation": {"mlm_loss": loss, "perplexity": math.exp(loss)},
            "texts": {split: len(rows) for split, rows in tokenized.items()},
            "pretrain_splits": list(data_args.pretrain_splits),
            "corpus": data_args.corpus,
        }

    def write_card(self, folder, trainer, report, data_info, card_template, plots):
        write_masked_lm_card(folder, trainer.model, report, data_info["name"])

    def write_plots(self, folder, trainer, report, data_info):
        return {}  # a masked LM's card has none

    def summary_lines(self, metrics, folder):
        return [
            f"Validation masked-LM loss {metrics['mlm_loss']:.4f} (perplexity {metrics['perplexity']:.1f})",
            f"Model folder: {folder}",
            f"  fine-tune: train/run.py CONFIG.yaml --model_name_or_path {folder}",
        ]


TASKS = {task.name: task for task in (Classification, MaskedLM)}  # what `task:` in a run's config names
RUN_TASKS = {**TASKS, MULTI_LABEL: MultiLabelClassification}  # also the one the data chooses (`for_data`)


def task_for(name):
    """The task object for `task:` in a run's config."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {name!r}")
    return TASKS[name]()


def multi_label_wanted(problem_type):
    """What a run's `problem_type` asks of the data (`load_corpus`'s `multi_label`): lists of labels
    (True), one label per text (False), or whichever the data holds (None)."""
    if problem_type not in MULTI_LABEL_DATA:
        trained = " or ".join(name for name in MULTI_LABEL_DATA if name)
        raise ValueError(
            f"problem_type {problem_type!r} is not one train/run.py trains: use {trained}, or leave it unset"
        )
    return MULTI_LABEL_DATA[problem_type]


def early_stopping(run_args):
    """`EarlyStoppingCallback` when `early_stopping_patience` is set, as a list of callbacks."""
    patience = run_args.early_stopping_patience
    return [EarlyStoppingCallback(early_stopping_patience=patience)] if patience else []


def multi_hot_labels(rows, num_labels):
    """`rows` with each `label` list of class ids replaced by a float row of 0 and 1, one per class."""

    def encode(labels):
        matrix = np.zeros((len(labels), num_labels), dtype=np.float32)
        for row, ids in enumerate(labels):
            matrix[row, ids] = 1.0
        return {"label": matrix}

    features = rows.features.copy()
    features["label"] = List(Value("float32"))
    return rows.map(encode, input_columns="label", batched=True, features=features, desc="Multi-hot labels")


def last_logged(log_history, key):
    """The last value of `key` in Trainer's log history (survives resuming, unlike train_loss)."""
    return next((entry[key] for entry in reversed(log_history) if key in entry), None)
