"""Export a model folder with transformers' exporters, and classify texts with the export.

    posenc-export runs/subject/model runs/subject/onnx                  # ONNX, run by ONNX Runtime
    posenc-export runs/subject/model runs/subject/pt2 --format dynamo   # torch.export program
    posenc-predict runs/subject/onnx "What is the charge of an electron?"

The export folder is `transformers.exporters.ExportedModel.save_pretrained`'s (the program, `export.json`,
`config.json` with the label names and the config's code) plus the tokenizer, so it is all a deployment
needs. Batch size and sequence length stay dynamic (up to `max_position_embeddings`), and padding is
honoured. In Python, on a machine without this package:

    from transformers import PreTrainedTokenizerFast
    from transformers.exporters import ExportedModel
    exported = ExportedModel.from_pretrained("runs/subject/onnx", trust_remote_code=True)  # the config's code
    tokenizer = PreTrainedTokenizerFast.from_pretrained("runs/subject/onnx")
    logits = exported(**tokenizer(texts, padding=True, truncation=True, return_tensors="pt")).logits

With this package, `load_export(folder)` needs no flag for ONNX. A `dynamo` export is a pickle, loaded only
when trusted (`trust_remote_code=True`, `posenc-predict --trust-remote-code`). ONNX needs the `export`
extra: onnx, onnx-ir, onnxscript and onnxruntime (`ONNX_PACKAGES`).
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

import posenc_hf  # noqa: F401  (registers the Auto classes)

from ..model.configuration_posenc import MULTI_LABEL
from .checkpoints import check_model_folder
from .cli import quiet_progress_bars, run_command

FORMATS = ("onnx", "dynamo")
# What ONNX export and its runtime import (transformers imports `onnx_ir` itself): module -> pip name. The
# `export` extra of pyproject.toml names the same packages.
ONNX_PACKAGES = {"onnx": "onnx", "onnx_ir": "onnx-ir", "onnxscript": "onnxscript", "onnxruntime": "onnxruntime"}
SAMPLE_TEXTS = ["A short text.", "A somewhat longer text, so that the batch has some padding in it."]


def dynamic_shapes(config):
    """`torch.export` dynamic shapes of a model's inputs: any batch size, lengths up to the position table."""
    from torch.export import Dim

    axes = {0: Dim("batch"), 1: Dim("sequence", max=config.max_position_embeddings)}
    return {"input_ids": axes, "attention_mask": axes}


def onnxruntime_options(threads=None):
    """ONNX Runtime session options with intra-op spinning off: its idle threads would otherwise keep
    spinning after each call, taking the cores from whatever torch work comes next."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


def check_onnx_packages():
    """A ValueError naming each package ONNX export or ONNX Runtime needs and this environment lacks."""
    missing = [pip_name for module, pip_name in ONNX_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise ValueError(f"ONNX needs {', '.join(missing)}: pip install 'posenc_hf[export]'")


def exporter_and_config(export_format, model):
    """transformers' exporter and export config for `export_format`, with dynamic batch and length."""
    from transformers.exporters import DynamoConfig, DynamoExporter, OnnxConfig, OnnxExporter

    if export_format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {export_format!r}")
    if export_format == "onnx":
        check_onnx_packages()
    shapes = dynamic_shapes(model.config)
    if export_format == "onnx":
        return OnnxExporter(), OnnxConfig(dynamic_shapes=shapes)
    return DynamoExporter(), DynamoConfig(dynamic_shapes=shapes)


def export_model(model, tokenizer, export_format="onnx"):
    """An `ExportedModel` of `model` (any PosEnc model class), traced on a small padded batch."""
    model.eval()
    inputs = tokenizer(SAMPLE_TEXTS, padding=True, truncation=True, return_tensors="pt")
    inputs = {name: inputs[name] for name in ("input_ids", "attention_mask")}
    exporter, config = exporter_and_config(export_format, model)
    with torch.no_grad():
        return exporter.export(model, inputs, config)


