"""The WordPiece tokenizer: ids, special tokens, truncation, and a saved folder that reloads anywhere."""

import json
import os
import subprocess
import sys

import pytest
from datasets import Dataset
from transformers import AutoTokenizer
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

from posenc_hf.data.tokenization import SPECIAL_TOKENS, text_encoder, train_tokenizer

TEXTS = [
    "The mitochondria is the powerhouse of the cell.",
    "Balance the equation for the combustion of methane.",
    "Find the derivative of x squared plus three x.",
    "A ball is thrown upwards with a speed of ten metres per second.",
    "Café owners were thrilled: the new espresso machine arrived!",
    "I waited two hours and the train never came.",
] * 3
SAMPLES = ["the cell", "", "Café ☃ espresso", "an unseen wordthatisverylong", "the train " * 50]

# Run in a fresh interpreter: block any import of posenc_hf (it may be installed editable), reload
# the folder with AutoTokenizer and print the ids.
RELOAD_ELSEWHERE = """
import json, sys

class BlockPosencHf:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "posenc_hf":
            raise ImportError("posenc_hf is blocked in this test")

sys.meta_path.insert(0, BlockPosencHf())
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
ids = tokenizer(json.loads(sys.argv[2]), truncation=True)["input_ids"]
assert not any(name.startswith("posenc_hf") for name in sys.modules)
print(json.dumps({"ids": ids, "class": type(tokenizer).__name__}))
"""


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=200, model_max_length=16)


def test_special_tokens_have_fixed_ids(tokenizer):
    assert tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2, 3, 4]
    assert (tokenizer.pad_token, tokenizer.unk_token, tokenizer.cls_token) == ("[PAD]", "[UNK]", "[CLS]")
    assert (tokenizer.sep_token, tokenizer.mask_token) == ("[SEP]", "[MASK]")
    assert tokenizer.pad_token_id == 0


def test_training_is_deterministic():
    """Plain WordPieceTrainer gives a different vocabulary from run to run on these texts."""
    vocabularies = [train_tokenizer(TEXTS, vocab_size=200).get_vocab() for _ in range(5)]
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies)


def test_encodings_look_like_bert(tokenizer):
    encoding = tokenizer("the cell", "the train")
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert tokens == ["[CLS]", "the", "cell", "[SEP]", "the", "train", "[SEP]"]
    assert set(encoding) == {"input_ids", "attention_mask"}
    assert tokenizer.decode(tokenizer("The cell")["input_ids"], skip_special_tokens=True) == "the cell"


def test_empty_text_is_cls_sep(tokenizer):
    assert tokenizer("")["input_ids"] == [tokenizer.cls_token_id, tokenizer.sep_token_id]


def test_unseen_character_is_unk(tokenizer):
    assert tokenizer.convert_ids_to_tokens(tokenizer("☃")["input_ids"]) == ["[CLS]", "[UNK]", "[SEP]"]


def test_truncation_and_right_padding(tokenizer):
    batch = tokenizer(["the train " * 50, "the cell"], truncation=True, padding=True)
    long, short = batch["input_ids"]
    assert len(long) == len(short) == tokenizer.model_max_length == 16
    assert long[-1] == tokenizer.sep_token_id
    assert short[:4] == tokenizer("the cell")["input_ids"] and set(short[4:]) == {tokenizer.pad_token_id}
    assert batch["attention_mask"][1] == [1] * 4 + [0] * 12


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_dataset_encoder_gives_the_tokenizers_own_ids_and_leaves_it_unchanged(side):
    """`text_encoder` (the Rust backend called directly) matches `tokenizer(texts, truncation=True)`,
    long texts cut on the tokenizer's side, and leaves the tokenizer's own backend (which a run saves) as it was."""
    tokenizer = train_tokenizer(TEXTS, vocab_size=200, model_max_length=16)
    tokenizer.truncation_side = side
    before = tokenizer.backend_tokenizer.to_str()
    encoded = text_encoder(tokenizer)({"text": SAMPLES})
    assert tokenizer.backend_tokenizer.to_str() == before
    expected = tokenizer(SAMPLES, truncation=True)
    assert encoded == {key: expected[key] for key in ("input_ids", "attention_mask")}
    assert max(len(ids) for ids in encoded["input_ids"]) == tokenizer.model_max_length


def test_the_dataset_encoder_passes_other_options_to_the_tokenizer(tokenizer):
    encoded = text_encoder(tokenizer, return_special_tokens_mask=True)({"text": SAMPLES})
    assert (
        encoded["special_tokens_mask"]
        == tokenizer(SAMPLES, truncation=True, return_special_tokens_mask=True)["special_tokens_mask"]
    )


