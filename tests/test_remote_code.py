"""A saved folder is a Hub repo: it must load where `posenc_hf` is not installed, and its code
files must carry no dependency beyond torch and transformers."""

import ast
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import posenc_hf
from posenc_hf import PosEncConfig, PosEncForMaskedLM, PosEncForSequenceClassification

REMOTE_CODE_FILES = [
    "configuration_posenc.py",
    "modeling_posenc.py",
    "positions_posenc.py",
    "checks_posenc.py",
    "fast_paths_posenc.py",
]
ALLOWED_TOP_LEVEL = {"math", "torch", "transformers"}


@pytest.mark.parametrize("filename", REMOTE_CODE_FILES)
def test_remote_code_files_import_only_torch_transformers_and_each_other(filename):
    tree = ast.parse((Path(posenc_hf.__file__).parent / filename).read_text())
    for node in tree.body:  # top level only
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:  # a sibling: only another code file of the folder
                assert f"{node.module}.py" in REMOTE_CODE_FILES, ast.dump(node)
                continue
            roots = {node.module.split(".")[0]}
        else:
            continue
        assert roots <= ALLOWED_TOP_LEVEL, f"{filename} imports {roots - ALLOWED_TOP_LEVEL}"


def test_folder_loads_with_trust_remote_code_where_package_is_absent(tmp_path, run_without_package):
    torch.manual_seed(0)
    config = PosEncConfig(
        vocab_size=60, hidden_size=16, num_attention_heads=2, num_hidden_layers=2, intermediate_size=32, num_labels=3
    )
    model = PosEncForSequenceClassification(config).eval()
    input_ids = torch.randint(1, 60, (2, 9))
    attention_mask = torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
    with torch.no_grad():
        logits = model(input_ids, attention_mask=attention_mask).logits
        hidden = model.posenc(input_ids, attention_mask=attention_mask).last_hidden_state
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    mlm = PosEncForMaskedLM(config).eval()
    with torch.no_grad():
        mlm_logits = mlm(input_ids, attention_mask=attention_mask).logits
    mlm.save_pretrained(tmp_path / "mlm")
    save_file({"input_ids": input_ids, "attention_mask": attention_mask}, tmp_path / "inputs.safetensors")

    out = run_without_package(f"""
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification
try:
    import posenc_hf
    raise SystemExit("posenc_hf should not be importable here")
except ImportError:
    pass
inputs = load_file({str(tmp_path / "inputs.safetensors")!r})
classifier = AutoModelForSequenceClassification.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
encoder = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
assert type(classifier).__name__ == "PosEncForSequenceClassification", type(classifier)
assert type(encoder).__name__ == "PosEncModel", type(encoder)
assert type(classifier).__module__.startswith("transformers_modules"), type(classifier).__module__
mlm = AutoModelForMaskedLM.from_pretrained({str(tmp_path / "mlm")!r}, trust_remote_code=True).eval()
assert type(mlm).__name__ == "PosEncForMaskedLM", type(mlm)
assert mlm.get_output_embeddings().weight is mlm.get_input_embeddings().weight
with torch.no_grad():
    outputs = {{"logits": classifier(**inputs).logits, "hidden": encoder(**inputs).last_hidden_state,
               "mlm_logits": mlm(**inputs).logits}}
save_file(outputs, {str(tmp_path / "outputs.safetensors")!r})
print("loaded")
""")
    assert "loaded" in out
    outputs = load_file(tmp_path / "outputs.safetensors")
    torch.testing.assert_close(outputs["logits"], logits, atol=0, rtol=0)
    torch.testing.assert_close(outputs["hidden"], hidden, atol=0, rtol=0)
    torch.testing.assert_close(outputs["mlm_logits"], mlm_logits, atol=0, rtol=0)
