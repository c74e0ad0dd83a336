"""Inference: a text-classification pipeline that truncates over-long texts by default, and the
`posenc-predict` command.

    posenc-predict runs/subject/model "What is the charge of an electron?"
    cat questions.txt | posenc-predict runs/subject/model --top-k 2 --json
"""

import argparse
import itertools
import json
import sys
from collections.abc import Iterable, Iterator

from transformers import pipeline

import posenc_hf  # noqa: F401  (registers the Auto classes, so no remote code is needed)


def load_classifier(folder, device=None, **kwargs):
    """`pipeline("text-classification")` for a saved folder, truncating texts to the tokenizer's
    `model_max_length` unless `truncation=False` is passed."""
    kwargs.setdefault("truncation", True)
    return pipeline("text-classification", model=str(folder), device=device, **kwargs)


def check_texts(texts):
    """A clear error, naming the item, for anything that is not a string."""
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"Item {index} is {type(text).__name__} ({text!r}), not a string")
    return texts


def predict(classifier, texts: Iterable[str], top_k=1, batch_size=32) -> Iterator[list[dict]]:
    """Yield, for each text in order, its `top_k` labels with scores. Texts are read in chunks of
    `batch_size`, so a long stream is never held in memory at once."""
    chunk = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch_size:
            yield from classifier(check_texts(chunk), top_k=top_k, batch_size=batch_size)
            chunk = []
    if chunk:
        yield from classifier(check_texts(chunk), top_k=top_k, batch_size=batch_size)


def read_lines(stream):
    """Non-empty lines of a text stream, without their newline."""
    return (line.rstrip("\n") for line in stream if line.strip())


def format_prediction(text, labels, as_json):
    if as_json:
        return json.dumps({"text": text, "labels": labels}, ensure_ascii=False)
    best = ", ".join(f"{label['label']} {label['score']:.3f}" for label in labels)
    return f"{best}\t{text}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="posenc-predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a saved model folder (or Hub id)")
    parser.add_argument("texts", nargs="*", help="texts to classify; read from stdin, one per line, when none")
    parser.add_argument("--top-k", type=int, default=1, help="labels to show per text (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:0 (default: the pipeline's)")
    args = parser.parse_args(argv)
    if args.top_k < 1 or args.batch_size < 1:
        parser.error("--top-k and --batch-size must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    classifier = load_classifier(args.folder, device=args.device)
    texts = args.texts or read_lines(sys.stdin)
    texts, shown = itertools.tee(texts)
    for text, labels in zip(shown, predict(classifier, texts, args.top_k, args.batch_size), strict=True):
        print(format_prediction(text, labels, args.json), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
