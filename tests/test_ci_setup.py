"""The README's test command on a user's clone (no `../shared` beside it: those tests skip) and on CI
(`CI=true`, `../shared` beside the clone: those tests must run, so a missing folder is an error)."""

import os
import stat
import subprocess

import pytest
from helpers import REPO_ROOT, find_shared_dir


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A clone at tmp_path/clone with nothing beside it, and no CI or POSENC_SHARED in the environment."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("POSENC_SHARED", raising=False)
    return tmp_path / "clone"


def test_a_users_clone_without_shared_skips_those_tests(clone):
    assert find_shared_dir(clone) is None


def test_shared_beside_the_clone_is_used(clone):
    (clone.parent / "shared").mkdir()
    assert find_shared_dir(clone) == clone.parent / "shared"


def test_under_ci_a_missing_shared_folder_is_an_error(clone, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match=r"CI=true.*shared"):
        find_shared_dir(clone)


def test_posenc_shared_names_a_folder_that_must_exist(clone, monkeypatch, tmp_path):
    monkeypatch.setenv("POSENC_SHARED", str(tmp_path / "elsewhere"))
    with pytest.raises(RuntimeError, match="POSENC_SHARED=.*elsewhere"):
        find_shared_dir(clone)
    (tmp_path / "elsewhere").mkdir()
    assert find_shared_dir(clone) == tmp_path / "elsewhere"


def test_ci_run_leaves_the_shared_folder_to_the_tests(tmp_path):
    """`.ci/run` with a stand-in `python` that logs its calls: it installs, then runs pytest, and
    does not set POSENC_SHARED (which would make a user's clone fail without ../shared)."""
    log = tmp_path / "calls.log"
    stand_in = tmp_path / "bin" / "python"
    stand_in.parent.mkdir()
    stand_in.write_text(f'#!/bin/sh\necho "$* POSENC_SHARED=${{POSENC_SHARED-unset}}" >> {log}\n')
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    env = {key: value for key, value in os.environ.items() if key not in ("POSENC_SHARED", "CI")}
    env["PATH"] = f"{stand_in.parent}{os.pathsep}{env['PATH']}"
    subprocess.run(["bash", str(REPO_ROOT / ".ci" / "run")], env=env, check=True, capture_output=True, timeout=60)
    calls = log.read_text().splitlines()
    assert calls[0].startswith("-m pip install --quiet torch==2.13.0")
    assert calls[-1] == "-m pytest -q POSENC_SHARED=unset"
