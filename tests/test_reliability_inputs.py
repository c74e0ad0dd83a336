"""The bad-input matrix of docs/reliability.md, one test per row: odd text through the tokenizer, the
model, the pipeline, `predict` and `posenc-predict`; bad configs; damaged model folders. Each case
ends in a correct result or a ValueError (OSError for unreadable files) that names the problem."""

import io
import json
import shutil
import sys

import pytest
import torch
from tiny import CONFIG_ERRORS
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

import posenc_hf  # noqa: F401  (registers the Auto classes)
from posenc_hf import PosEncConfig
from posenc_hf.arguments import parse_run_arguments
from posenc_hf.checkpoints import check_model_folder
from posenc_hf.predict import check_texts, load_classifier, main, predict

LABELS = {"Biology", "Chemistry", "Maths", "Physics"}
MAX_LENGTH = 32  # the tiny folder's position table
LONG = "atom " * (100 * MAX_LENGTH)  # 100× longer than the position table
CONTROL = "enzyme\x00 cell\x07 atom\x1b[31m force\x7f\u200b\u202e gene"
MIXED = "Énergie 能量 энергия ενέργεια طاقة ऊर्जा 🙂👍🏽🧪 energy"
NOT_TEXT = [None, 3, 2.5, b"atom", {"label": "atom"}, object()]


@pytest.fixture(scope="module")
def tokenizer(tiny_folder):
    return AutoTokenizer.from_pretrained(tiny_folder)


@pytest.fixture(scope="module")
def model(tiny_folder):
    return AutoModelForSequenceClassification.from_pretrained(tiny_folder).eval()


@pytest.fixture(scope="module")
def classifier(tiny_folder):
    return load_classifier(tiny_folder)


def cls_sep(tokenizer):
    return [tokenizer.cls_token_id, tokenizer.sep_token_id]


# --- tokenizer (transformers' own class: the folder must load without posenc_hf) ------------------


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
    assert len(tokenizer(LONG, truncation=True)["input_ids"]) == MAX_LENGTH
    assert len(tokenizer(LONG)["input_ids"]) == 100 * MAX_LENGTH + 2  # not asked: all tokens, then the model refuses


@pytest.mark.parametrize("text", [CONTROL, MIXED], ids=["control", "mixed-scripts-emoji"])
def test_tokenizer_control_characters_and_mixed_scripts(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert all(0 <= i < len(tokenizer) for i in ids)
    assert "\x00" not in tokenizer.decode(ids) and "\x1b" not in tokenizer.decode(ids)


# --- model --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda: "cell atom", "input_ids must be a torch.Tensor, got str"),
        (lambda: [[2, 10, 3]], "input_ids must be a torch.Tensor, got list"),
        (lambda: torch.tensor([[2.0, 10.0, 3.0]]), "integer token ids, got dtype torch.float32"),
        (lambda: torch.tensor([2, 10, 3]), r"2 dimensions .* got shape \(3,\): add the batch dimension"),
        (lambda: torch.zeros(1, 0, dtype=torch.long), r"input_ids is empty \(shape \(1, 0\)\)"),
        (lambda: torch.tensor([[2, 10**6, 3]]), r"token id 1000000, outside the vocabulary \[0, \d+\)"),
        (lambda: torch.tensor([[2, -1, 3]]), r"token id -1, outside the vocabulary"),
        (lambda: torch.ones(1, 100 * MAX_LENGTH, dtype=torch.long), "length 3200 is longer than .*=32"),
    ],
    ids=["str", "list", "float", "1-d", "empty", "id-too-big", "id-negative", "100x-too-long"],
)
def test_model_rejects_bad_input_ids_naming_the_problem(model, make_input, message):
    with pytest.raises(ValueError, match=message):
        model(make_input())


def test_model_attention_mask_of_another_shape(model):
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\).*\(2, 5\)"):
        model(torch.ones(2, 5, dtype=torch.long), attention_mask=torch.ones(2, 4, dtype=torch.long))


def test_model_all_padding_mask_gives_finite_logits(model):
    logits = model(torch.ones(1, 5, dtype=torch.long), attention_mask=torch.zeros(1, 5, dtype=torch.long)).logits
    assert torch.isfinite(logits).all()


# --- pipeline (load_classifier: checked inputs, truncation on) -----------------------------------


