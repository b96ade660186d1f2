"""The maintenance response: HTML rendered once, JSON, HEAD, headers, the fallback page."""

from __future__ import annotations

import json
import logging
from typing import Any

import django
import hypothesis
import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory, override_settings
from hypothesis import strategies as st

from maintenance_env import live, responses, runtime, variables


@override_settings(MAINTENANCE_MODE=True)
def test_html_page_defaults() -> None:
    response = Client().get("/")
    assert response.status_code == 503
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Retry-After"] == "3600"
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert "Expires" in response
    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "<title>Down for maintenance</title>" in page
    assert 'name="viewport"' in page
    assert variables.DEFAULT_MESSAGE in page
    assert "scheduled" not in page  # no window is configured
    assert "prefers-color-scheme: dark" in page
    assert "http://" not in page
    assert "https://" not in page  # self-contained: no external assets


@override_settings(
    MAINTENANCE_MODE=True, MAINTENANCE_MODE_MESSAGE='<script>alert("x")</script> & co'
)
def test_message_is_escaped_in_html_and_exact_in_json() -> None:
    page = Client().get("/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    body = json.loads(Client().get("/", HTTP_ACCEPT="application/json").content)
    assert body["detail"] == '<script>alert("x")</script> & co'


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_ENDS_AT="2999-06-01T12:30:00Z",
    MAINTENANCE_MODE_STATUS_CODE=500,
)
def test_json_response_with_end_time() -> None:
    response = Client().get("/api/items/", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"detail", "read_only", "retry_after", "ends_at"}
    assert body["ends_at"] == "2999-06-01T12:30:00Z"
    assert body["retry_after"] == int(response["Retry-After"]) > 3600


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_RETRY_AFTER=0)
def test_retry_after_zero_means_no_header_and_null() -> None:
    response = Client().get("/", HTTP_ACCEPT="application/json")
    assert "Retry-After" not in response
    assert json.loads(response.content)["retry_after"] is None


@override_settings(MAINTENANCE_MODE=True)
def test_head_gets_status_and_headers_without_body() -> None:
    get = Client().get("/")
    head = Client().head("/")
    assert head.status_code == 503
    assert head.content == b""
    assert head["Content-Length"] == str(len(get.content))
    assert head["Retry-After"] == get["Retry-After"]


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_TEMPLATE="custom_maintenance.html",
    MAINTENANCE_MODE_MESSAGE="Upgrading",
    MAINTENANCE_MODE_STARTS_AT="2000-01-01T00:00:00Z",
    MAINTENANCE_MODE_ENDS_AT="2999-01-01T00:00:00Z",
    MAINTENANCE_MODE_STATUS_CODE=502,
)
def test_custom_template_gets_the_documented_context() -> None:
    page = Client().get("/").content.decode()
    assert '<p class="message">Upgrading</p>' in page
    assert '<p class="status">502</p>' in page
    assert '<p class="starts">2000-01-01T00:00:00+00:00</p>' in page
    assert '<p class="ends">2999-01-01T00:00:00+00:00</p>' in page
    assert '<p class="retry"></p>' not in page


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_ENDS_AT="2999-01-01T10:00:00Z")
def test_default_page_shows_the_return_time() -> None:
    page = Client().get("/").content.decode()
    assert 'datetime="2999-01-01T10:00:00+00:00"' in page
    # Django's localized DATETIME_FORMAT, joined by no-break spaces: never split at 390 px.
    assert "Jan.\u00a01,\u00a02999,\u00a010\u00a0a.m.\u00a0UTC</time>" in page
    assert "down for scheduled maintenance" in page  # a window is configured


@override_settings(
    MAINTENANCE_MODE=True, MAINTENANCE_MODE_ENDS_AT="2999-01-01T10:00:00Z", TIME_ZONE="Asia/Tokyo"
)
def test_return_time_is_in_time_zone_and_language_format() -> None:
    page = Client().get("/").content.decode()
    assert "Jan.\u00a01,\u00a02999,\u00a07\u00a0p.m.\u00a0JST</time>" in page


def test_page_is_rendered_once_per_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = render_to_string  # the function responses imported

    def counting(name: str, context: Any = None) -> str:
        calls.append(name)
        return real(name, context)

    monkeypatch.setattr(responses, "render_to_string", counting)
    with override_settings(MAINTENANCE_MODE=True):
        client = Client()
        for _ in range(5):
            assert client.get("/").status_code == 503
        assert len(calls) == 1
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_MESSAGE="changed"):
        assert b"changed" in Client().get("/").content
        assert len(calls) == 2


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_TEMPLATE="broken_maintenance.html",
    MAINTENANCE_MODE_MESSAGE="Still <b>escaped</b>",
)
def test_a_template_that_fails_to_render_falls_back_to_a_plain_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = Client().get("/")
    assert response.status_code == 503
    assert b"Still &lt;b&gt;escaped&lt;/b&gt;" in response.content
    assert b'<link rel="icon" href="data:,">' in response.content  # no favicon request
    assert "rendering broken_maintenance.html failed" in caplog.text


