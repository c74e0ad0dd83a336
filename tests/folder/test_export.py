"""Export (torch.export, ONNX through the dynamo exporter and through `transformers.exporters`) and
`torch.compile`: dynamic batch and length, padding honoured, outputs equal to eager."""

import ast
import importlib.util
import json
import re
import shutil

import pytest
import torch
from helpers import CHECK_SHAPES, REPO_ROOT, TINY_LABELS, padded_batch, tiny_model
from safetensors.torch import load_file
from transformers import AutoTokenizer

from posenc_hf import PosEncForSequenceClassification, PosEncModel
from posenc_hf.folder.export import ONNX_PACKAGES, classify, dynamic_shapes, export_folder, load_export, main

README = (REPO_ROOT / "README.md").read_text()


def outputs_of(model, input_ids, mask):
    output = model(input_ids=input_ids, attention_mask=mask)
    names = ("logits",) if hasattr(output, "logits") else ("last_hidden_state", "pooler_output")
    return {name: output[name] for name in names}


def assert_matches_eager(run, model):
    for batch_size, length in CHECK_SHAPES:
        for padded in (True, False):
            input_ids, mask = padded_batch(batch_size, length, padded)
            expected = outputs_of(model, input_ids, mask)
            got = run(input_ids, mask)
            for name, value in expected.items():
                torch.testing.assert_close(got[name], value, atol=1e-4, rtol=0, msg=f"{name} {batch_size}x{length}")


@pytest.fixture(params=[PosEncForSequenceClassification, PosEncModel], ids=["classifier", "encoder"])
def model(request):
    return tiny_model(request.param, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def test_torch_export_with_dynamic_batch_and_length(model):
    input_ids, mask = padded_batch(3, 8)
    program = torch.export.export(
        model, (), {"input_ids": input_ids, "attention_mask": mask}, dynamic_shapes=dynamic_shapes(model.config)
    )
    exported = program.module()
    assert_matches_eager(lambda ids, m: exported(input_ids=ids, attention_mask=m), model)


def test_onnx_dynamo_export_runs_in_onnxruntime(model, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'posenc_hf[export]'")
    pytest.importorskip("onnxscript", reason="ONNX export needs pip install 'posenc_hf[export]'")
    input_ids, mask = padded_batch(3, 8)
    path = tmp_path / "model.onnx"
    torch.onnx.export(
        model,
        (),
        path,
        kwargs={"input_ids": input_ids, "attention_mask": mask},
        dynamo=True,
        dynamic_shapes=dynamic_shapes(model.config),
        input_names=["input_ids", "attention_mask"],
    )
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]

    def run(ids, m):
        values = session.run(None, {"input_ids": ids.numpy(), "attention_mask": m.numpy()})
        keys = ["logits"] if len(values) == 1 else ["last_hidden_state", "pooler_output"]
        return {key: torch.from_numpy(value) for key, value in zip(keys, values, strict=True)}

    assert len(names) in (1, 2)
    assert_matches_eager(run, model)


@pytest.mark.parametrize("export_format", ["onnx", "dynamo"])
def test_transformers_exporters_route_from_folder_to_predictions(tiny_folder, tmp_path, export_format):
    if export_format == "onnx":
        pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'posenc_hf[export]'")
    output = export_folder(tiny_folder, tmp_path / "export", export_format)
    exported = load_export(output, trust_remote_code=export_format == "dynamo")  # our own export
    tokenizer = AutoTokenizer.from_pretrained(output)
    model = PosEncForSequenceClassification.from_pretrained(tiny_folder).eval()
    texts = ["cell atom force", "energy acid orbit gene mass charge reaction equation solve integral", "x"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    torch.testing.assert_close(
        torch.as_tensor(exported(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits),
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
        atol=1e-4,
        rtol=0,
    )
    predictions = classify(exported, tokenizer, texts, top_k=2)
    assert [len(p) for p in predictions] == [2, 2, 2]
    best = model(**batch).logits.argmax(-1).tolist()
    assert [p[0]["label"] for p in predictions] == [model.config.id2label[i] for i in best]


def test_export_command_names_a_missing_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("posenc-export: error: No such model folder")


@pytest.mark.slow
def test_compile_fullgraph_dynamic_inference_matches_eager():
    model = tiny_model()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)  # fullgraph: a graph break is an error
    for padded in (True, False):
        for batch_size, length in [(3, 8), (5, 11)]:
            input_ids, mask = padded_batch(batch_size, length, padded)
            torch.testing.assert_close(
                compiled(input_ids=input_ids, attention_mask=mask).logits,
                model(input_ids=input_ids, attention_mask=mask).logits,
                atol=1e-4,
                rtol=0,
            )


def test_compile_fullgraph_training_step_matches_eager_gradients():
    model = tiny_model(hidden_dropout_prob=0.0).train()
    input_ids, mask = padded_batch(4, 9)
    labels = torch.tensor([0, 1, 2, 1])
    model(input_ids=input_ids, attention_mask=mask, labels=labels).loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")  # forward and backward graphs
    compiled(input_ids=input_ids, attention_mask=mask, labels=labels).loss.backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], atol=1e-5, rtol=1e-4, msg=name)


