"""A real headless Chromium loads the maintenance page from a real server.

The example site runs under gunicorn exactly as its Procfile says, with maintenance
switched on through a kubelet-style mounted config (a message with a URL and HTML
special characters, and an ``ENDS_AT``). Debian's ``chromium``, driven by Playwright
with ``executable_path`` (no browser download), opens the page at desktop and phone
sizes in light and dark schemes. Each of the four visits is checked for what a visitor
and an auditor would look at: the message and the return time are shown, nothing is
fetched from anywhere but the server, the console stays clean, the page has a language,
a title, one ``main`` landmark and one ``h1``, its text has enough contrast, and nothing
sticks out sideways on a phone. Screenshots go to ``build/screenshots`` (or
``$SCREENSHOT_DIR``) as CI artifacts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest

from tests import servers
from tests.kubelet import ConfigMapVolume

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # reported by the fixture: a failure in CI, a skip elsewhere
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

# noxfile.py gives every matrix cell its own folder, so one cell does not overwrite another.
SCREENSHOTS = servers.ROOT / os.environ.get("SCREENSHOT_DIR", "build/screenshots")

# The flags that keep Chromium quiet and self-contained in a container, as root: no
# sandbox (root has none), no GPU, and none of its own traffic (component updates,
# sync, QUIC probes) which would otherwise be refused noisily. Playwright adds
# --headless and a fresh temporary --user-data-dir itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

STATUS_URL = "https://status.example.com/incidents/2026-database-migration-to-new-cluster"
MESSAGE = (
    f"We are moving to a bigger database. Follow along at {STATUS_URL}"
    " \u2014 thanks for your patience & <b>understanding</b>."
)

# Three days ahead, on a whole minute: the page shows minutes, so the text is exact.
ENDS_AT = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(days=3)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def return_time() -> str:
    """The page's return time as the example site (en-us, UTC) renders it: Django's
    localized DATETIME_FORMAT, joined by no-break spaces."""
    from django.utils import timezone as django_timezone
    from django.utils import translation

    from maintenance_env import texts

    with translation.override("en-us"), django_timezone.override("UTC"):
        return texts.when(ENDS_AT)


DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36"
    ),
}
DEVICES = {"desktop": DESKTOP, "phone": PHONE}
Scheme = Literal["light", "dark"]
SCHEMES: tuple[Scheme, ...] = ("light", "dark")

# WCAG 2.x AA for normal text.
MIN_CONTRAST = 4.5
# Chromium's canvas when no element paints a background (used only as a last resort).
CANVAS = {"light": (255.0, 255.0, 255.0), "dark": (18.0, 18.0, 18.0)}


def require(what: str, present: bool) -> None:
    """A missing tool fails the test in CI and skips it elsewhere, saying what is missing."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing, and CI is set: the browser tests must run here")
    pytest.skip(f"{what} is missing (set CI=1 to make this a failure)")


# --- the server and the browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    executable = shutil.which("chromium")
    require("Debian's chromium (apt-get install chromium)", executable is not None)
    require("the playwright package (pip install --group test)", sync_playwright is not None)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """The example site under the Procfile's gunicorn, maintenance on via a mounted config."""
    tmp = tmp_path_factory.mktemp("browser")
    volume = ConfigMapVolume(
        tmp / "config",
        {
            "MAINTENANCE_MODE": "on",
            "MAINTENANCE_MODE_MESSAGE": MESSAGE,
            "MAINTENANCE_MODE_ENDS_AT": ENDS_AT.isoformat().replace("+00:00", "Z"),
        },
    )
    extra = {"MAINTENANCE_MODE_CONFIG_PATH": str(volume.root)}
    with servers.serve("gunicorn", tmp, extra, log=tmp / "gunicorn.log") as running:
        yield running


@dataclass
class Visit:
    """One page load and everything observed during it."""

    device: str
    scheme: str
    origin: str
    page: Page
    status: int
    headers: dict[str, str]
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: Path = Path()

    def evaluate(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)


def _is_own_status(message: Any, url: str, status: int) -> bool:
    """Chromium reports a non-2xx document as a console error; a 503 is the point here."""
    text = f"Failed to load resource: the server responded with a status of {status} "
    return bool(message.text.startswith(text) and message.location.get("url") == url)


