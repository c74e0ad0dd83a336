"""Hub datasets with a config name, a revision and a split mapping (`posenc_hf.data.corpora.files`), tested
offline: on a dataset repo folder (data files, and a README.md dataset card whose `configs:` name them,
which `load_dataset(folder, name=...)` reads as it reads a Hub repo), and on a Hub id whose
`load_dataset` call is recorded. The other readers of files and folders are tested in test_data.py."""

import csv

import datasets
import huggingface_hub
import pytest
from datasets import Dataset, IterableDataset
from helpers import SMOKE

from posenc_hf.data.corpora import files
from posenc_hf.data.corpora.files import HubOptions, read_hub
from posenc_hf.data.sources import load_corpus
from posenc_hf.data.streaming import load_streamed_corpus
from posenc_hf.training.arguments import parse_run_arguments
from posenc_hf.training.plan import read_plan

CARD = """---
configs:
- config_name: coarse
  data_files:
  - split: train
    path: coarse/train.csv
  - split: dev
    path: coarse/dev.csv
  - split: heldout
    path: coarse/heldout.csv
- config_name: fine
  data_files:
  - split: train
    path: fine/train.csv
---
# A dataset repo with two configs
"""
SIZES = {"train": 30, "dev": 9, "heldout": 9}
COLUMNS = {"text_column": "sentence", "label_column": "category"}
MAPPED = HubOptions("coarse", split_mapping={"validation": "dev", "test": "heldout"})


def sentences(split, count):
    return [(f"{split} sentence {i}", "ab"[i % 2]) for i in range(count)]


@pytest.fixture
def repo(tmp_path):
    """A dataset repo folder: config `coarse` with splits train, dev and heldout, config `fine` with train."""
    folder = tmp_path / "repo"
    tables = {f"coarse/{split}.csv": sentences(split, count) for split, count in SIZES.items()}
    tables["fine/train.csv"] = sentences("fine", 4)
    for name, table in tables.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        with (folder / name).open("w", newline="") as file:
            csv.writer(file).writerows([("sentence", "category"), *table])
    (folder / "README.md").write_text(CARD)
    return folder


def test_a_config_name_and_a_split_mapping_pick_the_files(repo):
    corpus = load_corpus(repo, hub=MAPPED, **COLUMNS)
    assert {split: len(rows) for split, rows in corpus.items()} == {"train": 30, "validation": 9, "test": 9}
    assert corpus["validation"]["text"] == [text for text, _ in sentences("dev", 9)]


def test_the_splits_a_mapping_leaves_out_are_carved_from_train(repo):
    corpus = load_corpus(repo, hub=HubOptions("coarse", split_mapping={"test": "heldout"}), **COLUMNS)
    assert len(corpus["train"]) + len(corpus["validation"]) == 30 and len(corpus["test"]) == 9


def test_the_same_options_stream_the_train_split(repo, tmp_path):
    argv = [SMOKE, "--corpus", str(repo), "--streaming", "true"]
    argv += ["--dataset_config_name", "coarse", "--split_mapping", "validation=dev,test=heldout"]
    argv += ["--text_column", "sentence", "--label_column", "category", "--class_names", "a", "b"]
    data_args = parse_run_arguments([*argv, "--output_dir", str(tmp_path / "run")])[1]
    splits = load_streamed_corpus(data_args)
    assert isinstance(splits["train"], IterableDataset) and isinstance(splits["test"], Dataset)
    assert [row["text"] for row in splits["train"]] == [text for text, _ in sentences("train", 30)]
    assert (len(splits["validation"]), len(splits["test"])) == (9, 9)


def test_a_split_mapping_reads_from_yaml_and_from_the_command_line(tmp_path):
    config = tmp_path / "mapped.yaml"
    config.write_text("corpus: someone/data\nsplit_mapping:\n  validation: dev\n  test: heldout\n")
    from_yaml = read_plan([str(config)]).hub.split_mapping
    from_command_line = read_plan(["--corpus", "someone/data", "--split_mapping", "validation=dev,test=heldout"])
    assert from_yaml == from_command_line.hub.split_mapping == {"validation": "dev", "test": "heldout"}


@pytest.mark.parametrize(
    "value, message",
    [
        ("validation:dev", "'validation:dev'.*ours=theirs"),
        ("eval=dev", "'eval'.*train, validation, test"),
        ("validation=", "'validation'"),
        ("test=a,test=b", "'test'"),
    ],
)
def test_a_bad_split_mapping_names_the_field(value, message):
    with pytest.raises(ValueError, match=f"split_mapping.*{message}"):
        read_plan(["--corpus", "someone/data", "--split_mapping", value])


def test_an_unknown_config_name_lists_the_configs(repo):
    with pytest.raises(ValueError, match=r"dataset_config_name='nope'.*'coarse', 'fine'"):
        load_corpus(repo, hub=HubOptions("nope"), **COLUMNS)


def test_a_dataset_of_several_configs_needs_a_config_name(repo):
    with pytest.raises(ValueError, match="dataset_config_name=None"):
        load_corpus(repo, **COLUMNS)


def test_a_mapping_to_a_split_the_dataset_lacks_lists_its_splits(repo):
    with pytest.raises(ValueError, match=r"split_mapping.*'validation'.*train, dev, heldout"):
        load_corpus(repo, hub=HubOptions("coarse", split_mapping={"validation": "validation"}), **COLUMNS)


def test_a_revision_is_for_hub_ids_only(repo):
    with pytest.raises(ValueError, match="dataset_revision"):
        load_corpus(repo, hub=HubOptions("coarse", dataset_revision="v1"), **COLUMNS)


def test_hub_options_on_a_file_name_the_field(repo):
    with pytest.raises(ValueError, match=r"dataset_config_name.*train\.csv"):
        load_corpus(repo / "coarse" / "train.csv", hub=HubOptions("coarse"), **COLUMNS)


def test_a_hub_id_is_loaded_with_the_config_name_revision_and_streaming(monkeypatch):
    calls = []

    def load_dataset(dataset_id, **options):
        calls.append((dataset_id, options))
        return {"train": Dataset.from_dict({"text": ["a text"], "label": ["a"]})}

    monkeypatch.setattr(files, "load_dataset", load_dataset)
    pieces = read_hub("someone/data", "text", "label", HubOptions("cfg", "v2"), streaming=True)
    assert calls == [("someone/data", {"name": "cfg", "revision": "v2", "streaming": True})]
    assert [where for where, _ in pieces["train"]] == ["someone/data (train split)"]


def test_an_unknown_revision_offline_names_the_revision(monkeypatch):
    """As under HF_HUB_OFFLINE=1, which huggingface_hub and datasets read once, when imported."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"'posenc-hf-tests/no-such-dataset'.*dataset_revision='v9'"):
        load_corpus("posenc-hf-tests/no-such-dataset", hub=HubOptions(dataset_revision="v9"))
