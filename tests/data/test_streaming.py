"""Training from a stream (`streaming: true`): runs that end at max_steps and write a folder, the
held-out head kept out of train, errors that name the row, the label or the missing field, and two
DDP processes that train on different rows of one stream."""

import csv
import json
import logging
import os
import subprocess
import sys
from collections import Counter

import pytest
from helpers import REPO_ROOT, SMOKE
from transformers import AutoTokenizer

from posenc_hf.data.streaming import check_streaming_run, load_streamed_corpus, tokenize_streamed
from posenc_hf.training.arguments import parse_run_arguments
from posenc_hf.training.plan import plan_run
from posenc_hf.training.runner import run_training
from posenc_hf.training.tasks import task_for

HARNESS = str(REPO_ROOT / "tests" / "data" / "rows_harness.py")
WORDS = {"a": "cell gene enzyme protein", "b": "acid base salt ion", "c": "force mass energy wave"}
FAST = ["--report_to", "none", "--num_threads", "1", "--max_steps", "3", "--per_device_train_batch_size", "4"]


def rows(count=90, bad_label_at=None):
    """`count` distinct (text, label) rows of 2 to 6 words after their number, labels a, b, c in turn
    (texts of different lengths: batches padded to different lengths); `bad_label_at`: a row (1-based)
    labelled zzz."""
    made = []
    for i in range(count):
        label = "abc"[i % 3]
        words = WORDS[label].split()
        text = f"text {i}: " + " ".join(words[j % 4] for j in range(i, i + 2 + i % 5))
        made.append((text, "zzz" if i + 1 == bad_label_at else label))
    return made


def write(path, table):
    """`table` as a CSV or JSON Lines file with columns text and label."""
    if path.suffix == ".csv":
        with path.open("w", newline="") as file:
            csv.writer(file).writerows([("text", "label"), *table])
    else:
        path.write_text("".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in table))
    return path


def arguments(corpus, output_dir, *extra):
    """A streaming run of the smoke config on `corpus`, labels a, b, c, 10 rows held out for each split,
    no cap on the rows (the smoke config's `max_samples`)."""
    model_args, data_args, run_args = parse_run_arguments(
        [SMOKE, "--corpus", str(corpus), "--streaming", "true", "--class_names", "a", "b", "c"]
        + ["--streaming_holdout_rows", "10", "--output_dir", str(output_dir), *FAST, *extra]
    )
    data_args.max_samples = None
    return model_args, data_args, run_args


