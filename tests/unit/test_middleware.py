"""The middleware: near-zero cost when off, and every exemption of docs/behaviour.md."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from asgiref.sync import iscoroutinefunction
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import AsyncClient, AsyncRequestFactory, Client, RequestFactory, override_settings
from django.urls import resolve

from maintenance_env import bypass, middleware, paths
from maintenance_env.middleware import MaintenanceModeMiddleware, client_ip
from maintenance_env.sources import mounted as mounted_source
from tests.conftest import async_ok_view, ok_view
from tests.kubelet import ConfigMapVolume

UTC = dt.timezone.utc


class Untouchable:
    """Stands for request.session / request.user: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"touched .{name} while it should not have been")

    def __bool__(self) -> bool:
        raise AssertionError("touched while it should not have been")


def untouched_request(path: str = "/") -> HttpRequest:
    request = RequestFactory().get(path)
    # Deliberately not a session or a user: any use of them fails the test.
    request.session = cast(SessionBase, Untouchable())
    request.user = cast("User | AnonymousUser", Untouchable())
    return request


# --- off: nothing measurable happens ----------------------------------------------------


@pytest.mark.django_db
def test_off_makes_no_query_no_session_or_user_access_no_resolving(
    monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    monkeypatch.setattr(paths, "resolve", None)  # calling it would raise TypeError
    monkeypatch.setattr(middleware, "decide", None)
    mw = MaintenanceModeMiddleware(ok_view)
    with django_assert_num_queries(0):
        for _ in range(3):
            assert mw(untouched_request("/admin/")).status_code == 200


def test_off_with_mounted_config_reads_no_file(
    env: Callable[..., None], volume: ConfigMapVolume, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume.update({"MAINTENANCE_MODE": "off", "MAINTENANCE_MODE_EXCEPT_URLS": "^/x/"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    mw = MaintenanceModeMiddleware(ok_view)
    monkeypatch.setattr(mounted_source, "read_mounted", None)
    monkeypatch.setattr(middleware, "decide", None)
    for _ in range(5):
        assert mw(untouched_request()).status_code == 200


def test_outside_the_window_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(middleware, "decide", None)
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_STARTS_AT="2999-01-01"):
        assert MaintenanceModeMiddleware(ok_view)(untouched_request()).status_code == 200
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_ENDS_AT="2000-01-01"):
        assert MaintenanceModeMiddleware(ok_view)(untouched_request()).status_code == 200


def test_inside_the_window_is_on_with_retry_after_until_the_end() -> None:
    ends = dt.datetime.now(UTC) + dt.timedelta(minutes=10)
    with override_settings(
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_STARTS_AT="2000-01-01",
        MAINTENANCE_MODE_ENDS_AT=ends.isoformat(),
    ):
        response = MaintenanceModeMiddleware(ok_view)(RequestFactory().get("/"))
    assert response.status_code == 503
    assert 590 <= int(response["Retry-After"]) <= 600


# --- hybrid sync / async ------------------------------------------------------------------


def test_hybrid_flags() -> None:
    assert MaintenanceModeMiddleware.sync_capable is True
    assert MaintenanceModeMiddleware.async_capable is True
    assert not hasattr(MaintenanceModeMiddleware, "process_request")
    assert not hasattr(MaintenanceModeMiddleware, "process_view")
    assert not iscoroutinefunction(MaintenanceModeMiddleware(ok_view))
    assert iscoroutinefunction(MaintenanceModeMiddleware(async_ok_view))


@override_settings(MAINTENANCE_MODE=True)
def test_sync_direct_call() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(RequestFactory().get("/")).status_code == 503
    assert mw(RequestFactory().get("/healthz")).status_code == 200


@override_settings(MAINTENANCE_MODE=True)
async def test_async_direct_call() -> None:
    mw = MaintenanceModeMiddleware(async_ok_view)
    response = await mw(AsyncRequestFactory().get("/"))
    assert response.status_code == 503
    response = await mw(AsyncRequestFactory().get("/readyz/"))
    assert response.status_code == 200


async def test_async_off_passes_through() -> None:
    mw = MaintenanceModeMiddleware(async_ok_view)
    response = await mw(AsyncRequestFactory().get("/"))
    assert response.status_code == 200


@override_settings(MAINTENANCE_MODE=True)
async def test_async_client_end_to_end() -> None:
    client = AsyncClient()
    assert (await client.get("/async/")).status_code == 503
    assert (await client.get("/async-exempt/")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200


def test_bad_configuration_refuses_to_load(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="False!")
    with pytest.raises(ImproperlyConfigured, match=r"MAINTENANCE_MODE='False!'"):
        MaintenanceModeMiddleware(ok_view)


# --- path exemptions ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/healthz/", "/readyz", "/livez/", "/health", "/up"])
@override_settings(MAINTENANCE_MODE=True)
def test_health_paths_pass(path: str) -> None:
    assert MaintenanceModeMiddleware(ok_view)(RequestFactory().get(path)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/healthzz", "/healthz/deep", "/api/healthz", "/healthz//", "//healthz"]
)
@override_settings(MAINTENANCE_MODE=True)
def test_health_paths_are_exact(path: str) -> None:
    assert MaintenanceModeMiddleware(ok_view)(RequestFactory().get(path)).status_code == 503


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_HEALTH_PATHS=[])
def test_health_paths_can_be_disabled() -> None:
    assert MaintenanceModeMiddleware(ok_view)(RequestFactory().get("/healthz")).status_code == 503


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_HEALTH_PATHS="/ping, /ready/")
def test_custom_health_path() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(RequestFactory().get("/ping/")).status_code == 200
    assert mw(RequestFactory().get("/ready")).status_code == 200
    assert mw(RequestFactory().get("/healthz")).status_code == 503


@override_settings(
    MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_URLS=r"^/admin/, ^/api/v\d+/status$"
)
def test_except_urls_use_re_match() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(RequestFactory().get("/admin/login/")).status_code == 200
    assert mw(RequestFactory().get("/api/v2/status")).status_code == 200
    assert mw(RequestFactory().get("/api/v2/status/more")).status_code == 503
    assert mw(RequestFactory().get("/site/admin/")).status_code == 503  # match, not search


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_REDIRECT_URL="/maintenance-info/")
def test_redirect_target_passes_and_html_is_redirected() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(RequestFactory().get("/maintenance-info/")).status_code == 200
    response = mw(RequestFactory().get("/anything/"))
    assert response.status_code == 302
    assert response["Location"] == "/maintenance-info/"
    assert response["Retry-After"] == "3600"
    json_response = mw(RequestFactory().get("/anything/", HTTP_ACCEPT="application/json"))
    assert json_response.status_code == 503


