"""A saved folder's tokenizer on odd text (docs/reliability.md, §1 tokenizer). It is transformers' own
fast tokenizer class, so that the folder loads without posenc_hf; its messages come from transformers.

To be merged into tests/data/test_tokenization.py (kept apart while that file is being changed)."""

import pytest
from helpers import CONTROL, LONG, MIXED, NOT_TEXT, TINY_MAX_LENGTH
from transformers import AutoTokenizer

from posenc_hf.folder.predict import check_texts

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def tokenizer(tiny_folder):
    return AutoTokenizer.from_pretrained(tiny_folder)


def cls_sep(tokenizer):
    return [tokenizer.cls_token_id, tokenizer.sep_token_id]


@pytest.mark.parametrize("text", ["", "   \t\n  "])
def test_tokenizer_empty_and_whitespace_give_cls_sep(tokenizer, text):
    assert tokenizer(text)["input_ids"] == cls_sep(tokenizer)


@pytest.mark.parametrize("text", NOT_TEXT[:4], ids=repr)
def test_tokenizer_rejects_non_text_with_value_error(tokenizer, text):
    with pytest.raises(ValueError, match="text input must be of type|text_target"):
        tokenizer(text)


def test_tokenizer_list_with_a_bad_item_raises_and_check_texts_names_its_index(tokenizer):
    batch = ["cell atom", None, "force"]
    with pytest.raises(TypeError):  # transformers' message names neither the item nor its index
        tokenizer(batch)
    with pytest.raises(ValueError, match=r"Item 1 is NoneType \(None\), not a string"):
        check_texts(batch)


def test_tokenizer_truncates_long_text_when_asked(tokenizer):
    assert len(tokenizer(LONG, truncation=True)["input_ids"]) == TINY_MAX_LENGTH
    # not asked: every token, and then the model refuses the input
    assert len(tokenizer(LONG)["input_ids"]) == 100 * TINY_MAX_LENGTH + 2


@pytest.mark.parametrize("text", [CONTROL, MIXED], ids=["control", "mixed-scripts-emoji"])
def test_tokenizer_control_characters_and_mixed_scripts(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert all(0 <= i < len(tokenizer) for i in ids)
    assert "\x00" not in tokenizer.decode(ids) and "\x1b" not in tokenizer.decode(ids)