def test_a_streamed_csv_file_trains_for_max_steps_and_writes_a_folder(tmp_path):
    """A JSON Lines file does the same under DDP (the last test)."""
    corpus = write(tmp_path / "questions.csv", rows())
    result = run_training(plan_run(*arguments(corpus, tmp_path / "run")), REPO_ROOT / "model_card.md")
    assert (result.folder / "model.safetensors").is_file() and (result.folder / "tokenizer.json").is_file()
    state = json.loads((tmp_path / "run" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert sum(map(sum, result.test_metrics["confusion_matrix"])) == 10  # the 10 test rows held out
    card = (result.folder / "README.md").read_text()
    assert "| train | streamed |" in card and "| test | 10 |" in card and "| **total** | 20 + streamed |" in card


def test_the_held_out_head_never_reaches_train(tmp_path):
    """The first 10 rows are validation, the next 10 test; train has every other row, split among
    processes by file (each file a shard) or not."""
    table = rows()
    write(tmp_path / "train-1.csv", table[:45])
    write(tmp_path / "train-2.csv", table[45:])
    splits = load_streamed_corpus(arguments(tmp_path, tmp_path / "run")[1])
    texts = [text for text, _ in table]
    assert list(splits["validation"]["text"]) == texts[:10] and list(splits["test"]["text"]) == texts[10:20]
    assert [row["text"] for row in splits["train"]] == texts[20:]
    shards = [[row["text"] for row in splits["train"].shard(2, index)] for index in (0, 1)]
    assert sorted(shards[0] + shards[1]) == sorted(texts[20:])


def test_validation_and_test_files_are_read_whole_and_nothing_is_held_out(tmp_path):
    table = rows()
    write(tmp_path / "train.csv", table[:60])
    write(tmp_path / "validation.csv", table[60:75])
    write(tmp_path / "test.csv", table[75:])
    data_args = arguments(tmp_path, tmp_path / "run")[1]
    splits = load_streamed_corpus(data_args)
    assert (len(splits["validation"]), len(splits["test"])) == (15, 15)
    assert sum(1 for _ in splits["train"]) == 60


def test_an_unknown_label_in_the_stream_names_the_file_row_and_label(tmp_path):
    """Raised when the batch that holds it is read: here the first (batches of 1,000 rows), read for the head."""
    corpus = write(tmp_path / "questions.csv", rows(bad_label_at=57))
    with pytest.raises(ValueError, match=r"'zzz'.*row 57\b.*questions\.csv.*\['a', 'b', 'c'\]"):
        list(load_streamed_corpus(arguments(corpus, tmp_path / "run")[1])["train"])


@pytest.mark.reliability
def test_empty_cells_in_the_stream_are_named_as_read_or_dropped(tmp_path, caplog):
    """Named among the rows of their batch, or, with drop_rows_with_empty_cells, left out (logged) while
    the row numbers of later errors stay the file's."""
    table = rows(bad_label_at=70)
    table[33] = (table[33][0], "")  # row 34: an empty label
    table[51] = ("  ", table[51][1])  # row 52: a whitespace-only text
    corpus = write(tmp_path / "questions.csv", table)
    message = (
        r"questions\.csv: 1 empty or whitespace-only text cell in column 'text', at row 52; 1 empty or "
        r"whitespace-only label cell in column 'label', at row 34 \(.*among rows 1-90, as the stream is read\)"
    )
    with pytest.raises(ValueError, match=message):
        list(load_streamed_corpus(arguments(corpus, tmp_path / "run")[1])["train"])
    dropping = arguments(corpus, tmp_path / "run", "--drop_rows_with_empty_cells", "true")[1]
    with pytest.raises(ValueError, match=r"label 'zzz' at row 70 of .*questions\.csv"):
        list(load_streamed_corpus(dropping)["train"])
    table[69] = (table[69][0], "a")
    write(corpus, table)
    with caplog.at_level(logging.WARNING, logger="posenc_hf.data.empty_cells"):
        train = [row["text"] for row in load_streamed_corpus(dropping)["train"]]
    assert train == [text for i, (text, _) in enumerate(table) if i >= 20 and i not in (33, 51)]
    assert "questions.csv: dropping rows with an empty or whitespace-only cell as the stream is read" in caplog.text


def test_without_max_steps_the_run_stops_before_reading(tmp_path):
    model_args, data_args, run_args = arguments(tmp_path / "nowhere.csv", tmp_path / "run", "--max_steps", "-1")
    with pytest.raises(ValueError, match=r"streaming.*max_steps"):
        plan_run(model_args, data_args, run_args)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("task", "mlm", "task mlm"),
        ("class_weight", "balanced", "class_weight"),
        ("lr_step_epochs", 5, "lr_step_epochs"),
        ("tokenizer_max_texts", None, "tokenizer_max_texts=None"),
    ],
)
def test_what_a_stream_cannot_give_is_refused_by_name(tmp_path, field, value, message):
    model_args, data_args, run_args = arguments(tmp_path / "questions.csv", tmp_path / "run")
    for args in (model_args, data_args, run_args):
        if hasattr(args, field):
            setattr(args, field, value)
    with pytest.raises(ValueError, match=message):
        check_streaming_run(model_args.task, data_args, run_args)


