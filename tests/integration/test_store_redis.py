"""The shared store against a real redis-server: layout, precedence, faults, processes.

Every test here starts its own redis-server (``tests/redis_server.py``). Faults are real:
SIGSTOP for a hung server, SIGKILL and a restart for a dead one that comes back empty, a
wrong password. Nothing is timed: that no request waits on the network is proven by
recording which threads enter ``get_many`` and by serving requests while the refresher is
stuck inside it. Waits for the refresher are bounded loops (:func:`eventually`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from django.test import AsyncRequestFactory, RequestFactory, override_settings

from maintenance_env import cache_build, cache_url, runtime
from maintenance_env.live import Runtime
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.sources.refresher import Refresher
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import LIVE_NAMES, Origin
from tests.conftest import async_ok_view, ok_view
from tests.kubelet import ConfigMapVolume
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

LOGGER = "maintenance_env"
#: The refresher's pace in these tests (MIN_PAUSE: the shortest it ever waits).
INTERVAL = "0.05"
#: A bound on every wait for the refresher, never reached when things work.
WAIT = 15.0


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait until ``check()`` holds, polling; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    pytest.fail(f"not within {timeout} s: {what}")


def writer(setting: str) -> SharedStore:
    """A store that only writes (as the management command does)."""
    return SharedStore(setting, LIVE_NAMES, 1.0, background=False)


class Recorder:
    """Wraps ``RedisCache.get_many`` to record who calls it, and to say when a call is
    in flight (entered, not yet returned), which is how a stuck refresher shows."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, int]] = []  # (pid, thread ident)
        self.in_flight = threading.Event()
        original = RedisCache.get_many
        recorder = self

        def get_many(cache: RedisCache, keys: Any, version: Any = None) -> Any:
            # Who asked: a call runs in a short-lived thread that its asker waits for.
            thread = threading.current_thread()
            asker = getattr(thread, "asker", threading.get_ident())
            recorder.calls.append((os.getpid(), asker))
            recorder.in_flight.set()
            try:
                return original(cache, keys, version=version)
            finally:
                recorder.in_flight.clear()

        monkeypatch.setattr(RedisCache, "get_many", get_many)

    @property
    def threads(self) -> set[int]:
        return {ident for _pid, ident in self.calls}


class Site:
    """The real middleware around a plain view, reading the store at ``url``."""

    def __init__(self) -> None:
        self.factory = RequestFactory()
        self.middleware = MaintenanceModeMiddleware(ok_view)

    def get(self, path: str = "/") -> HttpResponse:
        response: HttpResponse = self.middleware(self.factory.get(path))
        return response

    def status(self) -> int:
        return self.get().status_code

    def statuses(self, count: int = 50) -> set[int]:
        return {self.status() for _ in range(count)}

    @property
    def runtime(self) -> Runtime:
        return runtime.get_runtime()

    @property
    def store(self) -> SharedStore:
        store = self.runtime.store
        assert store is not None
        return store

    def until(self, status: int, what: str) -> None:
        eventually(lambda: self.status() == status, what)

    def serving_until(self, check: Callable[[], bool], what: str) -> None:
        """Serve requests until ``check()`` holds (logging happens as requests poll)."""

        def served_and_checked() -> bool:
            self.get()
            return check()

        eventually(served_and_checked, what)

    def until_config(self, check: Callable[[Any], bool], what: str) -> None:
        """Serve requests until the configuration in force passes ``check``."""

        def served_and_checked() -> bool:
            self.get()
            return check(runtime.get_state().config)

        eventually(served_and_checked, what)