def test_compile_fullgraph_training_with_dropout_runs():
    model = tiny_model(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1).train()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    input_ids, mask = padded_batch(4, 9)
    loss = compiled(input_ids=input_ids, attention_mask=mask, labels=torch.tensor([0, 1, 2, 1])).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)  # every weight learns


def test_posenc_predict_runs_an_onnx_export_like_its_model_folder(tiny_folder, tmp_path, capsys):
    from posenc_hf.folder.predict import main as predict_main

    pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'posenc_hf[export]'")
    assert main([str(tiny_folder), str(tmp_path / "onnx")]) == 0
    assert "posenc-predict" in capsys.readouterr().out
    texts = ["cell atom force", "energy acid orbit gene mass"]
    assert predict_main([str(tiny_folder), "--json", "--top-k", "2", *texts]) == 0
    from_model = capsys.readouterr().out.splitlines()
    assert predict_main([str(tmp_path / "onnx"), "--json", "--top-k", "2", *texts]) == 0
    from_export = capsys.readouterr().out.splitlines()
    as_labels = [[label["label"] for label in json.loads(line)["labels"]] for line in from_model]
    assert [[label["label"] for label in json.loads(line)["labels"]] for line in from_export] == as_labels


def test_posenc_predict_runs_a_dynamo_export_only_when_trusted(tiny_folder, tmp_path, capsys):
    from posenc_hf.folder.predict import main as predict_main

    assert main([str(tiny_folder), str(tmp_path / "pt2"), "--format", "dynamo"]) == 0
    assert "--trust-remote-code" in capsys.readouterr().out  # the command it prints is one that runs
    texts = ["cell atom force", "energy acid orbit gene mass"]
    assert predict_main([str(tmp_path / "pt2"), *texts]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"posenc-predict: error: {tmp_path / 'pt2'} is a dynamo (torch.export) export, a pickle")
    assert "--trust-remote-code" in err and len(err.splitlines()) == 1
    assert predict_main([str(tiny_folder), "--json", *texts]) == 0
    from_model = [json.loads(line)["labels"][0]["label"] for line in capsys.readouterr().out.splitlines()]
    assert predict_main([str(tmp_path / "pt2"), "--trust-remote-code", "--json", *texts]) == 0
    assert [json.loads(line)["labels"][0]["label"] for line in capsys.readouterr().out.splitlines()] == from_model


@pytest.fixture(scope="module")
def onnx_export(tiny_folder, tmp_path_factory):
    """The tiny folder's ONNX export, for tests that only read it."""
    pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'posenc_hf[export]'")
    return export_folder(tiny_folder, tmp_path_factory.mktemp("onnx_export") / "onnx", "onnx")


@pytest.mark.parametrize("absent", sorted(ONNX_PACKAGES))
def test_a_missing_onnx_package_is_named_for_export_and_for_loading(
    tiny_folder, onnx_export, tmp_path, monkeypatch, absent
):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == absent else find_spec(name, *a))
    message = rf"ONNX needs {ONNX_PACKAGES[absent]}: pip install 'posenc_hf\[export\]'"
    with pytest.raises(ValueError, match=message):
        export_folder(tiny_folder, tmp_path / "again", "onnx")
    with pytest.raises(ValueError, match=message):
        load_export(onnx_export)


def readme_export_example():
    """The README's Python example of loading an export (the **Export.** paragraph)."""
    blocks = re.findall(r"^```python\n(.*?)^```$", README, flags=re.S | re.M)
    return next(block for block in blocks if "ExportedModel.from_pretrained" in block)


@pytest.mark.slow
def test_the_readmes_export_example_runs_where_the_package_is_absent(
    tiny_folder, onnx_export, tmp_path, run_without_package
):
    """Both formats, as the README writes the call (the dynamo export under its own folder name), in an
    interpreter where `posenc_hf` cannot be imported: the label names load and the logits are the model's."""
    example = readme_export_example()
    onnx_folder = re.search(r'folder = "(.*?)"', example).group(1)
    shutil.copytree(onnx_export, tmp_path / onnx_folder)  # the subprocess runs in tmp_path
    export_folder(tiny_folder, tmp_path / "runs/dynamo", "dynamo")
    dynamo_example = example.replace(f'"{onnx_folder}"', '"runs/dynamo"')
    out = run_without_package(f"""
import torch
from safetensors.torch import save_file
from transformers.exporters import ExportedModel
try:
    ExportedModel.from_pretrained({onnx_folder!r})
    raise SystemExit("an ONNX export loaded without trust_remote_code where the package is absent")
except ValueError as error:
    assert "trust_remote_code" in str(error), error
results = {{}}
for name, code in (("onnx", {example!r}), ("dynamo", {dynamo_example!r})):
    exec(code)  # the README's example, as written
    results[name] = torch.as_tensor(logits)
    print("LABELS", name, [exported.config.id2label[i] for i in range(len(exported.config.id2label))])
save_file(results, "logits.safetensors")
""")
    assert out.count(f"{TINY_LABELS}") == 2, out
    texts = ast.literal_eval(re.search(r"texts = (\[.*\])", example).group(1))
    model = PosEncForSequenceClassification.from_pretrained(tiny_folder).eval()
    batch = AutoTokenizer.from_pretrained(tiny_folder)(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    for name, logits in load_file(tmp_path / "logits.safetensors").items():
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0, msg=name)
