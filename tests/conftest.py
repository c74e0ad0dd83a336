"""Shared fixtures: the `../shared` data folder and small helpers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path | None:
    """Return the shared data folder, or None when it is absent.

    `POSENC_SHARED` (set by `.ci/run`) makes the folder required: if it is set
    but missing, tests that need it fail instead of skipping.
    """
    env = os.environ.get("POSENC_SHARED")
    if env:
        path = Path(env)
        if not path.is_absolute():
            path = (REPO_ROOT / path).resolve()
        if not path.is_dir():
            raise RuntimeError(f"POSENC_SHARED={env} is set but {path} is not a folder")
        return path
    default = REPO_ROOT.parent / "shared"
    return default if default.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The `../shared` folder; skips the test cleanly when it is not there."""
    path = _shared_dir()
    if path is None:
        pytest.skip("../shared is absent (set POSENC_SHARED to point at it)")
    return path


# Prepended to code run by `run_without_package`: makes `import posenc_hf` fail, as on a machine
# where only the saved folder (with its remote code) is available.
_BLOCK_PACKAGE = """
import sys
class _BlockPosEnc:
    def find_spec(self, name, path=None, target=None):
        if name == "posenc_hf" or name.startswith("posenc_hf."):
            raise ImportError("posenc_hf is blocked in this test")
sys.meta_path.insert(0, _BlockPosEnc())
"""


@pytest.fixture
def run_without_package(tmp_path):
    """Run Python code in a fresh interpreter where `posenc_hf` cannot be imported; return stdout."""

    def run(code: str, timeout: int = 300) -> str:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
        result = subprocess.run(
            [sys.executable, "-c", _BLOCK_PACKAGE + code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"subprocess failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    return run
