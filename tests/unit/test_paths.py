"""Issue 9, item 2: one rule for "this is the target, or an exempt path".

Slash-tolerant the way health paths are, aware of a SCRIPT_NAME prefix the same way for
matching and for ``Location``, and independent of the active language. Each reported
input is a test, then more inputs of the same kind, then a property over generated paths
through the whole middleware stack: with maintenance on, a request whose destination
(after Django's own slash and language redirects) passes gets what it gets with
maintenance off; every other request gets the maintenance response, and nothing loops.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintenance_env import runtime
from maintenance_env.middleware import MaintenanceModeMiddleware
from tests.conftest import ok_view

OURS = "maintenance_env.middleware.MaintenanceModeMiddleware"
LOCALE = "django.middleware.locale.LocaleMiddleware"
STACK = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
LANGUAGES = [("en", "English"), ("de", "German")]


def site(**extra: Any) -> Any:
    values: dict[str, Any] = {
        "MAINTENANCE_MODE": True,
        "ROOT_URLCONF": "tests.urls_more",
        "LANGUAGES": LANGUAGES,
        "MIDDLEWARE": [*STACK, OURS],
    }
    values.update(extra)
    return override_settings(**values)


def follow(
    client: Client, path: str, hops: int = 5, prefix: str = "", **extra: Any
) -> list[tuple[int, str]]:
    """(status, path below ``prefix``) for each response, following redirects on this site
    as a proxy mounting the app at ``prefix`` would (stripping it again), bounded."""
    seen: list[tuple[int, str]] = []
    mount = prefix.rstrip("/")
    for _ in range(hops):
        response = client.get(path, SCRIPT_NAME=prefix, **extra)
        seen.append((response.status_code, path))
        if response.status_code not in (301, 302):
            return seen
        location = response["Location"]
        assert location.startswith(mount + "/"), (location, seen)
        path = location[len(mount) :]
    raise AssertionError(f"redirect loop: {seen}")


# --- the redirect target: slash-tolerant --------------------------------------------------


@pytest.mark.parametrize("target", ["/maintenance", "/maintenance/"])
def test_the_redirect_target_never_loops_with_append_slash(target: str) -> None:
    """Reported: REDIRECT_URL=/maintenance with the view at maintenance/ looped
    302 /maintenance -> 301 /maintenance/ -> 302 /maintenance ... forever."""
    with site(MAINTENANCE_MODE_REDIRECT_URL=target):
        chain = follow(Client(), "/page/")
    assert chain[-1] == (200, "/maintenance/"), chain
    assert len(chain) <= 3


@pytest.mark.parametrize("requested", ["/maintenance", "/maintenance/"])
@pytest.mark.parametrize("target", ["/maintenance", "/maintenance/"])
def test_both_slash_forms_of_the_target_pass(target: str, requested: str) -> None:
    with site(MAINTENANCE_MODE_REDIRECT_URL=target, ROOT_URLCONF="tests.urls"):
        mw = MaintenanceModeMiddleware(ok_view)
        from django.test import RequestFactory

        assert mw(RequestFactory().get(requested)).status_code == 200
        assert mw(RequestFactory().get(requested + "x")).status_code == 302
        assert mw(RequestFactory().get(requested + "//")).status_code == 302


# --- SCRIPT_NAME: matching and Location alike ----------------------------------------------


@pytest.mark.parametrize("prefix", ["/app", "/app/", "/a/b"])
@pytest.mark.parametrize("target", ["/maintenance/", "/maintenance"])
def test_under_a_script_name_the_target_is_below_the_prefix(prefix: str, target: str) -> None:
    """Reported: under SCRIPT_NAME=/app, Location was /maintenance/ (outside the app)."""
    with site(MAINTENANCE_MODE_REDIRECT_URL=target):
        client = Client()
        response = client.get("/page/", SCRIPT_NAME=prefix)
        assert response.status_code == 302
        location = response["Location"]
        assert location == prefix.rstrip("/") + target
        # The proxy strips the prefix again: what passes is the target below it.
        assert follow(client, "/page/", prefix=prefix)[-1] == (200, "/maintenance/")
        # The prefix itself is not part of what is matched.
        assert client.get("/app" + target, SCRIPT_NAME=prefix).status_code == 302


def test_force_script_name_is_a_prefix_too() -> None:
    with site(MAINTENANCE_MODE_REDIRECT_URL="/maintenance/", FORCE_SCRIPT_NAME="/shop"):
        response = Client().get("/page/")
        assert response["Location"] == "/shop/maintenance/"
        assert Client().get("/maintenance/").status_code == 200


def test_a_query_in_the_target_is_kept_under_a_prefix() -> None:
    with site(MAINTENANCE_MODE_REDIRECT_URL="/maintenance/?from=down"):
        response = Client().get("/page/", SCRIPT_NAME="/app")
    assert response["Location"] == "/app/maintenance/?from=down"


@pytest.mark.parametrize("prefix", ["", "/app"])
@pytest.mark.parametrize(
    ("name", "value", "path"),
    [
        ("MAINTENANCE_MODE_EXCEPT_URLS", "^/zone/", "/zone/"),
        ("MAINTENANCE_MODE_HEALTH_PATHS", "/healthz", "/healthz"),
    ],
)
def test_every_path_rule_matches_below_the_prefix(
    prefix: str, name: str, value: str, path: str
) -> None:
    with site(**{name: value}):
        assert Client().get(path, SCRIPT_NAME=prefix).status_code == 200
        assert Client().get("/exempt/", SCRIPT_NAME=prefix).status_code == 200
        assert Client().get("/page/", SCRIPT_NAME=prefix).status_code == 503


# --- slash redirects to an exempt path ------------------------------------------------------


def test_a_slashless_path_reaches_commonmiddlewares_redirect_to_an_except_url() -> None:
    """Reported: EXCEPT_URLS=^/admin/ and GET /admin got 503 instead of the 301 to /admin/."""
    with site(MAINTENANCE_MODE_EXCEPT_URLS="^/zone/"):
        response = Client().get("/zone")
        assert response.status_code == 301
        assert response["Location"] == "/zone/"
        assert follow(Client(), "/zone")[-1] == (200, "/zone/")
        assert follow(Client(), "/zone/inner")[-1] == (200, "/zone/inner/")


@pytest.mark.parametrize("path", ["/exempt", "/exempt-class", "/async-exempt"])
def test_a_slashless_path_reaches_the_redirect_to_an_exempt_view(path: str) -> None:
    with site():
        response = Client().get(path)
        assert (response.status_code, response["Location"]) == (301, path + "/")


def test_a_slashless_path_that_is_a_view_itself_never_passes() -> None:
    """/zoned resolves (to a view that is not exempt): /zoned/ matching EXCEPT_URLS
    must not let that view through."""
    with site(MAINTENANCE_MODE_EXCEPT_URLS="^/zoned/"):
        assert Client().get("/zoned").status_code == 503


def test_without_append_slash_a_slashless_path_does_not_pass() -> None:
    with site(MAINTENANCE_MODE_EXCEPT_URLS="^/zone/", APPEND_SLASH=False):
        assert Client().get("/zone").status_code == 503
        assert Client().get("/exempt").status_code == 503


def test_paths_that_lead_nowhere_exempt_still_get_the_maintenance_response() -> None:
    with site(MAINTENANCE_MODE_EXCEPT_URLS="^/zone/"):
        for path in ("/page", "/nowhere", "/zon", "/zone-x", "/exemp", "/"):
            assert Client().get(path).status_code == 503, path


# --- the language of the path, not of the thread ---------------------------------------------


@pytest.mark.parametrize("active", [None, "en", "de"])
@pytest.mark.parametrize("order", [("/de/hook/", "/en/hook/"), ("/en/hook/", "/de/hook/")])
def test_an_exempt_view_in_i18n_patterns_passes_in_every_language(
    active: str | None, order: tuple[str, str]
) -> None:
    """Reported: ours before LocaleMiddleware, /de/hook/ got 503 and /en/hook/ 200, and the
    verdict was cached per path for the configuration's lifetime."""
    with site(MIDDLEWARE=[*STACK, OURS, LOCALE]):
        client = Client()
        for path in order:
            if active:
                translation.activate(active)  # what a previous request left in the thread
            try:
                response = client.get(path)
            finally:
                translation.deactivate()
            assert response.status_code == 200, path
            assert response.content == f"hook {path}".encode()
        for path in ("/de/page/", "/en/page/", "/fr/hook/"):
            assert client.get(path).status_code == 503, path


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize(
    ("accept", "expected"), [("de", "/de/hook/"), ("en", "/en/hook/"), ("fr", "/en/hook/")]
)
def test_an_unprefixed_path_reaches_localemiddlewares_redirect(
    where: str, accept: str, expected: str
) -> None:
    """/hook/ resolves to nothing with prefix_default_language: LocaleMiddleware redirects
    it to the visitor's language, where it passes."""
    middleware = [*STACK, OURS, LOCALE] if where == "before" else [*STACK, LOCALE, OURS]
    with site(MIDDLEWARE=middleware):
        chain = follow(Client(), "/hook/", HTTP_ACCEPT_LANGUAGE=accept)
    assert chain[-1] == (200, expected), chain


