"""The fleet operations wired in (contract section 10), in this process against a real
redis-server: the store's refresher reports what the process serves and races for the
claim of each change it sees; the writer records who and why in the history; the command's
``--wait``, ``status --fleet`` and ``history``. Across real gunicorn and uvicorn workers:
``tests/integration/test_live_store_servers.py``."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from maintenance_env import fleet, reports, runtime
from maintenance_env.signals import fleet_changed
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import LIVE_NAMES
from tests.redis_server import RedisServer

Env = Callable[..., None]
WAIT = 10.0  # seconds: the most any condition below is waited for


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance_mode", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args: str) -> CommandError:
    with pytest.raises(CommandError) as info:
        run(*args)
    return info.value


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    for _try in range(int(WAIT / 0.02) + 1):
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    pytest.fail(f"not within {WAIT} s: {what}")


def store_of(server: Any) -> SharedStore:
    return SharedStore(server.url, LIVE_NAMES, 1.0, background=False)


def mine(server: Any) -> list[reports.Report]:
    return [r for r in store_of(server).live_reports() if r.pid == os.getpid()]


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("memcached", marks=pytest.mark.memcached),
    ]
)
def serving(request: pytest.FixtureRequest, env: Env) -> Iterator[Any]:
    """This process serves with the store on a real redis-server, then on a real memcached
    (the wiring uses the cache API alone), read every 0.1 s. Yields the server (``url``)."""
    server = request.getfixturevalue(f"{request.param}_server")
    env(MAINTENANCE_MODE_CACHE=server.url, MAINTENANCE_MODE_RELOAD_INTERVAL="0.1")
    runtime.load_runtime()
    runtime.get_state()  # the first answer: reads the store, starts the refresher
    try:
        yield server
    finally:
        runtime.reset()


# --- the command's arguments (no store needed) ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("on", "--wait"), "--wait goes with on or off --write only"),
        (("status", "--wait"), "--wait goes with on or off --write only"),
        (("on", "--write", "--timeout", "5"), "--timeout goes with --wait only"),
        (("on", "--fleet"), "--fleet goes with status only"),
        (("history", "--write"), "--write goes with on or off only"),
        (("is-active", "--json"), "--json goes with status or history only"),
    ],
)
def test_fleet_options_go_where_they_belong(args: tuple[str, ...], says: str) -> None:
    assert says in str(fails(*args))


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_a_bad_timeout_is_refused_naming_it(value: str) -> None:
    says = f"--timeout={value!r} is not valid: expected seconds"
    assert says in str(fails("on", "--write", "--wait", "--timeout", value))


def test_without_a_store_wait_history_and_fleet_say_what_they_need(env: Env, volume: Any) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    assert "MAINTENANCE_MODE_CACHE" in str(fails("on", "--write", "--wait"))
    assert not (volume.root / "MAINTENANCE_MODE").exists()  # nothing written
    assert "history needs the shared store" in str(fails("history"))
    assert "status --fleet needs the shared store" in str(fails("status", "--fleet"))


def test_without_a_store_the_writer_sends_fleet_changed_and_the_app_posts_the_webhook(
    env: Env, volume: Any
) -> None:
    from tests.unit.test_webhook import Receiver

    hook = Receiver()
    hook.thread.start()
    received: list[dict[str, Any]] = []
    fleet_changed.connect(
        lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="test-no-store"
    )
    try:
        env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_WEBHOOK_URL=hook.url)
        run("on", "--write", "--reason", "upgrade", "--by", "ana")
        hook.wait(1)
    finally:
        fleet_changed.disconnect(dispatch_uid="test-no-store")
        hook.server.shutdown()
        hook.server.server_close()
    assert len(received) == 1
    assert (received[0]["active"], received[0]["previous"]) == (True, False)
    change = received[0]["change"]
    assert (change.changed_by, change.reason, change.source) == ("ana", "upgrade", "command")
    (body,) = hook.bodies
    assert (body["active"], body["changed_by"], body["reason"]) == (True, "ana", "upgrade")


# --- reports, --wait, status --fleet, history -------------------------------------------


@pytest.mark.redis
def test_a_serving_process_reports_what_it_serves_and_wait_sees_it_flip(
    serving: Any,
) -> None:
    first = eventually(lambda: mine(serving), "this process's report")[0]
    assert (first.host, first.serving) == (socket.gethostname(), "off")
    out = run("on", "--write", "--wait", "--timeout", "10", "--reason", "deploy 42", "--by", "ci")
    assert "All 1 live process serve on" in out
    report = mine(serving)[0]
    assert report.serving == "on"
    assert report.changed_at == store_of(serving).history()[0].changed_at
    out = run("off", "--write", "--wait")
    assert "All 1 live process serve off" in out
    changes = json.loads(run("history", "--json"))
    assert [(c["serving"], c["changed_by"], c["reason"]) for c in changes[:2]] == [
        ("off", changes[0]["changed_by"], None),
        ("on", "ci", "deploy 42"),
    ]
    assert "@" in changes[0]["changed_by"]  # the default: user@host
    text = run("history")
    assert "ci (command): deploy 42" in text


@pytest.mark.redis
def test_status_fleet_groups_processes_and_names_the_laggards(serving: Any) -> None:
    eventually(lambda: mine(serving), "this process's report")
    # A process that stopped (its report not expired yet) and never applied the change.
    stuck = fleet.Reporter(host="stuck-host", pid=4242)
    run("on", "--write", "--reason", "db upgrade")
    from maintenance_env.cache_build import build_cache

    raw = build_cache(serving.url, None)
    stuck.report(raw, reports.State("off", None, 30.0), time.time())
    eventually(lambda: mine(serving)[0].serving == "on", "this process serves on")
    data = json.loads(run("status", "--fleet", "--json"))
    assert data["processes"] == 2
    assert [r["pid"] for r in data["serving"]["off"]] == [4242]
    assert [r["pid"] for r in data["laggards"]] == [4242]
    assert data["last_change"]["reason"] == "db upgrade"
    text = run("status", "--fleet")
    assert "off: 1 (stuck-host:4242)" in text
    assert "db upgrade" in text
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("maintenance_mode", "off", "--write", "--wait", "--timeout", "0.5", stdout=out)
    assert info.value.returncode == 1
    assert "Timed out after" in out.getvalue()
    # It serves off, but has not applied this write (a stopped process): a laggard.
    assert "do not serve off yet: stuck-host:4242 (off)" in out.getvalue()
    raw.close()


@pytest.mark.redis
def test_fleet_changed_is_sent_once_per_change_with_who_and_why(serving: Any) -> None:
    eventually(lambda: mine(serving), "this process's report")
    received: list[dict[str, Any]] = []
    lock = threading.Lock()

    def receiver(sender: object, **kwargs: Any) -> None:
        with lock:
            received.append(kwargs)

    fleet_changed.connect(receiver, weak=False, dispatch_uid="test-fleet-wiring")
    try:
        run("on", "--write", "--by", "ops", "--reason", "upgrade")
        eventually(lambda: received, "fleet_changed for the write")
        run("off", "--write")
        eventually(lambda: len(received) >= 2, "fleet_changed for the second write")
        time.sleep(0.5)  # five more intervals: nothing is sent twice
    finally:
        fleet_changed.disconnect(dispatch_uid="test-fleet-wiring")
    assert len(received) == 2
    first, second = received
    assert (first["active"], first["previous"]) == (True, False)
    assert (first["change"].changed_by, first["change"].reason) == ("ops", "upgrade")
    assert (second["active"], second["previous"]) == (False, True)


@pytest.mark.redis
def test_a_write_within_the_same_second_is_a_change_of_its_own(serving: Any) -> None:
    run("on", "--write")
    run("off", "--write")
    first, second = store_of(serving).history()[:2]
    assert first.changed_at > second.changed_at


@pytest.mark.redis
def test_a_window_opening_and_closing_is_one_fleet_change_each(
    redis_server: RedisServer, env: Env
) -> None:
    starts = int(time.time()) + 2

    def iso(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    received: list[dict[str, Any]] = []
    fleet_changed.connect(
        lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="test-edges"
    )
    try:
        env(
            MAINTENANCE_MODE="on",
            MAINTENANCE_MODE_STARTS_AT=iso(starts),
            MAINTENANCE_MODE_ENDS_AT=iso(starts + 1),
            MAINTENANCE_MODE_CACHE=redis_server.url,
            MAINTENANCE_MODE_RELOAD_INTERVAL="0.1",
        )
        runtime.load_runtime()
        runtime.get_state()  # starts the refresher; no request after this one
        eventually(lambda: len(received) >= 2, "the window's two edges")
        time.sleep(0.5)  # five more intervals: nothing is sent twice
    finally:
        fleet_changed.disconnect(dispatch_uid="test-edges")
        runtime.reset()
    assert [(r["active"], r["previous"]) for r in received] == [(True, False), (False, True)]
    assert [r["change"].changed_at for r in received] == [iso(starts), iso(starts + 1)]
    assert {r["change"].source for r in received} == {"schedule"}


@pytest.mark.redis
def test_a_report_that_fails_while_reads_work_is_logged_once_and_shown(
    serving: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "maintenance_env")
    eventually(lambda: mine(serving), "this process's report")

    def refuse(self: fleet.Reporter, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("READONLY You can't write against a read only replica.")

    monkeypatch.setattr(fleet.Reporter, "report", refuse)
    store = runtime.get_runtime().store
    assert store is not None
    eventually(lambda: store.report_error is not None, "the failing report")
    eventually(lambda: "reporting to" in caplog.text, "its log line")
    time.sleep(0.5)  # five more intervals: still one line
    lines = [r for r in caplog.records if "reporting to" in r.getMessage()]
    assert len(lines) == 1
    assert "READONLY" in lines[0].getMessage()
    password = getattr(serving, "password", None)
    assert password is None or password not in caplog.text
    data = json.loads(run("status", "--json"))
    (cache,) = [s for s in data["sources"] if s["origin"] == "cache"]
    # The command's own view: it does not report, so it has no report error of its own.
    assert cache["report_error"] is None
    monkeypatch.undo()
    eventually(lambda: store.report_error is None, "reports back")
    assert "works again" in caplog.text


@pytest.mark.redis
def test_a_clean_exit_gives_up_the_slot_at_once(serving: Any) -> None:
    eventually(lambda: mine(serving), "this process's report")
    store = runtime.get_runtime().store
    assert store is not None
    store.stop()
    store.fleet.leave()  # what atexit runs
    assert mine(serving) == []