@contextlib.contextmanager
def _load(
    chromium: Browser,
    server: servers.Server,
    device: dict[str, Any],
    scheme: Scheme,
    name: str,
    *,
    expected: int | None = None,
    shot_prefix: str = "",
) -> Iterator[Visit]:
    """Load the home page of ``server`` in a new context (``device``'s viewport, ``scheme``),
    recording every request and console error, and a screenshot ``<shot_prefix><name>-<scheme>``;
    ``name`` fills the visit's ``device`` slot. A console error for the document's own
    ``expected`` status is not counted."""
    origin = f"http://{servers.HOST}:{server.port}"
    url = f"{origin}/"
    context = chromium.new_context(color_scheme=scheme, service_workers="block", **device)
    requests: list[str] = []
    console_errors: list[str] = []

    # Every request of every page in the context, including ones a page would fire at
    # other hosts (fonts, analytics): none may leave for anywhere but our server.
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            console_errors.append(f"{m.text} ({m.location})")
            if m.type == "error" and not (expected and _is_own_status(m, url, expected))
            else None
        ),
    )
    page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None
        # Let the browser's own follow-ups (favicon & co) happen before judging them.
        page.wait_for_load_state("networkidle")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{shot_prefix}{name}-{scheme}.png"
        page.screenshot(path=str(shot), full_page=True)
        yield Visit(
            name,
            scheme,
            origin,
            page,
            response.status,
            response.all_headers(),
            requests,
            console_errors,
            shot,
        )
    finally:
        context.close()


@pytest.fixture(
    scope="module",
    params=[(device, scheme) for device in DEVICES for scheme in SCHEMES],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def visit(
    request: pytest.FixtureRequest, chromium: Browser, server: servers.Server
) -> Iterator[Visit]:
    """Load the home page once per device and scheme; the tests below inspect that load."""
    device, scheme = request.param
    with _load(chromium, server, DEVICES[device], scheme, device, expected=503) as loaded:
        yield loaded


# --- what the visitor sees --------------------------------------------------------------


def test_served_as_maintenance(visit: Visit) -> None:
    assert visit.status == 503
    assert int(visit.headers["retry-after"]) > 0
    assert "no-store" in visit.headers["cache-control"]


def test_shows_the_message_escaped(visit: Visit) -> None:
    main = visit.page.get_by_role("main")
    assert MESSAGE in main.inner_text().replace("\n", " ")
    # The markup in the message is text, not markup.
    assert visit.page.locator("main b").count() == 0
    assert visit.page.get_by_text(STATUS_URL, exact=False).is_visible()


def test_shows_the_return_time(visit: Visit) -> None:
    when = visit.page.locator("main time")
    assert when.is_visible()
    assert when.inner_text() == return_time()
    machine = when.get_attribute("datetime")
    assert machine is not None
    assert datetime.fromisoformat(machine.replace("Z", "+00:00")) == ENDS_AT


def test_no_console_errors(visit: Visit) -> None:
    assert visit.console_errors == []


def test_no_requests_to_other_origins(visit: Visit) -> None:
    assert visit.requests, "the request recorder saw nothing: it is not wired up"
    foreign = [
        u
        for u in visit.requests
        if urlsplit(u).scheme not in ("data", "blob") and not u.startswith(visit.origin + "/")
    ]
    assert foreign == []


# --- accessibility ----------------------------------------------------------------------


def test_language_title_and_viewport(visit: Visit) -> None:
    lang = visit.page.locator("html").get_attribute("lang") or ""
    assert re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", lang), lang
    assert visit.page.title().strip()
    viewport = visit.page.locator('meta[name="viewport"]').get_attribute("content") or ""
    assert "width=device-width" in viewport


def test_landmarks_and_headings(visit: Visit) -> None:
    page = visit.page
    assert page.get_by_role("main").count() == 1
    heading = page.get_by_role("heading", level=1)
    assert heading.count() == 1
    assert heading.is_visible()
    # The landmark is named by the heading, so screen readers announce it.
    assert page.get_by_role("main", name=heading.inner_text().strip()).count() == 1
    # Decorative graphics are hidden from assistive technology, real images have alt text.
    assert (
        page.locator("svg:not([aria-hidden='true']):not([aria-label]):not([role='img'])").count()
        == 0
    )
    assert page.locator("img:not([alt])").count() == 0


# For every element in <main> with text of its own: its color, font size and weight, and
# the background colors from it up to the root (the first opaque one ends the list).
TEXT_COLORS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('main, main *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const backgrounds = [];
    for (let node = el; node; node = node.parentElement) {
      const bg = getComputedStyle(node).backgroundColor;
      backgrounds.push(bg);
      if (/^rgb\\(/.test(bg)) break;
    }
    out.push({tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 40),
              color: style.color, size: parseFloat(style.fontSize), backgrounds});
  }
  return out;
}"""


def parse_color(css: str) -> tuple[float, float, float, float]:
    """``rgb(r, g, b)`` or ``rgba(r, g, b, a)`` as computed by the browser."""
    match = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    assert match, f"unexpected computed color {css!r}"
    r, g, b, a = match.groups()
    return float(r), float(g), float(b), float(a) if a is not None else 1.0


def over(
    top: tuple[float, float, float, float], below: tuple[float, float, float]
) -> tuple[float, float, float]:
    """Alpha-composite a color over an opaque one."""
    *rgb, alpha = top
    return (
        rgb[0] * alpha + below[0] * (1 - alpha),
        rgb[1] * alpha + below[1] * (1 - alpha),
        rgb[2] * alpha + below[2] * (1 - alpha),
    )


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG relative luminance of an sRGB color."""

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_math() -> None:
    """The helpers agree with WCAG's reference points (black on white is 21:1)."""
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert over((0, 0, 0, 0.5), (255, 255, 255)) == (127.5, 127.5, 127.5)


