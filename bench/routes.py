"""Inference routes side by side, for ours and for BERT through the same route: eager, `torch.compile`,
ONNX Runtime (the dynamo exporter's graph), dynamic int8 (`torch.ao` on the linear layers) and bf16
autocast. One shape, padded batches, interleaved like the rest of the bench.

ONNX Runtime runs with the package's session options (`posenc_hf.folder.export.onnxruntime_options`: intra-op
spinning off, or its idle threads would keep spinning after each call and take the cores from the next
torch block) and as many intra-op threads as torch.
"""

import time

import torch

from bench.models import build, make_batch
from bench.timing import interleaved, paired_ratio, throughput
from posenc_hf.folder.export import dynamic_shapes, onnxruntime_options

ROUTE_MODELS = ("posenc_default", "bert")


def eager_route(model, inputs):
    def forward():
        with torch.inference_mode():
            model(**inputs)

    return forward


def compiled_route(model, inputs):
    compiled = torch.compile(model)

    def forward():
        with torch.inference_mode():
            compiled(**inputs)

    forward()  # compile before timing
    return forward


def int8_route(model, inputs):
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return eager_route(quantized, inputs)


def bf16_route(model, inputs):
    def forward():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            model(**inputs)

    return forward


def onnx_route(model, inputs):
    """ONNX Runtime on the dynamo exporter's graph of `model` (dynamic batch and length, kept in memory),
    with the package's session options (intra-op spinning off) and torch's thread count."""
    import onnxruntime

    shapes = dynamic_shapes(model.config)
    program = torch.onnx.export(model, (), kwargs=inputs, dynamo=True, dynamic_shapes=shapes, input_names=list(inputs))
    options = onnxruntime_options(threads=torch.get_num_threads())
    session = onnxruntime.InferenceSession(
        program.model_proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {name: value.numpy() for name, value in inputs.items()}

    def forward():
        session.run(None, feeds)

    return forward


ROUTES = {"eager": eager_route, "compiled": compiled_route, "int8 dynamic": int8_route, "bf16 autocast": bf16_route}


def available_routes(compile_models=True):
    """The routes this machine can run: ONNX Runtime only when installed, `torch.compile` when asked."""
    routes = dict(ROUTES)
    if not compile_models:
        routes.pop("compiled")
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return routes
    routes["onnxruntime"] = onnx_route
    return routes


def measure(shape, repeats, block_s, device="cpu", compile_models=True):
    """Inference samples/s of every route for ours and BERT at `shape` (padded), and each ratio to eager
    and ours ÷ BERT per route. CPU only: int8 and ONNX Runtime (CPU provider) are CPU routes."""
    if device != "cpu":
        return None
    batch = make_batch(shape, padded=True, device=device)
    inputs = {key: batch[key] for key in ("input_ids", "attention_mask")}
    routes = available_routes(compile_models)
    fns, setup_s = {}, {}
    for name in ROUTE_MODELS:
        for route, make in routes.items():
            model = build(name, shape, device).eval()
            started = time.perf_counter()
            fns[name, route] = make(model, inputs)
            setup_s[name, route] = time.perf_counter() - started
    seconds = interleaved(fns, repeats, block_s, device)
    rows = [
        {
            "shape": shape.name,
            "model": name,
            "route": route,
            "infer_samples_per_s": throughput(seconds[name, route], shape.batch),
            "vs_eager": paired_ratio(seconds[name, "eager"], seconds[name, route]),
            "setup_s": setup_s[name, route],
        }
        for name in ROUTE_MODELS
        for route in routes
    ]
    ours_vs_bert = {route: paired_ratio(seconds["bert", route], seconds["posenc_default", route]) for route in routes}
    return {"rows": rows, "ours_vs_bert": ours_vs_bert}


def int8_accuracy(folder, texts, labels, batch_size=64):
    """Test accuracy of a saved classifier in float32 and with dynamic int8 linear layers, and how many
    predictions differ: what int8 costs (`python -m bench.routes FOLDER` on a trained model)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import posenc_hf  # noqa: F401

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    predictions = {"float32": [], "int8 dynamic": []}
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")
            predictions["float32"] += model(**batch).logits.argmax(-1).tolist()
            predictions["int8 dynamic"] += quantized(**batch).logits.argmax(-1).tolist()
    accuracy = {
        route: sum(p == y for p, y in zip(values, labels, strict=True)) / len(labels)
        for route, values in predictions.items()
    }
    changed = sum(a != b for a, b in zip(predictions["float32"], predictions["int8 dynamic"], strict=True))
    return {"accuracy": accuracy, "changed_predictions": changed, "examples": len(labels)}


def main(argv=None):
    """`python -m bench.routes FOLDER [CORPUS]`: int8's accuracy cost on a corpus's test split."""
    import argparse
    import json

    from posenc_hf.data.sources import load_corpus

    parser = argparse.ArgumentParser(prog="python -m bench.routes", description=main.__doc__)
    parser.add_argument("folder", help="a trained model folder, e.g. runs/subject/model")
    parser.add_argument("corpus", nargs="?", default="subject", help="a built-in corpus (default subject)")
    args = parser.parse_args(argv)
    test = load_corpus(args.corpus)["test"]
    print(json.dumps(int8_accuracy(args.folder, list(test["text"]), list(test["label"])), indent=1))


if __name__ == "__main__":
    main()
