"""The one writer (``maintenance_env.writes``), the Python API's ``enable``/``disable``,
and the command's new flags: every value checked first, who and why recorded in the store."""

from __future__ import annotations

import datetime as dt
import getpass
import pickle
import re
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.core.management import CommandError, call_command
from django.test import Client

import maintenance_env
from maintenance_env import platforms, write_checks
from tests.redis_server import RedisServer

pytestmark = pytest.mark.usefixtures("no_platform_markers")

Env = Callable[..., None]


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance_mode", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def later(hours: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(time.time() + hours * 3600, dt.timezone.utc)


def raw(server: RedisServer, name: str) -> str | None:
    """A key of the store as Django's RedisCache keeps it (pickled text)."""
    data = redis.Redis.from_url(server.url).get(f":1:maintenance_env:{name}")
    return None if data is None else str(pickle.loads(data))  # type: ignore[arg-type]


# --- the API ----------------------------------------------------------------------------


def test_enable_and_disable_write_the_mounted_config(tmp_path: Path, env: Env) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    ends = later(2).replace(microsecond=0)
    info = maintenance_env.enable(message="Back soon", ends_at=ends, read_only=True)
    assert info.active
    assert info.read_only
    assert (tmp_path / "MAINTENANCE_MODE").read_text() == "on\n"
    assert (tmp_path / "MAINTENANCE_MODE_MESSAGE").read_text() == "Back soon\n"
    assert (tmp_path / "MAINTENANCE_MODE_READ_ONLY").read_text() == "true\n"
    expected = ends.isoformat().replace("+00:00", "Z")
    assert (tmp_path / "MAINTENANCE_MODE_ENDS_AT").read_text() == expected + "\n"
    assert maintenance_env.is_active()
    info = maintenance_env.disable(reason="done")
    assert not info.active
    assert (tmp_path / "MAINTENANCE_MODE").read_text() == "off\n"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"retry_after": "soon"}, "MAINTENANCE_MODE_RETRY_AFTER='soon' is not valid"),
        ({"Message": "x"}, "Message='x' is not a variable"),
        ({"nothing": "x"}, "nothing='x' is not a variable"),
        ({"cache": "redis://x"}, "MAINTENANCE_MODE_CACHE cannot be written to a live source"),
        ({"status_code": "99"}, "MAINTENANCE_MODE_STATUS_CODE='99' is not valid"),
    ],
)
def test_enable_refuses_a_bad_value_writing_nothing(
    tmp_path: Path, env: Env, values: dict[str, Any], expected: str
) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    with pytest.raises(maintenance_env.WriteError) as info:
        maintenance_env.enable(**values)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_enable_refuses_an_end_in_the_past(tmp_path: Path, env: Env) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    with pytest.raises(maintenance_env.WriteError, match="is in the past"):
        maintenance_env.enable(ends_at=later(-1))
    assert list(tmp_path.iterdir()) == []


def test_enable_without_a_live_source_fails_in_one_line() -> None:
    with pytest.raises(maintenance_env.WriteError, match=r"^Nothing to write to"):
        maintenance_env.enable()


@pytest.mark.parametrize("note", ["two\nlines", "bell\x07", "esc\x1b[31m", "x" * 501])
def test_reason_and_by_are_data_one_printable_line(tmp_path: Path, env: Env, note: str) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    with pytest.raises(maintenance_env.WriteError) as info:
        maintenance_env.enable(reason=note)
    assert "\n" not in str(info.value)
    with pytest.raises(maintenance_env.WriteError) as info:
        maintenance_env.enable(by=note)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_default_by_is_user_at_host_even_without_a_login_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert write_checks.default_by().count("@") >= 1

    def no_user() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert write_checks.default_by().startswith("unknown@")


# --- the store: who and why -------------------------------------------------------------


@pytest.mark.redis
def test_a_store_write_records_who_and_why(redis_server: RedisServer, env: Env) -> None:
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    out = run("on", "--write", "--reason", "DB upgrade; $(rm -rf ~)", "--by", "ops@example")
    assert raw(redis_server, "MAINTENANCE_MODE") == "on"
    assert raw(redis_server, "changed_by") == "ops@example"
    assert raw(redis_server, "reason") == "DB upgrade; $(rm -rf ~)"
    assert raw(redis_server, "changed_at") is not None
    assert "written to the shared store" in out
    # A write without a reason clears the old one; the default author is user@host.
    maintenance_env.disable()
    assert raw(redis_server, "MAINTENANCE_MODE") == "off"
    assert raw(redis_server, "reason") is None
    assert raw(redis_server, "changed_by") == write_checks.default_by()


# --- the command's flags ----------------------------------------------------------------