def text_samples(visit: Visit) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = visit.evaluate(TEXT_COLORS)
    for sample in samples:
        background = CANVAS[visit.scheme]
        for css in reversed(sample["backgrounds"]):
            background = over(parse_color(css), background)
        sample["background"] = background
        sample["contrast"] = contrast(over(parse_color(sample["color"]), background), background)
    return samples


def test_text_contrast(visit: Visit) -> None:
    samples = text_samples(visit)
    tags = {s["tag"] for s in samples}
    assert {"h1", "p", "time"} <= tags, tags  # the heading, message and return time
    low = [
        (s["tag"], s["text"], round(s["contrast"], 2))
        for s in samples
        if s["contrast"] < MIN_CONTRAST
    ]
    assert low == []


def test_follows_the_color_scheme(visit: Visit) -> None:
    """Dark mode really is dark (and light light), not just a media query nobody matched."""
    page = over(
        parse_color(visit.evaluate("() => getComputedStyle(document.body).backgroundColor")),
        CANVAS[visit.scheme],
    )
    heading = next(s for s in text_samples(visit) if s["tag"] == "h1")
    text, card = parse_color(heading["color"]), heading["background"]
    if visit.scheme == "dark":
        assert luminance(page) < 0.1
        assert luminance(card) < 0.1
        assert luminance(text[:3]) > 0.6
    else:
        assert luminance(page) > 0.6
        assert luminance(card) > 0.6
        assert luminance(text[:3]) < 0.1


