"""The shared store's life in a process: its one thread, its deadlines, forks, connections
left behind, and a store that loses its keys. Against fakes and Django's own backends, no
server processes; nothing here is measured by timing."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from django import db
from django.core.cache.backends.base import BaseCache
from django.core.management import call_command
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.utils import ConnectionHandler
from django.test import RequestFactory, override_settings

import maintenance_env
from maintenance_env import checks, runtime
from maintenance_env.cache_build import build_cache
from maintenance_env.cache_url import StoreError
from maintenance_env.live import Runtime
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.sources import deadline
from maintenance_env.sources.refresher import Refresher
from maintenance_env.sources.store import LOST, SharedStore
from maintenance_env.variables import LIVE_NAMES, Origin
from tests.conftest import ok_view
from tests.redis_server import RedisServer

LOGGER = "maintenance_env"

# --- a shared fake backend: every instance sees one dict, calls may block ---------------

DATA: dict[str, Any] = {}
#: While set to an Event that is not set, every call blocks on it (a hung store).
GATE: list[threading.Event] = []


class SharedCache(BaseCache):
    """A cache every instance of which shares :data:`DATA`, as processes share a Redis."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _wait(self) -> None:
        for gate in GATE:
            assert gate.wait(30), "a test left the gate closed"

    def get_many(self, keys: Any, version: Any = None) -> dict[str, Any]:
        self._wait()
        return {
            k: DATA[self.make_key(k, version)] for k in keys if self.make_key(k, version) in DATA
        }

    def get(self, key: str, default: Any = None, version: Any = None) -> Any:
        return self.get_many([key], version).get(key, default)

    def set_many(self, data: Any, timeout: Any = None, version: Any = None) -> list[str]:
        self._wait()
        for k, v in data.items():
            DATA[self.make_key(k, version)] = v
        return []

    def set(self, key: str, value: Any, timeout: Any = None, version: Any = None) -> None:
        self.set_many({key: value}, timeout, version)

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._wait()
        for k in keys:
            DATA.pop(self.make_key(k, version), None)

    def delete(self, key: str, version: Any = None) -> bool:
        self.delete_many([key], version)
        return True

    def clear(self) -> None:
        DATA.clear()


FAKE = {"BACKEND": "tests.unit.sources.test_store_lifecycle.SharedCache"}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, "fake": FAKE}


@pytest.fixture(autouse=True)
def fake_store(env: Callable[..., None]) -> Iterator[None]:
    DATA.clear()
    GATE.clear()
    with override_settings(CACHES=CACHES):
        yield
    for gate in GATE:
        gate.set()
    GATE.clear()


def writer() -> SharedStore:
    return SharedStore("fake", LIVE_NAMES, 1.0, background=False)


def hang() -> threading.Event:
    gate = threading.Event()
    GATE.append(gate)
    return gate


# --- the refresher ----------------------------------------------------------------------


def test_the_refresher_starts_once_per_process_and_backs_off_while_failing() -> None:
    results = iter([False, False, True])
    pauses: list[int] = []
    done = threading.Event()

    def read() -> bool:
        try:
            return next(results)
        except StopIteration:
            done.set()
            refresher.stop()
            return True

    def pause(failures: int) -> float:
        pauses.append(failures)
        return 0.0

    refresher = Refresher(read, pause, "test reader")
    refresher.ensure_running()
    refresher.ensure_running()  # already running here: no second thread
    assert done.wait(10)
    # Two failures back off, a success does not. (The read that sets ``done`` runs before
    # its own pause, so only the first three pauses are sure to be recorded by now.)
    assert pauses[:3] == [1, 2, 0]
    assert [t.name for t in threading.enumerate()].count("test reader") <= 1


def test_after_fork_forgets_the_thread_and_gives_new_locks() -> None:
    refresher = Refresher(lambda: True, lambda failures: 60.0, "test reader")
    refresher.ensure_running()
    lock = refresher._lock
    lock.acquire()  # held by "another thread" at the fork
    refresher.after_fork()
    assert refresher._lock is not lock
    assert refresher._pid is None  # the child starts its own
    lock.release()
    refresher.stop()


# --- deadlines --------------------------------------------------------------------------


