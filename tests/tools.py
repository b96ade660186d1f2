"""External tools a test drives: required in CI, optional on a developer's machine."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["need_tool"]


def need_tool(name: str) -> str:
    """The tool's path; a CI run fails without it, a local run skips saying what is missing."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI but is not on PATH")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return found
