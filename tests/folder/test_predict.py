"""`load_classifier`, `predict` and `posenc-predict`: as a user types them (options anywhere among the
texts, a missing local folder named at once instead of being looked up on the Hub), on odd and bad
input (docs/reliability.md §1, beside transformers' own `pipeline` on the same folder), and under load
(§4: 10,000 texts with the memory growth measured, streaming that never reads far ahead, four threads
sharing one pipeline). Damaged folders: tests/folder/test_checkpoints.py.

The measured memory is printed: `python -m pytest tests/folder/test_predict.py -k memory -s` reproduces the
table of docs/reliability.md §4."""

import gc
import io
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import huggingface_hub
import psutil
import pytest
import torch
from helpers import CONTROL, LONG, MIXED, NOT_TEXT, TINY_LABELS, tiny_texts
from transformers import pipeline

from posenc_hf.folder import predict
from posenc_hf.folder.predict import is_local_folder, load_classifier, main

LABELS = set(TINY_LABELS)


def run_cli(monkeypatch, capsys, argv, stdin=b""):
    """`posenc-predict ARGV` in this process, `stdin` as its input: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def classifier(tiny_folder):
    return load_classifier(tiny_folder)


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


@pytest.mark.reliability
def test_offline_a_hub_id_absent_from_the_cache_is_named_as_such(hub, tmp_path, monkeypatch, capsys):
    hub(offline=True)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(monkeypatch, capsys, ["someone/nope", "cell"])
    assert code == 1 and err.strip() == (
        "posenc-predict: error: someone/nope is not a folder here, and as a Hub id it is not in the local Hub "
        "cache while offline mode is on (HF_HUB_OFFLINE=1): give the folder's path, or download the model once "
        "online (hf download someone/nope)"
    )


def device_error(monkeypatch, capsys, tiny_folder, device, cuda_built, gpus):
    """posenc-predict's stderr for `--device DEVICE`, torch's CUDA build and GPU count stubbed (the
    pipeline is never built: the device is checked first)."""
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: cuda_built)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(predict, "pipeline", lambda *a, **k: pytest.fail("built a pipeline for a bad device"))
    code, out, err = run_cli(monkeypatch, capsys, [str(tiny_folder), "--device", device, "cell"])
    assert (code, out) == (1, "") and len(err.splitlines()) == 1
    return err.strip()


@pytest.mark.reliability
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "0"])
def test_a_cuda_device_on_a_cpu_only_torch_is_one_line(tiny_folder, monkeypatch, capsys, device):
    err = device_error(monkeypatch, capsys, tiny_folder, device, cuda_built=False, gpus=0)
    assert err.startswith("posenc-predict: error: device cuda") and err.endswith(
        f": CUDA is not available in this torch build ({torch.__version__}, CPU only)"
    )


@pytest.mark.reliability
def test_a_gpu_the_machine_lacks_and_an_unknown_device_are_one_line(tiny_folder, monkeypatch, capsys):
    err = device_error(monkeypatch, capsys, tiny_folder, "cuda:1", cuda_built=True, gpus=1)
    assert err == "posenc-predict: error: device cuda:1: this machine has 1 CUDA device(s) torch can use"
    err = device_error(monkeypatch, capsys, tiny_folder, "gpu", cuda_built=True, gpus=1)
    assert err.startswith("posenc-predict: error: device 'gpu' is not a device torch knows: ") and "cuda" in err


def test_the_cpu_by_name_or_index_classifies(tiny_folder, monkeypatch, capsys):
    for device in ("cpu", "-1"):
        code, out, _ = run_cli(monkeypatch, capsys, [str(tiny_folder), "--device", device, "cell atom"])
        assert code == 0 and out.split()[0] in LABELS


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


# --- odd and bad input (docs/reliability.md §1) ----------------------------------------------------


def top_label(classifier, text):
    """The label and score the folder's own model gives `text`, truncated to its position table."""
    inputs = classifier.tokenizer(text, truncation=True, return_tensors="pt")
    with torch.no_grad():
        probabilities = classifier.model(**inputs).logits.softmax(-1)[0]
    best = int(probabilities.argmax())
    return classifier.model.config.id2label[best], probabilities[best].item()


@pytest.mark.reliability
@pytest.mark.parametrize(
    "text", ["", "   \t\n  ", CONTROL, MIXED, LONG], ids=["empty", "space", "ctrl", "mixed", "long"]
)
def test_pipeline_classifies_odd_text(classifier, text):
    [result] = classifier(text)
    label, score = top_label(classifier, text)
    assert result["label"] == label and result["score"] == pytest.approx(score, abs=1e-6)


