"""The main job, one step per function: corpus → tokenizer → tokenized splits → model → Trainer →
test metrics → a Hub-ready folder (weights, config with auto_map, code, tokenizer, card, plots,
metrics).

`train/run.py` only parses arguments and calls `run_training`.
"""

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoTokenizer, DataCollatorWithPadding, EarlyStoppingCallback, set_seed

from .card import best_validation_metrics, write_model_card
from .configuration_posenc import PosEncConfig
from .data import label_counts, load_corpus, source_kind, source_name
from .folders import (
    atomic_folder,
    check_checkpoint_complete,
    check_checkpoint_matches,
    last_complete_checkpoint,
    read_checkpoint_config,
)
from .losses import class_weighted_loss
from .metrics import classification_report, trainer_compute_metrics
from .modeling_posenc import PosEncForSequenceClassification
from .plots import write_all_plots
from .pretrained import load_pretrained_classifier, pretrained_config
from .tokenization import train_tokenizer
from .trainer import GracefulStopCallback, PosEncTrainer

logger = logging.getLogger(__name__)

MODEL_FOLDER = "model"  # the Hub-ready folder, inside output_dir beside the checkpoints


@dataclass
class RunResult:
    folder: Path | None  # None when training stopped early
    test_metrics: dict | None
    seconds: float
    stopped: str | None = None  # why training stopped early: "SIGINT", "SIGTERM", "stop_after_step=N"


def load_data(data_args, seed):
    """The corpus as a DatasetDict with `text` and a ClassLabel `label`."""
    return load_corpus(
        data_args.corpus,
        data_dir=data_args.data_dir,
        text_column=data_args.text_column,
        label_column=data_args.label_column,
        label_names=data_args.class_names,
        validation_size=data_args.validation_size,
        test_size=data_args.test_size,
        max_samples=data_args.max_samples,
        seed=seed,
    )


def get_tokenizer(data_args, train_texts, checkpoint=None):
    """A given tokenizer, the one saved in the checkpoint we resume from, or a new one trained on
    the training split (never on validation or test)."""
    source = data_args.tokenizer_name_or_path or checkpoint
    if source:
        tokenizer = AutoTokenizer.from_pretrained(source)
        tokenizer.model_max_length = min(tokenizer.model_max_length, data_args.max_length)
        return tokenizer
    return train_tokenizer(train_texts, vocab_size=data_args.vocab_size, model_max_length=data_args.max_length)


def tokenize_splits(dataset, tokenizer):
    """Token ids per text, truncated to the tokenizer's model_max_length; padding is the collator's job."""

    def encode(batch):
        return tokenizer(batch["text"], truncation=True)

    return dataset.map(encode, batched=True, remove_columns=["text"], desc="Tokenizing")


def build_config(model_args, tokenizer, label_names):
    if model_args.model_name_or_path:  # the pretrained folder's architecture, this run's labels and dropout
        return pretrained_config(model_args, tokenizer, label_names)
    max_positions = model_args.max_position_embeddings or tokenizer.model_max_length
    if max_positions < tokenizer.model_max_length:
        raise ValueError(
            f"max_position_embeddings={max_positions} is smaller than the tokenizer's model_max_length="
            f"{tokenizer.model_max_length}: inputs of that length would not fit. Raise max_position_embeddings "
            f"or lower max_length."
        )
    return PosEncConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=model_args.hidden_size,
        num_attention_heads=model_args.num_attention_heads,
        num_hidden_layers=model_args.num_hidden_layers,
        intermediate_size=model_args.intermediate_size or 4 * model_args.hidden_size,
        max_position_embeddings=max_positions,
        position_embedding_type=model_args.position_embedding_type,
        layer_norm_position=model_args.layer_norm_position,
        pooling=model_args.pooling,
        hidden_dropout_prob=model_args.hidden_dropout_prob,
        attention_probs_dropout_prob=model_args.attention_probs_dropout_prob,
        classifier_dropout=model_args.classifier_dropout,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )


def build_model(model_args, config):
    if model_args.model_name_or_path:  # the encoder loads, the head is new; logs which is which
        return load_pretrained_classifier(model_args.model_name_or_path, config, model_args.attn_implementation)[0]
    return PosEncForSequenceClassification._from_config(config, attn_implementation=model_args.attn_implementation)


def build_trainer(model, run_args, tokenized, tokenizer, label_names, graceful_stop):
    callbacks = [graceful_stop]
    if run_args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=run_args.early_stopping_patience))
    return PosEncTrainer(
        model=model,
        args=run_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,  # saved into every checkpoint, beside the code files
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_compute_metrics(label_names),
        compute_loss_func=class_weighted_loss(run_args.class_weight, tokenized["train"]["label"], len(label_names)),
        callbacks=callbacks,
    )