@pytest.fixture
def site(
    redis_server: RedisServer, env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> Callable[..., Site]:
    """``site(**environment)``: a site whose store is the test's redis-server."""
    caplog.set_level(logging.INFO, LOGGER)

    def build(**environment: str) -> Site:
        environment.setdefault("MAINTENANCE_MODE_CACHE", redis_server.url)
        environment.setdefault("MAINTENANCE_MODE_RELOAD_INTERVAL", INTERVAL)
        env(**environment)
        return Site()

    return build


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return (
        "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
        + caplog.text
    )


# --- reading --------------------------------------------------------------------------


def test_a_write_reaches_the_site_and_a_deleted_key_is_unset(
    redis_server: RedisServer, site: Callable[..., Site]
) -> None:
    web = site(MAINTENANCE_MODE_MESSAGE="from the environment")
    assert web.status() == 200
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "hi"})
    web.until(503, "maintenance on from the store")
    resolution = runtime.get_state().resolution
    assert resolution.origins["MAINTENANCE_MODE"] is Origin.CACHE
    assert resolution.config.message == "hi"
    # Deleting the keys (not writing "off"): the lower sources apply again.
    writer(redis_server.url).write({"MAINTENANCE_MODE": None, "MAINTENANCE_MODE_MESSAGE": None})
    web.until(200, "maintenance unset in the store")
    resolution = runtime.get_state().resolution
    assert resolution.origins["MAINTENANCE_MODE"] is Origin.DEFAULT
    assert resolution.config.message == "from the environment"


def test_keys_are_written_with_no_expiry_under_the_caches_own_key_function(
    redis_server: RedisServer,
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    client = redis.Redis.from_url(redis_server.url)
    # Django's default key function: KEY_PREFIX (empty) : VERSION (1) : key.
    # Beside the value, when it was written (for `status` in any process).
    assert sorted(client.keys("*")) == [
        b":1:maintenance_env:MAINTENANCE_MODE",
        b":1:maintenance_env:changed_at",
    ]
    assert client.ttl(":1:maintenance_env:MAINTENANCE_MODE") == -1  # no expiry
    assert client.ttl(":1:maintenance_env:changed_at") == -1


def test_key_prefix_version_and_key_function_never_split_the_fleet(
    redis_server: RedisServer,
) -> None:
    # Teams change KEY_PREFIX or VERSION per release to drop a cache: in a rolling deploy
    # the old pods and the new ones must still read one switch (section 8).
    def entry(**extra: object) -> dict[str, object]:
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
            **extra,
        }

    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "release_41": entry(KEY_PREFIX="shop-41"),
        "release_42": entry(KEY_PREFIX="shop-42"),
        "versioned": entry(KEY_PREFIX="shop", VERSION=7),
        "own_keys": entry(KEY_FUNCTION=lambda key, prefix, version: f"custom|{key}"),
    }
    with override_settings(CACHES=caches):
        keys = writer("release_41").write({"MAINTENANCE_MODE": "on"})
        seen = {}
        for alias in caches:
            if alias == "default":
                continue
            store = SharedStore(alias, LIVE_NAMES, 1.0, background=False)
            assert store.read_now() is None
            seen[alias] = dict(store.snapshot.values)
        # The printed store route (a URL to the same server) reads what they read.
        by_url = SharedStore(redis_server.url, LIVE_NAMES, 1.0, background=False)
        assert by_url.read_now() is None
        seen["url"] = dict(by_url.snapshot.values)
    assert all(values == {"MAINTENANCE_MODE": "on"} for values in seen.values()), seen
    assert keys == {"MAINTENANCE_MODE": ":1:maintenance_env:MAINTENANCE_MODE"}
    assert sorted(redis.Redis.from_url(redis_server.url).keys("*")) == [
        b":1:maintenance_env:MAINTENANCE_MODE",
        b":1:maintenance_env:changed_at",
    ]