# --- decorated views ----------------------------------------------------------------------


@override_settings(MAINTENANCE_MODE=True)
def test_exempt_views_pass_and_others_do_not() -> None:
    client = Client()
    assert client.get("/exempt/").content == b"exempt"
    assert client.get("/exempt-class/").content == b"exempt class"
    assert client.get("/async-exempt/").content == b"async exempt"
    assert client.get("/").status_code == 503
    assert client.get("/no-such-page/").status_code == 503


def test_forced_views_answer_maintenance_even_when_off() -> None:
    client = Client()
    assert client.get("/").status_code == 200
    forced = client.get("/forced/")
    assert forced.status_code == 503
    assert forced["Retry-After"] == "3600"
    assert client.get("/async-forced/").status_code == 503


async def test_forced_async_view_through_async_client() -> None:
    assert (await AsyncClient().get("/async-forced/")).status_code == 503


# --- client addresses ---------------------------------------------------------------------


def _req(remote: str = "203.0.113.9", xff: str | None = None) -> HttpRequest:
    extra: dict[str, Any] = {"REMOTE_ADDR": remote}  # WSGI environ entries
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def test_client_ip_rules() -> None:
    assert str(client_ip(_req("10.0.0.1"), 0)) == "10.0.0.1"
    assert str(client_ip(_req("10.0.0.1", "1.2.3.4"), 0)) == "10.0.0.1"  # XFF ignored
    assert str(client_ip(_req("10.9.9.9", "6.6.6.6, 1.2.3.4"), 1)) == "1.2.3.4"
    assert str(client_ip(_req("10.9.9.9", "6.6.6.6, 1.2.3.4, 10.1.1.1"), 2)) == "1.2.3.4"
    assert client_ip(_req("10.9.9.9", "1.2.3.4"), 2) is None  # fewer hops than proxies
    assert client_ip(_req("10.9.9.9", "not-an-ip"), 1) is None
    assert str(client_ip(_req("::ffff:10.0.0.1"), 0)) == "10.0.0.1"
    assert str(client_ip(_req("10.9.9.9", "[2001:db8::1]:443"), 1)) == "2001:db8::1"
    assert str(client_ip(_req("10.9.9.9", "198.51.100.7:5123"), 1)) == "198.51.100.7"
    assert client_ip(_req(""), 0) is None