@override_settings(MAINTENANCE_MODE=True)
def test_the_response_is_marked_as_logged() -> None:
    state = live.Runtime().state()
    response = responses.maintenance_response(RequestFactory().get("/"), state)
    assert response._has_been_logged is True  # type: ignore[attr-defined]


# Django 6.0 takes plain addresses and deprecates the (name, address) pairs 5.2 needs.
ADMINS: list[Any] = (
    ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
)


# Django 6.1 warns when mail is sent without MAILERS; older versions ignore the setting.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


@override_settings(ADMINS=ADMINS, MAILERS=MAILERS, DEBUG=False)
def test_maintenance_does_not_email_admins_but_a_plain_503_would(
    django_default_logging: logging.Logger, mailoutbox: list[Any]
) -> None:
    with override_settings(MAINTENANCE_MODE=True):
        for _ in range(3):
            assert Client().get("/").status_code == 503
    assert mailoutbox == []
    # The control: the same status from a view is mailed, so the assertion above can fail.
    assert Client().get("/plain-503/").status_code == 503
    assert len(mailoutbox) == 1
    assert "503" in mailoutbox[0].subject or "Service Unavailable" in mailoutbox[0].subject


# --- issue 10: a status that cannot carry a body is a configuration error ------------------

BODYLESS = ["100", "101", "103", "199", "204", "205", "304"]


@pytest.mark.parametrize("code", [*BODYLESS, "0", "600", "99"])
def test_a_bodyless_status_is_refused_in_the_environment(
    code: str, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from maintenance_env.checks import check_configuration
    from maintenance_env.middleware import MaintenanceModeMiddleware
    from tests.conftest import ok_view

    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_STATUS_CODE=code)
    (error,) = check_configuration()
    assert error.id == "maintenance_env.E007"
    assert f"MAINTENANCE_MODE_STATUS_CODE={code!r}" in error.msg
    with pytest.raises(ImproperlyConfigured, match="MAINTENANCE_MODE_STATUS_CODE"):
        MaintenanceModeMiddleware(ok_view)


@pytest.mark.parametrize("code", [int(c) for c in BODYLESS])
def test_a_bodyless_status_is_refused_in_settings(code: int) -> None:
    from maintenance_env.checks import check_configuration

    with override_settings(MAINTENANCE_MODE_STATUS_CODE=code):
        assert [m.id for m in check_configuration()] == ["maintenance_env.E007"]


@pytest.mark.parametrize("code", ["200", "299", "302", "418", "503", "599"])
def test_statuses_that_carry_a_body_are_served_with_the_page(code: str, env: Any) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_STATUS_CODE=code)
    response = Client().get("/")
    assert response.status_code == int(code)
    assert b"Down for maintenance" in response.content


