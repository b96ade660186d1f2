"""Issue 9, item 1: the page never depends on an earlier request.

It is rendered once per configuration and language of ``LANGUAGES`` (lazily, bounded by
them), each under that language and ``TIME_ZONE``, whatever the thread had active, with
``lang`` matching. The reported order (German first, then English) is a test; so are the
other ways a language reaches the request (LocaleMiddleware, the cookie, the path, the
header, none), the time zone an earlier middleware activated, and a property: any
sequence of visitors gets, each, the page a fresh process would render for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import maintenance_env
from maintenance_env import runtime

OURS = "maintenance_env.middleware.MaintenanceModeMiddleware"
LOCALE = "django.middleware.locale.LocaleMiddleware"
STACK = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    LOCALE,
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    OURS,
]
LANGUAGES = [("en", "English"), ("de", "German"), ("ar", "Arabic")]
ENDS_AT = "2099-01-01T04:00:00Z"


def multilingual(**extra: Any) -> Any:
    values: dict[str, Any] = {
        "MAINTENANCE_MODE": True,
        "MAINTENANCE_MODE_ENDS_AT": ENDS_AT,
        "USE_I18N": True,
        "LANGUAGE_CODE": "en",
        "LANGUAGES": LANGUAGES,
        "MIDDLEWARE": STACK,
    }
    values.update(extra)
    return override_settings(**values)


def lang_of(page: str) -> str:
    found = re.search(r'<html lang="([^"]*)"', page)
    assert found, page[:200]
    return found.group(1)


def get_page(accept: str | None = None, path: str = "/", **extra: Any) -> str:
    if accept is not None:
        extra["HTTP_ACCEPT_LANGUAGE"] = accept
    response = Client().get(path, **extra)
    assert response.status_code == 503
    return response.content.decode()


# --- the report -------------------------------------------------------------------------------


def test_german_then_english_each_get_their_own_page() -> None:
    """Reported: after a German visitor, the English one got the German date and
    translations inside <html lang="en">, until the next configuration change."""
    with multilingual():
        german = get_page("de")
        english = get_page("en")
    assert lang_of(german) == "de"
    assert "1.\u00a0Januar\u00a02099" in german
    assert lang_of(english) == "en"
    assert "Jan.\u00a01,\u00a02099" in english
    assert "Januar" not in english


@pytest.mark.parametrize("order", [("de", "en"), ("en", "de"), ("de", "de", "en", "en", "de")])
def test_the_order_of_visitors_does_not_matter(order: tuple[str, ...]) -> None:
    with multilingual():
        pages = [get_page(lang) for lang in order]
        runtime.reset()
        fresh = {lang: get_page(lang) for lang in reversed(order)}
    for lang, page in zip(order, pages, strict=True):
        assert page == fresh[lang]


# --- every way a language reaches the request ---------------------------------------------


@pytest.mark.parametrize("locale_first", [True, False])
@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ({"HTTP_ACCEPT_LANGUAGE": "de-AT,de;q=0.9"}, "de"),
        ({"HTTP_ACCEPT_LANGUAGE": "fr, de;q=0.5"}, "de"),
        ({"HTTP_ACCEPT_LANGUAGE": "fr"}, "en"),  # not in LANGUAGES: the default
        ({"HTTP_ACCEPT_LANGUAGE": "*"}, "en"),
        ({"HTTP_ACCEPT_LANGUAGE": "x" * 300}, "en"),
        ({}, "en"),
        ({"HTTP_COOKIE": "django_language=de"}, "de"),
        ({"HTTP_COOKIE": "django_language=xx", "HTTP_ACCEPT_LANGUAGE": "ar"}, "ar"),
    ],
)
def test_the_page_language_is_negotiated_like_django_does(
    how: dict[str, str], expected: str, locale_first: bool
) -> None:
    """With LocaleMiddleware before ours (request.LANGUAGE_CODE), or without it (negotiated
    the same way, by django.utils.translation.get_language_from_request)."""
    middleware = STACK if locale_first else [m for m in STACK if m != LOCALE]
    with multilingual(MIDDLEWARE=middleware):
        get_page("de" if expected != "de" else "en")  # someone else came first
        assert lang_of(get_page(**how)) == expected


def test_a_language_prefix_in_the_path_decides() -> None:
    with multilingual(ROOT_URLCONF="tests.urls_more", MIDDLEWARE=[m for m in STACK if m != LOCALE]):
        assert lang_of(get_page("en", path="/de/page/")) == "de"
        assert lang_of(get_page("de", path="/en/page/")) == "en"


def test_a_right_to_left_language_gets_dir_rtl() -> None:
    with multilingual():
        assert 'dir="rtl"' in get_page("ar")
        assert 'dir="rtl"' not in get_page("en")


def test_the_thread_language_left_by_earlier_code_does_not_leak() -> None:
    with multilingual(MIDDLEWARE=[m for m in STACK if m != LOCALE]):
        translation.activate("de")
        try:
            page = get_page("en")
        finally:
            translation.deactivate()
    assert lang_of(page) == "en"
    assert "Jan." in page


def test_without_i18n_there_is_one_page_in_language_code() -> None:
    with multilingual(USE_I18N=False, LANGUAGE_CODE="en-gb"):
        pages = {get_page(lang) for lang in ("de", "en", "ar", None)}
        assert len(pages) == 1
        (page,) = pages
        assert lang_of(page) == "en-gb"
        assert set(runtime.get_state().pages) == {""}


def test_the_json_detail_is_the_same_in_every_language() -> None:
    """The message is used as written (it is not translated), so JSON needs no per-language body."""
    with multilingual():
        bodies = [
            json.loads(
                Client().get("/", HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE=lang).content
            )
            for lang in ("de", "en", "ar")
        ]
    # retry_after counts down to ENDS_AT, second by second: the requests may straddle one.
    for body in bodies:
        assert body.pop("retry_after") > 0
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["ends_at"] == ENDS_AT


# --- the time zone ----------------------------------------------------------------------------


def activate_new_york(get_response: Callable[[HttpRequest], HttpResponse]) -> Any:
    """A middleware that activates the visitor's time zone, as sites do."""

    def middleware(request: HttpRequest) -> HttpResponse:
        timezone.activate("America/New_York")
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware


