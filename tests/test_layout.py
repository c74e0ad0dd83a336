"""The package's rooms and their one-way imports (README "Layout"): the model at the bottom (it travels
to the Hub alone), then data, then what is made from a trained folder, then training on top; within
data, the corpora never import the modules that read them; the run's arguments are a leaf; the tests
have a folder for each room."""

import ast

import pytest
from helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "posenc_hf"
ROOMS = ("model", "data", "folder", "training")  # each may import those before it, never those after


def module_name(path):
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path):
    """The `posenc_hf` modules `path` imports, relative imports resolved."""
    package = module_name(path).split(".")[: -1 if path.name != "__init__.py" else None]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            found.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and node.module.startswith("posenc_hf"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("posenc_hf")}
    return found


def room_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else None


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_import_runs_back_up_the_rooms(path):
    room = room_of(module_name(path))
    if room is None:
        return  # posenc_hf/__init__.py: the exports
    allowed = set(ROOMS[: ROOMS.index(room) + 1])
    upward = [module for module in imports_of(path) if room_of(module) not in allowed | {None}]
    assert upward == [], f"{module_name(path)} imports {upward} from a room above {room}"


def test_the_model_room_imports_only_itself():
    """What goes to the Hub as remote code needs nothing else of the package."""
    for path in (PACKAGE / "model").glob("*.py"):
        assert {room_of(module) for module in imports_of(path)} <= {"model"}, path.name


def test_the_corpora_never_import_the_data_modules_that_read_them():
    for path in (PACKAGE / "data" / "corpora").rglob("*.py"):
        assert all(module.startswith("posenc_hf.data.corpora") for module in imports_of(path)), path.name


def test_the_run_arguments_are_a_leaf():
    assert imports_of(PACKAGE / "training" / "arguments.py") == {"posenc_hf.model.configuration_posenc"}


def test_the_tests_mirror_the_rooms():
    """tests/<room>/ for each room of the package, and tests/research/ for research/; nothing else."""
    folders = [path for path in (REPO_ROOT / "tests").iterdir() if path.is_dir()]
    assert {path.name for path in folders if any(path.glob("test_*.py"))} == {*ROOMS, "research"}
