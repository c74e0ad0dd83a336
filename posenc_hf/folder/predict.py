"""Inference: a text-classification pipeline that truncates over-long texts by default, and the
`posenc-predict` command.

    posenc-predict runs/subject/model "What is the charge of an electron?"
    cat questions.txt | posenc-predict runs/subject/model --top-k 2 --json

A multi-label folder (`problem_type: multi_label_classification`) gets a score per label and the
labels whose score reaches the threshold its run chose on validation (`config.multi_label_threshold`):

    posenc-predict runs/goemotions_multilabel/model "Thanks, this made my day!"
    gratitude, joy	gratitude 0.912, joy 0.514, admiration 0.201, ...	Thanks, this made my day!
"""

import argparse
import itertools
import json
import sys
import types
from collections.abc import Iterable, Iterator
from pathlib import Path

import huggingface_hub
import torch
from torch.utils.data import Dataset
from transformers import TextClassificationPipeline, pipeline

import posenc_hf  # noqa: F401  (registers the Auto classes, so no remote code is needed)

from ..model.configuration_posenc import MULTI_LABEL
from .checkpoints import check_model_folder
from .cli import quiet_progress_bars, run_command
from .export import ExportedClassifier, is_export_folder


class CheckedTextClassificationPipeline(TextClassificationPipeline):
    """transformers' text-classification pipeline, with one change: an input that is not text raises
    a `ValueError` naming its position, instead of transformers' error about `text_target` or
    `TextEncodeInput` (which names neither the item nor its index). An empty list gives `[]`."""

    def __call__(self, inputs, **kwargs):
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                return []
            check_texts(inputs, allow_pairs=True)
        elif isinstance(inputs, types.GeneratorType):
            inputs = checked_stream(inputs)
        elif not isinstance(inputs, (Dataset, Iterator)):  # datasets and iterators stream as transformers does
            check_text(inputs, index=None, allow_pairs=True)
        return super().__call__(inputs, **kwargs)


def looks_like_local_path(name):
    """A path rather than a Hub id (`owner/name`): absolute, `./`, `~`, or more than one `/`."""
    name = str(name)
    return Path(name).is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name


def is_local_folder(name):
    """Whether `name` means a folder on this machine rather than a Hub id: it exists, looks like a path,
    or starts with a folder that exists here (`runs/nope` beside `runs/`)."""
    name = str(name)
    if Path(name).exists() or looks_like_local_path(name):
        return True
    return "/" in name and Path(name).parent.is_dir()  # `runs/nope` beside `runs/`: a path, not `owner/name`


def check_hub_id_loads_offline(name):
    """A ValueError, at once, for a Hub id that cannot load: the Hub is offline (`HF_HUB_OFFLINE=1`) and
    its local cache holds no model of that id."""
    if huggingface_hub.is_offline_mode() and not in_hub_cache(name):
        raise ValueError(
            f"{name} is not a folder here, and as a Hub id it is not in the local Hub cache while offline mode "
            f"is on (HF_HUB_OFFLINE=1): give the folder's path, or download the model once online (hf download {name})"
        )


