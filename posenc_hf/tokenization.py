"""Train a small BERT-style WordPiece tokenizer on a corpus.

The result is a plain transformers fast tokenizer (`PreTrainedTokenizerFast`, which transformers v5
calls `TokenizersBackend`): `save_pretrained` writes `tokenizer.json` + `tokenizer_config.json`, and
`AutoTokenizer.from_pretrained(folder)` reloads it without `posenc_hf` installed.
"""

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]  # ids 0..4, in this order: [PAD] is 0


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 8000,
    model_max_length: int = 128,
    lowercase: bool = True,
    strip_accents: bool = True,
    min_frequency: int = 1,
) -> PreTrainedTokenizerFast:
    """Train a WordPiece tokenizer on `texts` and wrap it for transformers.

    Training is deterministic: the same texts give the same vocabulary and ids. Encodings
    look like BERT's: `[CLS] a [SEP]` (pairs: `[CLS] a [SEP] b [SEP]`), padding on the right, and
    `truncation=True` cuts to `model_max_length` tokens. `model_input_names` leaves out
    `token_type_ids`, which the posenc models do not take. The trainer always keeps every character
    it saw, so the vocabulary can exceed a very small `vocab_size`; an unseen character is `[UNK]`.
    """
    texts = list(texts)
    _check_arguments(texts, vocab_size, model_max_length)
    trainee = _bert_pipeline(models.WordPiece(unk_token=UNK), lowercase, strip_accents)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS + _continuation_pieces(trainee, texts),
        show_progress=False,
    )
    trainee.train_from_iterator(texts, trainer=trainer, length=len(texts))
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


def _check_arguments(texts: list, vocab_size: int, model_max_length: int) -> None:
    """Fail early with a message that names the bad argument."""
    if not texts:
        raise ValueError("texts is empty: the tokenizer needs at least one text to train on")
    not_text = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
    if not_text is not None:
        raise ValueError(f"texts[{not_text}] is {texts[not_text]!r}, not a string")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size={vocab_size} is too small: it must exceed the {len(SPECIAL_TOKENS)} special tokens"
        )
    if model_max_length < 2:
        raise ValueError(f"model_max_length={model_max_length} is too small: [CLS] and [SEP] alone need 2")


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
    """
    characters = set()
    for text in texts:
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text)):
            characters.update(word[1:])
    return [f"##{character}" for character in sorted(characters)]