@pytest.mark.parametrize(
    "text", ["", "   \t\n  ", CONTROL, MIXED, LONG], ids=["empty", "space", "ctrl", "mixed", "long"]
)
def test_pipeline_classifies_odd_text(classifier, text):
    [result] = classifier(text)
    assert result["label"] in LABELS and 0 <= result["score"] <= 1


def test_pipeline_empty_and_whitespace_agree(classifier):
    assert classifier("") == classifier("  \t ")


@pytest.mark.parametrize("item", NOT_TEXT, ids=lambda x: type(x).__name__)
def test_pipeline_rejects_non_text(classifier, item):
    with pytest.raises(ValueError, match=f"The input is {type(item).__name__} .*, not a string"):
        classifier(item)


def test_pipeline_names_the_index_of_a_bad_item_in_a_list(classifier):
    with pytest.raises(ValueError, match=r"Item 2 is int \(7\), not a string"):
        classifier(["cell atom", "force", 7, "gene"])


def test_pipeline_names_the_index_of_a_bad_item_in_a_stream(classifier):
    stream = (text if i != 5 else None for i, text in enumerate(["cell atom"] * 8))
    with pytest.raises(ValueError, match="Item 5 is NoneType"):
        list(classifier(stream, batch_size=2))


def test_pipeline_still_streams_a_dataset(classifier):
    from datasets import Dataset
    from transformers.pipelines.pt_utils import KeyDataset

    rows = Dataset.from_dict({"text": ["cell atom", "force", "gene"]})
    assert [result["label"] in LABELS for result in classifier(KeyDataset(rows, "text"), batch_size=2)] == [True] * 3


def test_pipeline_empty_list_gives_empty_list(classifier):
    assert classifier([]) == []


def test_pipeline_without_truncation_names_both_lengths(tiny_folder):
    untruncated = load_classifier(tiny_folder, truncation=False)
    with pytest.raises(ValueError, match=r"length 3202 is longer than max_position_embeddings=32.*truncat"):
        untruncated(LONG)


def test_plain_transformers_pipeline_rejects_bad_input(tiny_folder):
    """`pipeline(...)` itself is transformers' class: the errors are clear about length, less about items."""
    plain = pipeline("text-classification", model=str(tiny_folder))
    with pytest.raises(ValueError, match="length 3202 is longer than max_position_embeddings=32"):
        plain(LONG)
    assert plain(LONG, truncation=True)[0]["label"] in LABELS
    with pytest.raises(ValueError, match="text_target"):
        plain(None)
    with pytest.raises(ValueError):
        plain(["cell", None])
    with pytest.raises(IndexError):
        plain([])


def test_plain_transformers_pipeline_on_a_missing_folder(tmp_path):
    with pytest.raises(OSError):
        pipeline("text-classification", model=str(tmp_path / "nope"))


# --- predict(): streams in chunks, indexes count over the whole stream -------------------------


def test_predict_names_the_index_over_the_whole_stream(classifier):
    texts = ["cell atom"] * 70 + [None]
    with pytest.raises(ValueError, match="Item 70 is NoneType"):
        list(predict(classifier, iter(texts), batch_size=32))


@pytest.mark.parametrize("texts", ["cell atom", None, b"cell"], ids=["str", "None", "bytes"])
def test_predict_rejects_a_single_text_in_place_of_a_list(classifier, texts):
    with pytest.raises(ValueError, match="texts must be an iterable of strings"):
        list(predict(classifier, texts))


# --- posenc-predict (run in-process: the subprocess route is in test_reliability_load) ----------


def run_cli(monkeypatch, capsys, argv, stdin=b""):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_odd_lines_one_result_each_in_order(tiny_folder, monkeypatch, capsys):
    lines = ["\ufeffcell atom", "", "   ", "force energy\r", CONTROL, MIXED, LONG]
    code, out, _ = run_cli(monkeypatch, capsys, [str(tiny_folder), "--json"], "\n".join(lines).encode() + b"\n")
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in results] == ["cell atom", "force energy", CONTROL, MIXED, LONG]  # blank lines skipped
    assert all(r["labels"][0]["label"] in LABELS for r in results)


def test_cli_empty_input_gives_no_output(tiny_folder, monkeypatch, capsys):
    assert run_cli(monkeypatch, capsys, [str(tiny_folder)], b"")[:2] == (0, "")


