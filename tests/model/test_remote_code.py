"""A saved folder is a Hub repo: it must load where `posenc_hf` is not installed, its code files must
carry no dependency beyond torch and transformers, and its code runs only when the user passed
`trust_remote_code=True`; no code of the repository unpickles, evaluates or trusts remote code
(docs/reliability.md §5)."""

import ast
import re
import shutil
from pathlib import Path

import pytest
import torch
from helpers import REPO_ROOT, tiny_model
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel

import posenc_hf
from posenc_hf import PosEncForMaskedLM
from posenc_hf.folder.predict import load_classifier

MODEL_FOLDER = Path(posenc_hf.__file__).parent / "model"  # the files that travel to the Hub: this folder
REMOTE_CODE_FILES = sorted(path.name for path in MODEL_FOLDER.glob("*.py") if path.name != "__init__.py")
ALLOWED_TOP_LEVEL = {"math", "torch", "transformers"}


@pytest.mark.parametrize("filename", REMOTE_CODE_FILES)
def test_remote_code_files_import_only_torch_transformers_and_each_other(filename):
    tree = ast.parse((MODEL_FOLDER / filename).read_text())
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


@pytest.mark.slow
def test_folder_loads_with_trust_remote_code_where_package_is_absent(tmp_path, run_without_package):
    model = tiny_model(vocab_size=60, num_attention_heads=2)
    input_ids = torch.randint(1, 60, (2, 9))
    attention_mask = torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
    with torch.no_grad():
        logits = model(input_ids, attention_mask=attention_mask).logits
        hidden = model.posenc(input_ids, attention_mask=attention_mask).last_hidden_state
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    mlm = tiny_model(PosEncForMaskedLM, vocab_size=60, num_attention_heads=2)
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


# --- no code of the repository unpickles, evaluates or trusts remote code --------------------------

PACKAGE_CODE = [p for folder in ("posenc_hf", "research", "train") for p in sorted((REPO_ROOT / folder).rglob("*.py"))]
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "joblib", "cloudpickle", "marshal", "shelve", "pickletools"}
UNSAFE_CALLS = {"torch.load", "numpy.load", "np.load", "eval", "exec", "__import__"}
UNSAFE_KEYWORDS = {("weights_only", False), ("allow_pickle", True), ("trust_remote_code", True)}


def unsafe_uses(source):
    """(line, what) for each import of a pickle-family module, call of torch.load / eval / exec, and
    `weights_only=False`, `allow_pickle=True` or `trust_remote_code=True` argument in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call):
            if ast.unparse(node.func) in UNSAFE_CALLS:
                found.append((node.lineno, ast.unparse(node.func)))
            for keyword in node.keywords:
                value = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
                if (keyword.arg, value) in UNSAFE_KEYWORDS:
                    found.append((node.lineno, f"{keyword.arg}={value}"))
    return found


@pytest.mark.reliability
def test_the_scan_catches_what_it_looks_for():
    sample = (
        "import pickle\nfrom joblib import load\nimport dill as d\nimport torch\n"
        "torch.load('x', weights_only=False)\nAutoModel.from_pretrained('x', trust_remote_code=True)\n"
    )
    assert [what for _, what in unsafe_uses(sample)] == [
        "pickle",
        "joblib",
        "dill",
        "torch.load",
        "weights_only=False",
        "trust_remote_code=True",
    ]


@pytest.mark.reliability
@pytest.mark.parametrize("path", PACKAGE_CODE, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_package_code_never_unpickles_evaluates_or_trusts_remote_code(path):
    assert unsafe_uses(path.read_text()) == []


# --- a folder's code runs only when trusted ------------------------------------------------------


@pytest.fixture
def planted_folder(tiny_folder, tmp_path):
    """A copy of the tiny folder whose two code files create a sentinel file when they run."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    sentinel = tmp_path / "code-ran"
    for name in ("configuration_posenc.py", "modeling_posenc.py"):
        code = (folder / name).read_text()
        (folder / name).write_text(f"open({str(sentinel)!r}, 'a').write({name!r} + '\\n')\n" + code)
    return folder, sentinel


@pytest.mark.slow
@pytest.mark.reliability
def test_without_the_package_a_folder_runs_no_code_unless_trusted(planted_folder, run_without_package):
    folder, sentinel = planted_folder
    out = run_without_package(f"""
import os
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer, pipeline
folder, sentinel = {str(folder)!r}, {str(sentinel)!r}
loaders = {{
    "AutoConfig": lambda: AutoConfig.from_pretrained(folder),
    "AutoModel": lambda: AutoModel.from_pretrained(folder),
    "AutoModelForSequenceClassification": lambda: AutoModelForSequenceClassification.from_pretrained(folder),
    "pipeline": lambda: pipeline("text-classification", model=folder),
}}
for name, load in loaders.items():
    try:
        load()
        print("RESULT", name, "LOADED")
    except ValueError as error:
        assert "trust_remote_code" in str(error), error
        print("RESULT", name, "refused")
    assert not os.path.exists(sentinel), name + " ran the folder's code"
AutoTokenizer.from_pretrained(folder)  # no code in a tokenizer folder: loads
assert not os.path.exists(sentinel)
AutoModel.from_pretrained(folder, trust_remote_code=True)  # the user's explicit choice: the code runs
print("RESULT trusted", open(sentinel).read().split())
""")
    results = re.findall(r"RESULT (.*)", out)  # transformers' prompt text may share the line
    assert results[:4] == [
        "AutoConfig refused",
        "AutoModel refused",
        "AutoModelForSequenceClassification refused",
        "pipeline refused",
    ]
    assert "trusted" in results[4] and "'modeling_posenc.py'" in results[4]  # the sentinel does work


@pytest.mark.reliability
def test_with_the_package_installed_the_folder_code_is_not_run(planted_folder):
    folder, sentinel = planted_folder
    assert type(AutoConfig.from_pretrained(folder)) is posenc_hf.PosEncConfig
    assert type(AutoModel.from_pretrained(folder)) is posenc_hf.PosEncModel
    classifier = load_classifier(folder)
    assert type(classifier.model) is posenc_hf.PosEncForSequenceClassification
    assert not sentinel.exists()
