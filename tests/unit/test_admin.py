"""The admin's Maintenance page: who reaches it, what it shows, and that it writes through
the one writer (the mounted config here), with a LogEntry; GET changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client, override_settings

from maintenance_env import runtime
from tests.redis_server import RedisServer
from tests.settings import INSTALLED_APPS, MIDDLEWARE, TEMPLATES

ADMIN_APPS = [*INSTALLED_APPS, "django.contrib.admin", "django.contrib.messages"]
ADMIN_MIDDLEWARE = [
    *MIDDLEWARE[:3],
    "django.middleware.csrf.CsrfViewMiddleware",
    *MIDDLEWARE[3:],
    "django.contrib.messages.middleware.MessageMiddleware",
]
ADMIN_TEMPLATES = [
    {
        **TEMPLATES[0],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
PAGE = "/admin/maintenance_env/maintenance/"


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    with override_settings(
        INSTALLED_APPS=ADMIN_APPS,
        MIDDLEWARE=ADMIN_MIDDLEWARE,
        TEMPLATES=ADMIN_TEMPLATES,
        ROOT_URLCONF="tests.urls_admin",
        MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path),
    ):
        runtime.reset()
        call_command("migrate", "admin", verbosity=0)  # the test database has no admin log
        yield tmp_path
        from django.contrib.admin.models import LogEntry

        LogEntry.objects.all().delete()  # the flush after the test no longer sees the admin
    runtime.reset()


def permitted() -> User:
    user: User = User.objects.create_user("ops", password="pw-ops-12345", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_maintenance"))
    return user


@pytest.mark.django_db(transaction=True)
def test_the_index_lists_maintenance_and_the_page_shows_the_state(config: Path) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-root-12345"))
    index = client.get("/admin/")
    assert PAGE.encode() in index.content
    page = client.get(PAGE)
    assert page.status_code == 200
    assert b"Maintenance is not active" in page.content
    assert b"MAINTENANCE_MODE_MESSAGE" in page.content
    assert list(config.iterdir()) == []  # GET changes nothing


@pytest.mark.django_db(transaction=True)
def test_values_are_shown_as_status_prints_them(config: Path) -> None:
    with override_settings(
        MAINTENANCE_MODE_EXCEPT_URLS=[r"^/static/", r"^/api/"], MAINTENANCE_MODE_EXCEPT_STAFF=True
    ):
        runtime.reset()
        client = Client()
        client.force_login(permitted())
        page = client.get(PAGE).content.decode()
    assert "<td><code>MAINTENANCE_MODE_EXCEPT_URLS</code></td><td>^/static/, ^/api/</td>" in page
    assert "<td><code>MAINTENANCE_MODE_EXCEPT_STAFF</code></td><td>on</td>" in page
    assert "re.compile" not in page
    assert "True" not in page


@pytest.mark.django_db(transaction=True)
def test_a_user_with_only_the_permission_writes_and_it_is_logged(config: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(permitted())
    page = client.get(PAGE)
    token = page.cookies["csrftoken"].value
    data = {"state": "on", "message": "Back soon", "reason": "upgrade"}
    assert client.post(PAGE, data).status_code == 403  # no CSRF token
    assert list(config.iterdir()) == []
    response = client.post(PAGE, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert (config / "MAINTENANCE_MODE").read_text() == "on\n"
    assert (config / "MAINTENANCE_MODE_READ_ONLY").read_text() == "false\n"
    from django.contrib.admin.models import LogEntry

    entry = LogEntry.objects.get()
    assert entry.user.username == "ops"
    assert "upgrade" in entry.change_message
    # During maintenance, with no exemption at all, the permitted user still reaches it.
    assert client.get("/").status_code == 503
    assert client.get(PAGE).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_user_without_the_permission_gets_403(config: Path) -> None:
    client = Client()
    client.force_login(User.objects.create_user("plain", password="pw-plain-123", is_staff=True))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"state": "on"}).status_code == 403
    assert list(config.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_write_shows_one_message_and_changes_nothing(config: Path) -> None:
    client = Client()
    client.force_login(permitted())
    response = client.post(PAGE, {"state": "on", "reason": "two\nlines"}, follow=True)
    assert response.status_code == 200
    assert b"is not valid: expected one line without control characters" in response.content
    assert list(config.iterdir()) == []
    from django.contrib.admin.models import LogEntry

    assert not LogEntry.objects.exists()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_with_the_store_the_page_shows_the_fleet_and_the_history(
    config: Path, redis_server: RedisServer
) -> None:
    import os
    import time

    with override_settings(
        MAINTENANCE_MODE_CACHE=redis_server.url, MAINTENANCE_MODE_RELOAD_INTERVAL=0.1
    ):
        runtime.reset()
        runtime.get_state()  # this process serves: its refresher reports it
        client = Client()
        client.force_login(permitted())
        for _try in range(200):  # bounded: about 10 s
            if f":{os.getpid()}</code>".encode() in client.get(PAGE).content:
                break
            time.sleep(0.05)
        page = client.get(PAGE)
        assert b'id="fleet"' in page.content
        assert b"1 live process." in page.content
        assert f":{os.getpid()}</code>".encode() in page.content
        data = {"state": "read-only", "message": "Back soon", "reason": "db <upgrade>"}
        assert client.post(PAGE, data).status_code == 302
        page = client.get(PAGE)
        assert b"ops (admin)" in page.content
        assert b"db &lt;upgrade&gt;" in page.content  # data, escaped
        assert b"<td>read-only</td>" in page.content
        # When: a date as the admin shows dates, the ISO text kept in the markup only.
        when = re.search(rb'<time datetime="([^"]+)">([^<]+)</time>', page.content)
        assert when is not None
        assert when[1].endswith(b"Z")
        assert not when[2].endswith(b"Z")
        runtime.reset()