def test_multi_label_is_refused_when_asked_for_and_when_the_stream_holds_lists(tmp_path):
    model_args, data_args, run_args = arguments(tmp_path / "questions.csv", tmp_path / "run")
    with pytest.raises(ValueError, match="problem_type multi_label_classification"):
        check_streaming_run(model_args.task, data_args, run_args, "multi_label_classification")
    lists = tmp_path / "tags.jsonl"
    lists.write_text("".join(json.dumps({"text": text, "label": [label]}) + "\n" for text, label in rows(30)))
    with pytest.raises(ValueError, match=r"label.*lists"):
        load_streamed_corpus(arguments(lists, tmp_path / "run")[1])


def test_a_head_without_some_class_is_flagged(tmp_path, caplog):
    corpus = write(tmp_path / "sorted.csv", sorted(rows(), key=lambda row: row[1]))
    with caplog.at_level(logging.WARNING, logger="posenc_hf.data.streaming"):
        load_streamed_corpus(arguments(corpus, tmp_path / "run")[1])
    assert "validation, held out from the head of" in caplog.text and "has no rows of b, c" in caplog.text


def test_the_example_config_streams_the_built_in_files():
    model_args, data_args, run_args = parse_run_arguments([str(REPO_ROOT / "configs" / "streaming_example.yaml")])
    check_streaming_run(model_args.task, data_args, run_args)
    splits = load_streamed_corpus(data_args)
    assert (len(splits["validation"]), len(splits["test"])) == (72, 72) and sum(1 for _ in splits["train"]) == 576


def test_without_label_names_the_stream_says_it_cannot_be_scanned(tmp_path):
    corpus = write(tmp_path / "questions.csv", rows())
    data_args = arguments(corpus, tmp_path / "run")[1]
    data_args.class_names = None
    with pytest.raises(ValueError, match="class_names"):
        load_streamed_corpus(data_args)


def launch_two_processes(argv, rows_dir):
    """`accelerate launch --multi_gpu --num_processes 2 rows_harness.py ARGV` (CPU DDP; pass --use_cpu true)."""
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO_ROOT / "train" / "accelerate.yaml"),
    ]
    launch += ["--multi_gpu", "--num_processes", "2", "--main_process_port", str(29500 + os.getpid() % 500)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "ROWS_DIR": str(rows_dir)}
    result = subprocess.run(
        [*launch, HARNESS, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def rows_trained_on(rows_dir, rank):
    """The token ids of every row process `rank` trained on, in order (`rows_harness.py`)."""
    batches = (rows_dir / f"rank-{rank}.jsonl").read_text().splitlines()
    return [tuple(row) for batch in batches for row in json.loads(batch)]


@pytest.mark.slow
def test_two_ddp_processes_train_on_different_rows_of_the_stream(tmp_path):
    """A JSON Lines stream under CPU DDP: the rows the two processes train on in their 3 steps of 4 are
    disjoint, and together they are the first 24 rows of the run's shuffled train stream: split once
    among the processes, not twice (1/4 each), and none of them held out."""
    corpus = write(tmp_path / "questions.jsonl", rows())
    argv = [SMOKE, "--corpus", str(corpus), "--streaming", "true", "--class_names", "a", "b", "c"]
    argv += ["--streaming_holdout_rows", "10", "--output_dir", str(tmp_path / "run"), *FAST, "--use_cpu", "true"]
    launch_two_processes(argv, tmp_path)
    first, second = rows_trained_on(tmp_path, 0), rows_trained_on(tmp_path, 1)
    assert len(first) == len(second) == 12 and set(first).isdisjoint(second)
    _, data_args, run_args = parse_run_arguments(argv)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "run" / "model", trust_remote_code=False)
    splits = load_streamed_corpus(data_args)
    tokenized = tokenize_streamed(
        task_for("classification"), splits, tokenizer, run_args.seed, data_args.shuffle_buffer_size
    )
    assert Counter(first + second) == Counter(tuple(row["input_ids"]) for row in tokenized["train"].take(24))
    held_out = {tuple(ids) for split in ("validation", "test") for ids in tokenized[split]["input_ids"]}
    assert held_out.isdisjoint(first + second)
