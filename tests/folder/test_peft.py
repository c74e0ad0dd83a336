"""PEFT's LoRA on a saved folder (issue 20 item 6), as the README's "Like any transformers model" shows it:
adapters on the attention (`qkv`, `output`) and feed-forward (`up`, `down`) projections, a few Trainer
steps, the adapter saved and reloaded onto the folder, then merged into a plain PosEnc classifier that
saves and reloads like any model folder; every route gives the trained adapter's outputs."""

import pytest
import torch
from helpers import TINY_LABELS, tiny_texts
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from posenc_hf import PosEncForSequenceClassification

peft = pytest.importorskip("peft", reason="the PEFT route needs pip install peft (in the dev extra)")

# peft 0.21 reads transformers' deprecated `is_gradient_checkpointing` itself: its call, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")

# The README's LoraConfig: PosEnc's projection names (BERT's "query"/"value" match nothing here).
TARGET_MODULES = ["qkv", "output", "up", "down"]
TEXTS = tiny_texts(16)


def lora_model(folder):
    config = peft.LoraConfig(task_type="SEQ_CLS", target_modules=TARGET_MODULES, r=4, lora_alpha=8)
    return peft.get_peft_model(AutoModelForSequenceClassification.from_pretrained(folder), config)


def train_a_few_steps(model, tokenizer, output_dir):
    from datasets import Dataset

    rows = Dataset.from_dict({"text": TEXTS, "label": [i % len(TINY_LABELS) for i in range(len(TEXTS))]})
    rows = rows.map(lambda batch: tokenizer(batch["text"], truncation=True), batched=True, remove_columns="text")
    args = TrainingArguments(
        output_dir,
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=5e-2,  # large, so that four steps move the adapters well away from their zero start
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        dataloader_pin_memory=False,
    )
    Trainer(model=model, args=args, train_dataset=rows, processing_class=tokenizer).train()
    return model.eval()


def logits(model, tokenizer):
    batch = tokenizer(TEXTS[:5], padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


@pytest.fixture(scope="module")
def trained(tiny_folder, tmp_path_factory):
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    model = train_a_few_steps(lora_model(tiny_folder), tokenizer, tmp_path_factory.mktemp("lora_run"))
    adapter = tmp_path_factory.mktemp("lora") / "adapter"
    model.save_pretrained(adapter)
    return model, tokenizer, adapter


def test_lora_wraps_the_attention_and_feed_forward_projections_of_every_layer(tiny_folder):
    model = lora_model(tiny_folder)
    wrapped = {name.split(".")[-2] for name, _ in model.named_modules() if name.endswith(".lora_A")}
    layers = model.base_model.model.config.num_hidden_layers
    assert wrapped == set(TARGET_MODULES)
    assert sum(name.endswith(".lora_A") for name, _ in model.named_modules()) == len(TARGET_MODULES) * layers
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or "classifier" in name for name in trainable)  # the head is trained too


def test_training_moves_the_adapters_and_the_outputs(trained, tiny_folder):
    model, tokenizer, _ = trained
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # LoRA's B starts at zero
    base = PosEncForSequenceClassification.from_pretrained(tiny_folder).eval()
    assert not torch.allclose(logits(model, tokenizer), logits(base, tokenizer), atol=1e-3)


def test_saved_adapter_reloads_onto_the_folder_with_the_same_outputs(trained, tiny_folder):
    model, tokenizer, adapter = trained
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter.iterdir()}
    base = AutoModelForSequenceClassification.from_pretrained(tiny_folder)
    reloaded = peft.PeftModel.from_pretrained(base, adapter).eval()
    torch.testing.assert_close(logits(reloaded, tokenizer), logits(model, tokenizer), atol=1e-6, rtol=0)


def test_merged_model_equals_the_adapter_and_saves_as_a_plain_folder(trained, tiny_folder, tmp_path):
    model, tokenizer, adapter = trained
    reloaded = peft.PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(tiny_folder), adapter)
    unmerged = logits(reloaded.eval(), tokenizer)
    merged = reloaded.merge_and_unload().eval()
    assert type(merged) is PosEncForSequenceClassification
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    torch.testing.assert_close(logits(merged, tokenizer), unmerged, atol=1e-5, rtol=1e-4)
    merged.save_pretrained(tmp_path / "merged")
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged").eval()
    torch.testing.assert_close(logits(again, tokenizer), unmerged, atol=1e-5, rtol=1e-4)