def test_new_flags_are_written_each_checked(tmp_path: Path, env: Env) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    run(
        "on",
        "--write",
        "--read-only",
        "--retry-after",
        "600",
        "--refresh",
        "30",
        "--status-code",
        "503",
    )
    assert (tmp_path / "MAINTENANCE_MODE_READ_ONLY").read_text() == "true\n"
    assert (tmp_path / "MAINTENANCE_MODE_RETRY_AFTER").read_text() == "600\n"
    assert (tmp_path / "MAINTENANCE_MODE_REFRESH").read_text() == "30\n"
    assert (tmp_path / "MAINTENANCE_MODE_STATUS_CODE").read_text() == "503\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["on", "--retry-after", "-5"], "--retry-after='-5' is not valid"),
        (["on", "--status-code", "700"], "--status-code='700' is not valid"),
        (["on", "--refresh", "0"], "--refresh='0' is not valid"),
        (["off", "--read-only"], "--read-only goes with on only"),
        (["status", "--reason", "x"], "--reason goes with on or off only"),
    ],
)
def test_new_flags_refuse_bad_values(
    tmp_path: Path, env: Env, args: list[str], expected: str
) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    with pytest.raises(CommandError) as info:
        run(*args, "--write") if args[0] != "status" else run(*args)
    assert expected in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_new_flags_are_printed_into_the_plan() -> None:
    out = run("on", "--platform", "heroku", "--read-only", "--retry-after", "600")
    assert "MAINTENANCE_MODE_READ_ONLY=true" in out
    assert "MAINTENANCE_MODE_RETRY_AFTER=600" in out


# --- --with-secret, the bare command ------------------------------------------------------


def test_with_secret_link_pasted_into_a_request_gets_the_cookie_and_the_site(
    tmp_path: Path, env: Env, client: Client
) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    out = run("on", "--write", "--with-secret", "--url", "https://example.com/?lang=en")
    secret = (tmp_path / "MAINTENANCE_MODE_BYPASS_SECRET").read_text().strip()
    assert len(secret) >= 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret)
    line = out.splitlines()[-1]
    assert line == f"Bypass link: https://example.com/?lang=en&maintenance_bypass={secret}"
    assert client.get("/").status_code == 503
    link = urlsplit(line.removeprefix("Bypass link: "))
    response = client.get("/", QUERY_STRING=link.query, follow=True)
    assert response.status_code == 200
    assert "maintenance_bypass" in client.cookies
    assert client.get("/").status_code == 200  # the cookie alone


def test_with_secret_is_printed_into_the_plan_with_the_parameter() -> None:
    out = run("on", "--platform", "heroku", "--with-secret")
    secret = re.search(r"MAINTENANCE_MODE_BYPASS_SECRET=([A-Za-z0-9_-]+)", out)
    assert secret is not None
    assert len(secret.group(1)) >= 32
    assert f"?maintenance_bypass={secret.group(1)}" in out.splitlines()[-1]
    assert run("on", "--platform", "heroku", "--with-secret") != out  # a new one each time


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["on", "--with-secret", "--url", "javascript:alert(1)"], "--url='javascript:alert(1)'"),
        (["on", "--url", "https://example.com"], "--url goes with --with-secret only"),
        (["off", "--with-secret"], "--with-secret goes with on only"),
        ([], "Say what to do: on or off"),
    ],
)
def test_bad_secret_options_and_a_bare_command(args: list[str], expected: str) -> None:
    with pytest.raises(CommandError) as info:
        run(*args)
    assert expected in str(info.value)


def test_platform_list_needs_no_action() -> None:
    assert run("--platform", "list") == run("on", "--platform", "list")
    assert "heroku" in run("--platform", "list")


@pytest.mark.parametrize("name", platforms.NAMES)
def test_every_platform_prints_the_new_values(name: str) -> None:
    out = run(
        "on",
        "--platform",
        name,
        "--app",
        "shop",
        "--read-only",
        "--retry-after",
        "600",
        "--status-code",
        "503",
        "--with-secret",
    )
    for text in ("MAINTENANCE_MODE_READ_ONLY", "600", "503", "MAINTENANCE_MODE_BYPASS_SECRET"):
        assert text in out or text.removeprefix("MAINTENANCE_MODE_").lower() in out, (name, text)


@pytest.mark.parametrize("flag", ["--reason", "--by"])
def test_reason_and_by_without_write_are_refused_not_dropped(flag: str) -> None:
    with pytest.raises(CommandError, match=f"{flag} goes with --write"):
        run("on", "--platform", "heroku", flag, "x")


def test_reason_and_by_are_trimmed_and_bounded() -> None:
    assert write_checks.check_note("reason", "  ") is None
    assert write_checks.check_note("reason", " db upgrade ") == "db upgrade"
    assert write_checks.check_note("reason", "x" * write_checks.MAX_NOTE_LENGTH) == "x" * 500
    with pytest.raises(write_checks.WriteError, match="reason is not valid: expected at most 500"):
        write_checks.check_note("reason", "x" * 501)
    with pytest.raises(write_checks.WriteError, match="one line without control characters"):
        write_checks.check_note("changed_by", "ops\nrm -rf")