@pytest.mark.reliability
def test_pipeline_empty_and_whitespace_agree(classifier):
    assert classifier("") == classifier("  \t ")


@pytest.mark.reliability
@pytest.mark.parametrize("item", NOT_TEXT, ids=lambda x: type(x).__name__)
def test_pipeline_rejects_non_text(classifier, item):
    with pytest.raises(ValueError, match=f"The input is {type(item).__name__} .*, not a string"):
        classifier(item)


@pytest.mark.reliability
def test_pipeline_names_the_index_of_a_bad_item_in_a_list(classifier):
    with pytest.raises(ValueError, match=r"Item 2 is int \(7\), not a string"):
        classifier(["cell atom", "force", 7, "gene"])


@pytest.mark.reliability
def test_pipeline_names_the_index_of_a_bad_item_in_a_stream(classifier):
    stream = (text if i != 5 else None for i, text in enumerate(["cell atom"] * 8))
    with pytest.raises(ValueError, match="Item 5 is NoneType"):
        list(classifier(stream, batch_size=2))


@pytest.mark.reliability
def test_pipeline_still_streams_a_dataset(classifier):
    from datasets import Dataset
    from transformers.pipelines.pt_utils import KeyDataset

    rows = Dataset.from_dict({"text": ["cell atom", "force", "gene"]})
    assert [result["label"] in LABELS for result in classifier(KeyDataset(rows, "text"), batch_size=2)] == [True] * 3


@pytest.mark.reliability
def test_pipeline_empty_list_gives_empty_list(classifier):
    assert classifier([]) == []


@pytest.mark.reliability
def test_pipeline_without_truncation_names_both_lengths(tiny_folder):
    untruncated = load_classifier(tiny_folder, truncation=False)
    with pytest.raises(ValueError, match=r"length 3202 is longer than max_position_embeddings=32.*truncat"):
        untruncated(LONG)


@pytest.mark.reliability
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


@pytest.mark.reliability
def test_plain_transformers_pipeline_on_a_missing_folder(tmp_path):
    with pytest.raises(OSError):
        pipeline("text-classification", model=str(tmp_path / "nope"))


# predict(): streams in chunks, indexes count over the whole stream


@pytest.mark.reliability
def test_predict_names_the_index_over_the_whole_stream(classifier):
    texts = ["cell atom"] * 70 + [None]
    with pytest.raises(ValueError, match="Item 70 is NoneType"):
        list(predict.predict(classifier, iter(texts), batch_size=32))


@pytest.mark.reliability
@pytest.mark.parametrize("texts", ["cell atom", None, b"cell"], ids=["str", "None", "bytes"])
def test_predict_rejects_a_single_text_in_place_of_a_list(classifier, texts):
    with pytest.raises(ValueError, match="texts must be an iterable of strings"):
        list(predict.predict(classifier, texts))


# posenc-predict, in this process (as a subprocess: the load tests below)


@pytest.mark.reliability
def test_cli_odd_lines_one_result_each_in_order(tiny_folder, monkeypatch, capsys):
    lines = ["\ufeffcell atom", "", "   ", "force energy\r", CONTROL, MIXED, LONG]
    code, out, _ = run_cli(monkeypatch, capsys, [str(tiny_folder), "--json"], "\n".join(lines).encode() + b"\n")
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in results] == ["cell atom", "force energy", CONTROL, MIXED, LONG]  # blank lines skipped
    assert all(r["labels"][0]["label"] in LABELS for r in results)


@pytest.mark.reliability
def test_cli_empty_input_gives_no_output(tiny_folder, monkeypatch, capsys):
    assert run_cli(monkeypatch, capsys, [str(tiny_folder)], b"")[:2] == (0, "")


@pytest.mark.reliability
def test_cli_empty_argument_is_classified(tiny_folder, monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, [str(tiny_folder), ""])
    assert code == 0 and len(out.splitlines()) == 1


@pytest.mark.reliability
def test_cli_line_that_is_not_utf8_is_named(tiny_folder, monkeypatch, capsys):
    stdin = b"cell atom\nforce\nchaleur \xe9lev\xe9e\n"  # line 3 is Latin-1
    code, out, err = run_cli(monkeypatch, capsys, [str(tiny_folder), "--batch-size", "1"], stdin)
    assert code == 1
    assert "line 3 of the input is not UTF-8" in err and "Traceback" not in err
    assert len(out.splitlines()) == 2  # the lines before it were classified and printed


