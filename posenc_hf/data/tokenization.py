"""Train a small BERT-style WordPiece tokenizer on a corpus, and encode a dataset's texts with it.

The result is a plain transformers fast tokenizer (`PreTrainedTokenizerFast`, which transformers v5
calls `TokenizersBackend`): `save_pretrained` writes `tokenizer.json` + `tokenizer_config.json`, and
`AutoTokenizer.from_pretrained(folder)` reloads it without `posenc_hf` installed.
"""

import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

import numpy as np
from datasets import Dataset
from datasets.arrow_dataset import Column
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]  # ids 0..4, in this order: [PAD] is 0
MAX_TEXTS = 100_000  # texts the tokenizer trains on by default: a seeded sample of larger corpora
BATCH_SIZE = 10_000  # texts per batch handed to the Rust trainer
NORMALIZE_BATCH = 1_000  # texts normalised at once (the normalizer holds 16 bytes per byte of text)


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 8000,
    model_max_length: int = 128,
    lowercase: bool = True,
    strip_accents: bool = True,
    min_frequency: int = 1,
    max_texts: int | None = MAX_TEXTS,
    seed: int = 0,
) -> PreTrainedTokenizerFast:
    """Train a WordPiece tokenizer on `texts` and wrap it for transformers.

    Training is deterministic: the same texts give the same vocabulary and ids. Encodings
    look like BERT's: `[CLS] a [SEP]` (pairs: `[CLS] a [SEP] b [SEP]`), padding on the right, and
    `truncation=True` cuts to `model_max_length` tokens. `model_input_names` leaves out
    `token_type_ids`, which the posenc models do not take. The trainer always keeps every character
    it saw, so the vocabulary can exceed a very small `vocab_size`; an unseen character is `[UNK]`.

    Memory does not grow with the corpus: it trains on at most `max_texts` texts (None: all), all of
    them in order when there are no more, else a random sample drawn with `seed`. `texts` can be a
    list, a dataset's column (`dataset["text"]`: only the sampled rows are read) or any iterable.
    Normalising and splitting into words happen in the Rust trainer.
    """
    _check_arguments(vocab_size, model_max_length)
    sample = _sample(texts, max_texts, seed)
    trainee = _bert_pipeline(models.WordPiece(unk_token=UNK), lowercase, strip_accents)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS + _continuation_pieces(trainee, sample),
        show_progress=False,
    )
    trainee.train_from_iterator(_batches(sample), trainer=trainer, length=len(sample))
    vocab = trainee.get_vocab(with_added_tokens=False)
    backend = _bert_pipeline(models.WordPiece(vocab, unk_token=UNK), lowercase, strip_accents)
    backend.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        cls_token=CLS,
        sep_token=SEP,
        mask_token=MASK,
        padding_side="right",
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],
    )


def _check_arguments(vocab_size: int, model_max_length: int) -> None:
    """Fail early with a message that names the bad argument."""
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size={vocab_size} is too small: it must exceed the {len(SPECIAL_TOKENS)} special tokens"
        )
    if model_max_length < 2:
        raise ValueError(f"model_max_length={model_max_length} is too small: [CLS] and [SEP] alone need 2")


def _sample(texts: Iterable[str], max_texts: int | None, seed: int) -> list[str]:
    """At most `max_texts` of `texts`, checked to be strings: all in order, else a seeded sample."""
    if max_texts is not None and max_texts < 1:
        raise ValueError(f"max_texts={max_texts} must be at least 1 (or None for all texts)")
    if isinstance(texts, Sequence):
        indices = _sample_indices(len(texts), max_texts, seed)
        sample = _fetch(texts, indices)
    else:
        indices, sample = _reservoir(texts, max_texts, seed)
    if not sample:
        raise ValueError("texts is empty: the tokenizer needs at least one text to train on")
    not_text = next((i for i, text in enumerate(sample) if not isinstance(text, str)), None)
    if not_text is not None:
        raise ValueError(f"texts[{indices[not_text]}] is {sample[not_text]!r}, not a string")
    return sample


def _sample_indices(count: int, max_texts: int | None, seed: int) -> list[int]:
    """All of `range(count)`, or `max_texts` of them drawn with `seed`, in increasing order."""
    if max_texts is None or count <= max_texts:
        return list(range(count))
    return np.sort(np.random.default_rng(seed).choice(count, size=max_texts, replace=False)).tolist()


