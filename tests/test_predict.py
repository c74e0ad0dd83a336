"""`posenc-predict` and `load_classifier` as a user types them: options anywhere among the texts, and a
missing local folder named at once instead of being looked up on the Hub. (Bad inputs and damaged
folders: tests/test_reliability_inputs.py.)"""

import io
import json
import sys

import huggingface_hub
import pytest
from conftest import TINY_LABELS

from posenc_hf import predict
from posenc_hf.predict import is_local_folder, main


def run_cli(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def hub(monkeypatch):
    """Set whether the Hub is offline; any attempt to build a pipeline (and so reach the Hub) fails the test."""

    def never(*args, **kwargs):
        raise AssertionError("the name was looked up instead of failing at once")

    monkeypatch.setattr(predict, "pipeline", never)

    def set_offline(offline):
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)

    return set_offline


def test_options_may_come_between_the_folder_and_the_texts(tiny_folder, monkeypatch, capsys):
    argv = [str(tiny_folder), "--top-k", "2", "cell atom", "--json", "force energy"]
    code, out, _ = run_cli(monkeypatch, capsys, argv)
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [result["text"] for result in results] == ["cell atom", "force energy"]
    assert all(len(result["labels"]) == 2 and result["labels"][0]["label"] in TINY_LABELS for result in results)


def test_a_missing_folder_beside_an_existing_one_is_not_taken_for_a_hub_id(hub, tmp_path, monkeypatch, capsys):
    hub(offline=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    code, out, err = run_cli(monkeypatch, capsys, ["runs/nope", "cell"])
    assert (code, out) == (1, "")
    assert err.strip() == "posenc-predict: error: No such model folder: runs/nope"


def test_offline_a_name_absent_here_and_from_the_hub_cache_is_a_missing_folder(hub, tmp_path, monkeypatch, capsys):
    hub(offline=True)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(monkeypatch, capsys, ["someone/nope", "cell"])
    assert code == 1 and err.strip() == "posenc-predict: error: No such model folder: someone/nope"


def test_a_hub_id_stays_a_hub_id_online_or_when_cached(hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hub(offline=False)
    assert not is_local_folder("someone/posenc-subject")
    hub(offline=True)
    cached = str(tmp_path / "cache" / "config.json")
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo_id, filename: cached)
    assert not is_local_folder("someone/posenc-subject")


@pytest.mark.parametrize("name", ["./model", "/abs/model", "~/model", "runs/subject/model"])
def test_names_that_look_like_paths_are_local(hub, name):
    hub(offline=False)
    assert is_local_folder(name)
