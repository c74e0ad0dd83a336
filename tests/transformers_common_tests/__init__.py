"""transformers' own common model tests, imported as a package.

`test_modeling_common.py` (`ModelTesterMixin`) and `test_configuration_common.py` (`ConfigTester`)
come from the sdist of the *installed* transformers: `.ci/fetch_transformers_tests.py` extracts them
into `.cache/transformers_tests/<version>/` (git ignores it), which this package adds to its
`__path__`, so `transformers_common_tests.test_modeling_common` imports them. Their relative imports
that the sdist does not ship resolve to the stand-ins in this folder: `exporters/test_export.py`,
`generation/test_utils.py` and `utils/test_configuration_utils.py`.
"""

import transformers
from helpers import REPO_ROOT

# The same path as `.ci/fetch_transformers_tests.py` writes to.
CACHE_DIR = REPO_ROOT / ".cache" / "transformers_tests" / transformers.__version__
UPSTREAM_FILES = ("test_modeling_common.py", "test_configuration_common.py", "__init__.py")


def fetched() -> bool:
    """Whether the fetch script extracted the files for the installed transformers version."""
    return all((CACHE_DIR / name).is_file() for name in UPSTREAM_FILES)


__path__.append(str(CACHE_DIR))  # noqa: F821 (the package's own search path)