@override_settings(
    MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.1, 192.168.0.0/16, 2001:db8::/32"
)
def test_except_ips_exact_and_cidr() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(_req("10.0.0.1")).status_code == 200
    assert mw(_req("10.0.0.123")).status_code == 503  # not a prefix match
    assert mw(_req("192.168.7.7")).status_code == 200
    assert mw(_req("2001:db8::42")).status_code == 200
    assert mw(_req("203.0.113.1")).status_code == 503


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.1")
def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert MaintenanceModeMiddleware(ok_view)(_req("203.0.113.1", "10.0.0.1")).status_code == 503


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.1",
    MAINTENANCE_MODE_TRUSTED_PROXIES=1,
)
def test_one_trusted_proxy_uses_the_last_hop_only() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    assert mw(_req("172.16.0.2", "10.0.0.1")).status_code == 200
    # A client prepending a fake hop does not get in: the proxy appended the real one.
    assert mw(_req("172.16.0.2", "10.0.0.1, 203.0.113.5")).status_code == 503


# --- users ----------------------------------------------------------------------------------


def test_user_is_not_touched_without_user_exemptions() -> None:
    with override_settings(MAINTENANCE_MODE=True):
        assert MaintenanceModeMiddleware(ok_view)(untouched_request()).status_code == 503


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setting", "kind", "passes"),
    [
        ("MAINTENANCE_MODE_EXCEPT_STAFF", "staff", True),
        ("MAINTENANCE_MODE_EXCEPT_STAFF", "plain", False),
        ("MAINTENANCE_MODE_EXCEPT_SUPERUSER", "superuser", True),
        ("MAINTENANCE_MODE_EXCEPT_SUPERUSER", "staff", False),
        ("MAINTENANCE_MODE_EXCEPT_AUTHENTICATED", "plain", True),
        ("MAINTENANCE_MODE_EXCEPT_AUTHENTICATED", "anonymous", False),
    ],
)
def test_user_exemptions(setting: str, kind: str, passes: bool) -> None:
    client = Client()
    if kind != "anonymous":
        user = User.objects.create_user(
            "u",
            password="pw",
            is_staff=kind in ("staff", "superuser"),
            is_superuser=kind == "superuser",
        )
        client.force_login(user)
    with override_settings(MAINTENANCE_MODE=True, **{setting: True}):
        status = client.get("/").status_code
    assert status == (200 if passes else 503)


@pytest.mark.django_db(transaction=True)
async def test_async_user_exemption_uses_auser() -> None:
    user = await User.objects.acreate(username="staff", is_staff=True)
    client = AsyncClient()
    await client.aforce_login(user)
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_STAFF=True):
        assert (await client.get("/async/")).status_code == 200
        assert (await AsyncClient().get("/async/")).status_code == 503


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_STAFF=True)
async def test_async_request_without_auth_middleware_is_not_exempt() -> None:
    mw = MaintenanceModeMiddleware(async_ok_view)
    assert (await mw(AsyncRequestFactory().get("/"))).status_code == 503


# --- the bypass link ------------------------------------------------------------------------

SECRET = "s3cret-link-token-0123456789"


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
def test_bypass_link_sets_cookie_and_redirects_without_the_secret() -> None:
    client = Client()
    response = client.get(f"/some/page/?a=1&maintenance_bypass={SECRET}&b=2")
    assert response.status_code == 302
    assert response["Location"] == "/some/page/?a=1&b=2"
    cookie = response.cookies[bypass.BYPASS_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 43200
    assert not cookie["secure"]
    assert SECRET not in cookie.value
    assert client.get("/").status_code == 200  # the cookie now lets every page through
    assert Client().get("/").status_code == 503


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
def test_wrong_bypass_secret_gets_maintenance_and_no_cookie() -> None:
    response = Client().get("/?maintenance_bypass=wrong")
    assert response.status_code == 503
    assert bypass.BYPASS_COOKIE not in response.cookies


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
def test_bypass_cookie_is_secure_on_https() -> None:
    response = Client().get(f"/?maintenance_bypass={SECRET}", secure=True)
    assert response.cookies[bypass.BYPASS_COOKIE]["secure"]


def test_rotating_the_secret_voids_old_cookies() -> None:
    client = Client()
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_BYPASS_SECRET=SECRET):
        client.get(f"/?maintenance_bypass={SECRET}")
        assert client.get("/").status_code == 200
    with override_settings(
        MAINTENANCE_MODE=True, MAINTENANCE_MODE_BYPASS_SECRET=SECRET + "-rotated"
    ):
        assert client.get("/").status_code == 503