@pytest.mark.parametrize("first", ["activated", "plain"])
def test_the_page_is_in_time_zone_whatever_was_active(first: str) -> None:
    middleware = [*STACK[:-1], "tests.unit.test_languages.activate_new_york", OURS]
    chosen = middleware if first == "activated" else STACK
    with multilingual(TIME_ZONE="Europe/Berlin", MIDDLEWARE=chosen):
        page = get_page("en")
    assert "5\u00a0a.m.\u00a0CET" in page
    assert "EST" not in page


# --- bounded, and the property ----------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accept=st.text(max_size=60), cookie=st.sampled_from(["", "de", "ar", "zz", "en-us"]))
def test_property_any_header_gives_a_page_of_languages_and_stays_bounded(
    accept: str, cookie: str
) -> None:
    with multilingual():
        extra: dict[str, Any] = {
            "HTTP_ACCEPT_LANGUAGE": accept.encode("latin-1", "replace").decode("latin-1")
        }
        if cookie:
            extra["HTTP_COOKIE"] = f"django_language={cookie}"
        page = Client().get("/", **extra).content.decode()
        assert lang_of(page) in {"en", "de", "ar"}
        assert set(runtime.get_state().pages) <= {"en", "de", "ar"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(visitors=st.lists(st.sampled_from(["de", "en", "ar", "fr", ""]), min_size=1, max_size=6))
def test_property_each_visitor_gets_what_a_fresh_process_renders_for_them(
    visitors: list[str],
) -> None:
    with multilingual():
        runtime.reset()
        seen = [get_page(lang) for lang in visitors]
        for lang, page in zip(visitors, seen, strict=True):
            runtime.reset()
            assert get_page(lang) == page


def test_pages_are_bounded_by_languages_under_one_configuration() -> None:
    codes = ["de", "en", "ar", "fr", "de-ch", "en-gb", "zz", "*", "", "ar-eg;q=0.1"]
    with multilingual():
        client = Client()  # one handler: one configuration
        for i in range(300):
            accept = ", ".join(codes[(i + j) % len(codes)] for j in range(i % 4))
            response = client.get("/", HTTP_ACCEPT_LANGUAGE=accept + f", x-{i}")
            assert response.status_code == 503
        assert set(runtime.get_state().pages) == {"en", "de", "ar"}


def test_the_negotiated_languages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from maintenance_env import languages

    monkeypatch.setattr(languages, "NEGOTIATED_SIZE", 8)
    with multilingual():
        client = Client()
        for i in range(50):
            lang = ("de", "en", "ar")[i % 3]
            page = client.get("/", HTTP_ACCEPT_LANGUAGE=f"{lang}, x-{i}").content.decode()
            assert lang_of(page) == lang  # remembered or not, the same answer
        assert len(runtime.get_state().negotiated) <= 8


# --- every shipped catalogue (issue 21) ---------------------------------------------------

# The installed package's catalogues (the wheel's, under .ci/test-wheel), not the source tree's.
LOCALE_DIR = Path(maintenance_env.__file__).resolve().parent / "locale"
#: Directory name -> Django language code, as the contract lists them.
SHIPPED = {
    name: translation.to_language(name)
    for name in [
        "ar", "cs", "da", "de", "el", "es", "fa", "fi", "fr", "he", "hi", "hu", "id", "it",
        "ja", "ko", "nb", "nl", "pl", "pt", "pt_BR", "ro", "ru", "sv", "th", "tr", "uk",
        "vi", "zh_Hans", "zh_Hant",
    ]
}  # fmt: skip
RTL = {"ar", "fa", "he"}
ENGLISH_HEADING = "Down for maintenance"
ENGLISH_MESSAGE = "This site is down for maintenance. Please check back soon."


def test_every_contract_language_ships_a_catalogue() -> None:
    shipped = {p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / "django.po").is_file()}
    assert shipped == set(SHIPPED)


