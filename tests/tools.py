"""External tools a test drives: required in CI, optional on a developer's machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

__all__ = ["ROOT", "need_postgresql", "need_tool"]

#: The repository's root (a clone, or the unpacked sdist): where docs/, the Procfile and
#: example_project/ are.
ROOT = Path(__file__).resolve().parent.parent


def need_tool(name: str) -> str:
    """The tool's path; a CI run fails without it, a local run skips saying what is missing."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI but is not on PATH")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return found


def need_postgresql() -> Path:
    """The directory of PostgreSQL's server binaries (``initdb``, ``postgres``, Debian's
    ``/usr/lib/postgresql/<N>/bin``); a CI run fails without them, a local run skips."""
    from tests.store_servers import postgresql_bindir

    found = postgresql_bindir()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI: no /usr/lib/postgresql/*/bin/initdb")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return found
