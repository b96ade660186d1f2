"""Hostile or odd values from any source: text the charset cannot carry, foreign types
and oversized values from the store, malformed records, control characters."""

from __future__ import annotations

import decimal
import json
import logging
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

import maintenance_env
from maintenance_env import cache_url
from maintenance_env.live import Runtime
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import LIVE_NAMES

Env = Callable[..., None]
MESSAGE = "Back soon \u2014 have a \u2615"


#: Seconds an in-process (``locmemcache://``) read may take in these tests, instead of the
#: package's 1 s deadline: they judge what a value does, not how fast a read is, and on a
#: loaded two-core machine under libfaketime a read was seen to finish just past 1 s. The
#: deadline's own behaviour is tested with hung stores
#: (``tests/unit/sources/test_store_lifecycle.py``).
READ_BOUND = 30.0


def page(**headers: str) -> tuple[int, bytes]:
    middleware = MaintenanceModeMiddleware(lambda request: HttpResponse("ok"))
    extra: dict[str, Any] = dict(headers)  # WSGI environ entries, typed as the stubs type them
    response = middleware(RequestFactory().get("/", **extra))
    return response.status_code, response.content


def raw_store(name: str) -> LocMemCache:
    """The same local-memory cache a ``locmemcache://NAME`` store reads, written raw."""
    return LocMemCache(name, {})


@pytest.mark.parametrize("charset", ["iso-8859-1", "ascii", "utf-8"])
@pytest.mark.parametrize("source", ["environment", "settings", "mounted config", "store"])
def test_text_the_charset_cannot_carry_is_never_a_500(
    env: Env, tmp_path: Path, charset: str, source: str
) -> None:
    values = {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": MESSAGE}
    extra: dict[str, object] = {}
    if source == "environment":
        env(**values)
    elif source == "settings":
        extra = dict(values)
        env()
    elif source == "mounted config":
        config = tmp_path / "maintenance.env"
        config.write_text("".join(f'{k}="{v}"\n' for k, v in values.items()), "utf-8")
        env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    else:
        setting = f"locmemcache://charset-{charset}"
        SharedStore(setting, LIVE_NAMES, 1.0, background=False).write(values)
        env(MAINTENANCE_MODE_CACHE=setting)
    with override_settings(DEFAULT_CHARSET=charset, **extra):
        status, body = page()
    assert status == 503
    text = body.decode(charset)
    if charset == "utf-8":
        assert MESSAGE in text
    else:
        assert "&#8212;" in text  # character references
        assert "&#9749;" in text


@pytest.mark.parametrize(
    "value",
    [
        decimal.Decimal("sNaN"),
        {"a": 1},
        [decimal.Decimal("sNaN")],
        b"\xff\xfe not utf-8",
        "x" * (1024 * 1024),
        b"y" * (1024 * 1024),
        10**5000,
        float("nan"),
    ],
    ids=["sNaN", "dict", "list", "bytes", "1 MB text", "1 MB bytes", "huge int", "nan"],
)
def test_a_foreign_or_huge_store_value_is_one_short_line_and_blocks_nothing(
    env: Env, value: object, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    setting = f"locmemcache://foreign-{request.node.callspec.id}"
    cache = raw_store(setting.split("://", 1)[1])
    cache.set(cache_url.key("MAINTENANCE_MODE"), "on", None)
    env(MAINTENANCE_MODE_CACHE=setting)
    runtime = Runtime(background=False)
    try:
        assert runtime.refresh(timeout=READ_BOUND).is_active()
        with caplog.at_level(logging.INFO, "maintenance_env"):
            cache.set(cache_url.key("MAINTENANCE_MODE_MESSAGE"), value, None)
            for _ in range(3):
                runtime.refresh(timeout=READ_BOUND)
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1, [r.getMessage()[:300] for r in errors]
            assert errors[0].exc_info is None  # no traceback
            assert "MAINTENANCE_MODE_MESSAGE" in errors[0].getMessage()
            assert len(errors[0].getMessage()) < 1000
            # A later change is still seen.
            cache.set(cache_url.key("MAINTENANCE_MODE"), "off", None)
            assert not runtime.refresh(timeout=READ_BOUND).is_active()
        status = maintenance_env.status()
        assert len(json.dumps(status.as_dict(), default=str)) < 20_000
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "record",
    ["2026-13-45T99:99:99Z", "not a time", b"\x00", {"at": 1}, decimal.Decimal("sNaN"), "9" * 500],
)
def test_a_malformed_change_record_never_breaks_status(
    env: Env, record: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a record does, not how fast a read is: the first-read and the command's bounds
    # raised, as in the test above.
    monkeypatch.setattr("maintenance_env.live.START_READ_TIMEOUT", READ_BOUND)
    monkeypatch.setattr("maintenance_env.management.live_write.SOCKET_TIMEOUT", READ_BOUND)
    setting = "locmemcache://changed-at"
    cache = raw_store("changed-at")
    cache.set(cache_url.key("MAINTENANCE_MODE"), "on", None)
    cache.set(cache_url.CHANGED_KEY, record, None)
    env(MAINTENANCE_MODE_CACHE=setting)
    status = maintenance_env.status()
    assert status.active
    store = next(s for s in status.sources if s.origin.value == "cache")
    assert store.changed_at is None
    out = StringIO()
    call_command("maintenance_mode", "status", stdout=out)
    assert "ACTIVE" in out.getvalue()


@pytest.mark.parametrize("evil", ["\x1b[2J\x1b[31mpwned", "a\rb", "bell\x07", "c1\x9bx"])
def test_status_escapes_control_characters_from_live_values(
    env: Env, tmp_path: Path, evil: str
) -> None:
    config = tmp_path / "maintenance.env"
    config.write_text(f"MAINTENANCE_MODE_MESSAGE={json.dumps(evil)}\n", "utf-8")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    out = StringIO()
    call_command("maintenance_mode", "status", stdout=out)
    text = out.getvalue()
    assert not any(ch in text for ch in "\x1b\r\x07\x9b")
    assert "MAINTENANCE_MODE_MESSAGE" in text


@pytest.mark.parametrize("path", ["/x\n[ERROR] forged line", "/x\r\nINFO other", "/\x1b[2Jclear"])
def test_the_request_log_line_cannot_be_forged(
    env: Env, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    env(MAINTENANCE_MODE="on")
    middleware = MaintenanceModeMiddleware(lambda request: HttpResponse("ok"))
    with caplog.at_level(logging.INFO, "django.request"):
        response = middleware(RequestFactory().get(path))
    assert response.status_code == 503
    lines = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert lines
    assert not any(c in lines[-1] for c in "\n\r\x1b")
