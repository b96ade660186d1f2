"""Issue 9, item 3: staff and superusers are not locked out.

While a user-based exemption is on, the login and logout views pass: the admin's (of any
``AdminSite``), Django's ``LoginView``/``LogoutView`` and subclasses, and whatever
``LOGIN_URL`` names (a path or a URL name). A system check warns when ``LOGIN_URL``
resolves to no view. Without a user-based exemption, only the login and logout of an
``AdminSite`` that shows the Maintenance page pass (contract section 12).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from maintenance_env.checks import check_configuration
from tests.settings import INSTALLED_APPS

ADMIN_APPS = [*INSTALLED_APPS, "django.contrib.admin", "django.contrib.messages"]
USER_EXEMPTIONS = [
    "MAINTENANCE_MODE_EXCEPT_STAFF",
    "MAINTENANCE_MODE_EXCEPT_SUPERUSER",
    "MAINTENANCE_MODE_EXCEPT_AUTHENTICATED",
]


@pytest.fixture
def admin_site() -> Iterator[None]:
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS,
        ROOT_URLCONF="tests.urls_admin",
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_EXCEPT_STAFF=True,
    ):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("admin_site")
def test_anonymous_get_and_post_of_the_admin_login_pass() -> None:
    """Reported: anonymous GET and POST /admin/login/ got 503."""
    client = Client()
    assert client.get("/admin/login/").status_code == 200
    response = client.post("/admin/login/", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200  # the form, with its error
    assert client.get("/").status_code == 503


@pytest.mark.django_db
@pytest.mark.usefixtures("admin_site")
def test_staff_whose_session_expired_can_log_in_again_and_out() -> None:
    User.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client = Client()
    assert client.get("/").status_code == 503  # no session: not exempt (yet)
    response = client.post(
        "/admin/login/?next=/", {"username": "staff", "password": "pw-staff-123"}
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").content == b"home"
    assert client.post("/admin/logout/").status_code == 200
    assert client.get("/").status_code == 503


@pytest.mark.django_db
@pytest.mark.usefixtures("admin_site")
def test_a_plain_user_logging_in_is_still_in_maintenance() -> None:
    User.objects.create_user("plain", password="pw-plain-123")
    client = Client()
    client.post("/admin/login/", {"username": "plain", "password": "pw-plain-123"})
    assert client.get("/").status_code == 503
    assert client.get("/admin/").status_code == 503


@pytest.mark.django_db
@pytest.mark.usefixtures("admin_site")
def test_the_admin_login_without_a_slash_reaches_its_redirect() -> None:
    """The admin's catch-all view answers /admin/login: it only adds the slash (or 404s)."""
    response = Client().get("/admin/login")
    assert response.status_code in (301, 302)
    assert response["Location"].startswith("/admin/login/")
    for path in ("/admin/other", "/admin/other/", "/admin/auth/user/"):
        assert Client().get(path).status_code == 503, path


@pytest.mark.django_db
@pytest.mark.parametrize("exemption", USER_EXEMPTIONS)
def test_every_user_exemption_lets_the_login_through(exemption: str) -> None:
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS,
        ROOT_URLCONF="tests.urls_admin",
        MAINTENANCE_MODE=True,
        **{exemption: True},
    ):
        assert Client().get("/admin/login/").status_code == 200


@pytest.mark.django_db
def test_without_a_user_exemption_login_views_do_not_pass() -> None:
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS, ROOT_URLCONF="tests.urls_admin", MAINTENANCE_MODE=True
    ):
        assert Client().get("/accounts/login/").status_code == 503
        # An AdminSite without the Maintenance page is any login view.
        assert Client().get("/back-office/login/").status_code == 503


@pytest.mark.django_db
def test_the_login_of_the_admin_with_the_maintenance_page_always_passes() -> None:
    """Contract section 12: a user holding maintenance_env.change_maintenance reaches the
    page whatever the exemptions; signed out, that is through the admin's login. Only
    the login and logout pass: every other admin page, and the site, stay in maintenance."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("operator", password="pw-operator-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_maintenance"))
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS, ROOT_URLCONF="tests.urls_admin", MAINTENANCE_MODE=True
    ):
        client = Client()
        assert client.get("/admin/login/").status_code == 200
        page = "/admin/maintenance_env/maintenance/"
        response = client.post(
            f"/admin/login/?next={page}", {"username": "operator", "password": "pw-operator-1"}
        )
        assert (response.status_code, response["Location"]) == (302, page)
        assert client.get(page).status_code == 200
        assert client.get("/admin/").status_code == 503
        assert client.get("/admin/auth/user/").status_code == 503
        assert client.get("/").status_code == 503
        assert client.post("/admin/logout/").status_code == 200
        assert client.get(page).status_code in (302, 403)  # signed out: to the login


# --- the login views of the project ------------------------------------------------------


def staff_site(**extra: Any) -> Any:
    return override_settings(
        ROOT_URLCONF="tests.urls_more",
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_EXCEPT_STAFF=True,
        **extra,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/my-login/", "/my-logout/"])
def test_loginview_logoutview_and_their_subclasses_pass(path: str) -> None:
    with staff_site():
        response = Client().post(path) if "logout" in path else Client().get(path)
        assert response.status_code in (200, 302), response.status_code
        assert response.status_code != 503


@pytest.mark.django_db
@pytest.mark.parametrize("login_url", ["/signin/", "/signin", "signin"])
def test_login_url_as_a_path_or_a_name_passes(login_url: str) -> None:
    with staff_site(LOGIN_URL=login_url):
        assert Client().get("/signin/").content == b"signin"
        assert Client().get("/signin/", SCRIPT_NAME="/app").content == b"signin"
        assert Client().get("/page/").status_code == 503


@pytest.mark.django_db
def test_login_url_on_another_site_lets_no_local_path_pass() -> None:
    with staff_site(LOGIN_URL="https://sso.example.com/signin/"):
        assert Client().get("/signin/").status_code == 503


# --- the check -----------------------------------------------------------------------------


def ids() -> list[str]:
    return [m.id for m in check_configuration() if m.id]


@pytest.mark.parametrize(
    ("login_url", "warns"),
    [
        ("/nowhere/", True),
        ("no-such-url-name", True),
        ("/signin/", False),
        ("signin", False),
        ("https://sso.example.com/login", False),  # another site's: cannot be checked
    ],
)
@pytest.mark.parametrize("exemption", USER_EXEMPTIONS)
def test_an_unresolvable_login_url_warns_while_a_user_exemption_is_on(
    login_url: str, warns: bool, exemption: str
) -> None:
    with override_settings(
        ROOT_URLCONF="tests.urls_more", LOGIN_URL=login_url, **{exemption: True}
    ):
        assert ("maintenance_env.W010" in ids()) is warns
    with override_settings(ROOT_URLCONF="tests.urls_more", LOGIN_URL=login_url):
        assert "maintenance_env.W010" not in ids()


def test_the_default_login_url_is_fine_when_the_admin_has_its_login() -> None:
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS,
        ROOT_URLCONF="tests.urls_admin",
        MAINTENANCE_MODE_EXCEPT_STAFF=True,
        LOGIN_URL="/accounts/login/",
    ):
        assert "maintenance_env.W010" not in ids()
    with override_settings(
        ROOT_URLCONF="tests.urls_unprefixed", MAINTENANCE_MODE_EXCEPT_STAFF=True
    ):
        assert "maintenance_env.W010" in ids()  # no login view, no admin
