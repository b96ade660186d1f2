"""The shared store under every backend it is documented with, each a real server.

Django's ``RedisCache`` (with and without a password, over TLS with a certificate of its
own, on a unix socket), django-redis, ``PyMemcacheCache`` on memcached and
``DatabaseCache`` on PostgreSQL. Each test drives real processes as an operator and a
fleet would (``tests/store_process.py``): a writer runs ``maintenance_mode on|off --write``,
a reader answers with ``maintenance_env.is_active()`` and ``maintenance_env.status()`` as a
worker of the fleet sees them, and ``manage.py maintenance_mode status --json`` runs in a
fresh process. Only documented behaviour is used, so these tests hold whatever the store's
insides become.

For each backend: a write reaches the reader; a stopped store keeps the last values in
force and is reported (``status``'s ``sources``), a write to it fails writing nothing; once
the server is back, reads resume. Waits are bounded loops (:meth:`FleetProcess.until`), never
timed assertions. Fresh processes are few: each Django start-up costs most of a second.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import RedisServer
from tests.servers import ROOT, Daemon
from tests.store_servers import MemcachedServer, PostgresServer

#: The reload interval of every process here (seconds).
INTERVAL = "0.1"
#: A bound on every wait (seconds), never reached when things work.
WAIT = 15.0
#: A bound on one command (a fresh Django process; seconds).
COMMAND_TIMEOUT = 60.0

DJANGO_REDIS = "django.core.cache.backends.redis.RedisCache"
DJANGO_REDIS_PACKAGE = "django_redis.cache.RedisCache"
PYMEMCACHE = "django.core.cache.backends.memcached.PyMemcacheCache"
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
TABLE = "maintenance_env_store"


@dataclass
class Backend:
    """How the processes of a test reach one real store.

    ``setting`` is ``MAINTENANCE_MODE_CACHE`` (a URL or an alias of ``caches``);
    ``databases`` the ``DATABASES`` of the processes, when the store needs one;
    ``secret`` what must never be printed; ``server`` the real server behind it.
    """

    setting: str
    server: Daemon
    caches: dict[str, Any] = field(default_factory=dict)
    databases: dict[str, Any] | None = None
    secret: str = ""

    def environment(self, **overrides: Any) -> dict[str, str]:
        """A process's environment: this store, the test settings, nothing from the shell."""
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MAINTENANCE_MODE", "DJANGO_", "STORE_TEST_"))
        }
        given: dict[str, Any] = {"CACHES": overrides.get("caches", self.caches)}
        if self.databases is not None:
            given["DATABASES"] = self.databases
        environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.store_settings",
                "STORE_TEST_SETTINGS": json.dumps(given),
                "MAINTENANCE_MODE_CACHE": self.setting,
                "MAINTENANCE_MODE_RELOAD_INTERVAL": INTERVAL,
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return environ

    def manage(self, *args: str, **overrides: Any) -> subprocess.CompletedProcess[str]:
        """``manage.py <args>`` in a fresh process reaching this store."""
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=ROOT,
            env=self.environment(**overrides),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def status(self) -> dict[str, Any]:
        """``maintenance_mode status --json`` from a fresh process."""
        done = self.manage("maintenance_mode", "status", "--json")
        assert not self.secret or self.secret not in done.stdout + done.stderr
        try:
            report: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"status --json printed no JSON:\n{done.stdout}{done.stderr}")
        return report


def store_health(report: Mapping[str, Any]) -> dict[str, Any]:
    """The shared store's entry in a status report's ``sources``."""
    for source in report["sources"]:
        if source["origin"] == "cache":
            found: dict[str, Any] = source
            return found
    pytest.fail(f"no shared store among the sources: {report['sources']}")


def message(report: Mapping[str, Any]) -> Any:
    return report["variables"]["MAINTENANCE_MODE_MESSAGE"]["value"]


