"""The example project with and without ``REDIS_URL``: the store when the platform gives a
Redis, nothing new without one (``make demo``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"


def manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``example_project/manage.py`` in a new process, with a clean environment."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAINTENANCE_MODE")
        and k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "DYNO")
    }
    environ.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path),
        **extra,
    )
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )


def test_without_redis_url_there_is_no_store(tmp_path: Path) -> None:
    result = manage(tmp_path, "maintenance_mode", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["store"] is None


@pytest.mark.redis
def test_redis_url_becomes_the_store(tmp_path: Path, redis_server: RedisServer) -> None:
    url = redis_server.url
    check = manage(tmp_path, "check", "--fail-level", "WARNING", REDIS_URL=url)
    assert check.returncode == 0, check.stdout + check.stderr
    written = manage(tmp_path, "maintenance_mode", "on", "--write", REDIS_URL=url)
    assert written.returncode == 0, written.stderr
    assert "written to the shared store CACHES['default'] at redis://:***@" in written.stdout
    status = manage(tmp_path, "maintenance_mode", "status", "--json", REDIS_URL=url)
    report = json.loads(status.stdout)
    assert report["active"] is True
    assert report["variables"]["MAINTENANCE_MODE"]["origin"] == "cache"
    assert report["store"]["reachable"] is True
    assert not list(tmp_path.glob("MAINTENANCE_MODE*"))  # the store, not the mounted config
    assert redis_server.password not in written.stdout + status.stdout + check.stdout