def test_readable_size(visit: Visit) -> None:
    sizes = {s["tag"]: s["size"] for s in text_samples(visit)}
    assert sizes["p"] >= 16  # no zooming needed to read the message on a phone
    assert sizes["h1"] > sizes["p"]


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body, body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.left < -0.5 || r.right > width + 0.5))
      out.push(`${el.tagName.toLowerCase()} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {width, scroll: document.documentElement.scrollWidth, out};
}"""


def test_nothing_overflows_sideways(visit: Visit) -> None:
    """Even the long status URL in the message wraps inside the card on a phone."""
    layout = visit.evaluate(OVERFLOW)
    assert layout["out"] == [], layout
    assert layout["scroll"] <= layout["width"], layout


# --- the artifact -----------------------------------------------------------------------


def test_screenshot_saved(visit: Visit) -> None:
    data = visit.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    viewport = DEVICES[visit.device]["viewport"]
    scale = DEVICES[visit.device]["device_scale_factor"]
    assert width == viewport["width"] * scale
    assert height >= viewport["height"] * scale


# --- the banner include -----------------------------------------------------------------

# An announced window three days ahead, 02:00-04:00 UTC on one day.
BANNER_DAY = datetime.now(timezone.utc).replace(hour=2, minute=0, second=0, microsecond=0) + (
    timedelta(days=3)
)
BANNER_STATES: dict[str, dict[str, str]] = {
    "upcoming": {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_STARTS_AT": BANNER_DAY.isoformat(),
        "MAINTENANCE_MODE_ENDS_AT": (BANNER_DAY + timedelta(hours=2)).isoformat(),
        "MAINTENANCE_MODE_ANNOUNCE": str(7 * 86400),
    },
    "read-only": {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_READ_ONLY": "on"},
}
BANNER_TEXT = {
    "upcoming": (
        f"Maintenance on {BANNER_DAY.day} {MONTHS[BANNER_DAY.month - 1][:3]}, 02:00\u201304:00 UTC."
    ),
    "read-only": "Read-only mode.",
}


@pytest.fixture(scope="module", params=list(BANNER_STATES))
def banner_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, servers.Server]]:
    """The example site, whose pages include ``maintenance_env/banner.html``, with a
    window announced, or in read-only mode (where its pages still answer GET)."""
    state = request.param
    tmp = tmp_path_factory.mktemp(f"banner-{state}")
    volume = ConfigMapVolume(tmp / "config", BANNER_STATES[state])
    extra = {"MAINTENANCE_MODE_CONFIG_PATH": str(volume.root)}
    with servers.serve("gunicorn", tmp, extra, log=tmp / "gunicorn.log") as running:
        yield state, running


@pytest.fixture(scope="module", params=SCHEMES)
def banner_visit(
    request: pytest.FixtureRequest,
    chromium: Browser,
    banner_server: tuple[str, servers.Server],
) -> Iterator[Visit]:
    """The example home page with the banner, once per state and color scheme."""
    state, server = banner_server
    # The "device" slot of the visit names the banner's state here.
    with _load(chromium, server, DESKTOP, request.param, state, shot_prefix="banner-") as loaded:
        yield loaded


BANNER_COLORS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('[role=status], [role=status] *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.tagName === 'STYLE') continue;
    const style = getComputedStyle(el);
    const backgrounds = [];
    for (let node = el; node; node = node.parentElement) {
      const bg = getComputedStyle(node).backgroundColor;
      backgrounds.push(bg);
      if (/^rgb\\(/.test(bg)) break;
    }
    out.push({tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 40),
              color: style.color, backgrounds});
  }
  return out;
}"""


def test_banner_page_is_served(banner_visit: Visit) -> None:
    assert banner_visit.status == 200  # read-only mode lets GET through
    assert banner_visit.console_errors == []
    foreign = [u for u in banner_visit.requests if not u.startswith(banner_visit.origin + "/")]
    assert foreign == []


def test_banner_is_a_visible_status_with_its_text(banner_visit: Visit) -> None:
    status = banner_visit.page.get_by_role("status")
    assert status.count() == 1
    assert status.is_visible()
    text = " ".join(status.inner_text().split())
    assert BANNER_TEXT[banner_visit.device] in text
    box = status.bounding_box()
    assert box is not None
    assert box["height"] > 20
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= DESKTOP["viewport"]["width"]


def test_banner_text_contrast_and_color_scheme(banner_visit: Visit) -> None:
    samples: list[dict[str, Any]] = banner_visit.evaluate(BANNER_COLORS)
    assert samples, "no text found in the banner"
    low = []
    for sample in samples:
        background = CANVAS[banner_visit.scheme]
        for css in reversed(sample["backgrounds"]):
            background = over(parse_color(css), background)
        ratio = contrast(over(parse_color(sample["color"]), background), background)
        if ratio < MIN_CONTRAST:
            low.append((sample["tag"], sample["text"], round(ratio, 2)))
        if banner_visit.scheme == "dark":
            assert luminance(background) < 0.1, sample
        else:
            assert luminance(background) > 0.6, sample
    assert low == []
