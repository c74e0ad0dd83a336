"""Unlabelled text for masked-LM pretraining: the text of a corpus's chosen splits plus the other
text its files hold (every GoEmotions `train.tsv` comment, whatever its emotions; each MMLU training
question with its four options). Never a label, and never a text of a split left out: those texts
are removed even when a training file also holds them, so the classifier's model selection and its
test score are on text the encoder has not seen.
"""

import random

from .corpora import load_goemotions_files, shared_folder
from .sources import load_corpus
from .splits import SPLITS


def pretraining_texts(dataset, data_args, seed):
    """Unlabelled texts: the `pretrain_splits` of the corpus plus its files' other text, minus every
    text of the splits left out; in a fixed order, without repeats, at most `max_samples` (seeded)."""
    for split in data_args.pretrain_splits:
        if split not in SPLITS:
            raise ValueError(f"pretrain_splits holds {split!r}: use some of {SPLITS}")
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
    rows = load_goemotions_files([str(folder / name) for name in files], split="train")
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
