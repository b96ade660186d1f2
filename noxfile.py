"""The version matrix: the test suite under every supported Django and Python pair.

``.ci/run`` runs it after ``make test``; by hand: ``nox`` (all sessions), ``nox -l`` (list),
``nox -s "tests(django='6.1', python='3.13')"`` (one), ``nox -- -k middleware`` (pytest
arguments). Each Django series runs on the oldest and newest Python it supports here:
5.2 LTS on 3.10 and 3.11, 6.0 and 6.1 on 3.12 and 3.13. Every cell runs the in-process
tests; the newest (Django 6.1 on Python 3.13) also runs the tests that start real processes
(servers, the browser, the stores), which ``make test`` runs on ``.venv``'s pair. nox finds
``python3.X`` on ``PATH``; ``.ci/run`` puts the installed interpreters there first.

``redis_floor`` runs the shared store's Redis tests
(``tests/integration/test_store_backends.py``, ``tests/integration/test_redis_server.py``)
with the lowest redis-py the ``[redis]`` extra allows, on Django 5.2 LTS and Python 3.10;
the main run has the newest.
"""

from __future__ import annotations

from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import Version

# Django series -> the Pythons it is tested on.
MATRIX: dict[str, tuple[str, ...]] = {
    "5.2": ("3.10", "3.11"),
    "6.0": ("3.12", "3.13"),
    "6.1": ("3.12", "3.13"),
}

#: The cell that also runs the tests that start real processes.
NEWEST = ("3.13", "6.1")

PYPROJECT = nox.project.load_toml("pyproject.toml")

nox.options.sessions = ["tests", "redis_floor"]
# A matrix cell silently skipped because its Python is missing would look like a pass.
nox.options.error_on_missing_interpreters = True
# The standard library's venv: no extra tool decides which interpreter is meant.
nox.options.default_venv_backend = "venv"


def extra_floor(extra: str, package: str) -> str:
    """The lowest version of ``package`` that the project's ``extra`` allows (its ``>=``)."""
    for line in PYPROJECT["project"]["optional-dependencies"][extra]:
        requirement = Requirement(line)
        if requirement.name == package:
            for spec in requirement.specifier:
                if spec.operator == ">=":
                    return spec.version
    raise LookupError(f"the [{extra}] extra gives no lower bound for {package}")


def series_bounds(series: str) -> str:
    """``"6.0"`` -> ``"Django>=6.0,<6.1"``: that minor series only, its newest patch."""
    major, minor = (int(part) for part in series.split("."))
    return f"Django>={major}.{minor},<{major}.{minor + 1}"


@nox.session
@nox.parametrize(
    ("python", "django"),
    [(python, series) for series, pythons in MATRIX.items() for python in pythons],
)
def tests(session: nox.Session, django: str) -> None:
    """The test suite under one Django series and one Python."""
    # The test dependency group (PEP 735), read by nox itself: the session's own pip may be
    # older than 25.1, the first that knows --group.
    session.install(
        "-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"), series_bounds(django)
    )
    # Prove the cell is what its name says before trusting its result.
    output = session.run("python", "-c", "import django; print(django.get_version())", silent=True)
    version = str(output).strip()
    if version != django and not version.startswith(django + "."):
        session.error(f"wanted Django {django}.x, got {version}")
    session.log(f"Django {version}")
    screenshots = f"build/screenshots/django{django}-python{session.python}"
    # The in-process tests on every core (pytest-xdist), with make test-fast's number of
    # generated inputs; then, in the newest cell only, the tests that start real processes,
    # one at a time. make test runs those on .venv's pair, so the real servers, the browser
    # and the stores are seen under the oldest and the newest Django, and CI stays well
    # inside its time (each cell's real-process run is about five minutes).
    fast = Path(".ci/fast-markers").read_text().strip()
    env = {"SCREENSHOT_DIR": screenshots, "PROPERTY_EXAMPLES": "100"}
    session.run("python", "-m", "pytest", "-m", fast, "-n", "auto", *session.posargs, env=env)
    if (session.python, django) == NEWEST:
        session.run("python", "-m", "pytest", "-m", f"not ({fast})", *session.posargs, env=env)


@nox.session(python="3.10")
def redis_floor(session: nox.Session) -> None:
    """The shared store's Redis tests with the lowest redis-py the ``[redis]`` extra allows."""
    floor = extra_floor("redis", "redis")
    session.install(
        "-e",
        ".",
        *nox.project.dependency_groups(PYPROJECT, "test"),
        series_bounds("5.2"),
        f"redis=={floor}",
    )
    output = session.run("python", "-c", "import redis; print(redis.__version__)", silent=True)
    version = str(output).strip()
    if Version(version) != Version(floor):
        session.error(f"wanted redis-py {floor}, got {version}")
    session.log(f"redis-py {version}")
    session.run(
        "python",
        "-m",
        "pytest",
        "-m",
        "redis",
        "tests/integration/test_store_backends.py",
        "tests/integration/test_redis_server.py",
        *session.posargs,
    )