class FleetProcess:
    """A process of the fleet (``tests/store_process.py``): :meth:`ask` gets its
    ``is_active()`` and ``status()`` now, :meth:`command` runs a management command in it."""

    def __init__(self, backend: Backend, log: Path, **overrides: Any) -> None:
        self.backend = backend
        self.log = log
        with open(log, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.store_process"],
                cwd=ROOT,
                env=backend.environment(**overrides),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self.last: dict[str, Any] = {}

    def _send(self, line: str) -> dict[str, Any]:
        process = self.process
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(line.encode() + b"\n")
        process.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=COMMAND_TIMEOUT):
                pytest.fail(f"{line}: no answer within {COMMAND_TIMEOUT} s:\n{self.errors()}")
        reply = process.stdout.readline()
        if not reply:
            pytest.fail(f"{line}: the process ended ({process.poll()}):\n{self.errors()}")
        assert not self.backend.secret or self.backend.secret not in reply.decode()
        found: dict[str, Any] = json.loads(reply)
        return found

    def ask(self) -> dict[str, Any]:
        """One answer: ``{"active": bool, "status": <status --json's report>}``."""
        self.last = self._send("?")
        return self.last

    def command(self, *args: str) -> dict[str, Any]:
        """``call_command(*args)`` in this process: ``{"code", "out", "err"}``."""
        return self._send(json.dumps(args))

    def write(self, *args: str) -> str:
        """``maintenance_mode <args> --write``, which must succeed; what it printed."""
        done = self.command("maintenance_mode", *args, "--write")
        output = f"{done['out']}{done['err']}"
        assert done["code"] == 0, f"maintenance_mode {' '.join(args)} --write:\n{output}"
        return output

    def until(self, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Ask until ``check(answer)`` holds; fail naming ``what`` after :data:`WAIT` s."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            answer = self.ask()
            if check(answer):
                return answer
            time.sleep(0.05)
        pytest.fail(f"not within {WAIT} s: {what}; last answer: {self.last}\n{self.errors()}")

    def errors(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        process = self.process
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Callable[..., FleetProcess]]:
    """``fleet(backend, **overrides)``: a process of the fleet, ended with the test."""
    started: list[FleetProcess] = []

    def start(backend: Backend, **overrides: Any) -> FleetProcess:
        log = tmp_path / f"process-{len(started)}.log"
        started.append(FleetProcess(backend, log, **overrides))
        return started[-1]

    yield start
    for each in started:
        each.close()


@dataclass
class Fleet:
    """Two processes on one store: ``writer`` runs the command, ``reader`` serves."""

    backend: Backend
    writer: FleetProcess
    reader: FleetProcess


@pytest.fixture
def processes(fleet: Callable[..., FleetProcess]) -> Callable[[Backend], Fleet]:
    """``processes(backend)``: a writer and a reader process on ``backend``."""

    def start(backend: Backend) -> Fleet:
        return Fleet(backend, fleet(backend), fleet(backend))

    return start


def flips_across_processes(fleet: Fleet) -> None:
    """A write by the command reaches a reader process and a fresh ``status``."""
    backend, read = fleet.backend, fleet.reader
    assert read.ask()["active"] is False
    fleet.writer.write("on", "--message", "Back at four")
    answer = read.until(
        lambda a: a["active"] and message(a["status"]) == "Back at four", "the reader sees on"
    )
    assert answer["status"]["variables"]["MAINTENANCE_MODE"]["origin"] == "cache"
    assert store_health(answer["status"])["ok"] is True
    report = backend.status()
    assert report["active"] is True
    assert report["variables"]["MAINTENANCE_MODE"] == {"value": True, "origin": "cache"}
    assert store_health(report)["ok"] is True

    fleet.writer.write("off")
    read.until(lambda a: not a["active"], "the reader sees off")


def survives_an_outage(fleet: Fleet, stop: Callable[[], None], start: Callable[[], None]) -> None:
    """Stopped: the last values stay in force and the error is reported, a write fails
    writing nothing; back: reads resume."""
    backend, read, writer = fleet.backend, fleet.reader, fleet.writer
    writer.write("on", "--message", "Before the outage")
    read.until(lambda a: a["active"], "the reader sees on")
    stop()
    answer = read.until(
        lambda a: store_health(a["status"])["ok"] is False, "the reader reports the outage"
    )
    assert answer["active"] is True  # the last values read stay in force
    assert message(answer["status"]) == "Before the outage"
    assert store_health(answer["status"])["error"]
    # A write to a store that cannot be reached fails, in one line, writing nothing.
    done = writer.command("maintenance_mode", "off", "--write")
    assert done["code"] == 1, done
    assert "nothing written" in done["err"], done
    # A process that starts now says the store is down.
    assert store_health(backend.status())["ok"] is False
    assert read.ask()["active"] is True

    start()
    writer.write("on", "--message", "After the outage")
    answer = read.until(
        lambda a: message(a["status"]) == "After the outage" and store_health(a["status"])["ok"],
        "the reader reads the store again",
    )
    assert answer["active"] is True
    assert store_health(answer["status"])["error"] is None
    writer.write("off")
    read.until(lambda a: not a["active"], "the reader sees off")


def exercise(fleet: Fleet) -> None:
    """Both of the above, the outage being a kill and a restart of the server."""
    flips_across_processes(fleet)
    server = fleet.backend.server
    survives_an_outage(fleet, server.kill, server.restart)


Processes = Callable[[Backend], Fleet]


# --- Redis ------------------------------------------------------------------------------


def redis_alias(server: RedisServer, backend: str = DJANGO_REDIS, **entry: Any) -> Backend:
    """The store as an alias of ``CACHES`` on ``server`` (its URL as ``LOCATION``)."""
    location = server.url.split("?", 1)[0] if server.tls else server.url
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "store": {"BACKEND": backend, "LOCATION": location, **entry},
    }
    return Backend("store", server, caches, secret=server.password)