def test_cli_empty_argument_is_classified(tiny_folder, monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, [str(tiny_folder), ""])
    assert code == 0 and len(out.splitlines()) == 1


def test_cli_line_that_is_not_utf8_is_named(tiny_folder, monkeypatch, capsys):
    stdin = b"cell atom\nforce\nchaleur \xe9lev\xe9e\n"  # line 3 is Latin-1
    code, out, err = run_cli(monkeypatch, capsys, [str(tiny_folder), "--batch-size", "1"], stdin)
    assert code == 1
    assert "line 3 of the input is not UTF-8" in err and "Traceback" not in err
    assert len(out.splitlines()) == 2  # the lines before it were classified and printed


def test_cli_missing_folder_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, [str(tmp_path / "nope"), "cell"])
    assert code == 1 and err.strip() == f"posenc-predict: error: No such model folder: {tmp_path / 'nope'}"


# --- configs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_size": "64"}, r"Field 'hidden_size' expected int, got str \(value: '64'\)"),
        ({"num_hidden_layers": 2.0}, r"Field 'num_hidden_layers' expected int, got float \(value: 2.0\)"),
        ({"pad_token_id": "0"}, "Field 'pad_token_id' with value '0'"),
        ({"hidden_act": "swishy"}, "hidden_act must be one of"),
        ({"problem_type": "ranking"}, "problem_type must be one of"),
        ({"num_labels": "3"}, "num_labels must be a positive integer, got '3'"),
        ({"id2label": ["a", "b"]}, "id2label must be a dict"),
        ({"id2label": {"x": "a"}}, "id2label keys must be label ids"),
        ({"id2label": {0: "a", 5: "b"}}, r"without gaps, got ids \[0, 5\]"),
        ({"id2label": {}}, "id2label is empty"),
        ({"hidden_size": -8}, "hidden_size must be a positive integer, got -8"),
        ({"max_position_embeddings": 0}, "max_position_embeddings must be a positive integer, got 0"),
        ({"num_labels": -1}, "num_labels must be a positive integer, got -1"),
    ],
    ids=lambda x: repr(x)[:40] if isinstance(x, dict) else "",
)
def test_config_bad_value_names_field_and_value(kwargs, message):
    with pytest.raises(CONFIG_ERRORS, match=message):
        PosEncConfig(**kwargs)


def test_config_num_labels_replaces_the_labels_as_transformers_does():
    """The fine-tuning habit `from_pretrained(folder, num_labels=N)`: N fresh labels, as for BERT."""
    assert PosEncConfig(num_labels=4, id2label={0: "LABEL_0", 1: "LABEL_1"}).num_labels == 4
    config = PosEncConfig(num_labels=3, id2label={0: "a", 1: "b"})
    assert config.num_labels == 3 and list(config.id2label) == [0, 1, 2]


def test_config_accepts_label2id_values_written_as_strings():
    """transformers' own configs accept them, and Hub configs carry them."""
    config = PosEncConfig(id2label={0: "negative", 1: "positive"}, label2id={"negative": "0", "positive": "1"})
    assert config.num_labels == 2


def test_config_unknown_key_is_kept_like_every_transformers_config():
    """transformers keeps unknown keys as attributes (a config.json from a newer version still loads);
    a run config (YAML or command line) rejects them instead, below."""
    assert PosEncConfig(hiden_size=32).hiden_size == 32


