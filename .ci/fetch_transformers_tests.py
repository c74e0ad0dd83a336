#!/usr/bin/env python
"""Fetch transformers' own common model tests for `tests/model/test_transformers_common.py`.

transformers does not ship its test suite in the wheel, but its source distribution holds
`tests/test_modeling_common.py` (`ModelTesterMixin`) and `tests/test_configuration_common.py`
(`ConfigTester`). This script downloads the sdist of the *installed* transformers version with pip
and extracts only those two files into `.cache/transformers_tests/<version>/` (git ignores
`.cache/`), next to an empty `__init__.py`. `tests/transformers_common_tests/` is the package that
imports them; it also holds stand-ins for the three modules they import that the sdist lacks.

Usage: python .ci/fetch_transformers_tests.py [--force]

Never fails: when pip cannot download the sdist (offline machine, no index), it prints a warning and
exits 0; the tests then skip (or fail under CI=true).
"""

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The same path as `tests/transformers_common_tests/__init__.py` computes.
CACHE_ROOT = REPO_ROOT / ".cache" / "transformers_tests"
FILES = ("tests/test_modeling_common.py", "tests/test_configuration_common.py")
INIT_TEXT = (
    '"""transformers\' common tests, extracted from its sdist by .ci/fetch_transformers_tests.py."""\n'
    "# Left empty: test_configuration_common.py executes this file (direct_transformers_import).\n"
)


def cache_dir(transformers_version: str) -> Path:
    return CACHE_ROOT / transformers_version


def is_complete(folder: Path) -> bool:
    return all((folder / Path(name).name).is_file() for name in FILES) and (folder / "__init__.py").is_file()


def download_sdist(transformers_version: str, destination: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
        f"transformers=={transformers_version}", "--dest", str(destination),
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    archives = sorted(destination.glob("transformers-*.tar.gz"))
    if not archives:
        raise FileNotFoundError(f"pip downloaded no transformers-*.tar.gz into {destination}")
    return archives[0]


def extract(archive: Path, transformers_version: str, folder: Path) -> None:
    """Write the two test files into `folder`, replacing it only once both were read."""
    prefix = f"transformers-{transformers_version}/"
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        for name in FILES:
            member = tar.getmember(prefix + name)  # KeyError if this sdist lacks it
            source = tar.extractfile(member)
            (staging / Path(name).name).write_bytes(source.read())
    (staging / "__init__.py").write_text(INIT_TEXT)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def fetch(force: bool = False) -> Path:
    transformers_version = version("transformers")
    folder = cache_dir(transformers_version)
    if is_complete(folder) and not force:
        print(f"transformers {transformers_version} common tests already in {folder}")
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        archive = download_sdist(transformers_version, Path(tmp))
        extract(archive, transformers_version, folder)
    print(f"transformers {transformers_version} common tests extracted into {folder}")
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="download again even when the files are there")
    args = parser.parse_args(argv)
    try:
        fetch(force=args.force)
    except (subprocess.CalledProcessError, OSError, KeyError, tarfile.TarError) as error:
        detail = getattr(error, "stderr", None) or error
        print(
            f"warning: could not fetch transformers' common tests ({str(detail).strip()[-500:]}); "
            "tests/model/test_transformers_common.py will skip (or fail, under CI=true)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
