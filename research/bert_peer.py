"""The peer in the quality comparison: a same-size `BertForSequenceClassification` trained from
scratch by the package's own runner, with the same config file, tokenizer, data, epochs and
checkpoint selection on validation as PosEnc; only the model differs.

    python -m research.bert_peer configs/mmlu.yaml --output_dir runs/bert_mmlu [--field value ...]

Sizes (vocabulary, hidden size, heads, layers, feed-forward, position table) are those of the
`PosEncConfig` the run builds; the rest is `BertConfig`'s defaults (BERT's dropouts 0.1 and 0.1, a
pooler, learned absolute positions, one token type). The folder holds the weights, tokenizer and
`metrics.json` (no PosEnc card: the card describes PosEnc models).
"""

import sys

from transformers import BertConfig, BertForSequenceClassification

from posenc_hf.folder.cli import run_command
from posenc_hf.training.arguments import configure_threads
from posenc_hf.training.plan import read_plan
from posenc_hf.training.runner import format_summary, run_training
from posenc_hf.training.tasks import Classification

SIZE_FIELDS = (
    "vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
    "max_position_embeddings", "pad_token_id", "id2label", "label2id",
)  # fmt: skip


def bert_config(config):
    """A `BertConfig` of the PosEnc config's sizes and labels, with BERT's own defaults for the rest."""
    return BertConfig(**{name: getattr(config, name) for name in SIZE_FIELDS}, type_vocab_size=2)


class BertPeer(Classification):
    """Classification with `BertForSequenceClassification` in place of PosEnc."""

    def build_model(self, model_args, config):
        return BertForSequenceClassification(bert_config(config))

    def write_card(self, folder, trainer, report, data_info, card_template, plots):
        pass  # metrics.json is all the comparison reads

    def write_plots(self, folder, trainer, report, data_info):
        return {}


def main(argv=None):
    plan = read_plan(argv, task=BertPeer())
    if plan.model.pretrained:
        raise ValueError("research.bert_peer trains BERT from scratch: leave model_name_or_path unset")
    configure_threads(plan.run_args)
    result = run_training(plan)
    if plan.run_args.process_index == 0:
        print(format_summary(result, plan.run_args.output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(run_command("python -m research.bert_peer", main))
