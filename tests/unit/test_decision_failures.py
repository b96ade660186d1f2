"""Issue 9, item 4: checking an exemption never fails a request.

Any failure while checking one (the user lookup, the session, URL resolution, the
language, any other check) means "not exempt": the maintenance response, logged once per
kind at WARNING, never a 500 and never an ERROR mail to ADMINS. Sync and async.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import AsyncClient, Client, override_settings
from django.urls import resolve

from maintenance_env import bypass, decision, paths

COOKIE: dict[str, Any] = {"HTTP_COOKIE": "sessionid=abcdefgh12345678"}
BROKEN = "tests.broken_sessions"


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "maintenance_env" and r.levelno >= logging.WARNING
    ]


def errors_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_the_session_table_missing_gives_the_maintenance_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reported: the session table unavailable, GET / with a session cookie got a 500
    (and an ERROR mail to ADMINS, so anyone could flood it)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_session RENAME TO django_session_gone")
    caplog.set_level(logging.INFO)
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_STAFF=True):
        client = Client(raise_request_exception=False)
        for _ in range(3):
            assert client.get("/", **COOKIE).status_code == 503
    assert errors_of(caplog) == []
    (warning,) = warnings_of(caplog)  # once, not per request
    assert warning.levelno == logging.WARNING
    assert "the user" in warning.getMessage()


@pytest.mark.parametrize(
    "exemption",
    [
        "MAINTENANCE_MODE_EXCEPT_STAFF",
        "MAINTENANCE_MODE_EXCEPT_SUPERUSER",
        "MAINTENANCE_MODE_EXCEPT_AUTHENTICATED",
    ],
)
def test_a_session_store_that_is_down_sync(
    exemption: str, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(SESSION_ENGINE=BROKEN, MAINTENANCE_MODE=True, **{exemption: True}):
        client = Client(raise_request_exception=False)
        for _ in range(3):
            assert client.get("/", **COOKIE).status_code == 503
        assert client.get("/healthz").status_code == 200  # the rest still works
    assert errors_of(caplog) == []
    assert len(warnings_of(caplog)) == 1


@pytest.mark.parametrize(
    "exemption",
    [
        "MAINTENANCE_MODE_EXCEPT_STAFF",
        "MAINTENANCE_MODE_EXCEPT_SUPERUSER",
        "MAINTENANCE_MODE_EXCEPT_AUTHENTICATED",
    ],
)
async def test_a_session_store_that_is_down_async(
    exemption: str, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(SESSION_ENGINE=BROKEN, MAINTENANCE_MODE=True, **{exemption: True}):
        client = AsyncClient(raise_request_exception=False)
        for _ in range(3):
            response = await client.get("/async/", headers={"cookie": "sessionid=abcdefgh12345678"})
            assert response.status_code == 503
    assert errors_of(caplog) == []
    assert len(warnings_of(caplog)) == 1


def explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("target", "name", "kind"),
    [
        (paths, "resolve", "URL resolution"),
        (paths, "is_login_url", "an exemption"),
        (decision, "client_ip", "an exemption"),
        (bypass, "has_bypass_cookie", "an exemption"),
        (bypass, "wants_bypass", "an exemption"),
        (paths, "is_language_prefix_patterns_used", "an exemption"),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_any_check_that_raises_means_not_exempt(
    target: Any,
    name: str,
    kind: str,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(target, name, explode)
    with override_settings(
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_EXCEPT_STAFF=True,
        MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.0/8",
        MAINTENANCE_MODE_BYPASS_SECRET="a-long-enough-secret-1234",
    ):
        sync_client = Client(raise_request_exception=False)
        async_client = AsyncClient(raise_request_exception=False)
        for path in ("/", "/nowhere", "/page/?maintenance_bypass=x"):
            if mode == "sync":
                status = sync_client.get(path).status_code
            else:
                status = (await async_client.get(path)).status_code
            assert status == 503, path
    assert errors_of(caplog) == []
    messages = [r.getMessage() for r in warnings_of(caplog)]
    assert len(messages) == 1
    assert kind in messages[0]


def test_a_urlconf_that_cannot_be_imported_means_not_exempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def set_urlconf(get_response: Callable[..., Any]) -> Callable[..., Any]:
        def middleware(request: Any) -> Any:
            request.urlconf = "tests.no_such_urlconf"
            return get_response(request)

        return middleware

    from maintenance_env.middleware import MaintenanceModeMiddleware
    from tests.conftest import ok_view

    with override_settings(MAINTENANCE_MODE=True):
        mw = set_urlconf(MaintenanceModeMiddleware(ok_view))
        from django.test import RequestFactory

        for _ in range(2):
            assert mw(RequestFactory().get("/exempt/")).status_code == 503
    assert len(warnings_of(caplog)) == 1


def test_a_failed_resolve_is_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure may be passing (a database a view's converter needs): it is retried."""
    real = resolve  # the function paths imported
    monkeypatch.setattr(paths, "resolve", explode)
    with override_settings(MAINTENANCE_MODE=True):
        client = Client()
        assert client.get("/exempt/").status_code == 503
        monkeypatch.setattr(paths, "resolve", real)
        assert client.get("/exempt/").status_code == 200


def test_other_exemptions_still_work_when_one_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "resolve", explode)
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_IPS="127.0.0.1"):
        assert Client().get("/").status_code == 200


def test_a_language_that_cannot_be_negotiated_gives_the_default_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("maintenance_env.responses.translation.get_language_from_request", explode)
    with override_settings(MAINTENANCE_MODE=True, LANGUAGES=[("en", "English"), ("de", "German")]):
        response = Client().get("/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 503
    assert b'<html lang="en">' in response.content


def test_a_new_configuration_logs_again(caplog: pytest.LogCaptureFixture) -> None:
    for message in ("first", "second"):
        with override_settings(
            SESSION_ENGINE=BROKEN,
            MAINTENANCE_MODE=True,
            MAINTENANCE_MODE_EXCEPT_STAFF=True,
            MAINTENANCE_MODE_MESSAGE=message,
        ):
            client = Client()
            for _ in range(2):
                assert client.get("/", **COOKIE).status_code == 503
    assert len(warnings_of(caplog)) == 2
