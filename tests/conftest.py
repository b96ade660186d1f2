"""Shared fixtures: a clean environment, a fresh runtime, and mounted configs."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from django.http import HttpRequest, HttpResponse

from maintenance_env import runtime
from tests.kubelet import ConfigMapVolume
from tests.redis_server import RedisServer, running_redis
from tests.store_servers import (
    MemcachedServer,
    PostgresServer,
    running_memcached,
    running_postgresql,
)
from tests.tools import need_postgresql, need_tool

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MAINTENANCE_MODE* variable leaks in from the shell or between tests."""
    for name in list(os.environ):
        if name.startswith("MAINTENANCE_MODE"):
            monkeypatch.delenv(name)
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set environment variables and make the process read them again: ``env(MAINTENANCE_MODE="on")``."""

    def setter(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

    return setter


#: The instant the docs' examples are shown at, a week before the end time they set
#: (``--ends-at 2040-06-01T04:00Z``): tests that need "a future instant" freeze the clock here
#: (``frozen_clock``) instead of trusting that a literal date is still ahead of today.
EXAMPLE_NOW = dt.datetime(2040, 5, 25, 4, 0, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def frozen_clock() -> Iterator[time_machine.Traveller]:
    """Wall-clock time (``time.time``, ``datetime.now``) stopped at ``EXAMPLE_NOW`` for the
    test; ``time.monotonic`` is left alone, so timeouts and waits still work."""
    with time_machine.travel(EXAMPLE_NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def volume(tmp_path: Path) -> ConfigMapVolume:
    """An empty config directory, updated the way the kubelet does it."""
    return ConfigMapVolume(tmp_path / "maintenance", {})


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free 127.0.0.1 port with a password and no persistence,
    killed at the end of the test (mark such tests ``redis``). See ``tests/redis_server.py``:
    ``url``, ``pid``, ``pause()``/``resume()`` (SIGSTOP/SIGCONT), ``kill()``, ``restart()``
    (same port, empty), ``stop()``, ``flush()``, ``command(...)``."""
    with running_redis(need_tool("redis-server")) as server:
        yield server


@pytest.fixture
def redis_servers() -> Iterator[Callable[..., RedisServer]]:
    """``redis_servers(password=True, tls=False, unix=False)`` starts one more real
    redis-server (mark such tests ``redis``): without a password, over TLS with a
    certificate made for it (``url`` ends in ``?ssl_cert_reqs=none``), or on a unix socket
    in a temporary directory (``url`` is ``unix://…``). All are killed at the end."""
    executable = need_tool("redis-server")
    with contextlib.ExitStack() as stack:

        def start(*, password: bool = True, tls: bool = False, unix: bool = False) -> RedisServer:
            return stack.enter_context(
                running_redis(executable, password=password, tls=tls, unix=unix)
            )

        yield start


@pytest.fixture
def memcached_server() -> Iterator[MemcachedServer]:
    """A real memcached on a free 127.0.0.1 port, killed at the end of the test (mark such
    tests ``memcached``). See ``tests/store_servers.py``: ``url`` (``pymemcache://``),
    ``location``, ``pause()``/``resume()``, ``kill()``, ``restart()``, ``flush()``."""
    with running_memcached(need_tool("memcached")) as server:
        yield server


@pytest.fixture
def postgresql_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster made for the test, on a unix socket in a temporary
    directory, run as an unprivileged user, stopped at the end (mark such tests
    ``postgresql``). See ``tests/store_servers.py``: ``settings(database)``,
    ``create_database()``, ``sql()``, ``stop()``, ``start()``, ``kill()``."""
    with running_postgresql(need_postgresql()) as server:
        yield server


@pytest.fixture
def django_default_logging() -> Iterator[logging.Logger]:
    """Django's own default LOGGING (the console when DEBUG, mail_admins on errors) on the
    real loggers, then put back; yields ``django.request``."""
    from django.utils.log import DEFAULT_LOGGING

    names = ("django", "django.request", "django.server")
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    logging.config.dictConfig(DEFAULT_LOGGING)
    yield logging.getLogger("django.request")
    for name, (handlers, level, propagate, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


def ok_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


async def async_ok_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@pytest.fixture
def no_platform_markers(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The command's platform detection sees an empty filesystem and no platform variable
    of the machine running the tests (CI may well run in Docker or under systemd). Use it
    with ``pytestmark = pytest.mark.usefixtures("no_platform_markers")``."""
    from maintenance_env import platforms
    from maintenance_env.management.commands.maintenance_mode import Command

    markers = {
        marker
        for record in platforms.PLATFORMS
        for marker in record.markers
        if not marker.startswith("/") and not marker.endswith("*")
    }
    markers |= {"POD_NAMESPACE", "CLOUDSDK_RUN_REGION"}
    for name in list(os.environ):
        if name in markers or name.startswith("DOKKU_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(Command, "detection_root", str(tmp_path_factory.mktemp("fs-root")))
