"""Masked-language-model pretraining (BERT's recipe) on a corpus's unlabelled text, one step per
function like `posenc_hf.training`: texts → tokenizer → tokenized splits → `PosEncForMaskedLM` →
Trainer with 15% masking → a folder that fine-tunes as a classifier.

    accelerate launch train/run.py configs/pretrain_goemotions.yaml                # task: mlm
    accelerate launch train/run.py configs/finetune_goemotions.yaml --model_name_or_path runs/pretrain_goemotions/model

Which text, by default: the text of the corpus's `train` split, plus the other text its training
files hold (every GoEmotions `train.tsv` comment, whatever its emotions; each MMLU training question
with its four options). Never a label, and never a text of the validation or test split: those
texts are removed even when a training file also holds them, so the classifier's model selection
and its test score are on text the encoder has not seen. `pretrain_splits` can add the evaluation
splits' text (transductive pretraining, which the package does not do by default); `pretrain_splits: []`
keeps only the files' other text (for GoEmotions, the comments of no class, which are in no split
of any seed, so that one masked LM serves every seed). A seeded 5% of the texts is held out to
report the masked-LM loss and pick the best checkpoint.
"""

import json
import logging
import math
import random
import time
from pathlib import Path

from datasets import Dataset, DatasetDict, Features, Value, load_dataset
from transformers import DataCollatorForLanguageModeling, set_seed

from .corpora import shared_folder
from .data import SPLITS, load_corpus, source_name
from .folders import atomic_folder, check_checkpoint_matches, read_checkpoint_config
from .modeling_posenc import PosEncForMaskedLM
from .trainer import GracefulStopCallback, PosEncTrainer
from .training import MODEL_FOLDER, RunResult, build_config, get_tokenizer, load_data, resolve_checkpoint

logger = logging.getLogger(__name__)

VALIDATION_SHARE = 0.05  # of the pretraining texts, held out for the masked-LM loss
NO_LABELS = ["LABEL_0", "LABEL_1"]  # a masked LM has no classes; transformers' default names


# --- which text -------------------------------------------------------------------------------


def pretraining_texts(data_args, seed):
    """Unlabelled texts: the `pretrain_splits` of the corpus plus its files' other text, minus every
    text of the splits left out; in a fixed order, without repeats, at most `max_samples` (seeded)."""
    for split in data_args.pretrain_splits:
        if split not in SPLITS:
            raise ValueError(f"pretrain_splits holds {split!r}: use some of {SPLITS}")
    dataset = load_data(data_args, seed)
    texts = [text for split in data_args.pretrain_splits for text in dataset[split]["text"]]
    reader = OTHER_TEXT.get(data_args.corpus)
    if reader is not None:
        texts += reader(data_args, seed)
    left_out = {text for split in SPLITS if split not in data_args.pretrain_splits for text in dataset[split]["text"]}
    texts = [text for text in dict.fromkeys(texts) if text not in left_out]
    if data_args.max_samples is not None and len(texts) > data_args.max_samples:
        keep = sorted(random.Random(seed).sample(range(len(texts)), data_args.max_samples))
        texts = [texts[i] for i in keep]
    return texts


def goemotions_texts(data_args, seed):
    """Every comment of `train.tsv`, also those whose emotions map to no class (`dev.tsv` is the test
    split: its comments only when `pretrain_splits` names test). Parsed as `read_goemotions` parses."""
    folder = shared_folder("goemotions", data_args.data_dir)
    files = ["train.tsv", *(["dev.tsv"] if "test" in data_args.pretrain_splits else [])]
    columns = ["text", "label_ids", "comment_id"]
    rows = load_dataset(
        "csv",
        data_files=[str(folder / name) for name in files],
        split="train",
        delimiter="\t",
        header=None,
        column_names=columns,
        features=Features({column: Value("string") for column in columns}),
        keep_default_na=False,
    )
    return [text for text in rows["text"] if text.strip()]


def mmlu_texts(data_args, seed):
    """Each question of the pretraining splits followed by its four options (the same split as the
    classifier's: same rows, same seed)."""
    with_options = load_corpus(
        "mmlu",
        data_dir=data_args.data_dir,
        validation_size=data_args.validation_size,
        test_size=data_args.test_size,
        max_samples=data_args.max_samples,
        seed=seed,
        mmlu_with_options=True,
    )
    return [text for split in data_args.pretrain_splits for text in with_options[split]["text"]]


OTHER_TEXT = {"goemotions": goemotions_texts, "mmlu": mmlu_texts}  # corpus -> more text of its files


def split_texts(texts, seed):
    """`train` and a seeded `validation` share of the texts, as a DatasetDict with a `text` column."""
    if len(texts) < 2:
        raise ValueError(f"pretraining needs at least 2 texts, got {len(texts)}")
    parts = Dataset.from_dict({"text": texts}).train_test_split(test_size=VALIDATION_SHARE, seed=seed)
    return DatasetDict({"train": parts["train"], "validation": parts["test"]})


# --- model and Trainer ------------------------------------------------------------------------


def mlm_arguments(run_args):
    """Select checkpoints by validation masked-LM loss and keep no logits (vocabulary-wide) in evaluation."""
    run_args.metric_for_best_model = "loss"
    run_args.greater_is_better = False
    run_args.prediction_loss_only = True
    return run_args