@pytest.mark.redis
def test_redis_with_a_password_from_the_url(
    redis_server: RedisServer, processes: Processes
) -> None:
    backend = Backend(redis_server.url, redis_server, secret=redis_server.password)
    exercise(processes(backend))


@pytest.mark.redis
def test_django_redis_cache_without_a_password(
    redis_servers: Callable[..., RedisServer], processes: Processes
) -> None:
    backend = redis_alias(redis_servers(password=False))
    exercise(processes(backend))


@pytest.mark.redis
def test_django_redis_cache_over_tls_with_a_self_signed_certificate(
    redis_servers: Callable[..., RedisServer], processes: Processes
) -> None:
    backend = redis_alias(redis_servers(tls=True), OPTIONS={"ssl_cert_reqs": "none"})
    exercise(processes(backend))


@pytest.mark.redis
def test_a_rediss_url_with_ssl_cert_reqs_none_builds_djangos_redis_cache(
    redis_servers: Callable[..., RedisServer], processes: Processes
) -> None:
    # Heroku's form: with django-redis installed, today's URL mapping builds django-redis,
    # which drops the query option, and every read fails on the certificate.
    server = redis_servers(tls=True)
    assert server.url.endswith("?ssl_cert_reqs=none")
    exercise(processes(Backend(server.url, server, secret=server.password)))


@pytest.mark.redis
def test_django_redis_cache_on_a_unix_socket(
    redis_servers: Callable[..., RedisServer], processes: Processes
) -> None:
    exercise(processes(redis_alias(redis_servers(unix=True))))


@pytest.mark.redis
def test_a_unix_socket_url(redis_servers: Callable[..., RedisServer], processes: Processes) -> None:
    server = redis_servers(unix=True)
    assert server.url.startswith("unix://")
    exercise(processes(Backend(server.url, server, secret=server.password)))


@pytest.mark.redis
def test_django_redis(redis_server: RedisServer, processes: Processes) -> None:
    exercise(processes(redis_alias(redis_server, DJANGO_REDIS_PACKAGE)))


@pytest.mark.redis
# Whatever the redis-py: nox's redis_floor session runs this with the lowest the [redis]
# extra allows, whose sockets have no timeout of their own (the package's deadline holds).
def test_a_hung_redis_keeps_the_last_values_and_reads_resume_without_a_restart(
    redis_server: RedisServer, processes: Processes
) -> None:
    # SIGSTOP: connections hang instead of being refused; the values are still there after.
    fleet = processes(Backend(redis_server.url, redis_server, secret=redis_server.password))
    fleet.writer.write("on", "--message", "Held")
    fleet.reader.until(lambda a: a["active"], "the reader sees on")
    redis_server.pause()
    answer = fleet.reader.until(
        lambda a: store_health(a["status"])["ok"] is False, "the reader reports the hung store"
    )
    assert answer["active"] is True
    redis_server.resume()
    answer = fleet.reader.until(lambda a: store_health(a["status"])["ok"], "it reads again")
    assert (answer["active"], message(answer["status"])) == (True, "Held")


