"""Chromium renders the maintenance page in every shipped language, under the page's own
Content-Security-Policy and a site's strict one, and the banner's style with a nonce.

Responses come from Django's test client in this process and are handed to Chromium by
Playwright's request interception (``page.route``) with their headers, so the browser
enforces the real ``Content-Security-Policy`` and nothing touches the network: every
other request is aborted and counted. One screenshot per script (Latin, Cyrillic,
Arabic, Hebrew, CJK, Devanagari, Thai) goes to ``build/screenshots``; Debian's
``fonts-noto-core`` and ``fonts-noto-cjk`` give those scripts glyphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import django
import pytest
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import Client, override_settings
from django.urls import path

from tests.integration import test_browser
from tests.integration.test_browser import SCREENSHOTS
from tests.unit.test_languages import RTL, SHIPPED, heading_of

try:
    from playwright.sync_api import Browser
except ImportError:  # the chromium fixture reports it
    Browser = Any  # type: ignore[assignment,misc]

pytestmark = [pytest.mark.browser]

chromium = test_browser.chromium  # the shared fixture: Debian's Chromium through Playwright

URL = "http://127.0.0.1:9/"  # never reached: every request is intercepted
OURS = "maintenance_env.middleware.MaintenanceModeMiddleware"
SCRIPTS = {
    "latin": "de",
    "cyrillic": "ru",
    "arabic": "ar",
    "hebrew": "he",
    "cjk": "ja",
    "devanagari": "hi",
    "thai": "th",
}


@dataclass
class Shown:
    page: Any
    console_errors: list[str] = field(default_factory=list)
    other_requests: list[str] = field(default_factory=list)


def show(browser: Browser, response: HttpResponse, *, width: int = 390) -> Iterator[Shown]:
    """Open ``response`` in Chromium as if served at ``URL``, at ``width`` CSS pixels."""
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    shown = Shown(page)

    def handle(route: Any) -> None:
        if route.request.url == URL + "favicon.ico":
            route.fulfill(status=204, body=b"")
        elif route.request.url == URL:
            route.fulfill(
                status=response.status_code,
                headers=dict(response.items()),
                body=response.content,
            )
        else:
            shown.other_requests.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    own_status = f"the server responded with a status of {response.status_code}"
    page.on(
        "console",
        lambda m: (
            shown.console_errors.append(m.text)
            if m.type == "error" and own_status not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: shown.console_errors.append(f"uncaught: {e}"))
    try:
        page.goto(URL, wait_until="load")
        yield shown
    finally:
        context.close()


def maintenance_page(code: str, **settings: Any) -> HttpResponse:
    values: dict[str, Any] = {
        "MAINTENANCE_MODE": True,
        "MAINTENANCE_MODE_ENDS_AT": "2099-01-01T04:00:00Z",
        "USE_I18N": True,
        "LANGUAGE_CODE": "en",
        "LANGUAGES": [("en", "English"), (code, code)],
        "MIDDLEWARE": [OURS],
    }
    values.update(settings)
    with override_settings(**values):
        response = Client().get("/", HTTP_ACCEPT_LANGUAGE=code)
        assert isinstance(response, HttpResponse)
        return response


@pytest.mark.parametrize("code", ["en", *SHIPPED.values()])
def test_every_language_renders_styled_without_a_violation(chromium: Browser, code: str) -> None:
    response = maintenance_page(code)
    assert response.status_code == 503
    for shown in show(chromium, response):
        page = shown.page
        assert shown.console_errors == []
        assert shown.other_requests == []
        # The inline style applied (allowed by its hash): the body is a grid.
        assert page.evaluate("getComputedStyle(document.body).display") == "grid"
        direction = page.evaluate("getComputedStyle(document.querySelector('h1')).direction")
        assert direction == ("rtl" if code in RTL else "ltr")
        assert page.inner_text("h1") == heading_of(response.content.decode())
        # Nothing sticks out sideways at 390 px; the return time wraps between words only.
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        when = page.evaluate("document.querySelector('main time').textContent")
        assert not re.search(r"\d |  \d", when), repr(when)
        if code in RTL:
            # Right-to-left: the heading starts at the card's right edge.
            box = page.evaluate(
                "(() => { const h = document.querySelector('h1').getBoundingClientRect();"
                " const m = document.querySelector('main').getBoundingClientRect();"
                " return [m.right - h.right, h.left - m.left]; })()"
            )
            assert box[0] <= box[1]
        script = next((s for s, c in SCRIPTS.items() if c == code), None)
        if script:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"language-{script}-{code}.png"), full_page=True)


# --- a site's own strict policy --------------------------------------------------------


def banner_view(request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(
        # No data: favicon here: the site's policy (default-src 'self') would refuse it.
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>t</title>"
        '{% include "maintenance_env/banner_head.html" %}</head><body>'
        '{% include "maintenance_env/banner.html" %}<p>page</p></body></html>'
    )
    return HttpResponse(template.render({}, request))


urlpatterns = [path("", banner_view)]


def site_policies() -> list[Any]:
    policies: list[Any] = []
    try:
        from csp.constants import NONCE, SELF

        policies.append(
            pytest.param(
                {
                    "MIDDLEWARE": ["csp.middleware.CSPMiddleware", OURS],
                    "CONTENT_SECURITY_POLICY": {
                        "DIRECTIVES": {"default-src": [SELF], "style-src": [SELF, NONCE]}
                    },
                },
                id="django-csp",
            )
        )
    except ImportError:
        policies.append(pytest.param({}, id="django-csp", marks=pytest.mark.skip("no django-csp")))
    if django.VERSION >= (6, 0):
        from django.utils.csp import CSP  # type: ignore[import-not-found,unused-ignore]

        policies.append(
            pytest.param(
                {
                    "MIDDLEWARE": ["django.middleware.csp.ContentSecurityPolicyMiddleware", OURS],
                    "SECURE_CSP": {"default-src": [CSP.SELF], "style-src": [CSP.SELF, CSP.NONCE]},
                },
                id="django",
            )
        )
    return policies


@pytest.mark.usefixtures("frozen_clock")  # the window below starts two hours from now
@pytest.mark.parametrize("site", site_policies())
def test_under_a_site_policy_page_and_banner_are_styled(
    chromium: Browser, site: dict[str, Any]
) -> None:
    with override_settings(MAINTENANCE_MODE=True, **site):
        page_response = Client().get("/")
    assert isinstance(page_response, HttpResponse)
    assert page_response.status_code == 503
    for shown in show(chromium, page_response):
        assert shown.console_errors == []
        assert shown.page.evaluate("getComputedStyle(document.body).display") == "grid"
    # Announced, not yet active: every page shows the banner.
    with override_settings(
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_STARTS_AT="2040-05-25T06:00:00Z",  # within ANNOUNCE's day
        ROOT_URLCONF=__name__,
        **site,
    ):
        banner_response = Client().get("/")
    assert isinstance(banner_response, HttpResponse)
    assert banner_response.status_code == 200
    assert "nonce-" in banner_response["Content-Security-Policy"]
    for shown in show(chromium, banner_response):
        assert shown.console_errors == []
        padding = shown.page.evaluate(
            "getComputedStyle(document.querySelector('.maintenance-banner')).paddingTop"
        )
        assert padding != "0px"  # the nonce'd style applied