def test_the_store_is_read_in_one_get_many_per_interval_never_per_request(
    redis_server: RedisServer, site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(monkeypatch)
    web = site(MAINTENANCE_MODE_RELOAD_INTERVAL="0.2")
    assert recorder.calls == []  # nothing read when the middleware loads (maybe in a master)
    assert web.status() == 200
    # One read before the first answer, by the request itself; the refresher it starts may
    # already have read again by now.
    assert recorder.calls[0][1] == threading.get_ident()
    assert [ident for _pid, ident in recorder.calls].count(threading.get_ident()) == 1
    recorder.calls.clear()
    started = time.monotonic()
    served = 0
    while served < 2000 or len(recorder.calls) < 2:
        assert web.status() == 200
        served += 1
        assert served < 1_000_000
    elapsed = time.monotonic() - started
    # The refresher waits a whole interval after each read: at most one read per 0.2 s
    # (plus the first), whatever the number of requests. A slower machine only makes
    # `elapsed` larger, never the count.
    assert 2 <= len(recorder.calls) <= elapsed / 0.2 + 1
    assert len(recorder.calls) < served  # fewer reads than requests, on any machine
    assert threading.get_ident() not in recorder.threads  # never from a request
    keys: list[list[str]] = []
    original = RedisCache.get_many

    def spy(cache: RedisCache, names: Any, version: Any = None) -> Any:
        keys.append(list(names))
        return original(cache, names, version=version)

    monkeypatch.setattr(RedisCache, "get_many", spy)
    eventually(lambda: bool(keys), "another read")
    # The variables, the last write's record, and the fleet report's keys (the high-water
    # mark and this process's slot): the slot costs no read of its own.
    record = ["changed_at", "changed_by", "reason", "process:high", "process:0"]
    assert sorted(keys[0]) == sorted([f"maintenance_env:{name}" for name in [*LIVE_NAMES, *record]])


def test_precedence_store_over_mounted_config_over_environment_over_settings(
    redis_server: RedisServer, site: Callable[..., Site], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE_MESSAGE": "mounted", "MAINTENANCE_MODE_STATUS_CODE": "502"})
    writer(redis_server.url).write({"MAINTENANCE_MODE_MESSAGE": "store"})
    with override_settings(
        MAINTENANCE_MODE_MESSAGE="settings",
        MAINTENANCE_MODE_STATUS_CODE=500,
        MAINTENANCE_MODE_RETRY_AFTER=10,
        MAINTENANCE_MODE_REFRESH=30,
    ):
        web = site(
            MAINTENANCE_MODE_CONFIG_PATH=str(volume.root),
            MAINTENANCE_MODE_MESSAGE="environment",
            MAINTENANCE_MODE_STATUS_CODE="501",
            MAINTENANCE_MODE_RETRY_AFTER="20",
        )
        web.until_config(lambda config: config.message == "store", "the store read")
        resolution = runtime.get_state().resolution
    assert {
        name: (resolution.origins[name], resolution.value(name))
        for name in (
            "MAINTENANCE_MODE_MESSAGE",
            "MAINTENANCE_MODE_STATUS_CODE",
            "MAINTENANCE_MODE_RETRY_AFTER",
            "MAINTENANCE_MODE_REFRESH",
        )
    } == {
        "MAINTENANCE_MODE_MESSAGE": (Origin.CACHE, "store"),
        "MAINTENANCE_MODE_STATUS_CODE": (Origin.CONFIG, 502),
        "MAINTENANCE_MODE_RETRY_AFTER": (Origin.ENVIRONMENT, 20),
        "MAINTENANCE_MODE_REFRESH": (Origin.SETTINGS, 30),
    }


def test_a_bad_value_is_logged_once_and_the_last_good_one_kept(
    redis_server: RedisServer, site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    store = writer(redis_server.url)
    store.write({"MAINTENANCE_MODE": "on"})
    web = site()
    web.until(503, "maintenance on")
    before = len(records(caplog))
    store.write({"MAINTENANCE_MODE": "maybe"})
    eventually(
        lambda: web.status() == 503 and "MAINTENANCE_MODE='maybe'" in caplog.text,
        "the bad value logged",
    )
    assert web.statuses(200) == {503}  # the last good "on" stays
    errors = [r for r in records(caplog)[before:] if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "keeping MAINTENANCE_MODE=True" in errors[0].getMessage()
    store.write({"MAINTENANCE_MODE": "off"})
    web.until(200, "maintenance off")


# --- faults -----------------------------------------------------------------------------


def test_dead_store_keeps_the_last_values_then_comes_back_empty(
    redis_server: RedisServer,
    site: Callable[..., Site],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    web = site()
    web.until(503, "maintenance on")
    recorder = Recorder(monkeypatch)
    redis_server.kill()
    eventually(lambda: web.store.reachable is False, "the outage noticed")
    calls = len(recorder.calls)
    eventually(lambda: len(recorder.calls) >= calls + 3, "retries")  # it keeps trying
    assert web.statuses(200) == {503}  # the last values read stay in force
    errors = [r for r in records(caplog) if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once, not per retry
    message = errors[0].getMessage()
    assert "ConnectionError" in message
    assert "keeping the values last read from it" in message
    assert f"redis://:***@127.0.0.1:{redis_server.port}/0" in message
    redis_server.restart()  # empty: no persistence, so every key is gone: a lost store
    web.serving_until(lambda: web.store.lost, "the empty store read")
    assert web.statuses(50) == {503}  # the last values stay in force
    messages = [r.getMessage() for r in records(caplog) if r.levelno >= logging.ERROR]
    assert len(messages) == 2, messages
    assert "lost every key" in messages[1]
    writer(redis_server.url).write({"MAINTENANCE_MODE": "off"})  # the package writes again
    web.until(200, "the write read")
    assert runtime.get_state().resolution.origins["MAINTENANCE_MODE"] is Origin.CACHE
    assert web.store.reachable is True
    assert not web.store.lost
    recoveries = [r for r in records(caplog) if "readable again" in r.getMessage()]
    assert len(recoveries) == 1
    assert len([r for r in records(caplog) if r.levelno >= logging.ERROR]) == 2
    assert redis_server.password not in everything_logged(caplog)


def test_error_changes_are_each_logged_once(
    redis_server: RedisServer, site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    web = site()
    web.serving_until(lambda: web.store.reachable is True, "the first read")
    redis_server.kill()
    web.serving_until(lambda: web.store.reachable is False, "refused")
    redis_server.restart()
    web.serving_until(lambda: web.store.reachable is True, "back")
    redis_server.pause()
    web.serving_until(lambda: "Timeout" in (web.store.snapshot.error or ""), "hung")
    redis_server.resume()
    web.serving_until(lambda: web.store.reachable is True, "back again")
    for _ in range(20):
        web.get()
    messages = [r.getMessage() for r in records(caplog) if r.levelno >= logging.WARNING]
    assert [("ConnectionError" in m, "Timeout" in m, "again" in m) for m in messages] == [
        (True, False, False),
        (False, False, True),
        (False, True, False),
        (False, False, True),
    ], messages


def test_a_hung_store_never_holds_up_a_request(
    redis_server: RedisServer, site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    recorder = Recorder(monkeypatch)
    web = site()
    web.until(503, "maintenance on")
    recorder.calls.clear()  # the one read before the first answer is the only request's
    redis_server.pause()  # SIGSTOP: connections accepted, nothing answered
    eventually(recorder.in_flight.is_set, "the refresher stuck in get_many")
    served = 0
    while recorder.in_flight.is_set() and served < 200:
        assert web.status() == 503  # answered while the refresher is stuck
        web.store.poll()  # returns at once, as does every poll of the runtime
        served += 1
    assert served > 0
    assert threading.get_ident() not in recorder.threads  # the request path never reads
    eventually(lambda: web.store.reachable is False, "the timeout noticed")
    assert web.statuses(100) == {503}
    redis_server.resume()
    eventually(lambda: web.store.reachable is True, "recovered")
    assert threading.get_ident() not in recorder.threads


def test_start_during_an_outage_counts_as_absent_so_the_environment_decides(
    redis_server: RedisServer, site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.kill()
    # The fail-closed recipe: MAINTENANCE_MODE=on in the environment, "off" in the store.
    web = site(MAINTENANCE_MODE="on")
    assert web.status() == 503
    eventually(lambda: web.store.reachable is False, "the failed first read")
    assert web.statuses() == {503}
    assert runtime.get_state().resolution.origins["MAINTENANCE_MODE"] is Origin.ENVIRONMENT
    assert "counts as absent until it is read" in caplog.text
    redis_server.restart()
    writer(redis_server.url).write({"MAINTENANCE_MODE": "off"})
    web.until(200, "the store's off read")
    assert runtime.get_state().resolution.origins["MAINTENANCE_MODE"] is Origin.CACHE


def test_a_wrong_password_is_an_outage_and_never_logged(
    redis_server: RedisServer, site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    wrong = "not-the-password-1234"
    web = site(MAINTENANCE_MODE_CACHE=redis_server.url_for(password=wrong))
    web.get()
    eventually(lambda: web.store.reachable is False, "the refused read")
    assert web.statuses() == {200}  # absent: the store's "on" is not seen
    error = web.store.snapshot.error or ""
    assert "AuthenticationError" in error or "WRONGPASS" in error, error
    logged = everything_logged(caplog)
    assert "AuthenticationError" in logged or "WRONGPASS" in logged
    assert wrong not in logged
    assert redis_server.password not in logged
    assert wrong not in web.store.label


def test_a_flood_of_writes_never_breaks_a_request(
    redis_server: RedisServer, site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    web = site()
    done = threading.Event()
    failures: list[BaseException] = []

    def flood() -> None:
        store = writer(redis_server.url)
        try:
            for i in range(200):
                store.write(
                    {
                        "MAINTENANCE_MODE": "on" if i % 2 else "off",
                        "MAINTENANCE_MODE_MESSAGE": f"write {i}",
                        "MAINTENANCE_MODE_STATUS_CODE": "maybe" if i % 7 == 0 else "503",
                    }
                )
            store.write({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "last"})
            store.write({"MAINTENANCE_MODE_STATUS_CODE": "503"})
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=flood)
    thread.start()
    statuses: set[int] = set()
    served = 0
    while not done.is_set() and served < 100_000:
        statuses.add(web.status())
        served += 1
        # A real server's requests wait on sockets; this loop would otherwise hold the GIL
        # and starve the writer's threads, which is the machine's load, not the store's.
        time.sleep(0.0005)
    thread.join(WAIT)
    assert not failures
    assert statuses <= {200, 503}
    web.until_config(lambda config: config.message == "last", "the last write")
    assert web.statuses() == {503}
    # A bad value that comes and goes is logged, but never once per request.
    assert len(records(caplog)) < served / 10 + 50


async def test_under_asgi_the_event_loop_never_waits_on_a_hung_store(
    redis_server: RedisServer, env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    recorder = Recorder(monkeypatch)
    env(MAINTENANCE_MODE_CACHE=redis_server.url, MAINTENANCE_MODE_RELOAD_INTERVAL=INTERVAL)
    middleware = MaintenanceModeMiddleware(async_ok_view)
    recorder.calls.clear()  # the read when the middleware loads, before the loop serves
    factory = AsyncRequestFactory()
    for _ in range(int(WAIT / 0.01)):
        response = await middleware(factory.get("/"))
        if response.status_code == 503:
            break
        await asyncio.sleep(0.01)
    assert response.status_code == 503
    await asyncio.to_thread(redis_server.pause)
    for _ in range(int(WAIT / 0.01)):
        if recorder.in_flight.is_set():
            break
        await asyncio.sleep(0.01)
    assert recorder.in_flight.is_set(), "the refresher never got stuck"
    served = 0
    while recorder.in_flight.is_set() and served < 200:
        response = await middleware(factory.get("/"))
        assert response.status_code == 503
        served += 1
    assert served > 0
    assert threading.get_ident() not in recorder.threads  # the loop's thread never reads
    await asyncio.to_thread(redis_server.resume)


# --- processes ----------------------------------------------------------------------------


def _in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a forked child; its JSON result, or a failure (bounded wait)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock: that is
        # exactly the case a prefork server's workers are in, and what this proves safe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            result = json.dumps(work()).encode()
        except BaseException as exc:
            result = json.dumps({"error": repr(exc)}).encode()
            code = 1
        finally:
            os.write(write_end, result)
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + WAIT * 2
    while time.monotonic() < deadline:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        pytest.fail("the forked child did not finish")
    with os.fdopen(read_end, "rb") as handle:
        data: dict[str, Any] = json.loads(handle.read() or b'{"error": "no output"}')
    return data


def test_a_forked_worker_starts_its_own_refresher(
    redis_server: RedisServer, site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    recorder = Recorder(monkeypatch)
    # As in a master that preloads the app: the runtime is built, no request served.
    web = site()
    # Nothing read when the middleware loads: no connection, no thread in the "master".
    assert recorder.calls == []
    assert web.store._refresher._pid is None
    store = web.store
    # A lock held by another thread at the moment of the fork must not hang the child.
    store._refresher._lock.acquire()

    def child() -> dict[str, Any]:
        # Nothing read in the at-fork hook: the child reads before its first answer.
        at_fork = [ident for pid, ident in recorder.calls if pid == os.getpid()]
        assert web.status() == 503, "the first answer comes after the first read"
        after_fork = [ident for pid, ident in recorder.calls if pid == os.getpid()][:1]
        assert at_fork == []
        eventually(
            lambda: len({i for p, i in recorder.calls if p == os.getpid()}) > 1,
            "the child's refresher read the store",
        )
        return {
            "pid": os.getpid(),
            "after_fork": after_fork,
            "readers": sorted({ident for pid, ident in recorder.calls if pid == os.getpid()}),
            "me": threading.get_ident(),
        }

    try:
        result = _in_child(child)
    finally:
        store._refresher._lock.release()
    assert "error" not in result, result
    assert result["pid"] != os.getpid()
    assert result["after_fork"] == [result["me"]]  # one read before serving, in that thread
    assert set(result["readers"]) - {result["me"]}, "and then from its own refresher thread"
    assert recorder.calls == []  # the parent still has none


# --- unit: no network involved -----------------------------------------------------------


def test_backoff_never_waits_longer_than_the_interval_or_a_second() -> None:
    fast = SharedStore("default", (), 0.05, background=False)
    assert [round(fast._pause(n), 2) for n in range(8)] == [
        0.05, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0
    ]  # fmt: skip
    slow = SharedStore("default", (), 5.0, background=False)
    assert [slow._pause(n) for n in range(4)] == [5.0, 5.0, 5.0, 5.0]
    zero = SharedStore("default", (), 0.0, background=False)
    assert zero._pause(0) == 0.05
    assert zero._pause(100) == 1.0


def test_the_store_is_not_read_before_a_request_in_this_process(
    env: Callable[..., None], tmp_path: Path
) -> None:
    env(MAINTENANCE_MODE_CACHE="default")
    runtime = Runtime()
    assert runtime.store is not None
    assert runtime.store._refresher._pid is None  # building the runtime starts no thread
    runtime.state()
    assert runtime.store._refresher._pid == os.getpid()
    runtime.close()


def test_cache_urls_and_aliases_are_named_with_credentials_masked() -> None:
    assert cache_url.mask("rediss://:s3cret@cache:6380/0") == "rediss://:***@cache:6380/0"
    assert cache_url.mask("redis://app:s3cret@cache/0") == "redis://app:***@cache/0"
    assert cache_url.mask("redis://cache:6379/0") == "redis://cache:6379/0"
    caches = {
        "shared": {
            "BACKEND": RedisCache.__module__ + ".RedisCache",
            "LOCATION": "redis://:pw@h:1/2",
        }
    }
    assert cache_url.describe_setting("shared", caches) == "CACHES['shared'] at redis://:***@h:1/2"
    assert cache_url.describe_setting("redis://:pw@h:1/2") == "redis://:***@h:1/2"
    assert cache_url.describe_setting("missing", caches) == "CACHES['missing']"


def test_pymemcache_urls_get_djangos_pymemcache_backend() -> None:
    # django-environ maps pymemcache:// to PyLibMCCache, the pylibmc backend.
    params = cache_url.cache_params("pymemcache://127.0.0.1:11211")
    assert params["BACKEND"] == "django.core.cache.backends.memcached.PyMemcacheCache"


def test_a_timeout_is_added_unless_the_cache_sets_one() -> None:
    def options(setting: str, caches: dict[str, Any] | None = None, **kw: Any) -> Any:
        cache = cache_build.build_cache(setting, caches, **kw)
        return cache._options  # type: ignore[attr-defined]

    assert options("redis://127.0.0.1:1/0")["socket_timeout"] == cache_build.SOCKET_TIMEOUT
    assert options("redis://127.0.0.1:1/0?socket_timeout=5")["socket_timeout"] == 5
    assert options("redis://127.0.0.1:1/0?socket_timeout=5", timeout=0.25) == {
        "socket_timeout": 0.25,
        "socket_connect_timeout": 0.25,
    }


def test_an_unknown_alias_or_url_refuses_to_start(env: Callable[..., None]) -> None:
    from django.core.exceptions import ImproperlyConfigured

    for value, expected in (
        ("nosuchalias", "an alias of CACHES (there: default) or a cache URL"),
        ("ftp://x/", "an alias of CACHES or a cache URL (dbcache://,"),
        ("redis://:hunter2@[::1/0", "a cache URL redis-py can read"),
        ("valkey://:hunter2@cache/0", "redis://HOST:6379/0 instead of valkey://"),
    ):
        env(MAINTENANCE_MODE_CACHE=value)
        with pytest.raises(ImproperlyConfigured) as caught:
            runtime.load_runtime()
        assert expected in str(caught.value)
        assert "hunter2" not in str(caught.value)


def test_a_process_that_starts_during_maintenance_never_serves_the_site(
    redis_server: RedisServer, env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker recycled mid-maintenance: the store says on, the environment says nothing.
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    starts: list[int] = []
    # No refresher thread at all: only the read before the first answer can know.
    monkeypatch.setattr(Refresher, "ensure_running", lambda self: starts.append(1))
    middleware = MaintenanceModeMiddleware(ok_view)
    assert middleware(RequestFactory().get("/")).status_code == 503
    assert starts  # the first request still starts the refresher as usual
    assert runtime.get_runtime().state().resolution.origins["MAINTENANCE_MODE"] is Origin.CACHE


def test_the_start_read_is_bounded_and_a_store_down_at_start_counts_as_absent(
    redis_server: RedisServer, env: Callable[..., None]
) -> None:
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    redis_server.pause()  # hung: the read at start times out
    try:
        env(MAINTENANCE_MODE_CACHE=redis_server.url, MAINTENANCE_MODE="off")
        middleware = MaintenanceModeMiddleware(ok_view)
        assert middleware(RequestFactory().get("/")).status_code == 200  # the environment
    finally:
        redis_server.resume()


def test_starting_up_from_the_store_is_not_a_change(
    redis_server: RedisServer, env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    from maintenance_env.signals import maintenance_changed

    caplog.set_level(logging.INFO, LOGGER)
    sent: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        sent.append(kwargs)

    maintenance_changed.connect(receiver)
    try:
        writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
        env(MAINTENANCE_MODE_CACHE=redis_server.url, MAINTENANCE_MODE_RELOAD_INTERVAL=INTERVAL)
        middleware = MaintenanceModeMiddleware(ok_view)
        for _ in range(20):
            assert middleware(RequestFactory().get("/")).status_code == 503
        # Where a process starts is no change: it is announced once, with previous=None,
        # as the store has it (the first answer already read it), and logs no change line.
        assert [(s["active"], s["previous"], s["change"].cause) for s in sent] == [
            (True, None, "start")
        ]
        assert "configuration changed" not in caplog.text
        writer(redis_server.url).write({"MAINTENANCE_MODE": "off"})
        eventually(
            lambda: middleware(RequestFactory().get("/")).status_code == 200, "the flip seen"
        )
        assert [(s["active"], s["previous"]) for s in sent] == [(True, None), (False, True)]
    finally:
        maintenance_changed.disconnect(receiver)


def test_a_worker_forked_long_after_the_load_starts_from_the_store_as_it_is_now(
    redis_server: RedisServer, env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A master that preloads the app read "off"; the fleet flipped; then a worker is forked
    # (a recycled one, say). Without a refresher, only the child's first read can know.
    writer(redis_server.url).write({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    middleware = MaintenanceModeMiddleware(ok_view)
    assert middleware(RequestFactory().get("/")).status_code == 200
    runtime.get_runtime().store.stop()  # type: ignore[union-attr]
    writer(redis_server.url).write({"MAINTENANCE_MODE": "on"})
    monkeypatch.setattr(Refresher, "ensure_running", lambda self: None)

    def child() -> dict[str, Any]:
        return {"status": middleware(RequestFactory().get("/")).status_code}

    assert _in_child(child) == {"status": 503}


def test_a_request_that_comes_during_the_first_read_waits_for_it(
    redis_server: RedisServer, env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A threaded worker's first requests arrive together: one reads the store, the others
    # must wait for that read (bounded), not answer from the environment's fail-closed value.
    writer(redis_server.url).write({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_CACHE=redis_server.url)
    middleware = MaintenanceModeMiddleware(ok_view)
    reading = threading.Event()
    original = SharedStore.read_now

    def slow_read(store: SharedStore, *, timeout: float | None = None) -> str | None:
        reading.set()
        time.sleep(0.3)  # the first read is slow; the second request comes meanwhile
        return original(store, timeout=timeout)

    monkeypatch.setattr(SharedStore, "read_now", slow_read)
    statuses: list[int] = []
    first = threading.Thread(
        target=lambda: statuses.append(middleware(RequestFactory().get("/")).status_code)
    )
    first.start()
    assert reading.wait(WAIT)
    statuses.append(middleware(RequestFactory().get("/")).status_code)  # during the read
    first.join(WAIT)
    assert statuses == [200, 200]
