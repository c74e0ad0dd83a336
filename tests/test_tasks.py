"""The task objects `training.run_training` runs (the runs themselves: tests/test_training.py)."""

import torch
from datasets import Dataset, DatasetDict
from tiny import tiny_model
from transformers import DataCollatorForLanguageModeling

from posenc_hf import PosEncForMaskedLM
from posenc_hf.tasks import MaskedLM
from posenc_hf.tokenization import train_tokenizer

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