@pytest.mark.reliability
def test_cli_missing_folder_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, [str(tmp_path / "nope"), "cell"])
    assert code == 1 and err.strip() == f"posenc-predict: error: No such model folder: {tmp_path / 'nope'}"


# --- under load (docs/reliability.md §4) ------------------------------------------------------------

COUNT = 10_000
MIB = 2**20
GROWTH_BOUND_MIB = 64  # docs/reliability.md: RSS growth over 10,000 texts stays under this
REPEAT_BOUND_MIB = 16  # and a second pass over the same texts adds less than this (no leak)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread: tiny batches on a shared 2-core machine run ~10× faster than with two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rss(pid=None):
    gc.collect()
    return psutil.Process(pid).memory_info().rss


@pytest.mark.reliability
@pytest.mark.usefixtures("one_torch_thread")
def test_pipeline_on_10000_texts_keeps_memory_flat(classifier):
    texts = tiny_texts(COUNT)
    classifier(texts[:500], batch_size=64)  # warm up: allocator pools, lazy imports
    before = rss()
    results = classifier(texts, batch_size=64)  # the 10,000 small result dicts are held, no tensors
    growth = (rss() - before) / MIB
    assert len(results) == COUNT and all(r["label"] in LABELS for r in results)
    print(f"\nmemory: pipeline(list of {COUNT}) RSS {before / MIB:.0f} MiB, +{growth:.1f} MiB")
    assert growth < GROWTH_BOUND_MIB


@pytest.mark.reliability
@pytest.mark.usefixtures("one_torch_thread")
def test_predict_streams_10000_texts_with_flat_memory(classifier):
    texts = tiny_texts(COUNT)
    list(predict.predict(classifier, iter(texts[:500]), batch_size=64))
    before = rss()
    count = sum(1 for _ in predict.predict(classifier, iter(texts), batch_size=64))
    first = rss()
    count += sum(1 for _ in predict.predict(classifier, iter(texts), batch_size=64))
    second = rss()
    assert count == 2 * COUNT
    growth, repeat = (first - before) / MIB, (second - first) / MIB
    print(
        f"\nmemory: predict(stream of {COUNT}) RSS {before / MIB:.0f} MiB, +{growth:.1f} MiB, again +{repeat:.1f} MiB"
    )
    assert growth < GROWTH_BOUND_MIB and repeat < REPEAT_BOUND_MIB


@pytest.mark.reliability
@pytest.mark.usefixtures("one_torch_thread")
def test_predict_reads_at_most_one_chunk_ahead_of_its_results(classifier):
    """An endless stream: the first results come back, and only one chunk past them was read."""
    read = itertools.count()
    endless = (f"cell atom {next(read)}" for _ in itertools.count())
    results = list(itertools.islice(predict.predict(classifier, endless, batch_size=32), 100))
    assert len(results) == 100 and next(read) <= 128


@pytest.mark.slow
@pytest.mark.reliability
def test_posenc_predict_on_10000_lines_keeps_memory_flat(tiny_folder, tmp_path):
    texts = tiny_texts(COUNT)
    lines = tmp_path / "texts.txt"
    lines.write_text("\n".join(texts) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "posenc_hf.folder.predict", str(tiny_folder), "--json", "--batch-size", "64"]
    with open(lines) as stdin:
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        shown = []
        for number, line in enumerate(process.stdout, 1):
            shown.append(json.loads(line)["text"])
            if number == 500:
                early = rss(process.pid)
            if number == COUNT:
                late = rss(process.pid)
        assert process.wait(timeout=60) == 0
    assert shown == texts  # every line, in order
    growth = (late - early) / MIB
    print(
        f"\nmemory: posenc-predict ({COUNT} lines) RSS {early / MIB:.0f} MiB at line 500, +{growth:.1f} MiB at the end"
    )
    assert growth < GROWTH_BOUND_MIB


@pytest.mark.reliability
@pytest.mark.usefixtures("one_torch_thread")
def test_four_threads_sharing_one_pipeline_match_one_thread(classifier):
    texts = [text[:40] for text in tiny_texts(1000)]  # short enough to run untruncated too
    settings = [{}, {"top_k": 2}, {"truncation": False}, {"top_k": 2, "truncation": False}]
    expected = [classifier(texts, batch_size=32, **kwargs) for kwargs in settings]

    def work(job):
        return classifier(texts, batch_size=16 + job, **settings[job % 4])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(8)))
    for job, result in enumerate(results):
        assert result == expected[job % 4], f"job {job} ({settings[job % 4]}) differs from one thread"