def test_a_read_against_a_hung_backend_returns_with_the_timeout_error() -> None:
    writer().write({"MAINTENANCE_MODE": "on"})
    gate = hang()
    store = writer()
    error = store.read_now(timeout=0.2)
    assert error is not None
    assert "Timeout" in error
    assert "did not answer within 0.2 s" in error
    # While that call still hangs, the next one fails at once, in the same words, and no
    # second thread is started.
    threads = threading.active_count()
    assert store.read_now(timeout=0.2) == error
    assert threading.active_count() == threads
    gate.set()


def test_a_write_against_a_hung_backend_returns_with_the_timeout_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("maintenance_env.sources.store_client.WRITE_DEADLINE", 0.2)
    gate = hang()
    with pytest.raises(StoreError) as caught:
        writer().write({"MAINTENANCE_MODE": "on"})
    assert "did not answer within 0.2 s" in str(caught.value)
    assert "may or may not have been applied" in str(caught.value)
    gate.set()


def test_a_process_whose_store_hangs_answers_its_first_request_from_the_environment(
    env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer().write({"MAINTENANCE_MODE": "on"})
    monkeypatch.setattr("maintenance_env.live.START_READ_TIMEOUT", 0.2)
    env(MAINTENANCE_MODE_CACHE="fake", MAINTENANCE_MODE="off")
    gate = hang()
    middleware = MaintenanceModeMiddleware(ok_view)
    assert middleware(RequestFactory().get("/")).status_code == 200  # it returned
    gate.set()


# --- the first read and forks -----------------------------------------------------------


def test_nothing_is_read_when_the_middleware_loads_then_once_before_the_first_answer(
    env: Callable[..., None],
) -> None:
    writer().write({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CACHE="fake")
    gate = hang()  # any read now would block: loading must not read
    MaintenanceModeMiddleware(ok_view)
    current = runtime.get_runtime()
    assert current.store is not None
    assert current.store.last_read is None
    gate.set()
    assert maintenance_env.is_active() is True  # read once, before answering


def test_the_at_fork_hook_does_no_io_and_the_child_forgets_the_parents_values(
    env: Callable[..., None],
) -> None:
    writer().write({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CACHE="fake")
    assert maintenance_env.is_active() is True
    gate = hang()  # the store hangs from now on: a read in the hook would block
    runtime._after_fork_in_child()  # what os.fork() runs in the child
    current = runtime.get_runtime()
    assert current.store is not None
    assert current.store.last_read is None  # as if never read
    assert current.store.reachable is None
    assert current.store._refresher._pid is None
    # The child's first answer reads (bounded): while the store hangs, the parent's "on"
    # is not revived; the environment and settings decide.
    current.store._deadline.after_fork()
    gate.set()
    GATE.clear()
    DATA.clear()
    assert maintenance_env.is_active() is False
    assert current.state().resolution.origins["MAINTENANCE_MODE"] is Origin.DEFAULT


def test_a_forked_child_reads_the_store_before_its_first_answer() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    writer().write({"MAINTENANCE_MODE": "off"})
    os.environ["MAINTENANCE_MODE_CACHE"] = "fake"
    try:
        runtime.reset()
        assert maintenance_env.is_active() is False
        writer().write({"MAINTENANCE_MODE": "on"})  # the fleet flips; this process has not seen it
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: no refresher yet, only the first-read rule can know
            try:
                os.write(write, b"1" if maintenance_env.is_active() else b"0")
            finally:
                os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert answer == b"1"
    finally:
        del os.environ["MAINTENANCE_MODE_CACHE"]
        runtime.reset()


def test_a_child_forked_during_a_store_outage_never_revives_its_parents_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # gunicorn --preload --max-requests while the store hangs: a recycled worker is forked
    # from a process that read "on" long ago; the fleet may have turned it off since.
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    writer().write({"MAINTENANCE_MODE": "on"})
    monkeypatch.setenv("MAINTENANCE_MODE_CACHE", "fake")
    monkeypatch.setattr("maintenance_env.live.START_READ_TIMEOUT", 0.2)
    runtime.reset()
    assert maintenance_env.is_active() is True  # the parent's values
    gate = hang()  # the store hangs from now on
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, b"1" if maintenance_env.is_active() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    gate.set()
    assert answer == b"0"  # as if never read: the environment and settings decide


# --- a lost store -----------------------------------------------------------------------


def test_a_cleared_store_keeps_the_last_values_until_the_package_writes_again(
    env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    writer().write({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CACHE="fake", MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    current = runtime.get_runtime()
    assert maintenance_env.is_active() is True
    assert current.store is not None
    current.store.stop()  # read by hand below: no thread racing the test
    SharedCache("", {}).clear()  # a deploy script's cache.clear()
    for _ in range(3):
        current.store.read_now()
        assert current.refresh().is_active() is True  # the last values stay in force
    assert current.store.lost
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors  # once
    assert "lost every key" in errors[0]
    (source,) = maintenance_env.status().sources
    assert source.ok is False
    assert source.error == LOST
    assert maintenance_env.status().as_dict()["sources"][0]["error"] == LOST
    ids = [m.id for m in checks.check_configuration(None)]
    assert "maintenance_env.W011" in ids
    writer().write({"MAINTENANCE_MODE": "off"})  # the package writes: no longer lost
    current.store.read_now()
    assert current.refresh().is_active() is False
    assert not current.store.lost
    assert "maintenance_env.W011" not in [m.id for m in checks.check_configuration(None)]


def test_an_empty_store_that_was_never_found_full_is_not_lost(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_CACHE="fake")
    store = writer()
    for _ in range(2):
        assert store.read_now() is None
    assert not store.lost


def test_a_lost_store_after_a_fork_is_forgotten_with_the_rest(env: Callable[..., None]) -> None:
    writer().write({"MAINTENANCE_MODE": "on"})
    store = writer()
    store.read_now()
    DATA.clear()
    store.read_now()
    assert store.lost
    store.after_fork()
    assert not store.lost  # a child that never read starts fresh


# --- connections left behind ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_database_store_read_leaves_no_connection_open_in_its_thread() -> None:
    caches = {
        "default": CACHES["default"],
        "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "switch"},
    }
    with override_settings(CACHES=caches):
        call_command("createcachetable", "switch", verbosity=0)
        opened: list[Any] = []
        closed: list[Any] = []

        def record(sender: Any, connection: Any, **kwargs: Any) -> None:
            if threading.current_thread() is not threading.main_thread():
                opened.append(connection)
                close = connection.close

                def closing() -> None:
                    closed.append(connection)
                    close()

                connection.close = closing

        connection_created.connect(record)
        try:
            store = SharedStore("db", LIVE_NAMES, 1.0, background=False)
            store.write({"MAINTENANCE_MODE": "on"})
            assert store.read_now() is None
            assert store.snapshot.values == {"MAINTENANCE_MODE": "on"}
            # The background read's path, which keeps its cache between reads.
            assert store._read() is None
        finally:
            connection_created.disconnect(record)
        assert opened, "each call ran in a thread of its own, with its own connection"
        # Every one closed by the thread that opened it (Django's SQLite keeps an in-memory
        # test database open on close(); a file or a server database is closed for real).
        assert {id(c) for c in opened} == {id(c) for c in closed}


def test_the_thread_connection_closer_closes_only_initialised_connections() -> None:
    closed: list[str] = []

    class Connection:
        def __init__(self, alias: str) -> None:
            self.alias = alias

        def close(self) -> None:
            closed.append(self.alias)

    class Handler:
        def all(self, initialized_only: bool = False) -> list[Connection]:
            assert initialized_only
            return [Connection("default")]

    real = connections
    db.connections = cast(ConnectionHandler, Handler())  # a fake: only all() is asked
    try:
        deadline._close_thread_connections()
    finally:
        db.connections = real
    assert closed == ["default"]


def test_a_runtime_built_without_background_never_reads_by_itself(
    env: Callable[..., None],
) -> None:
    env(MAINTENANCE_MODE_CACHE="fake")
    gate = hang()
    current = Runtime(background=False)
    current.state()  # would block on the gate if it read
    assert current.store is not None
    assert current.store.last_read is None
    gate.set()


@pytest.mark.redis
def test_a_cache_clear_on_django_redis_cache_is_a_lost_store(redis_server: RedisServer) -> None:
    store = SharedStore(redis_server.url, LIVE_NAMES, 1.0, background=False)
    store.write({"MAINTENANCE_MODE": "on"})
    assert store.read_now() is None
    build_cache(redis_server.url).clear()  # FLUSHDB, as any alias on that database would
    assert store.read_now() == LOST
    assert store.snapshot.values == {"MAINTENANCE_MODE": "on"}  # kept
    store.write({"MAINTENANCE_MODE": "off"})
    assert store.read_now() is None
    assert store.snapshot.values == {"MAINTENANCE_MODE": "off"}
