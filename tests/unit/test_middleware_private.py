"""Issue 9, item 9: a response let through for one client is not cached for everyone.

While maintenance is active, a response let through by the bypass cookie, an exempt
user or an exempt address is marked ``Cache-Control: private`` (``public`` dropped), with
``Vary: Cookie`` when a cookie let it through; sync and async, streaming too. What is let
through for everyone (health paths, EXCEPT_URLS, exempt views) is left alone, and so is
everything while maintenance is off.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, override_settings
from django.utils.cache import get_max_age

from maintenance_env import bypass

SECRET = "a-long-enough-bypass-secret"
PATHS = ["/cached/", "/async-cached/", "/cached-stream/"]


def site(**extra: Any) -> Any:
    values: dict[str, Any] = {
        "ROOT_URLCONF": "tests.urls_more",
        "MAINTENANCE_MODE": True,
        "MAINTENANCE_MODE_BYPASS_SECRET": SECRET,
    }
    return override_settings(**{**values, **extra})


def directives(response: Any) -> set[str]:
    # Directives are comma-separated (RFC 9111 §5.2); Django 6.1 dropped its cc_delim_re.
    return {d.strip().lower() for d in response.get("Cache-Control", "").split(",") if d.strip()}


def vary(response: Any) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


def assert_private(response: Any, by_cookie: bool) -> None:
    assert response.status_code == 200
    found = directives(response)
    assert "private" in found
    assert "public" not in found
    assert get_max_age(response) == 600  # the view's own freshness, for the browser
    if by_cookie:
        assert "cookie" in vary(response)
    if response.streaming:
        assert b"".join(response.streaming_content) == b"stream"
        assert "accept-encoding" in vary(response)


def bypass_cookie(client: Client | AsyncClient) -> None:
    response = Client().get(f"/cached/?{bypass.BYPASS_PARAM}={SECRET}")
    client.cookies[bypass.BYPASS_COOKIE] = response.cookies[bypass.BYPASS_COOKIE].value


@pytest.mark.parametrize("path", PATHS)
def test_the_bypass_cookie_pass_is_private_and_varies_on_cookie(path: str) -> None:
    """Reported: the view's public, max-age=600 went out with no Vary: Cookie."""
    with site():
        client = Client()
        bypass_cookie(client)
        assert_private(client.get(path), by_cookie=True)


@pytest.mark.parametrize("path", PATHS)
async def test_the_bypass_cookie_pass_is_private_async(path: str) -> None:
    with site():
        client = AsyncClient()
        bypass_cookie(client)
        assert_private(await client.get(path), by_cookie=True)


@pytest.mark.parametrize("path", PATHS)
def test_an_address_pass_is_private(path: str) -> None:
    with site(MAINTENANCE_MODE_EXCEPT_IPS="127.0.0.1"):
        assert_private(Client().get(path), by_cookie=False)


@pytest.mark.parametrize("path", PATHS)
async def test_an_address_pass_is_private_async(path: str) -> None:
    with site(MAINTENANCE_MODE_EXCEPT_IPS="127.0.0.1"):
        assert_private(await AsyncClient().get(path), by_cookie=False)


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_an_exempt_users_pass_is_private_and_varies_on_cookie(path: str) -> None:
    user = User.objects.create_user("staff", is_staff=True)
    with site(MAINTENANCE_MODE_EXCEPT_STAFF=True):
        client = Client()
        client.force_login(user)
        assert_private(client.get(path), by_cookie=True)


@pytest.mark.django_db(transaction=True)
async def test_an_exempt_users_pass_is_private_async() -> None:
    from asgiref.sync import sync_to_async

    user = await sync_to_async(User.objects.create_user)("staff", is_staff=True)
    with site(MAINTENANCE_MODE_EXCEPT_STAFF=True):
        client = AsyncClient()
        await client.aforce_login(user)
        assert_private(await client.get("/async-cached/"), by_cookie=True)


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/cached-exempt/", {}),
        ("/zone/cached/", {"MAINTENANCE_MODE_EXCEPT_URLS": "^/zone/"}),
        ("/cached/", {"MAINTENANCE_MODE_HEALTH_PATHS": "/cached"}),
        ("/cached/", {"MAINTENANCE_MODE_REDIRECT_URL": "/cached/"}),
    ],
)
@pytest.mark.parametrize("who", ["anyone", "bypass cookie", "exempt address"])
def test_what_passes_for_everyone_is_left_alone(path: str, extra: dict[str, str], who: str) -> None:
    if who == "exempt address":
        extra = {**extra, "MAINTENANCE_MODE_EXCEPT_IPS": "127.0.0.1"}
    with site(**extra):
        client = Client()
        if who == "bypass cookie":
            bypass_cookie(client)
        response = client.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=600"
    assert "Vary" not in response


def test_nothing_is_marked_while_maintenance_is_off() -> None:
    with site(MAINTENANCE_MODE=False, MAINTENANCE_MODE_EXCEPT_IPS="127.0.0.1"):
        client = Client()
        for path in PATHS:
            response = client.get(path)
            assert response["Cache-Control"] == "public, max-age=600"
            assert "cookie" not in vary(response)
