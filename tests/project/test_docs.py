"""The docs say what the code does: every variable and every check id is documented, and
the README's links work where it is read (PyPI)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from maintenance_env import checks, variables
from tests.tools import ROOT

DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
CONFIGURATION = (DOCS / "configuration.md").read_text()
SECTIONS = dict(
    re.findall(r"^### `(MAINTENANCE_MODE[A-Z_]*)`\n(.*?)(?=^#)", CONFIGURATION, re.M | re.S)
)


@pytest.mark.parametrize("name", list(variables.VARIABLES))
def test_every_variable_has_a_section_with_type_default_and_example(name: str) -> None:
    section = SECTIONS.get(name)
    assert section is not None, f"docs/configuration.md has no '### `{name}`' section"
    assert re.search(r"^\*\*[^*]+\*\*( \([^)]*\))?, default ", section, re.M), (
        f"{name}: type, default"
    )
    assert f"{name}=" in section, f"{name}: no example"


def test_sections_follow_the_order_of_the_code() -> None:
    assert list(SECTIONS) == list(variables.VARIABLES)


def test_defaults_in_the_docs_match_the_code() -> None:
    assert "default `503`" in SECTIONS["MAINTENANCE_MODE_STATUS_CODE"]
    assert "default `43200`" in SECTIONS["MAINTENANCE_MODE_BYPASS_COOKIE_AGE"]
    assert "default `1.0`" in SECTIONS["MAINTENANCE_MODE_RELOAD_INTERVAL"]
    assert (
        f"default `{','.join(variables.DEFAULT_HEALTH_PATHS)}`"
        in SECTIONS["MAINTENANCE_MODE_HEALTH_PATHS"]
    )
    assert f"default `{variables.DEFAULT_TEMPLATE}`" in SECTIONS["MAINTENANCE_MODE_TEMPLATE"]
    assert f"default `{variables.DEFAULT_MESSAGE}`" in SECTIONS["MAINTENANCE_MODE_MESSAGE"]


def test_the_readme_table_lists_every_variable_in_order() -> None:
    names = re.findall(r"^\| \[`(MAINTENANCE_MODE[A-Z_]*)`\]\(", README, re.M)
    assert names == list(variables.VARIABLES)


def test_every_check_id_is_documented() -> None:
    source = Path(checks.__file__).read_text()  # the module under test, wherever installed
    ids = {v.check_id for v in variables.VARIABLES.values()} | {variables.SCHEDULE_ORDER_ID}
    ids |= set(re.findall(r'id="maintenance_env\.(W\d{3})"', source))
    documented = set(re.findall(r"`maintenance_env\.([EW]\d{3})`", CONFIGURATION))
    documented |= {f"E{n:03d}" for n in range(16, 19)}  # the E016-E018 row
    assert ids <= documented


def test_incumbent_settings_table_points_to_real_names() -> None:
    for instead in checks.INCUMBENT_SETTINGS.values():
        for name in re.findall(r"MAINTENANCE_MODE[A-Z_]*", instead):
            assert name in variables.VARIABLES


def test_readme_links_are_absolute() -> None:
    """PyPI shows the README without the repository around it: a relative link is dead there."""
    targets = re.findall(r"\]\(([^)]+)\)|<(https?://[^>]+)>", README)
    links = [a or b for a, b in targets]
    assert links
    relative = [link for link in links if not link.startswith("https://")]
    assert relative == []


def test_every_docs_page_is_in_the_table_of_contents() -> None:
    index = (DOCS / "index.md").read_text()
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    listed = set(re.findall(r"^([a-z-]+)$", index.split("{toctree}", 1)[1], re.M))
    assert pages == listed


def test_changelog_starts_with_unreleased() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert changelog.splitlines()[2] == "## Unreleased"


# --- dates users paste never expire -------------------------------------------------------

#: Pages whose dates are examples a user pastes (the changelog and the benchmark results
#: record the past, and say so).
PASTED = [
    ROOT / "README.md",
    *sorted(p for p in DOCS.glob("*.md") if p.stem not in {"changelog", "benchmarks"}),
]
#: The package's own text: error hints and docstrings that show an example instant.
HINTS = sorted((ROOT / "maintenance_env").rglob("*.py"))
ISO_DATE = re.compile(r"(?<!\d)(2\d{3})-(\d\d)-(\d\d)(?!\d)")


def example_dates() -> list[tuple[str, dt.date]]:
    found = []
    for path in PASTED + HINTS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in ISO_DATE.finditer(line):
                year, month, day = map(int, match.groups())
                try:
                    day_of = dt.date(year, month, day)
                except ValueError:  # an invalid date shown on purpose (month 13)
                    continue
                found.append((f"{path.relative_to(ROOT)}:{number}", day_of))
    return found


def test_the_docs_show_example_dates() -> None:
    """The check below must have something to look at."""
    assert len(example_dates()) > 10


def test_example_dates_are_ahead_of_the_clock_the_suite_runs_under() -> None:
    """A pasted ``--ends-at`` example that has become the past is refused by the command; the
    suite runs under a clock years ahead in CI (libfaketime), so this fails long before a user
    could hit it. The real clock, not a frozen one: that is the point."""
    today = dt.datetime.now(dt.timezone.utc).date()
    past = [(where, day) for where, day in example_dates() if day <= today]
    assert past == []