@pytest.mark.redis
def test_releases_with_their_own_key_prefix_and_version_share_one_switch(
    redis_server: RedisServer, fleet: Callable[..., FleetProcess]
) -> None:
    # A rolling deploy: the old pods' alias and the new ones' differ only in KEY_PREFIX and
    # VERSION (set per release to drop the cache); both must read the one switch.
    old = redis_alias(redis_server, KEY_PREFIX="release-41", VERSION=41)
    new = redis_alias(redis_server, KEY_PREFIX="release-42", VERSION=42)
    old_pod, new_pod = fleet(old), fleet(new)
    assert new_pod.ask()["active"] is False
    old_pod.write("on")
    new_pod.until(lambda a: a["active"], "the new release sees the old one's write")
    new_pod.write("off")
    old_pod.until(lambda a: not a["active"], "the old release sees the new one's write")


# --- memcached --------------------------------------------------------------------------


@pytest.mark.memcached
def test_pymemcache_cache(memcached_server: MemcachedServer, processes: Processes) -> None:
    exercise(processes(Backend(memcached_server.url, memcached_server)))


@pytest.mark.memcached
def test_pymemcache_cache_flips_across_processes(
    memcached_server: MemcachedServer, processes: Processes
) -> None:
    caches = {"store": {"BACKEND": PYMEMCACHE, "LOCATION": memcached_server.location}}
    flips_across_processes(processes(Backend("store", memcached_server, caches)))


# --- PostgreSQL -------------------------------------------------------------------------


def database_cache(server: PostgresServer) -> Backend:
    """The store as a ``DatabaseCache`` on a database of its own, its table created."""
    server.create_database("store")
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "store": {"BACKEND": DATABASE_CACHE, "LOCATION": TABLE},
    }
    backend = Backend("store", server, caches, databases={"default": server.settings("store")})
    done = backend.manage("createcachetable")
    assert done.returncode == 0, done.stdout + done.stderr
    return backend


@pytest.mark.postgresql
def test_database_cache_on_postgresql_flips_across_processes(
    postgresql_server: PostgresServer, processes: Processes
) -> None:
    flips_across_processes(processes(database_cache(postgresql_server)))
    assert postgresql_server.sql(f"SELECT count(*) FROM {TABLE}", "store").strip() != "0"


@pytest.mark.postgresql
def test_database_cache_on_postgresql_survives_a_restart(
    postgresql_server: PostgresServer, processes: Processes
) -> None:
    fleet = processes(database_cache(postgresql_server))
    assert fleet.reader.ask()["active"] is False
    survives_an_outage(fleet, postgresql_server.stop, postgresql_server.restart)


@pytest.mark.postgresql
def test_database_cache_reader_reconnects_after_pg_terminate_backend(
    postgresql_server: PostgresServer, processes: Processes
) -> None:
    fleet = processes(database_cache(postgresql_server))
    fleet.writer.write("on", "--message", "First")
    fleet.reader.until(lambda a: message(a["status"]) == "First", "the reader's first read")
    # The database drops every connection to the store's database (a failover, a pooler,
    # an administrator), again and again for a second, catching reads in flight: the
    # reader holds no connection between reads (each read's thread closes its own), and a
    # read whose connection is ended fails once and is retried on a new one.
    for _round in range(20):
        postgresql_server.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = 'store' AND pid <> pg_backend_pid()"
        )
        time.sleep(0.05)
    fleet.writer.write("on", "--message", "Second")
    answer = fleet.reader.until(
        lambda a: message(a["status"]) == "Second", "the reader picks up the new value"
    )
    assert store_health(answer["status"])["ok"] is True
