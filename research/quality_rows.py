"""The rows and corpora of `python -m research.quality`: what runs, with which configs and fields, and
which comparison the target is set on. `research/quality.py` runs them; `research/quality_report.py` writes
the document."""

from dataclasses import dataclass

METRICS = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class Row:
    name: str  # folder name and JSON key
    label: str  # table text
    kind: str  # "baseline", "default" (configs/<corpus>.yaml), "bert" (its same-size BERT), "scratch", "pretrained"
    args: tuple = ()  # extra command-line fields of the row's run (for "pretrained": of fine-tuning)
    pretrain_args: tuple = ()  # for "pretrained": fields of the masked-LM run, which rows with the same ones share
    corpora: tuple = ()  # the corpora that run this row; () for all

    @property
    def mlm_folder(self):
        return "mlm_" + "_".join(value.lstrip("-") for value in self.pretrain_args[1::2])


@dataclass(frozen=True)
class Corpus:
    classify: str  # config of the classification runs (scratch and fine-tuning)
    pretrain: str | None = None  # config of the masked-LM runs; None: no pretrained rows
    scratch_args: tuple = ()  # fields only scratch runs change
    finetune_args: tuple = ()  # fields only fine-tuning from a pretrained folder changes
    shared_pretraining: bool = False  # one masked LM (seed 0) for every seed: its text is in no split of any seed
    default: str | None = None  # the config a user trains (configs/<corpus>.yaml): the "default" and "bert" rows
    args: tuple = ()  # fields every run of the corpus adds (the shift test's held-out files)
    only_rows: tuple = ()  # the rows this corpus runs; () for all that apply


TARGET_ROWS = ("tfidf_word", "tfidf_char", "default", "bert")  # the comparison the target is set on
CORPORA = {
    "mmlu": Corpus("configs/finetune_mmlu.yaml", "configs/pretrain_mmlu.yaml", default="configs/mmlu.yaml"),
    "mmlu_shift": Corpus(  # trained without the college files, scored on them
        "configs/finetune_mmlu.yaml",
        default="configs/mmlu.yaml",
        args=("--mmlu_heldout", "college"),
        only_rows=TARGET_ROWS,
    ),
    "goemotions": Corpus(
        "configs/finetune_goemotions.yaml",
        "configs/pretrain_goemotions.yaml",
        shared_pretraining=True,
        default="configs/goemotions.yaml",
    ),
    "subject": Corpus("configs/subject.yaml"),  # the built-in corpora, with the configs users train
    "sentiment": Corpus("configs/sentiment.yaml"),
}
TARGET_CORPORA = ("mmlu", "mmlu_shift", "goemotions")  # the corpora the target is set on
LEARNED, SINUSOIDAL = ("--position_embedding_type", "learned"), ("--position_embedding_type", "sinusoidal")
ROWS = (
    Row("tfidf_word", "TF-IDF + LR, word 1-2-grams", "baseline", ("--analyzer", "word")),
    Row("tfidf_char", "TF-IDF + LR, char 2-5-grams", "baseline", ("--analyzer", "char_wb")),
    Row("default", "PosEnc, the corpus's default config (`configs/<corpus>.yaml`)", "default"),
    Row("bert", "same-size `BertForSequenceClassification` from scratch, same config", "bert"),
    Row("scratch_learned", "PosEnc from scratch, learned positions", "scratch", LEARNED),
    Row("scratch_sinusoidal", "PosEnc from scratch, sinusoidal positions", "scratch", SINUSOIDAL),
    Row(
        "scratch_attention_dropout",
        "PosEnc from scratch, learned, attention dropout 0.1 (BERT's)",
        "scratch",
        LEARNED + ("--attention_probs_dropout_prob", "0.1"),
    ),  # fmt: skip
    Row("pretrained_learned", "PosEnc MLM-pretrained + fine-tuned, learned", "pretrained", (), LEARNED),
    Row("pretrained_sinusoidal", "PosEnc MLM-pretrained + fine-tuned, sinusoidal", "pretrained", (), SINUSOIDAL),
    Row(
        "pretrained_15_epochs_learned",
        "PosEnc MLM-pretrained 15 epochs (3× the config) + fine-tuned, learned",
        "pretrained",
        (),
        LEARNED + ("--num_train_epochs", "15"),
        corpora=("goemotions",),
    ),
    Row(
        "pretrained_15_epochs_sinusoidal",
        "PosEnc MLM-pretrained 15 epochs (3× the config) + fine-tuned, sinusoidal",
        "pretrained",
        (),
        SINUSOIDAL + ("--num_train_epochs", "15"),
        corpora=("goemotions",),
    ),
)
ROW_BY_NAME = {row.name: row for row in ROWS}
TARGET = "tfidf_word"  # the baseline the issue names; the char n-gram one is reported beside it
TUNING = {  # corpus -> Rows tried on validation (seed 0) while choosing the configs; see docs/quality.md
    "mmlu": (
        Row("try_v8000_lr3e-4", "from scratch, whole-word vocabulary, slower rate", "scratch",
            ("--vocab_size", "8000", "--learning_rate", "3e-4")),
        Row("try_v8000", "from scratch, whole-word vocabulary", "scratch", ("--vocab_size", "8000")),
        Row("try_v8000_dropout0.3", "from scratch, whole-word vocabulary, dropout 0.3", "scratch",
            ("--vocab_size", "8000", "--hidden_dropout_prob", "0.3")),
        Row("try_lr3e-4", "from scratch, slower rate", "scratch", ("--learning_rate", "3e-4")),
        Row("try_pretrained_lr3e-4", "pretrained, fine-tuned at the slower rate", "pretrained",
            ("--learning_rate", "3e-4"), LEARNED),
    ),
    "goemotions": (
        Row("try_balanced", "from scratch, class-balanced loss", "scratch", ("--class_weight", "balanced")),
        Row("try_lr1e-3", "from scratch, faster rate", "scratch", ("--learning_rate", "1e-3")),
        Row("try_pretrained_balanced", "pretrained, class-balanced loss", "pretrained",
            ("--class_weight", "balanced"), LEARNED),
        Row("try_pretrained_lr1e-4", "pretrained, fine-tuned at a slower rate", "pretrained",
            ("--learning_rate", "1e-4"), LEARNED),
    ),
}  # fmt: skip


def rows_of(corpus, rows):
    """The rows a corpus runs: those meant for it, the pretrained ones only where it has a pretraining config,
    the default and BERT ones only where it has a default config."""
    spec = CORPORA[corpus]
    return [
        row
        for row in rows
        if (row.kind != "pretrained" or spec.pretrain)
        and (row.kind not in ("default", "bert") or spec.default)
        and (not row.corpora or corpus in row.corpora)
        and (not spec.only_rows or row.name in spec.only_rows)
    ]