def test_bypass_param_ignored_when_off_or_without_secret() -> None:
    assert Client().get(f"/?maintenance_bypass={SECRET}").status_code == 200
    with override_settings(MAINTENANCE_MODE=True):
        assert Client().get(f"/?maintenance_bypass={SECRET}").status_code == 503


# --- SCRIPT_NAME deployments ------------------------------------------------------------------


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_EXCEPT_URLS="^/status/",
    MAINTENANCE_MODE_BYPASS_SECRET=SECRET,
)
def test_sub_path_deployment_behaves_like_the_root() -> None:
    client = Client(SCRIPT_NAME="/shop")
    assert client.get("/healthz", SCRIPT_NAME="/shop").status_code == 200
    assert client.get("/exempt/", SCRIPT_NAME="/shop").status_code == 200
    assert client.get("/status/", SCRIPT_NAME="/shop").status_code == 200
    assert client.get("/", SCRIPT_NAME="/shop").status_code == 503
    redirect = client.get(f"/exempt/?maintenance_bypass={SECRET}", SCRIPT_NAME="/shop")
    assert redirect["Location"] == "/shop/exempt/"


# --- logging ------------------------------------------------------------------------------------


@override_settings(MAINTENANCE_MODE=True)
def test_maintenance_is_logged_once_at_info_not_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, "django.request"):
        Client().get("/page/")
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.levelno for r in records] == [logging.INFO]
    assert "/page/" in records[0].getMessage()
    assert records[0].status_code == 503  # type: ignore[attr-defined]


@override_settings(
    MAINTENANCE_MODE=True, MAINTENANCE_MODE_REDIRECT_URL="https://status.example.com/"
)
def test_an_external_redirect_target_does_not_exempt_the_local_path() -> None:
    mw = MaintenanceModeMiddleware(ok_view)
    response = mw(RequestFactory().get("/"))
    assert response.status_code == 302
    assert response["Location"] == "https://status.example.com/"


@pytest.mark.parametrize("target", ["https://status.example.com/", "https://www.example.com/down/"])
@pytest.mark.parametrize("host", ["status.example.com", "www.example.com", "testserver", None])
def test_a_full_redirect_url_never_exempts_a_local_path(target: str, host: str | None) -> None:
    """Issue 10: an absolute REDIRECT_URL names another site (or this one by a name the
    client chooses in Host): its path lets no local path through, whatever the Host."""
    extra: dict[str, Any] = {"HTTP_HOST": host} if host else {}  # WSGI environ entries
    with override_settings(
        MAINTENANCE_MODE=True, MAINTENANCE_MODE_REDIRECT_URL=target, ALLOWED_HOSTS=["*"]
    ):
        mw = MaintenanceModeMiddleware(ok_view)
        for path in ("/", "/down/", "/down", urlsplit(target).path):
            response = mw(RequestFactory().get(path, **extra))
            assert response.status_code == 302, (path, host)
            assert response["Location"] == target


@override_settings(MAINTENANCE_MODE=True)
def test_views_are_resolved_once_per_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = resolve  # the function paths imported

    def counting(path: str, urlconf: str | None = None) -> Any:
        calls.append(path)
        return real(path, urlconf)

    monkeypatch.setattr(paths, "resolve", counting)
    client = Client()
    for _ in range(3):
        assert client.get("/exempt/").status_code == 200
        assert client.get("/").status_code == 503
        assert client.get("/nowhere/").status_code == 503
    assert sorted(calls) == ["/", "/exempt/", "/nowhere/"]


@override_settings(MAINTENANCE_MODE=True)
def test_the_resolve_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "EXEMPT_CACHE_SIZE", 4)
    mw = MaintenanceModeMiddleware(ok_view)
    for i in range(10):
        assert mw(RequestFactory().get(f"/made-up/{i}/")).status_code == 503
    from maintenance_env import runtime

    assert len(runtime.get_state().exempt_views) <= 4
    assert mw(RequestFactory().get("/exempt/")).status_code == 200  # still resolved after a clear
