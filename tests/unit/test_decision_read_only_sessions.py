"""Read-only mode lets through what writes only the visitor's own session: signing in and
out (every ``AdminSite``'s views, ``LoginView``/``LogoutView``, ``LOGIN_URL``) and Django's
``set_language``; other writes get the read-only response. This module is also the
URLconf of its tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from tests.settings import INSTALLED_APPS

ADMIN_APPS = [*INSTALLED_APPS, "django.contrib.admin", "django.contrib.messages"]


@pytest.fixture(autouse=True)
def read_only_site() -> Iterator[None]:
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS,
        ROOT_URLCONF="tests.urls_sessions",
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_READ_ONLY=True,
        LOGIN_URL="/sign-in/",
    ):
        yield


@pytest.mark.django_db
def test_the_admin_login_and_logout_pass() -> None:
    User.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client = Client()
    response = client.post(
        "/admin/login/?next=/", {"username": "staff", "password": "pw-staff-123"}
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.post("/admin/logout/").status_code == 200


@pytest.mark.django_db
def test_login_view_logout_view_and_login_url_pass() -> None:
    client = Client()
    assert client.post("/other-login/", {"username": "x", "password": "y"}).status_code == 200
    assert client.post("/accounts/login/", {"username": "x", "password": "y"}).status_code == 200
    assert client.post("/accounts/logout/").status_code in (200, 302)
    assert client.post("/sign-in/").status_code == 200


def test_set_language_passes() -> None:
    response = Client().post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert response.status_code == 302


def test_other_writes_get_the_read_only_response() -> None:
    response = Client().post("/api/items/")
    assert response.status_code == 503
    assert b"Changes cannot be saved right now" in response.content


def test_without_read_only_the_session_views_do_not_pass() -> None:
    with override_settings(MAINTENANCE_MODE_READ_ONLY=False):
        assert Client().post("/i18n/setlang/", {"language": "de"}).status_code == 503
        assert Client().post("/sign-in/").status_code == 503