def test_config_of_another_model_type_is_refused():
    with pytest.raises(ValueError, match="model_type='bert', not 'posenc'"):
        PosEncConfig.from_dict({"model_type": "bert", "hidden_size": 768})


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("hiden_size: 32\n", "Unknown config key 'hiden_size'.*Did you mean 'hidden_size'"),
        ("hidden_size: abc\n", "Bad config value: argument --hidden_size.*invalid int value: 'abc'"),
        ("hidden_size: [1, 2]\n", r"'hidden_size' expected int, got list \(value: \[1, 2\]\)"),
        ("hidden_size: -8\n", "hidden_size must be a positive integer, got -8"),
        ("max_length: 0\n", "max_length must be a positive integer, got 0"),
        ("per_device_train_batch_size: 0\n", "per_device_train_batch_size must be a positive integer, got 0"),
        ("num_train_epochs: -1\n", "num_train_epochs must be a positive number, got -1"),
        ("learning_rate: abc\n", "invalid float value: 'abc'"),
        ("- a list\n", "must hold a mapping"),
        ("corpus: [\n", "is not valid YAML"),
    ],
)
def test_run_config_bad_yaml_fails_before_any_work(tmp_path, yaml_text, message):
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    with pytest.raises(CONFIG_ERRORS, match=message):  # a model field: PosEncConfig's own check names it
        parse_run_arguments([str(path)])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hiden_size", "32"], "Unknown command-line arguments: --hiden_size 32"),
        (["--num_hidden_layers", "two"], "invalid int value: 'two'"),
        (["--vocab_size", "-5"], "vocab_size must be a positive integer, got -5"),
    ],
)
def test_run_config_bad_command_line(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_run_arguments(argv)


# --- damaged folders -----------------------------------------------------------------------------


@pytest.fixture
def damaged(tiny_folder, tmp_path):
    """A fresh copy of the tiny folder to damage."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    return folder


def edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_folder_without_tokenizer_json(damaged):
    (damaged / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"incomplete: tokenizer.json \(the tokenizer\) is missing"):
        load_classifier(damaged)
    with pytest.raises(ValueError, match="Couldn't instantiate the backend tokenizer"):
        AutoTokenizer.from_pretrained(damaged)  # transformers' message


def test_folder_without_weights_and_a_pickle_in_their_place(damaged):
    (damaged / "model.safetensors").unlink()
    (damaged / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="model.safetensors .* is missing .*pytorch_model.bin: pickle files"):
        load_classifier(damaged)
    with pytest.raises(OSError, match="no file named model.safetensors"):
        AutoModelForSequenceClassification.from_pretrained(damaged)


@pytest.mark.parametrize("keep", [0.5, 100 / 10**9], ids=["half", "first-bytes"])
def test_folder_with_truncated_weights(damaged, keep):
    weights = damaged / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ValueError, match="model.safetensors is damaged: it is .* bytes"):
        load_classifier(damaged)
    with pytest.raises(OSError, match="weights file of .* cannot be read .* truncated or damaged"):
        AutoModelForSequenceClassification.from_pretrained(damaged)


def test_folder_with_a_config_of_another_model_type(damaged):
    edit_config(damaged, model_type="bert")
    with pytest.raises(ValueError, match="model_type='bert', not 'posenc'"):
        load_classifier(damaged)
    with pytest.raises(ValueError, match="model_type='bert', not 'posenc'"):
        posenc_hf.PosEncForSequenceClassification.from_pretrained(damaged)


def test_folder_with_a_damaged_config_json(damaged):
    (damaged / "config.json").write_text('{"model_type": "posenc", "hidden_')
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        check_model_folder(damaged)
    with pytest.raises(OSError, match="is not a valid JSON file"):
        AutoModelForSequenceClassification.from_pretrained(damaged)  # transformers' message


@pytest.mark.parametrize(
    "changes, tensor, saved, expected",
    [
        ({"hidden_size": 32, "intermediate_size": 64}, "posenc.embeddings.word_embeddings.weight", "16", "32"),
        ({"vocab_size": 500}, "posenc.embeddings.word_embeddings.weight", "16", "16"),
        ({"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0, "b": 1}}, "classifier.weight", "(4, 16)", "(2, 16)"),
    ],
    ids=["hidden", "vocab", "labels"],
)
def test_weights_that_do_not_fit_the_config_name_tensor_and_both_shapes(damaged, changes, tensor, saved, expected):
    edit_config(damaged, **changes)
    with pytest.raises(ValueError) as error:
        AutoModelForSequenceClassification.from_pretrained(damaged)
    message = str(error.value)
    line = next(line for line in message.splitlines() if line.strip().startswith(tensor + ":"))
    assert "in the weights file" in line and "in the model the config describes" in line
    assert saved in line.split("in the weights file")[0] and expected in line.split("in the weights file")[1]
    with pytest.raises(ValueError, match=tensor.replace(".", r"\.")):
        load_classifier(damaged)  # the pipeline wraps it, the names and shapes survive


def test_mismatched_weights_load_when_asked_to_reinitialise(damaged):
    edit_config(damaged, id2label={"0": "a", "1": "b"}, label2id={"a": 0, "b": 1})
    model = AutoModelForSequenceClassification.from_pretrained(damaged, ignore_mismatched_sizes=True)
    assert model.classifier.weight.shape == (2, 16)