@pytest.mark.parametrize("code", BODYLESS)
def test_a_bodyless_status_in_the_mounted_config_is_logged_and_the_last_good_kept(
    code: str, env: Any, volume: Any, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_STATUS_CODE": "502"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    client = Client()
    assert client.get("/").status_code == 502
    with caplog.at_level(logging.ERROR, "maintenance_env"):
        volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_STATUS_CODE": code})
        for _ in range(3):
            response = client.get("/")
            assert response.status_code == 502
            assert b"Down for maintenance" in response.content
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"MAINTENANCE_MODE_STATUS_CODE={code!r}" in errors[0].getMessage()


# --- issue 10: the return time only when someone said it; URLs as links ------------------------


@pytest.mark.parametrize(
    ("values", "shown", "hidden"),
    [
        ({}, None, "try again"),
        ({"MAINTENANCE_MODE_RETRY_AFTER": 900}, "Please try again in about 15 minutes.", None),
        ({"MAINTENANCE_MODE_RETRY_AFTER": 3600}, "Please try again in about 60 minutes.", None),
        ({"MAINTENANCE_MODE_RETRY_AFTER": 30}, "Please try again in a minute.", None),
        ({"MAINTENANCE_MODE_RETRY_AFTER": 0}, None, "try again"),
        ({"MAINTENANCE_MODE_ENDS_AT": "2999-01-01T04:00:00Z"}, "We expect to be back by", "try"),
    ],
)
def test_the_page_says_when_only_what_was_configured(
    values: dict[str, Any], shown: str | None, hidden: str | None
) -> None:
    with override_settings(MAINTENANCE_MODE=True, **values):
        response = Client().get("/")
    page = response.content.decode()
    if shown:
        assert shown in page
    if hidden:
        assert hidden not in page
    if not values:
        assert response["Retry-After"] == "3600"  # the header keeps its default
        assert "Please check back soon." in page


def test_urls_in_the_message_become_safe_links() -> None:
    message = 'Status: https://status.example.com/x?a=1&b=2 <b>bold</b> "quoted" www.example.org.'
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_MESSAGE=message):
        page = Client().get("/").content.decode()
        body = json.loads(Client().get("/", HTTP_ACCEPT="application/json").content)
    assert (
        '<a href="https://status.example.com/x?a=1&amp;b=2" rel="nofollow noopener">'
        "https://status.example.com/x?a=1&amp;b=2</a>" in page
    )
    # Django 6 assumes https:// for a bare www. address, 5.2 http:// (URLIZE_ASSUME_HTTPS).
    assert 'www.example.org" rel="nofollow noopener">www.example.org</a>.' in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&quot;quoted&quot;" in page
    assert body["detail"] == message  # JSON has the text as written


class _Paragraph:
    """The text and the tags of the message paragraph of a page."""

    def __init__(self, page: str) -> None:
        from html.parser import HTMLParser

        start = page.index("<h1")
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        depth = {"p": 0}
        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                if tag == "p":
                    depth["p"] += 1
                elif depth["p"] == 1 and len(outer.text) >= 0:
                    outer.tags.append((tag, attrs))

            def handle_endtag(self, tag: str) -> None:
                if tag == "p":
                    depth["p"] = 2  # only the first paragraph: the message

            def handle_data(self, data: str) -> None:
                if depth["p"] == 1:
                    outer.text.append(data)

        parser = Parser(convert_charrefs=True)
        parser.feed(page[start:])


@pytest.mark.parametrize(
    "message",
    [
        'https://x.example/"><script>alert(1)</script>',
        "javascript:alert(1) http://a.example/?q=<x>",
        "mail ops@example.com or see http://a.example/#frag",
        '<a href=https://evil.example>click</a> rel="nofollow"',
        "www.example.com/path?x=\"y\" and ' quotes ' & amps",
        "https://example.com/" + "a" * 300,
    ],
)
def test_links_in_the_message_are_only_what_urlize_writes(message: str) -> None:
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_MESSAGE=message):
        page = Client().get("/").content.decode()
    check_message_paragraph(page, message)


_fragments = st.sampled_from(
    [
        "https://a.example/",
        "http://b.example/p?q=1&r=2",
        "www.c.example",
        "d@e.example",
        '"',
        "'",
        "<",
        ">",
        "&",
        "&amp;",
        'rel="nofollow"',
        "<a href=x>",
        "javascript:",
        " ",
        ".",
        "(",
        ")",
    ]
)


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(
    parts=st.lists(st.one_of(_fragments, st.text(min_size=1, max_size=8)), min_size=1, max_size=8)
)
def test_property_the_message_text_is_kept_and_links_are_urlizes(parts: list[str]) -> None:
    from maintenance_env.responses import _message_html

    message = "".join(parts).strip() or "x"
    page = f"<h1>t</h1><p>{_message_html(message)}</p>"
    check_message_paragraph(page, message)


def check_message_paragraph(page: str, message: str) -> None:
    paragraph = _Paragraph(page)
    assert "".join(paragraph.text) == message  # the text is exactly the message
    for tag, attrs in paragraph.tags:
        assert tag == "a"
        names = dict(attrs)
        href = names.get("href") or ""
        assert href.startswith(("http://", "https://", "mailto:")), href
        if not href.startswith("mailto:"):
            assert names == {"href": href, "rel": "nofollow noopener"}


def test_the_maintenance_line_goes_through_logging_escaped_and_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "django.request")
    with override_settings(MAINTENANCE_MODE=True):
        runtime.reset()
        response = Client().get("/caf\u00e9%0a[fake] line")
    assert response.status_code == 503
    lines = [r for r in caplog.records if r.name == "django.request"]
    assert len(lines) == 1  # Django's handler does not log the 503 again at ERROR
    assert lines[0].levelno == logging.INFO
    assert "\n" not in lines[0].getMessage()  # a newline in the path cannot forge a line
