"""Read-only mode (``MAINTENANCE_MODE_READ_ONLY``) and the ``Refresh`` header (``_REFRESH``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template import engines
from django.test import AsyncRequestFactory, Client, RequestFactory

from maintenance_env import middleware, paths
from maintenance_env.middleware import MaintenanceModeMiddleware
from tests.conftest import async_ok_view, ok_view

SAFE = ("get", "head", "options")
UNSAFE = ("post", "put", "patch", "delete", "trace")
#: Hours before the windows of the banner tests: inside the default ANNOUNCE (86400 s).
DAY_BEFORE = time_machine.travel(dt.datetime(2999, 12, 1, 0, tzinfo=dt.timezone.utc), tick=False)


def send(client: Client, method: str, path: str = "/", **extra: str) -> HttpResponseBase:
    response: HttpResponseBase = getattr(client, method)(path, **extra)
    return response


@pytest.fixture
def read_only(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")


@pytest.mark.usefixtures("read_only")
@pytest.mark.parametrize("method", SAFE)
def test_safe_methods_go_through(method: str) -> None:
    response = send(Client(), method)
    assert response.status_code == 200
    assert "Retry-After" not in response


@pytest.mark.usefixtures("read_only")
@pytest.mark.parametrize("method", UNSAFE)
def test_other_methods_get_the_read_only_page(method: str) -> None:
    response = send(Client(), method)
    assert response.status_code == 503
    assert response["Retry-After"] == "3600"
    assert response["Content-Type"].startswith("text/html")
    assert isinstance(response, HttpResponse)
    assert b"Changes cannot be saved right now" in response.content
    assert b"Down for maintenance" not in response.content
    assert b"down for scheduled maintenance" not in response.content  # the default MESSAGE


@pytest.mark.usefixtures("read_only")
@pytest.mark.parametrize("method", SAFE)
@pytest.mark.parametrize(
    "body",
    [{"CONTENT_LENGTH": "12"}, {"HTTP_TRANSFER_ENCODING": "chunked"}, {"CONTENT_LENGTH": "x"}],
)
def test_a_safe_method_with_a_body_is_not_safe(method: str, body: dict[str, str]) -> None:
    request = getattr(RequestFactory(), method)("/", **body)
    response = MaintenanceModeMiddleware(ok_view)(request)
    assert response.status_code == 503


@pytest.mark.usefixtures("read_only")
def test_an_empty_body_is_no_body() -> None:
    request = RequestFactory().options("/", CONTENT_LENGTH="0")
    assert MaintenanceModeMiddleware(ok_view)(request).status_code == 200


@pytest.mark.usefixtures("read_only")
def test_a_custom_message_is_shown_under_the_read_only_text(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_MESSAGE="Moving to a new database until 03:00.")
    content = Client().post("/").content
    assert b"Changes cannot be saved right now" in content
    assert b"Moving to a new database until 03:00." in content
    assert b"Down for maintenance" not in Client().post("/").content


@pytest.mark.usefixtures("read_only")
def test_a_refused_write_in_json_says_read_only() -> None:
    body = Client().post("/api/items/", HTTP_ACCEPT="application/json").json()
    assert body["read_only"] is True
    assert "changes cannot be saved right now" in body["detail"]


def test_full_maintenance_json_says_not_read_only(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on")
    body = Client().get("/api/items/", HTTP_ACCEPT="application/json").json()
    assert body["read_only"] is False


@pytest.mark.usefixtures("read_only")
def test_other_methods_get_json_when_they_ask_for_it() -> None:
    response = Client().post("/api/items/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response.json()["retry_after"] == 3600


def test_a_refused_write_is_never_redirected(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_READ_ONLY="on",
        MAINTENANCE_MODE_REDIRECT_URL="/status/",
        MAINTENANCE_MODE_STATUS_CODE="423",
    )
    client = Client()
    response = client.post("/")
    assert response.status_code == 423
    assert "Location" not in response
    assert response["Retry-After"] == "3600"
    assert client.get("/").status_code == 200  # reading goes on
    # Without read-only mode the same site redirects every refused request.
    env(MAINTENANCE_MODE_READ_ONLY="off")
    assert client.get("/").status_code == 302


def test_exemptions_still_let_writes_through(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_READ_ONLY="on",
        MAINTENANCE_MODE_EXCEPT_URLS="^/api/",
        MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.0/8",
    )
    assert Client().post("/api/items/").status_code == 200
    assert Client().post("/exempt/").status_code == 200  # a maintenance_exempt view
    assert Client(REMOTE_ADDR="10.1.2.3").post("/").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.1").post("/").status_code == 503


def test_the_bypass_link_still_sets_its_cookie(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_READ_ONLY="on",
        MAINTENANCE_MODE_BYPASS_SECRET="a-long-enough-secret-value",
    )
    client = Client()
    response = client.get("/?maintenance_bypass=a-long-enough-secret-value")
    assert response.status_code == 302
    assert "maintenance_bypass" in response.cookies
    assert client.post("/").status_code == 200  # the cookie lets writes through


def test_writes_pass_while_maintenance_is_not_active(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="off", MAINTENANCE_MODE_READ_ONLY="on")
    assert Client().post("/").status_code == 200
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_READ_ONLY="on",
        MAINTENANCE_MODE_STARTS_AT="2999-01-01T00:00:00Z",
    )
    assert Client().post("/").status_code == 200


def test_without_read_only_every_method_is_stopped(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on")
    assert Client().get("/").status_code == 503
    assert Client().head("/").status_code == 503


def test_a_forced_view_still_answers_safe_methods_with_maintenance(
    env: Callable[..., None],
) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    assert Client().get("/forced/").status_code == 503


def test_off_path_does_not_look_at_read_only(
    env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configured but off: the middleware makes its one check and nothing else."""
    env(MAINTENANCE_MODE="off", MAINTENANCE_MODE_READ_ONLY="on")
    monkeypatch.setattr(middleware, "decide", None)  # calling it would raise TypeError
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(RequestFactory().post("/")).status_code == 200


