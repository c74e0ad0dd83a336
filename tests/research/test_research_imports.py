"""research/ sits beside the package: it imports `posenc_hf`, the package never imports it, and the
wheel leaves it out."""

import ast
from fnmatch import fnmatch

import pytest
from helpers import REPO_ROOT


def imported_roots(path):
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_package_never_imports_research():
    offenders = [p.name for p in (REPO_ROOT / "posenc_hf").rglob("*.py") if "research" in imported_roots(p)]
    assert offenders == []


def test_research_is_code_on_top_of_the_package():
    assert any("posenc_hf" in imported_roots(p) for p in (REPO_ROOT / "research").rglob("*.py"))


def test_the_wheel_holds_the_package_and_not_research():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]  # setuptools matches names with fnmatch
    assert any(fnmatch("posenc_hf", pattern) for pattern in include)
    assert not any(fnmatch(name, pattern) for name in ("research", "research.study") for pattern in include)