def test_lowercase_flag():
    cased = train_tokenizer(TEXTS, vocab_size=200, lowercase=False)
    assert cased("The")["input_ids"] != cased("the")["input_ids"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"texts": []}, "texts"),
        ({"texts": ["fine", 3]}, r"texts\[1\] is 3\b"),
        ({"texts": TEXTS, "vocab_size": 5}, r"vocab_size=5\b"),
        ({"texts": TEXTS, "model_max_length": 1}, r"model_max_length=1\b"),
        ({"texts": TEXTS, "max_texts": 0}, r"max_texts=0\b"),
        ({"texts": (text for text in ["fine", "also fine", None])}, r"texts\[2\] is None\b"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_tokenizer(**kwargs)


def test_a_list_a_dataset_column_and_a_generator_train_the_same_tokenizer():
    column = Dataset.from_dict({"text": TEXTS})["text"]
    vocabularies = [
        train_tokenizer(texts, vocab_size=200).get_vocab() for texts in (TEXTS, column, (text for text in TEXTS))
    ]
    assert vocabularies[1] == vocabularies[0] and vocabularies[2] == vocabularies[0]


def test_a_larger_corpus_is_sampled_with_the_seed():
    texts = [f"{text} number{i}" for i, text in enumerate(TEXTS * 20)]
    sampled = [train_tokenizer(texts, vocab_size=300, max_texts=30, seed=seed).get_vocab() for seed in (1, 1, 2)]
    assert sampled[0] == sampled[1] != sampled[2]
    assert sampled[0] != train_tokenizer(texts, vocab_size=300, max_texts=None).get_vocab()
    column = Dataset.from_dict({"text": texts})["text"]
    assert train_tokenizer(column, vocab_size=300, max_texts=30, seed=1).get_vocab() == sampled[0]


def test_save_and_reload_gives_identical_ids(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(SAMPLES, truncation=True)["input_ids"] == tokenizer(SAMPLES, truncation=True)["input_ids"]
    assert (reloaded.model_max_length, reloaded.padding_side) == (16, "right")
    assert reloaded.model_input_names == ["input_ids", "attention_mask"]


@pytest.mark.slow
def test_saved_folder_loads_without_posenc_hf(tokenizer, tmp_path):
    folder = tmp_path / "tokenizer"
    tokenizer.save_pretrained(folder)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", RELOAD_ELSEWHERE, str(folder), json.dumps(SAMPLES)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    reloaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert reloaded["ids"] == tokenizer(SAMPLES, truncation=True)["input_ids"]


# Where posenc_hf is not installed, each way of loading a model folder's tokenizer: does it ask to run
# the model's code ("Do you wish to run the custom code? [y/N]", 15 s in a terminal), and what loads.
LOADERS_ELSEWHERE = """
import json
from transformers import AutoTokenizer, PreTrainedTokenizerFast
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging
loaders = {
    "PreTrainedTokenizerFast": lambda: PreTrainedTokenizerFast.from_pretrained(FOLDER),
    "AutoTokenizer, trust_remote_code=False": lambda: AutoTokenizer.from_pretrained(FOLDER, trust_remote_code=False),
    "AutoTokenizer": lambda: AutoTokenizer.from_pretrained(FOLDER),
}
for name, load in loaders.items():
    print("PROMPT-CHECK", name)
    with CaptureLogger(logging.get_logger("transformers")) as log:
        tokenizer = load()
    print("LOADED", json.dumps({"name": name, "ids": tokenizer("the cell")["input_ids"], "log": log.out}))
"""


@pytest.fixture(scope="module")
def loaded_elsewhere(tiny_folder):
    """{loader: (asked to run code?, ids of "the cell", transformers' log)}, in a fresh interpreter without
    posenc_hf."""
    from helpers import BLOCK_PACKAGE

    code = BLOCK_PACKAGE + f"FOLDER = {str(tiny_folder)!r}\n" + LOADERS_ELSEWHERE
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    sections = result.stdout.split("PROMPT-CHECK ")[1:]
    loaded = {}
    for section in sections:
        record = json.loads(section.split("LOADED ", 1)[1].splitlines()[0])
        loaded[record["name"]] = ("Do you wish to run the custom code" in section, record["ids"], record["log"])
    return loaded


@pytest.mark.slow
@pytest.mark.parametrize("loader", ["PreTrainedTokenizerFast", "AutoTokenizer, trust_remote_code=False"])
def test_a_model_folders_tokenizer_loads_without_the_package_and_without_a_prompt(
    loaded_elsewhere, loader, tiny_folder
):
    asked, ids, _ = loaded_elsewhere[loader]
    assert not asked
    assert ids == AutoTokenizer.from_pretrained(tiny_folder)("the cell")["input_ids"]


# What transformers 5.24 logs when AutoTokenizer may not run the folder's code (issue 20 item 8).
GENERIC_CONFIG_WARNING = "You are using a model of type `posenc` to instantiate a model of type ``"


def test_the_documented_tokenizer_loaders_log_nothing(loaded_elsewhere, tiny_folder):
    """Without the package, PreTrainedTokenizerFast (the README's way); with it, plain AutoTokenizer."""
    assert loaded_elsewhere["PreTrainedTokenizerFast"][2] == ""
    with CaptureLogger(logging.get_logger("transformers")) as log:
        AutoTokenizer.from_pretrained(tiny_folder)
    assert log.out == ""


@pytest.mark.xfail(
    strict=True,
    reason="transformers 5.24-5.25's AutoTokenizer, refused the folder's config code, reads config.json as a generic "
    "PreTrainedConfig, whose model_type '' differs from 'posenc', and logs GENERIC_CONFIG_WARNING; nothing the "
    "folder could hold avoids it but another model_type. When this passes, drop the README's note about it",
)
def test_auto_tokenizer_without_remote_code_logs_nothing(loaded_elsewhere):
    log = loaded_elsewhere["AutoTokenizer, trust_remote_code=False"][2]
    assert GENERIC_CONFIG_WARNING not in log


@pytest.mark.xfail(
    strict=True,
    reason="transformers 5.24-5.25's AutoTokenizer reads config.json through AutoConfig before tokenizer_config.json, "
    "and config.json's auto_map (which trust_remote_code loading needs) makes AutoConfig ask; when this passes, "
    "transformers has changed: drop the trust_remote_code=False advice from the README and the model card",
)
def test_plain_auto_tokenizer_does_not_ask_to_run_the_models_code(loaded_elsewhere):
    asked, _, _ = loaded_elsewhere["AutoTokenizer"]
    assert not asked