def test_a_safe_request_in_read_only_mode_resolves_nothing(
    env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    monkeypatch.setattr(paths, "resolve", None)  # URL resolving would raise TypeError
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(RequestFactory().get("/anything/")).status_code == 200


async def test_async_middleware_in_read_only_mode(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    mw = MaintenanceModeMiddleware(async_ok_view)
    factory = AsyncRequestFactory()
    assert (await mw(factory.get("/"))).status_code == 200
    assert (await mw(factory.post("/"))).status_code == 503


def test_context_processor_says_read_only(env: Callable[..., None]) -> None:
    from maintenance_env.context_processors import maintenance

    request: HttpRequest = RequestFactory().get("/")
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    assert maintenance(request)["maintenance"]["read_only"] is True
    env(MAINTENANCE_MODE="off", MAINTENANCE_MODE_READ_ONLY="on")
    assert maintenance(request)["maintenance"]["read_only"] is False
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="off")
    assert maintenance(request)["maintenance"]["read_only"] is False


# --- the banner ---------------------------------------------------------------------


def banner(request: HttpRequest) -> str:
    template = engines["django"].from_string('{% include "maintenance_env/banner.html" %}')
    return template.render({}, request).strip()


def test_banner_is_empty_when_there_is_nothing_to_say(env: Callable[..., None]) -> None:
    assert banner(RequestFactory().get("/")) == ""


def test_banner_tells_an_exempt_visitor_maintenance_is_on_for_others(
    env: Callable[..., None],
) -> None:
    env(MAINTENANCE_MODE="on")  # active, but not read-only: the visitor is exempt
    html = banner(RequestFactory().get("/"))
    assert "Maintenance mode is on for everyone else." in html
    assert "Read-only mode" not in html


@DAY_BEFORE
def test_banner_announces_a_window_on_one_day(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_STARTS_AT="2999-12-01T02:00:00Z",
        MAINTENANCE_MODE_ENDS_AT="2999-12-01T04:00:00Z",
    )
    html = banner(RequestFactory().get("/"))
    assert 'role="status"' in html
    assert "Maintenance on 1 Dec, 02:00\u201304:00 UTC." in html
    assert "Read-only" not in html


@DAY_BEFORE
def test_banner_announces_a_window_over_two_days_in_the_current_time_zone(
    env: Callable[..., None],
) -> None:
    from django.utils import timezone

    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_STARTS_AT="2999-12-01T22:00:00Z",
        MAINTENANCE_MODE_ENDS_AT="2999-12-02T02:00:00Z",
    )
    html = banner(RequestFactory().get("/"))
    assert "Maintenance from 1 Dec, 22:00 to 2 Dec, 02:00 UTC." in html
    with timezone.override("Europe/Paris"):
        html = banner(RequestFactory().get("/"))
    assert "Maintenance on 1 Dec, 23:00\u201303:00 CET" not in html  # two days in Paris too
    assert "Maintenance from 1 Dec, 23:00 to 2 Dec, 03:00 CET." in html


@DAY_BEFORE
def test_banner_announces_an_open_ended_window(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_STARTS_AT="2999-12-01T02:00:00Z")
    assert "Maintenance from 1 Dec, 02:00 UTC." in banner(RequestFactory().get("/"))


def test_banner_shows_read_only_mode(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    html = banner(RequestFactory().get("/"))
    assert 'role="status"' in html
    assert "Read-only mode." in html
    assert "http" not in html  # no external assets
    head = engines["django"].from_string('{% include "maintenance_env/banner_head.html" %}')
    style = head.render({}, RequestFactory().get("/"))
    assert "prefers-color-scheme: dark" in style  # the style, for <head>
    assert "http" not in style


# --- Refresh ------------------------------------------------------------------------


def test_refresh_header_on_the_page(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_REFRESH="30")
    assert Client().get("/")["Refresh"] == "30"
    assert Client().head("/")["Refresh"] == "30"


def test_no_refresh_header_on_json_redirects_or_by_default(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_REFRESH="30")
    assert "Refresh" not in Client().get("/", HTTP_ACCEPT="application/json")
    env(MAINTENANCE_MODE_REDIRECT_URL="/status/")
    response = Client().get("/")
    assert response.status_code == 302
    assert "Refresh" not in response


def test_no_refresh_header_by_default(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on")
    assert "Refresh" not in Client().get("/")


def test_refresh_from_settings() -> None:
    from django.test import override_settings

    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_REFRESH=15):
        assert Client().get("/")["Refresh"] == "15"