def build_mlm_model(model_args, config):
    """A new masked LM, or one to continue pretraining; the head runs only on masked tokens."""
    if model_args.model_name_or_path:
        model = PosEncForMaskedLM.from_pretrained(
            model_args.model_name_or_path, attn_implementation=model_args.attn_implementation
        )
    else:
        model = PosEncForMaskedLM._from_config(config, attn_implementation=model_args.attn_implementation)
    model.sparse_prediction = True
    return model


def build_mlm_trainer(model, run_args, tokenized, tokenizer, mlm_probability, graceful_stop):
    return PosEncTrainer(
        model=model,
        args=run_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability),
        callbacks=[graceful_stop],
    )


def tokenize_texts(splits, tokenizer):
    """Token ids plus the special-token mask, so that the collator never masks [CLS] or [SEP]."""

    def encode(batch):
        return tokenizer(batch["text"], truncation=True, return_special_tokens_mask=True)

    return splits.map(encode, batched=True, remove_columns=["text"], desc="Tokenizing")


# --- the run ----------------------------------------------------------------------------------


def run_pretraining(model_args, data_args, run_args, card_template=None):
    """Pretrain, evaluate the masked-LM loss and write the model folder (weights, code, tokenizer)."""
    start = time.perf_counter()
    set_seed(run_args.seed)
    run_args = mlm_arguments(run_args)
    checkpoint = resolve_checkpoint(run_args)
    if checkpoint:
        read_checkpoint_config(checkpoint)
    texts = split_texts(pretraining_texts(data_args, run_args.seed), run_args.seed)
    tokenizer = get_tokenizer(data_args, texts["train"]["text"], checkpoint or model_args.model_name_or_path)
    config = build_config(model_args, tokenizer, NO_LABELS) if not model_args.model_name_or_path else None
    if checkpoint and config is not None:
        check_checkpoint_matches(checkpoint, config)
    tokenized = tokenize_texts(texts, tokenizer)
    model = build_mlm_model(model_args, config)
    graceful_stop = GracefulStopCallback(run_args.stop_after_step)
    trainer = build_mlm_trainer(model, run_args, tokenized, tokenizer, data_args.mlm_probability, graceful_stop)

    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if graceful_stop.stop_reason:
        return RunResult(None, None, time.perf_counter() - start, stopped=graceful_stop.stop_reason)
    loss = trainer.evaluate()["eval_loss"]
    report = {
        "validation": {"mlm_loss": loss, "perplexity": math.exp(loss)},
        "texts": {split: len(rows) for split, rows in texts.items()},
        "pretrain_splits": list(data_args.pretrain_splits),
        "corpus": data_args.corpus,
        "train_runtime_seconds": train_output.metrics["train_runtime"],
        "epochs": trainer.state.epoch,
    }
    folder = Path(run_args.output_dir) / MODEL_FOLDER
    if trainer.is_world_process_zero():
        write_pretrained_folder(folder, trainer.model, tokenizer, report)
    return RunResult(folder=folder, test_metrics=report["validation"], seconds=time.perf_counter() - start)


def write_pretrained_folder(folder, model, tokenizer, report):
    """Weights, config with auto_map, code, tokenizer, metrics and a short card, written atomically."""
    with atomic_folder(folder) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        (staging / "README.md").write_text(pretrained_card(model.config, report))
    return folder


def pretrained_card(config, report):
    """A short model card: what the encoder is, what text it read, how to fine-tune it."""
    validation = report["validation"]
    return f"""---
library_name: transformers
pipeline_tag: fill-mask
tags: [posenc, masked-lm]
---
# PosEnc masked LM pretrained on {source_name(report["corpus"])}

A {config.num_hidden_layers}-layer PosEnc encoder (hidden size {config.hidden_size}, {config.position_embedding_type}
positions) pretrained with BERT's masked-LM objective on {report["texts"]["train"]} texts of the
{", ".join(report["pretrain_splits"])} split(s) of `{source_name(report["corpus"])}` (no labels). Validation masked-LM
loss {validation["mlm_loss"]:.4f} (perplexity {validation["perplexity"]:.1f}) on {report["texts"]["validation"]}
held-out texts.

```python
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification
mlm = AutoModelForMaskedLM.from_pretrained("this-folder", trust_remote_code=True)
classifier = AutoModelForSequenceClassification.from_pretrained("this-folder", num_labels=4, trust_remote_code=True)
```
"""


def format_pretraining_summary(result, output_dir):
    """A few lines for the end of a pretraining run."""
    if result.stopped:
        return (
            f"\nStopped ({result.stopped}) after saving a checkpoint in {output_dir}. Run the same command to resume."
        )
    metrics = result.test_metrics
    return "\n".join(
        [
            "",
            f"Finished in {result.seconds:.1f} s.",
            f"Validation masked-LM loss {metrics['mlm_loss']:.4f} (perplexity {metrics['perplexity']:.1f})",
            f"Model folder: {result.folder}",
            f"  fine-tune: train/run.py CONFIG.yaml --model_name_or_path {result.folder}",
        ]
    )