def test_unprefixed_default_language_paths_resolve_under_language_code() -> None:
    with site(ROOT_URLCONF="tests.urls_unprefixed", MIDDLEWARE=[*STACK, OURS, LOCALE]):
        translation.activate("de")
        try:
            assert Client().get("/hook/").status_code == 200
        finally:
            translation.deactivate()
        assert Client().get("/de/hook/").status_code == 200
        assert Client().get("/de/page/").status_code == 503
        assert Client().get("/page/").status_code == 503


# --- the property: maintenance changes nothing for what passes, and nothing else passes ----

SEGMENTS = ["zone", "zoned", "exempt", "page", "maintenance", "hook", "inner", "x", "healthz"]
path_strategy = st.builds(
    lambda lang, parts, slash: (
        "/" + "/".join([*([lang] if lang else []), *parts]) + ("/" if slash and parts else "")
    ),
    st.sampled_from([None, "en", "de", "fr"]),
    st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=3),
    st.booleans(),
)


def destination(client: Client, path: str) -> tuple[int, str, bytes]:
    response = client.get(path, follow=True)
    final = response.redirect_chain[-1][0] if response.redirect_chain else path
    return response.status_code, final, response.content


def passes_by_contract(path: str) -> bool:
    """The final path passes: a health path, the target, an EXCEPT_URLS match, an exempt view."""
    from django.urls import Resolver404, resolve

    key = path[:-1] if len(path) > 1 and path.endswith("/") else path
    if key in {"/healthz", "/maintenance"} or path.startswith("/zone/"):
        return True
    language = translation.get_language_from_path(path) or "en"
    with translation.override(language):
        try:
            func = resolve(path).func
        except Resolver404:
            return False
    return bool(getattr(func, "maintenance_exempt", False)) or bool(
        getattr(getattr(func, "view_class", None), "maintenance_exempt", False)
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=path_strategy)
def test_property_what_passes_is_what_maintenance_would_let_reach_its_destination(
    path: str,
) -> None:
    with site(
        MIDDLEWARE=[*STACK, OURS, LOCALE],
        MAINTENANCE_MODE_EXCEPT_URLS="^/zone/",
        MAINTENANCE_MODE_HEALTH_PATHS="/healthz",
        MAINTENANCE_MODE_REDIRECT_URL="/maintenance",
    ):
        with override_settings(MAINTENANCE_MODE=False):
            off = destination(Client(), path)
        runtime.reset()
        on = destination(Client(), path)  # raises on a redirect loop
        _status, final, _content = off
        if passes_by_contract(final):
            assert on == off, (path, off, on)
        else:  # the maintenance response: the redirect, followed to the target's page
            assert on[:2] == (200, "/maintenance/"), (path, off, on)
