"""The task objects `training.run_training` runs (the runs themselves: tests/training/test_training.py)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value
from helpers import tiny_model
from transformers import DataCollatorForLanguageModeling, DataCollatorWithPadding

from posenc_hf import PosEncForMaskedLM
from posenc_hf.data.tokenization import train_tokenizer
from posenc_hf.training.arguments import ModelArguments
from posenc_hf.training.plan import plan_model
from posenc_hf.training.prepare import build_config
from posenc_hf.training.tasks import Classification, MaskedLM, MultiLabelClassification

TEXTS = ["the cell divides in two", "acids give protons to bases", "solve for x in two steps", "light bends in glass"]


def test_collator_masks_text_tokens_never_special_ones():
    """MaskedLM tokenizes with the special-tokens mask, so BERT's collator never masks [CLS] or [SEP]."""
    tokenizer = train_tokenizer(TEXTS * 3, vocab_size=60, model_max_length=16)
    tokenized = MaskedLM().tokenize(DatasetDict({"train": Dataset.from_dict({"text": TEXTS})}), tokenizer)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.5, seed=0)
    batch = collator(list(tokenized["train"]))
    model = tiny_model(PosEncForMaskedLM, vocab_size=len(tokenizer), max_position_embeddings=16)
    loss = model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert torch.isfinite(loss)
    special = torch.isin(batch["labels"], torch.tensor(tokenizer.all_special_ids))
    assert (batch["labels"] != -100).any() and not special.any()


# --- multi-label ------------------------------------------------------------------------------

MULTI_LABELS = ["anger", "fear", "joy"]
MULTI_LABEL_FEATURES = Features({"text": Value("string"), "label": List(ClassLabel(names=MULTI_LABELS))})


def multi_label_splits(labels=((0, 2), (), (1,), (0, 1, 2))):
    split = Dataset.from_dict(
        {"text": TEXTS[: len(labels)], "label": [list(ids) for ids in labels]}, MULTI_LABEL_FEATURES
    )
    return DatasetDict({"train": split, "validation": split, "test": split})


def test_lists_of_labels_choose_the_multi_label_task_and_one_label_keeps_the_task():
    assert isinstance(Classification().for_data(multi_label_splits()), MultiLabelClassification)
    single = Dataset.from_dict(
        {"text": TEXTS, "label": [0, 1, 2, 0]},
        Features({"text": Value("string"), "label": ClassLabel(names=MULTI_LABELS)}),
    )
    task = Classification()
    assert task.for_data(DatasetDict({"train": single})) is task


def test_multi_label_rows_collate_as_multi_hot_floats_for_a_bce_loss():
    splits = multi_label_splits()
    tokenizer = train_tokenizer(TEXTS * 3, vocab_size=60, model_max_length=16)
    task = MultiLabelClassification()
    tokenized = task.tokenize(splits, tokenizer)
    batch = DataCollatorWithPadding(tokenizer)(list(tokenized["train"]))
    assert batch["labels"].dtype == torch.float32
    assert batch["labels"].tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1]]
    model_args = ModelArguments(hidden_size=16, num_attention_heads=2, num_hidden_layers=1, intermediate_size=32)
    config = build_config(plan_model(model_args), tokenizer, task.label_names(splits), multi_label=True)
    model = task.build_model(model_args, config).eval()
    assert model.config.problem_type == "multi_label_classification"
    with torch.no_grad():
        output = model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    assert output.loss.item() == pytest.approx(
        F.binary_cross_entropy_with_logits(output.logits, batch["labels"]).item()
    )


class FixedLogitsTrainer:
    """What `MultiLabelClassification.report` reads of a `Trainer`, with fixed logits per split."""

    def __init__(self, logits_by_split, splits):
        self.logits_by_split, self.splits = logits_by_split, splits
        self.model = tiny_model(num_labels=2)
        self.state = SimpleNamespace(log_history=[{"eval_macro_f1": 0.5, "epoch": 1.0}, {"loss": 0.4, "epoch": 1.0}])

    def predict(self, dataset, metric_key_prefix):
        split = next(name for name, rows in self.splits.items() if rows is dataset)
        labels = np.asarray(dataset["label"], dtype=np.float32)
        return SimpleNamespace(predictions=self.logits_by_split[split], label_ids=labels)


def logits_of(probabilities):
    probabilities = np.asarray(probabilities, dtype=np.float32)
    return np.log(probabilities / (1 - probabilities))


def test_the_threshold_is_chosen_on_validation_then_applied_to_test_and_saved_in_the_config():
    """Validation separates its labels only at 0.30 (true 0.32, false 0.28); test only at 0.70 (true 0.72,
    false 0.68). A threshold chosen on test, or fixed at 0.5, would not be 0.30."""
    references = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    split = Dataset.from_dict({"label": references})
    splits = {"validation": split, "test": Dataset.from_dict({"label": references})}
    truth = np.asarray(references) == 1
    trainer = FixedLogitsTrainer(
        {"validation": logits_of(np.where(truth, 0.32, 0.28)), "test": logits_of(np.where(truth, 0.72, 0.68))}, splits
    )
    run_args = SimpleNamespace(metric_for_best_model="macro_f1")
    report = MultiLabelClassification().report(trainer, splits, run_args, None, ["x", "y"])
    assert report["test"]["threshold"] == report["validation_at_threshold"]["threshold"] == 0.3
    assert trainer.model.config.multi_label_threshold == 0.3
    assert report["validation_at_threshold"]["macro_f1"] == 1.0
    assert report["test"]["micro_recall"] == 1.0 and report["test"]["micro_precision"] == 0.5  # every label at 0.3


@pytest.mark.parametrize("field, value", [("class_weight", "balanced"), ("label_smoothing_factor", 0.1)])
def test_single_label_options_are_refused_for_multi_label_data(field, value):
    run_args = SimpleNamespace(class_weight=None, label_smoothing_factor=0.0, early_stopping_patience=None)
    setattr(run_args, field, value)
    with pytest.raises(ValueError, match=field):
        MultiLabelClassification().trainer_parts(run_args, None, None, None, MULTI_LABELS)


def test_validation_and_test_are_ordered_by_length_and_train_keeps_its_order():
    """Evaluation batches pad little; the rows (text ids and labels together) are the same ones."""
    tokenizer = train_tokenizer(TEXTS * 5, vocab_size=100, model_max_length=32)
    texts = ["a long text about cells and acids and light", "x", "two words", "light bends"]
    features = Features({"text": Value("string"), "label": ClassLabel(names=["a", "b"])})
    split = Dataset.from_dict({"text": texts, "label": [0, 1, 0, 1]}, features=features)
    tokenized = Classification().tokenize(DatasetDict(train=split, validation=split, test=split), tokenizer)
    expected = [tokenizer(text)["input_ids"] for text in texts]
    assert tokenized["train"]["input_ids"] == expected
    for name in ("validation", "test"):
        rows = tokenized[name]
        assert [len(ids) for ids in rows["input_ids"]] == sorted(len(ids) for ids in expected)
        pairs = zip(rows["input_ids"], rows["label"], strict=True)
        assert sorted(pairs) == sorted(zip(expected, [0, 1, 0, 1], strict=True))
