"""The shipped catalogues: every ``.po`` compiles cleanly, every committed ``.mo`` is the
compilation of its ``.po`` (nobody edited one and forgot the other), and both ship in the
wheel. Needs GNU gettext's ``msgfmt`` and ``msgunfmt`` (Debian's ``gettext``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from maintenance_env import catalogues
from tests.tools import ROOT, need_tool

PO_FILES = sorted(catalogues.LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))


def test_there_are_catalogues() -> None:
    assert len(PO_FILES) >= 30


def unformatted(mo: Path) -> str:
    """The catalogue as sorted text: independent of msgfmt's version and hash table."""
    return subprocess.run(
        [need_tool("msgunfmt"), "--no-wrap", str(mo)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_po_compiles_and_the_committed_mo_is_current(po: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "django.mo"
    # What Django's compilemessages runs, plus --check (header, plural forms, formats).
    result = subprocess.run(
        [need_tool("msgfmt"), "--check", "--statistics", "-o", str(fresh), str(po)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr
    committed = po.with_suffix(".mo")
    assert committed.is_file(), f"{committed.relative_to(ROOT)} is missing: run compilemessages"
    assert unformatted(committed) == unformatted(fresh), (
        f"{committed.relative_to(ROOT)} is stale: run compilemessages"
    )


def test_catalogues_ship_in_the_wheel() -> None:
    # Python 3.10 has no tomllib: the package-data table, read as text.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    table = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"locale/*/LC_MESSAGES/django.mo"' in table
    assert '"locale/*/LC_MESSAGES/django.po"' in table
