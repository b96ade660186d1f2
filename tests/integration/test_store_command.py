"""``manage.py maintenance_mode`` with a shared store: ``--write``, ``unset``, ``status``,
against a real redis-server (and ``unset`` on the mounted config, which needs none)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import CommandError, call_command

from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import LIVE_NAMES
from tests.kubelet import ConfigMapVolume
from tests.redis_server import RedisServer

pytestmark = pytest.mark.usefixtures("no_platform_markers")

Env = Callable[..., None]


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("maintenance_mode", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def fails(*args: str) -> str:
    with pytest.raises(CommandError) as info:
        run(*args)
    message = str(info.value)
    assert "\n" not in message.strip()
    return message


def stored(server: RedisServer) -> dict[str, object]:
    """What the store holds, read as the runtime reads it."""
    store = SharedStore(server.url, LIVE_NAMES, 1.0, background=False)
    assert store.read_now() is None
    return dict(store.snapshot.values)


def masked(server: RedisServer) -> str:
    return f"redis://:***@127.0.0.1:{server.port}/0"


# --- on|off --write ---------------------------------------------------------------------


@pytest.mark.redis
def test_write_goes_to_the_store_and_says_where(
    redis_server: RedisServer, env: Env, volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(
        MAINTENANCE_MODE_CACHE=redis_server.url,
        MAINTENANCE_MODE_CONFIG_PATH=str(volume.root),
        MAINTENANCE_MODE_RELOAD_INTERVAL="2",
    )
    out = run("on", "--write", "--message", "Back at 4", "--ends-at", "2099-01-01T00:00:00Z")
    assert stored(redis_server) == {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_ENDS_AT": "2099-01-01T00:00:00Z",
        "MAINTENANCE_MODE_MESSAGE": "Back at 4",
    }
    assert (volume.root / "MAINTENANCE_MODE").read_text() == "off"  # the store, not the volume
    lines = out.splitlines()
    assert lines[0] == (
        f"MAINTENANCE_MODE=on written to the shared store {masked(redis_server)} "
        "(key ':1:maintenance_env:MAINTENANCE_MODE', no expiry)"
    )
    assert len(lines) == 4
    assert lines[3] == (
        "Maintenance is now active (MAINTENANCE_MODE is on, from the cache until "
        "2099-01-01T00:00:00Z); every process sees it within "
        "MAINTENANCE_MODE_RELOAD_INTERVAL (2 s)."
    )
    assert redis_server.password not in out
    assert redis.Redis.from_url(redis_server.url).ttl(":1:maintenance_env:MAINTENANCE_MODE") == -1

    out = run("off", "--write")
    assert stored(redis_server)["MAINTENANCE_MODE"] == "off"  # written, not deleted
    assert "Maintenance is now not active (MAINTENANCE_MODE is off, from the cache)" in out


@pytest.mark.redis
def test_off_in_the_store_beats_on_in_the_environment(redis_server: RedisServer, env: Env) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_CACHE=redis_server.url)
    run("off", "--write")
    report = json.loads(run("status", "--json"))
    assert report["active"] is False
    assert report["variables"]["MAINTENANCE_MODE"] == {"value": False, "origin": "cache"}


@pytest.mark.redis
@pytest.mark.parametrize("fault", ["killed", "wrong password", "hung"])
def test_write_to_an_unreachable_store_fails_in_one_line_writing_nothing(
    redis_server: RedisServer, env: Env, fault: str
) -> None:
    setting = redis_server.url
    if fault == "killed":
        redis_server.kill()
    elif fault == "wrong password":
        setting = redis_server.url_for(password="not-the-password-42")
    else:
        redis_server.pause()
    env(MAINTENANCE_MODE_CACHE=setting)
    try:
        message = fails("on", "--write", "--message", "never")
    finally:
        if fault == "hung":
            redis_server.resume()
    assert message.startswith(f"the shared store {masked(redis_server)} cannot be reached (")
    assert message.endswith("): nothing written")
    assert redis_server.password not in message
    assert "not-the-password-42" not in message
    if fault == "killed":
        redis_server.restart()
    assert stored(redis_server) == {}  # nothing was sent, even to a store that was only slow


# --- unset ---------------------------------------------------------------------------------


@pytest.mark.redis
def test_unset_removes_keys_so_lower_sources_apply_again(
    redis_server: RedisServer, env: Env
) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_CACHE=redis_server.url)
    run("off", "--write", "--message", "gone soon")
    assert "MAINTENANCE_MODE is off, from the cache" in run("status")
    out = run("unset", "MAINTENANCE_MODE", "maintenance_mode_message", "MAINTENANCE_MODE_ENDS_AT")
    assert stored(redis_server) == {}
    assert out.splitlines() == [
        f"MAINTENANCE_MODE removed from the shared store {masked(redis_server)} "
        "(key ':1:maintenance_env:MAINTENANCE_MODE')",
        f"MAINTENANCE_MODE_MESSAGE removed from the shared store {masked(redis_server)} "
        "(key ':1:maintenance_env:MAINTENANCE_MODE_MESSAGE')",
        f"MAINTENANCE_MODE_ENDS_AT was not in the shared store {masked(redis_server)} "
        "(key ':1:maintenance_env:MAINTENANCE_MODE_ENDS_AT')",
        "Maintenance is now active (MAINTENANCE_MODE is on, from the environment); every "
        "process sees it within MAINTENANCE_MODE_RELOAD_INTERVAL (1 s).",
    ]


@pytest.mark.redis
def test_unset_on_an_unreachable_store_fails_in_one_line(
    redis_server: RedisServer, env: Env
) -> None:
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    redis_server.kill()
    message = fails("unset", "MAINTENANCE_MODE")
    assert message.startswith(f"the shared store {masked(redis_server)} cannot be read: ")
    assert message.endswith("nothing removed")


def test_unset_refuses_unknown_and_non_live_names_and_no_names(env: Env, tmp_path: Path) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    assert "'MAINTENANCE_MODE_TYPO' is not a variable" in fails("unset", "MAINTENANCE_MODE_TYPO")
    assert "is read only from the environment or settings" in fails(
        "unset", "MAINTENANCE_MODE_CACHE"
    )
    assert "unset needs the variables to remove" in fails("unset")
    assert "go with unset only" in fails("on", "MAINTENANCE_MODE")
    assert "--message goes with on or off only" in fails("unset", "--message", "x", "X")
    assert "neither MAINTENANCE_MODE_CACHE" not in run("unset", "--write", "MAINTENANCE_MODE")


def test_unset_from_a_mounted_directory_and_a_dotenv_file(
    env: Env, volume: ConfigMapVolume, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "MAINTENANCE_MODE").write_text("on\n")
    (plain / "MAINTENANCE_MODE_MESSAGE").write_text("kept\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(plain))
    out = run("unset", "MAINTENANCE_MODE")
    assert sorted(p.name for p in plain.iterdir()) == ["MAINTENANCE_MODE_MESSAGE"]
    assert out.splitlines()[0] == f"MAINTENANCE_MODE removed from {plain}/MAINTENANCE_MODE"
    assert "Maintenance is now not active (MAINTENANCE_MODE is off, from the default)" in out
    assert run("unset", "MAINTENANCE_MODE").startswith(
        f"MAINTENANCE_MODE was not in the mounted config {plain}\n"
    )

    dotenv = tmp_path / "maintenance.env"
    dotenv.write_text(
        "# switches\nexport MAINTENANCE_MODE=on\nOTHER=1\nMAINTENANCE_MODE=on\n# MAINTENANCE_MODE=x\n"
    )
    env(MAINTENANCE_MODE_CONFIG_PATH=str(dotenv))
    run("unset", "MAINTENANCE_MODE")
    assert dotenv.read_text() == "# switches\nOTHER=1\n# MAINTENANCE_MODE=x\n"


def test_unset_that_cannot_remove_fails_in_one_line(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "odd"
    config.mkdir()
    (config / "MAINTENANCE_MODE").mkdir()  # not a file: refused, even for root
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    message = fails("unset", "MAINTENANCE_MODE")
    assert message.startswith(f"Cannot remove MAINTENANCE_MODE from {str(config)!r}: ")
    assert (config / "MAINTENANCE_MODE").is_dir()


def test_unset_without_a_live_source_fails(env: Env) -> None:
    assert "neither MAINTENANCE_MODE_CACHE nor MAINTENANCE_MODE_CONFIG_PATH" in fails(
        "unset", "MAINTENANCE_MODE"
    )


# --- status, and the printed commands -----------------------------------------------------


def store_entry(report: dict[str, Any]) -> dict[str, Any]:
    """The shared store's entry of ``status --json``'s live sources."""
    entries: list[dict[str, Any]] = [
        source for source in report["sources"] if source["origin"] == "cache"
    ]
    assert len(entries) == 1, report["sources"]
    return entries[0]


@pytest.mark.redis
def test_status_names_the_store_as_origin_and_says_when_it_cannot_be_read(
    redis_server: RedisServer, env: Env
) -> None:
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    run("on", "--write")
    out = run("status")
    assert f"Shared store: {masked(redis_server)} (reachable)" in out
    assert "  MAINTENANCE_MODE" in out
    row = next(line for line in out.splitlines() if line.startswith("  MAINTENANCE_MODE "))
    assert row.split()[1:] == ["cache", "on"]
    report = json.loads(run("status", "--json"))
    assert store_entry(report)["label"] == f"the shared store {masked(redis_server)}"
    assert store_entry(report)["ok"] is True
    assert store_entry(report)["stale_since"] is None
    assert report["variables"]["MAINTENANCE_MODE"]["origin"] == "cache"
    assert report["variables"]["MAINTENANCE_MODE_CACHE"]["value"] == masked(redis_server)

    redis_server.kill()
    out = run("status")
    line = next(line for line in out.splitlines() if line.startswith("Shared store:"))
    assert line.startswith(f"Shared store: {masked(redis_server)} (UNREACHABLE: cannot be read: ")
    assert "stale since 20" in line
    # This command starts during the outage: the store counts as absent for it.
    assert "MAINTENANCE_MODE is off, from the default" in out
    report = json.loads(run("status", "--json"))
    assert store_entry(report)["ok"] is False
    assert store_entry(report)["stale_since"].endswith("Z")
    assert "ConnectionError" in store_entry(report)["error"]
    assert redis_server.password not in out + json.dumps(report)


def test_status_without_a_store(env: Env) -> None:
    assert "Shared store: none (MAINTENANCE_MODE_CACHE is not set)" in run("status")
    assert json.loads(run("status", "--json"))["sources"] == []


@pytest.mark.redis
def test_printed_commands_point_to_the_store_route(redis_server: RedisServer, env: Env) -> None:
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    out = run("on", "--platform", "heroku")
    commands = [line for line in out.splitlines() if line and not line.startswith("#")]
    # The store route leads; the restart route follows as the fallback.
    assert commands[0] == "heroku run --app '<app>' 'python manage.py maintenance_mode on --write'"
    assert commands[1] == "heroku config:set MAINTENANCE_MODE=on --app '<app>'"
    assert "No restart, through the shared store (MAINTENANCE_MODE_CACHE)" in out
    assert redis_server.password not in out


@pytest.mark.redis
def test_status_says_when_the_store_last_changed(redis_server: RedisServer, env: Env) -> None:
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    assert store_entry(json.loads(run("status", "--json")))["changed_at"] is None
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run("on", "--write")
    changed = store_entry(json.loads(run("status", "--json")))["changed_at"]
    assert changed.endswith("Z")
    assert dt.datetime.fromisoformat(changed.replace("Z", "+00:00")) >= before
    assert f"Last change of the shared store {masked(redis_server)}: {changed}" in run("status")


LEAKY_URLS = [
    "redis://127.0.0.1:1/0?password=LEAKQ1secret",
    "redis://127.0.0.1:1/0?db=0&password=LEAKQ1secret&x=1",
    "redis://:LEAKQ1/2x@127.0.0.1:1/0",
    "redis://:LEAKQ1#3x@127.0.0.1:1/0",
    "redis://:LEAKQ1?4x@127.0.0.1:1/0",
    "redis://user:LEAKQ1@127.0.0.1:1/0",
    "redis://:LEAKQ1%40x@127.0.0.1:1/0",
    "rediss://:LEAKQ1@127.0.0.1:1,127.0.0.1:2/0",
    # Characters a regex for "the end of a URL" stops at: the password is parsed instead.
    'redis://:LEAKQ1"x@127.0.0.1:1/0',
    "redis://:LEAKQ1'x@127.0.0.1:1/0",
    "redis://:LEAKQ1<x>@127.0.0.1:1/0",
    "redis://:LEAKQ1 x@127.0.0.1:1/0",
    "redis://:x LEAKQ1@127.0.0.1:1/0",
    'redis://:x"LEAKQ1#?/@127.0.0.1:1/0',
]


@pytest.mark.parametrize("url", LEAKY_URLS)
def test_no_form_of_a_redis_url_shows_its_password(
    url: str, env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1 of the loopback: every read fails, and says so.
    env(MAINTENANCE_MODE_CACHE=url)
    caplog.set_level(logging.DEBUG)
    shown = run("status") + run("status", "--json")
    for args in (("on", "--write"), ("unset", "MAINTENANCE_MODE")):
        with pytest.raises(CommandError) as refused:
            run(*args)
        shown += str(refused.value)
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    call_command("check", "--deploy", "--tag", "maintenance_env_store", stdout=out, stderr=err)
    shown += out.getvalue() + err.getvalue() + caplog.text
    assert "LEAKQ1" not in shown
    assert "***" in shown


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("shraed", "is not valid: expected an alias of CACHES"),  # a typo of an alias
        ("valkey://:s3cretQ@cache:6379/0", "redis://HOST:6379/0 instead of valkey://"),
        ("redis://:s3cretQ@[::1/0", "a cache URL redis-py can read"),
        ("memcache://cache:11211", "pymemcache://HOST:11211 instead"),
    ],
)
def test_an_unusable_store_is_an_error_never_a_fallback(
    env: Env, tmp_path: Path, setting: str, said: str
) -> None:
    config = tmp_path / "maintenance.env"
    config.write_text("MAINTENANCE_MODE_MESSAGE=hello\n")
    env(MAINTENANCE_MODE_CACHE=setting, MAINTENANCE_MODE_CONFIG_PATH=str(config))
    for args, nothing in (
        (("on", "--write"), "nothing written"),
        (("off", "--write"), "nothing written"),
        (("unset", "MAINTENANCE_MODE"), "nothing removed"),
    ):
        message = fails(*args)
        assert said in message
        assert nothing in message
        assert "s3cretQ" not in message
    assert config.read_text() == "MAINTENANCE_MODE_MESSAGE=hello\n"  # nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maintenance.env"]
    output = run("status")
    assert "Shared store: none" not in output
    assert "UNUSABLE" in output
    assert "s3cretQ" not in output
    data = json.loads(run("status", "--json"))
    assert data["variables"]["MAINTENANCE_MODE_CACHE"]["origin"] == "environment"
    assert data["variables"]["MAINTENANCE_MODE_CACHE"]["value"] is not None
    assert "s3cretQ" not in json.dumps(data)


def test_a_missing_client_library_is_an_unusable_store(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)
    config = tmp_path / "maintenance.env"
    config.write_text("")
    env(MAINTENANCE_MODE_CACHE="redis://cache:6379/0", MAINTENANCE_MODE_CONFIG_PATH=str(config))
    message = fails("on", "--write")
    assert "client library" in message
    assert "nothing written" in message
    assert config.read_text() == ""
