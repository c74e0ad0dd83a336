"""Artefacts are data, not code: weights only in safetensors, no pickle loading anywhere in the
package, and a folder's code runs only when the user passed `trust_remote_code=True`. (That the
remote-code files import only torch and transformers is tests/test_remote_code.py.)"""

import ast
import pickle
import re
import shutil
from pathlib import Path

import pytest
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

import posenc_hf
from posenc_hf.predict import load_classifier

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_CODE = [p for folder in ("posenc_hf", "research", "train") for p in sorted((REPO_ROOT / folder).rglob("*.py"))]
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "joblib", "cloudpickle", "marshal", "shelve", "pickletools"}
UNSAFE_CALLS = {"torch.load", "numpy.load", "np.load", "eval", "exec", "__import__"}
UNSAFE_KEYWORDS = {("weights_only", False), ("allow_pickle", True), ("trust_remote_code", True)}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")


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


@pytest.mark.parametrize("path", PACKAGE_CODE, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_package_code_never_unpickles_evaluates_or_trusts_remote_code(path):
    assert unsafe_uses(path.read_text()) == []


def test_a_saved_folder_holds_no_pickle(tiny_folder):
    assert not [p.name for p in tiny_folder.rglob("*") if p.name.endswith(PICKLE_SUFFIXES)]
    assert (tiny_folder / "model.safetensors").is_file()


class Sentinel:
    """A pickle that, when loaded, creates the file `path`."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_in_place_of_the_weights_is_never_loaded(tiny_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    (folder / "model.safetensors").unlink()
    sentinel = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Sentinel(sentinel)))
    with pytest.raises(OSError, match="no file named model.safetensors"):
        AutoModelForSequenceClassification.from_pretrained(folder)
    with pytest.raises(ValueError, match="pickle files, which this package never loads"):
        load_classifier(folder)
    assert not sentinel.exists()


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


def test_with_the_package_installed_the_folder_code_is_not_run(planted_folder):
    folder, sentinel = planted_folder
    assert type(AutoConfig.from_pretrained(folder)) is posenc_hf.PosEncConfig
    assert type(AutoModel.from_pretrained(folder)) is posenc_hf.PosEncModel
    classifier = load_classifier(folder)
    assert type(classifier.model) is posenc_hf.PosEncForSequenceClassification
    assert not sentinel.exists()