def in_hub_cache(repo_id):
    """Whether the local Hub cache holds a config.json for `repo_id` (so it loads offline)."""
    try:
        return isinstance(huggingface_hub.try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id (huggingface_hub's validation error is a ValueError)
        return False


def load_classifier(folder, device=None, trust_remote_code=False, **kwargs):
    """`pipeline("text-classification")` for a saved folder, truncating texts to the tokenizer's
    `model_max_length` unless `truncation=False` is passed. A local folder is checked first
    (`posenc_hf.folder.checkpoints.check_model_folder`): a missing folder, a missing file, a config of another
    model type or truncated weights raise a `ValueError` that names the problem, at once (a name
    that only looks like a Hub id is not looked up on the Hub). Inputs that are not text raise a
    `ValueError` naming their index. An export folder (`posenc-export`) is run by its runtime instead,
    through the same call; a `dynamo` one, a pickle, only with `trust_remote_code=True`."""
    check_device(device)
    if is_local_folder(folder):
        if is_export_folder(folder):  # what posenc-export wrote: run the export
            return ExportedClassifier(folder, trust_remote_code)
        check_model_folder(folder)
    else:
        check_hub_id_loads_offline(folder)
    kwargs.setdefault("truncation", True)
    kwargs.setdefault("pipeline_class", CheckedTextClassificationPipeline)
    return pipeline(
        "text-classification", model=str(folder), device=device, trust_remote_code=trust_remote_code, **kwargs
    )


def check_device(device):
    """A ValueError naming `device` when this torch cannot run on it, instead of the pipeline's long
    AssertionError from torch's CUDA start-up (`None` and -1, the CPU, always can)."""
    if device is None or device == -1:
        return
    try:
        device = torch.device(f"cuda:{device}" if isinstance(device, int) else device)
    except (RuntimeError, TypeError) as error:  # torch's own message lists the device types
        raise ValueError(f"device {device!r} is not a device torch knows: {error}") from None
    if device.type != "cuda":
        return
    if not torch.backends.cuda.is_built():
        raise ValueError(f"device {device}: CUDA is not available in this torch build ({torch.__version__}, CPU only)")
    if not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {device}: this machine has {torch.cuda.device_count()} CUDA device(s) torch can use")


def check_text(text, index=None, allow_pairs=False):
    """A clear error, naming the item, for anything that is not a string (or, for the pipeline, a
    `{"text": ..., "text_pair": ...}` dict of strings)."""
    if isinstance(text, str):
        return
    if allow_pairs and isinstance(text, dict) and isinstance(text.get("text"), str):
        if all(isinstance(text[key], str) for key in text if key in ("text", "text_pair")):
            return
    where = "The input" if index is None else f"Item {index}"
    raise ValueError(f"{where} is {type(text).__name__} ({text!r:.80}), not a string")


def check_texts(texts, start=0, allow_pairs=False):
    """A clear error, naming the item's index (counted from `start`), for anything that is not a string."""
    for index, text in enumerate(texts, start):
        check_text(text, index, allow_pairs)
    return texts


def checked_stream(texts, allow_pairs=True):
    """The items of `texts`, one at a time, each checked as it goes past."""
    for index, text in enumerate(texts):
        check_text(text, index, allow_pairs)
        yield text


def predict(classifier, texts: Iterable[str], top_k=1, batch_size=32) -> Iterator[list[dict]]:
    """Yield, for each text in order, its `top_k` labels with scores. Texts are read in chunks of
    `batch_size`, so a long stream is never held in memory at once. An item that is not a string
    raises a `ValueError` naming its index in `texts`."""
    if texts is None or isinstance(texts, (str, bytes, dict)):
        raise ValueError(f"texts must be an iterable of strings, got {type(texts).__name__}: wrap one text in a list")
    chunk, start = [], 0
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch_size:
            yield from classifier(check_texts(chunk, start), top_k=top_k, batch_size=batch_size)
            chunk, start = [], start + batch_size
    if chunk:
        yield from classifier(check_texts(chunk, start), top_k=top_k, batch_size=batch_size)


def read_lines(stream):
    """Non-empty lines of a stream, without their line ending. Bytes are decoded as UTF-8 (a byte-order
    mark is dropped); a line that is not UTF-8 raises a `ValueError` naming its number."""
    for number, line in enumerate(getattr(stream, "buffer", stream), 1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"line {number} of the input is not UTF-8 text ({error.reason} at byte {error.start}); "
                    f"convert it first, e.g. iconv -f latin1 -t utf-8"
                ) from None
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def decision_threshold(classifier):
    """A multi-label classifier's threshold: its config's `multi_label_threshold` (chosen on validation
    by the run that trained it), else 0.5; None for a single-label classifier."""
    config = classifier.exported.config if isinstance(classifier, ExportedClassifier) else classifier.model.config
    if config.problem_type != MULTI_LABEL:
        return None
    return getattr(config, "multi_label_threshold", 0.5)


def format_prediction(text, labels, as_json):
    if as_json:
        return json.dumps({"text": text, "labels": labels}, ensure_ascii=False)
    best = ", ".join(f"{label['label']} {label['score']:.3f}" for label in labels)
    return f"{best}\t{text}"


def format_multi_label(text, scores, as_json, threshold, top_k=None):
    """A multi-label prediction: the labels scoring at least `threshold`, then the `top_k` best scores
    (all by default). Text: `labels<TAB>scores<TAB>text`, "-" when no label reaches the threshold."""
    labels, shown = [score for score in scores if score["score"] >= threshold], scores[:top_k]
    if as_json:
        record = {"text": text, "labels": labels, "scores": shown, "threshold": threshold}
        return json.dumps(record, ensure_ascii=False)
    names = ", ".join(label["label"] for label in labels) or "-"
    return f"{names}\t" + ", ".join(f"{score['label']} {score['score']:.3f}" for score in shown) + f"\t{text}"


def device_argument(value):
    """`--device`: a number is a CUDA device index (-1 the CPU), as for `pipeline(device=...)`."""
    return int(value) if value.lstrip("-").isdigit() else value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="posenc-predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a saved model folder (or Hub id)")
    parser.add_argument("texts", nargs="*", help="texts to classify; read from stdin, one per line, when none")
    parser.add_argument(
        "--top-k", type=int, default=None, help="labels to show per text (default 1; multi-label: every label)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--device", type=device_argument, default=None, help="e.g. cpu, cuda, cuda:0, 0 (default: the pipeline's)"
    )
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="run code the folder holds: a dynamo export is a pickle"
    )
    args = parser.parse_intermixed_args(argv)  # options may come between the folder and the texts
    if (args.top_k is not None and args.top_k < 1) or args.batch_size < 1:
        parser.error("--top-k and --batch-size must be at least 1")
    return args


def main(argv=None):
    """`posenc-predict`: a bad folder or input prints its message, not a traceback, and exits with 1; a
    reader that stops early (`| head -1`) ends it quietly."""
    return run_command("posenc-predict", classify_command, argv)


def classify_command(argv):
    args = parse_args(argv)
    quiet_progress_bars()
    classifier = load_classifier(args.folder, device=args.device, trust_remote_code=args.trust_remote_code)
    threshold = decision_threshold(classifier)
    texts = args.texts or read_lines(sys.stdin)
    texts, shown = itertools.tee(texts)
    top_k = (args.top_k or 1) if threshold is None else None  # multi-label: every label's score, to threshold
    for text, labels in zip(shown, predict(classifier, texts, top_k, args.batch_size), strict=True):
        if threshold is None:
            print(format_prediction(text, labels, args.json), flush=True)
        else:
            print(format_multi_label(text, labels, args.json, threshold, args.top_k), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