def resolve_checkpoint(run_args):
    """The checkpoint to resume from: the one named, the last complete one in output_dir ("last", or
    automatically when output_dir already holds checkpoints of this run), or None. A checkpoint that
    a kill left half-written is skipped (or, when named, refused)."""
    requested = run_args.resume_from_checkpoint
    last = last_complete_checkpoint(run_args.output_dir)
    if requested in (None, "", "auto"):
        if last:
            logger.warning("Found checkpoint %s in %s: resuming from it", last, run_args.output_dir)
        return last
    if requested in ("last", "true", "True"):
        if last is None:
            raise ValueError(f"--resume_from_checkpoint {requested}: no checkpoint in {run_args.output_dir}")
        return last
    if not Path(requested).is_dir():
        raise ValueError(f"--resume_from_checkpoint {requested}: no such checkpoint folder")
    check_checkpoint_complete(requested)
    return requested


def best_metric_name(run_args):
    """The validation metric that picks the best checkpoint, without Trainer's `eval_` prefix."""
    return (run_args.metric_for_best_model or "macro_f1").removeprefix("eval_")


def last_logged(log_history, key):
    """The last value of `key` in Trainer's log history (survives resuming, unlike train_loss)."""
    return next((entry[key] for entry in reversed(log_history) if key in entry), None)


def data_summary(data_args, dataset):
    """The card's `data_info`: the data named by what it is (`reviews` for ../work/reviews.csv, a Hub
    dataset by its id), its splits and its labels."""
    label_names = dataset["train"].features["label"].names
    source, kind = data_args.corpus, source_kind(data_args.corpus)
    return {
        "name": source_name(source),
        "hub_id": source if kind == "hub" else None,
        "file": Path(source).name if kind in ("file", "folder") else None,
        "splits": {split: len(rows) for split, rows in dataset.items()},
        "label_names": label_names,
        "label_counts": {split: label_counts(rows) for split, rows in dataset.items()},
    }


def write_model_folder(folder, trainer, tokenizer, report, data_info, card_template):
    """Everything a user loads, pushes or serves, written to a temporary sibling and moved into
    place, so an interrupted save never leaves a half-written folder."""
    model = trainer.model
    with atomic_folder(folder) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        plots = write_all_plots(
            staging, trainer.state.log_history, model, report["test"]["confusion_matrix"], data_info["label_names"]
        )
        (staging / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        write_model_card(
            staging,
            card_template,
            model=model,
            training_args=trainer.args,
            metrics=report,
            data_info=data_info,
            plots=plots,
        )
    return folder


def run_training(model_args, data_args, run_args, card_template):
    """Train, evaluate and write the model folder; returns where it is and the test metrics."""
    start = time.perf_counter()
    set_seed(run_args.seed)
    checkpoint = resolve_checkpoint(run_args)
    if checkpoint:
        read_checkpoint_config(checkpoint)  # another model's checkpoint fails here, before any work
    dataset = load_data(data_args, run_args.seed)
    label_names = dataset["train"].features["label"].names
    tokenizer = get_tokenizer(data_args, dataset["train"]["text"], checkpoint or model_args.model_name_or_path)
    config = build_config(model_args, tokenizer, label_names)
    if checkpoint:
        check_checkpoint_matches(checkpoint, config)
    tokenized = tokenize_splits(dataset, tokenizer)
    model = build_model(model_args, config)
    graceful_stop = GracefulStopCallback(run_args.stop_after_step)
    trainer = build_trainer(model, run_args, tokenized, tokenizer, label_names, graceful_stop)

    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if graceful_stop.stop_reason:
        return RunResult(None, None, time.perf_counter() - start, stopped=graceful_stop.stop_reason)
    predictions = trainer.predict(tokenized["test"], metric_key_prefix="test")
    report = {
        "test": classification_report(predictions.predictions, predictions.label_ids, label_names),
        "validation": best_validation_metrics(trainer.state.log_history, best_metric_name(run_args)),
        "final_train_loss": last_logged(trainer.state.log_history, "loss"),
        "train_runtime_seconds": train_output.metrics["train_runtime"],
        "epochs": trainer.state.epoch,
        "num_processes": run_args.world_size,
    }
    folder = Path(run_args.output_dir) / MODEL_FOLDER
    if trainer.is_world_process_zero():
        write_model_folder(folder, trainer, tokenizer, report, data_summary(data_args, dataset), card_template)
    return RunResult(folder=folder, test_metrics=report["test"], seconds=time.perf_counter() - start)


def format_summary(result, output_dir):
    """A few lines for the end of a run: where the model is and how it scored on the test split."""
    if result.stopped:
        return (
            f"\nStopped ({result.stopped}) after saving a checkpoint in {output_dir}. Run the same command to resume."
        )
    metrics = result.test_metrics
    lines = [
        "",
        f"Finished in {result.seconds:.1f} s.",
        f"Test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}",
        f"Model folder: {result.folder}",
        f"  pipeline('text-classification', model='{result.folder}')",
    ]
    return "\n".join(lines)