def export_folder(model_folder, output_folder, export_format="onnx", head="classifier"):
    """Export the model in `model_folder` (`head`: "classifier" or "encoder") to `output_folder`, with its
    tokenizer beside it; returns the output folder."""
    check_model_folder(model_folder)
    model_class = AutoModelForSequenceClassification if head == "classifier" else AutoModel
    model = model_class.from_pretrained(model_folder)
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    exported = export_model(model, tokenizer, export_format)
    output_folder = Path(output_folder)
    exported.save_pretrained(output_folder)
    tokenizer.save_pretrained(output_folder)
    return output_folder


def is_export_folder(folder):
    return (Path(folder) / "export.json").is_file()


def load_export(folder, trust_remote_code=False):
    """The `ExportedModel` in `folder`, ONNX Runtime with `onnxruntime_options`. A `dynamo` export is a
    pickle: it loads only with `trust_remote_code` (an export you made yourself, or trust), else a
    ValueError says so. With this package the config needs no remote code."""
    from transformers.exporters import ExportedModel

    export_format = json.loads((Path(folder) / "export.json").read_text())["export_format"]
    if export_format == "onnx":
        check_onnx_packages()
        return ExportedModel.from_pretrained(folder, session_options=onnxruntime_options())
    if not trust_remote_code:
        raise ValueError(
            f"{folder} is a {export_format} (torch.export) export, a pickle that runs code when loaded: pass "
            f"--trust-remote-code (Python: trust_remote_code=True) if you made it or trust who did"
        )
    return ExportedModel.from_pretrained(folder, trust_remote_code=trust_remote_code)


def classify(exported, tokenizer, texts, top_k=1, batch_size=32):
    """[{"label", "score"}, ...] per text, best first (`top_k` None: every label): what `posenc-predict`
    prints. Scores are a softmax over the labels, or a sigmoid per label for a multi-label model, as in
    transformers' pipeline."""
    id2label = exported.config.id2label
    multi_label = exported.config.problem_type == MULTI_LABEL
    results = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")
        logits = torch.as_tensor(exported(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits)
        probabilities = logits.float().sigmoid() if multi_label else logits.float().softmax(-1)
        scores, ids = probabilities.topk(min(top_k or len(id2label), logits.shape[-1]))
        results += [
            [{"label": id2label[int(i)], "score": float(s)} for s, i in zip(row_scores, row_ids, strict=True)]
            for row_scores, row_ids in zip(scores, ids, strict=True)
        ]
    return results


class ExportedClassifier:
    """A text-classification callable over an export folder, called as `posenc_hf.folder.predict` calls a
    pipeline: `classifier(texts, top_k=..., batch_size=...)` gives each text's labels, best first."""

    def __init__(self, folder, trust_remote_code=False):
        self.exported = load_export(folder, trust_remote_code)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)

    def __call__(self, texts, top_k=1, batch_size=32):
        return classify(self.exported, self.tokenizer, list(texts), top_k, batch_size)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="posenc-export", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a saved model folder")
    parser.add_argument("output", help="the export folder to write")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (default) or dynamo (torch.export)")
    parser.add_argument("--head", choices=("classifier", "encoder"), default="classifier", help="what to export")
    return parser.parse_args(argv)


def main(argv=None):
    """`posenc-export`: a bad folder prints its message, not a traceback, and exits with 1."""
    return run_command("posenc-export", export_command, argv)


def export_command(argv):
    args = parse_args(argv)
    quiet_progress_bars()
    output = export_folder(args.folder, args.output, args.format, args.head)
    print(f"Exported ({args.format}) to {output}")
    if args.head == "classifier":
        trust = " --trust-remote-code" if args.format == "dynamo" else ""  # a pickle: the user's explicit choice
        print(f'  posenc-predict {output}{trust} "some text"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