def _fetch(texts: Sequence, indices: list[int]) -> list:
    """`texts[i]` for each index; a dataset's column is read from Arrow in one gather, not row by row."""
    if not isinstance(texts, Column) or not isinstance(texts.source, Dataset):
        return [texts[i] for i in indices]
    rows = np.asarray(indices, dtype=np.int64)
    mapping = texts.source._indices  # datasets' indices mapping of a selected split, or None
    if mapping is not None:
        rows = mapping.column(0).to_numpy()[rows]
    return texts.source.data.column(texts.column_name).take(rows).to_pylist()


def _reservoir(texts: Iterable, max_texts: int | None, seed: int) -> tuple[list[int], list]:
    """A seeded uniform sample of an iterable of unknown length, in order, holding `max_texts` at most."""
    numbered = enumerate(texts)
    if max_texts is None:
        kept = list(numbered)
    else:
        kept, draw = list(islice(numbered, max_texts)), random.Random(seed)
        for index, text in numbered:
            slot = draw.randrange(index + 1)
            if slot < max_texts:
                kept[slot] = (index, text)
        kept.sort(key=lambda pair: pair[0])
    return [index for index, _ in kept], [text for _, text in kept]


def _batches(texts: list[str]) -> Iterator[list[str]]:
    """`texts` in lists of `BATCH_SIZE`, as the Rust trainer takes them."""
    for start in range(0, len(texts), BATCH_SIZE):
        yield texts[start : start + BATCH_SIZE]


def _bert_pipeline(model: models.WordPiece, lowercase: bool, strip_accents: bool) -> Tokenizer:
    """BERT's pipeline around `model`: normalizer, pre-tokenizer, `[CLS] ... [SEP]` template, decoder.

    The template needs the ids of `[CLS]` and `[SEP]`, which are fixed: they are special tokens 2 and 3.
    """
    backend = Tokenizer(model)
    backend.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=strip_accents)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, SPECIAL_TOKENS.index(CLS)), (SEP, SPECIAL_TOKENS.index(SEP))],
    )
    backend.decoder = decoders.WordPiece()
    return backend


def _continuation_pieces(backend: Tokenizer, texts: list[str]) -> list[str]:
    """`##c` for every character that follows another within a word, in sorted order.

    The trainer creates these pieces itself, numbered in hash-map order, and merges between equally
    frequent pairs are broken by those numbers: the vocabulary then changes from run to run
    (huggingface/tokenizers#1794). Passing them in sorted order, after the special tokens, fixes
    their ids and makes training deterministic; the trained tokenizer keeps them as ordinary pieces.

    Found without a Python pass over words: the texts are normalised a batch at a time as one string
    (one text per line), and a character follows another within a word when neither is whitespace
    nor punctuation, which the pre-tokenizer itself is asked once per distinct character.
    """
    known, in_word, follower = (np.zeros(sys.maxunicode + 1, dtype=bool) for _ in range(3))
    for start in range(0, len(texts), NORMALIZE_BATCH):
        normalized = backend.normalizer.normalize_str("\n".join(texts[start : start + NORMALIZE_BATCH]))
        codes = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32)
        for code in np.unique(codes[~known[codes]]):
            known[code] = True
            in_word[code] = len(backend.pre_tokenizer.pre_tokenize_str(f"a{chr(code)}a")) == 1
        inside = in_word[codes]
        follower[codes[1:][inside[1:] & inside[:-1]]] = True
    return [f"##{chr(code)}" for code in np.flatnonzero(follower)]


def text_encoder(tokenizer, **options):
    """A batched `.map` function: each text's `input_ids` and `attention_mask`, truncated to the
    tokenizer's `model_max_length`, unpadded (padding is the collator's job).

    With no other `options`, a fast tokenizer's Rust `encode_batch` runs directly, on a copy of its
    backend set to truncate (the tokenizer a run saves stays as it is): the same ids as
    `tokenizer(texts, truncation=True)`, in two thirds of the time, since transformers converts each
    encoding in Python. `options` (e.g. `return_special_tokens_mask=True`), or a tokenizer without a
    Rust backend, go through the tokenizer's own call.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if options or backend is None or not 0 < tokenizer.model_max_length < 2**31:

        def call_tokenizer(batch):
            return tokenizer(batch["text"], truncation=True, **options)

        return call_tokenizer
    rust = Tokenizer.from_str(backend.to_str())
    rust.no_padding()
    rust.enable_truncation(tokenizer.model_max_length, direction=tokenizer.truncation_side)

    def encode(batch):
        encodings = rust.encode_batch(batch["text"])
        return {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings]}

    return encode