def heading_of(page: str) -> str:
    found = re.search(r'<h1 id="title">([^<]*)</h1>', page)
    assert found, page[:300]
    return found.group(1)


@pytest.mark.parametrize("code", ["en", *SHIPPED.values()])
def test_each_shipped_language_gets_its_own_page(code: str) -> None:
    languages = [("en", "English"), (code, code)] if code != "en" else [("en", "English")]
    with multilingual(
        LANGUAGES=languages,
        MIDDLEWARE=[m for m in STACK if m != LOCALE],
        MAINTENANCE_MODE_ENDS_AT=None,
    ):
        page = get_page(code)
    assert lang_of(page) == code
    assert ('dir="rtl"' in page) is (code in RTL)
    heading = heading_of(page)
    if code == "en":
        assert heading == ENGLISH_HEADING
        assert ENGLISH_MESSAGE in page
    else:
        assert heading != ENGLISH_HEADING
        assert ENGLISH_MESSAGE not in page


def test_a_language_without_a_catalogue_falls_back_to_language_code() -> None:
    # Swahili: Django has a catalogue of its own, this package has none.
    with multilingual(
        LANGUAGES=[("de", "German"), ("sw", "Swahili")],
        LANGUAGE_CODE="de",
        MIDDLEWARE=[m for m in STACK if m != LOCALE],
    ):
        page = get_page("sw")
    assert lang_of(page) == "de"
    assert heading_of(page) == "Wegen Wartungsarbeiten nicht erreichbar"


@pytest.mark.parametrize("code", ["ar", "ru", "pl", "cs", "ro", "fr"])
def test_plural_forms_are_the_languages_own(code: str) -> None:
    with translation.override(code):
        forms = {
            translation.ngettext(
                "Please try again in about %(minutes)s minute.",
                "Please try again in about %(minutes)s minutes.",
                n,
            )
            for n in (1, 2, 3, 5, 11, 21, 22, 25, 100, 101)
        }
    assert all("%(minutes)s" in form for form in forms)
    assert len(forms) >= 2
    assert not any(form.startswith("Please") for form in forms)  # none fell back to English


@pytest.mark.parametrize(("language", "word"), [("fr", "maintenance"), ("de", "gewartet")])
def test_a_refused_write_is_told_in_json_in_the_sites_language(
    language: str, word: str, env: Any
) -> None:
    from django.test import Client, override_settings

    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    with override_settings(LANGUAGE_CODE=language):
        env()
        response = Client().post("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail != READ_ONLY_ENGLISH
    assert word in detail


READ_ONLY_ENGLISH = (
    "The site is under maintenance: you can look around, but changes cannot be saved right now."
)
