"""MAINTENANCE_MODE_WEBHOOK_URL against a loopback HTTP server: one POST per change, retries,
the URL masked (section 10)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import threading
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from maintenance_env import claims, webhook
from maintenance_env.apps import _webhook_url
from maintenance_env.history import Change
from maintenance_env.parsers import InvalidValue
from maintenance_env.variables import VARIABLES

SECRET_PATH = "/services/T000/B000/hunter2secret"


class Receiver:
    """A loopback HTTP server that answers each POST with the next of ``statuses``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.statuses: list[int] = []
        self.got = threading.Semaphore(0)
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                owner.bodies.append(json.loads(self.rfile.read(length)))
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                owner.got.release()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait(self, count: int) -> None:
        for _n in range(count):
            assert self.got.acquire(timeout=30), f"only {len(self.bodies)} POSTs arrived"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()
    webhook.connect(_webhook_url)  # as the app's ready() left it


CHANGE = Change("2040-06-01T05:06:07Z", "ops@deploy-1", "database upgrade", "on")
ENDS = dt.datetime(2040, 6, 1, 6, 0, tzinfo=dt.timezone.utc)


def test_one_post_per_fleet_change(receiver: Receiver) -> None:
    sent: list[threading.Event] = []
    original = webhook.post_in_background

    def spy(*args: object, **kwargs: object) -> threading.Event:
        event = original(*args, **kwargs)  # type: ignore[arg-type]
        sent.append(event)
        return event

    webhook.connect(lambda: receiver.url)
    try:
        webhook.post_in_background = spy
        claims.send_fleet_changed(True, False, CHANGE, message="Back at six", ends_at=ENDS)
        claims.send_fleet_changed(False, True, Change("2040-06-01T06:00:00Z", "ops", None, "off"))
    finally:
        webhook.post_in_background = original
    assert len(sent) == 2
    for event in sent:
        assert event.wait(30)
    receiver.wait(2)
    assert len(receiver.bodies) == 2
    first, second = receiver.bodies
    assert first == {
        "text": "Maintenance is on until 2040-06-01T06:00:00Z by ops@deploy-1: database upgrade",
        "active": True,
        "read_only": False,
        "message": "Back at six",
        "ends_at": "2040-06-01T06:00:00Z",
        "changed_by": "ops@deploy-1",
        "reason": "database upgrade",
    }
    assert second["active"] is False
    assert second["text"] == "Maintenance is over: the site is back by ops"


def test_retries_on_500_then_delivers(receiver: Receiver) -> None:
    receiver.statuses = [500, 502]
    pauses: list[float] = []
    assert webhook.post(receiver.url, {"text": "x"}, sleep=pauses.append)
    assert len(receiver.bodies) == 3
    assert pauses == [1.0, 2.0]


def test_three_failures_are_logged_once_with_the_url_masked(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500, 500, 500]
    with caplog.at_level(logging.ERROR, logger="maintenance_env"):
        assert not webhook.post(receiver.url, {"text": "x"}, sleep=lambda _s: None)
    assert len(receiver.bodies) == 3
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "HTTP 500" in line
    assert "127.0.0.1" in line
    assert "hunter2secret" not in line
    assert "/services" not in line


def test_an_unreachable_url_is_logged_masked(caplog: pytest.LogCaptureFixture) -> None:
    url = "http://127.0.0.1:9/hook/hunter2secret"  # the discard port: refused
    assert not webhook.post(url, {"text": "x"}, tries=2, timeout=2, sleep=lambda _s: None)
    assert "hunter2secret" not in caplog.text
    assert "http://127.0.0.1:9/***" in caplog.text


def test_the_text_escapes_what_users_typed() -> None:
    change = Change("2040-06-01T05:06:07Z", "eve\x1b[2J", "<!channel> & <http://x|y>\nz", "on")
    body = webhook.payload(active=True, read_only=True, message=None, ends_at=None, change=change)
    assert body["text"] == (
        "Maintenance (read-only) is on by eve\\x1b[2J: "
        "&lt;!channel&gt; &amp; &lt;http://x|y&gt;\\x0az"
    )
    assert body["reason"] == change.reason  # the data field carries it as it was
    assert body["read_only"] is True


def test_the_variable_is_an_http_url_shown_masked() -> None:
    variable = VARIABLES["MAINTENANCE_MODE_WEBHOOK_URL"]
    assert variable.secret
    assert variable.live  # only CACHE, CONFIG_PATH and RELOAD_INTERVAL are not (section 2)
    assert list(VARIABLES)[-1] == "MAINTENANCE_MODE_WEBHOOK_URL"
    url = "https://hooks.slack.com" + SECRET_PATH
    assert variable.parse(variable.name, url) == url
    assert variable.show(url) == "https://hooks.slack.com/***"
    assert variable.show("https://user:pw@h.example/x") == "https://h.example/***"
    for bad in ("ftp://h/x", "hooks.slack.com/x", "https:///nohost"):
        with pytest.raises(InvalidValue, match="MAINTENANCE_MODE_WEBHOOK_URL='\\*\\*\\*'"):
            variable.parse(variable.name, bad)


def test_a_bad_webhook_url_fails_the_check_without_showing_it(
    env: Callable[..., None],
) -> None:
    env(MAINTENANCE_MODE_WEBHOOK_URL="ftp://hooks.example/hunter2secret")
    with pytest.raises(SystemCheckError) as info:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    text = str(info.value)
    assert "(maintenance_env.E029)" in text
    assert "MAINTENANCE_MODE_WEBHOOK_URL='ftp://hooks.example/***'" in text
    assert "hunter2secret" not in text
