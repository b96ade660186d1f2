"""The example project with and without ``REDIS_URL``: the store when the platform gives a
Redis, nothing new without one (``make demo``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_example_project import manage
from tests.redis_server import RedisServer


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_without_redis_url_there_is_no_store(tmp_path: Path) -> None:
    result = manage(tmp_path, "maintenance_mode", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert [s for s in json.loads(result.stdout)["sources"] if s["origin"] == "cache"] == []


@pytest.mark.redis
def test_redis_url_becomes_the_store(tmp_path: Path, redis_server: RedisServer) -> None:
    url = redis_server.url
    check = manage(tmp_path, "check", "--fail-level", "WARNING", REDIS_URL=url)
    assert check.returncode == 0, check.stdout + check.stderr
    written = manage(tmp_path, "maintenance_mode", "on", "--write", REDIS_URL=url)
    assert written.returncode == 0, written.stderr
    assert "written to the shared store redis://:***@" in written.stdout
    status = manage(tmp_path, "maintenance_mode", "status", "--json", REDIS_URL=url)
    report = json.loads(status.stdout)
    assert report["active"] is True
    assert report["variables"]["MAINTENANCE_MODE"]["origin"] == "cache"
    assert [s["ok"] for s in report["sources"] if s["origin"] == "cache"] == [True]
    assert not list(tmp_path.glob("MAINTENANCE_MODE*"))  # the store, not the mounted config
    assert redis_server.password not in written.stdout + status.stdout + check.stdout
