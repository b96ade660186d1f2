"""Staff turn maintenance off from the admin in a real browser, during maintenance.

The example site runs under the Procfile's gunicorn (2 workers) with the shared store on a
real redis-server (``MAINTENANCE_MODE_CACHE``, read every 0.25 s), a migrated sqlite
database with three staff users, and maintenance switched on in the store by the package's
own ``manage.py maintenance_mode on --write``, with no user-based exemption: the admin's
login passes on its own (contract section 12; docs/behaviour.md, "Login and logout");
``/static/`` is exempt as when whitenoise or a CDN serves it.

In Debian's Chromium (Playwright, as ``tests/integration/test_browser.py``):

- a superuser, and a staff user holding only ``maintenance_env.change_maintenance``, each
  sign in at ``/admin/login/`` while ``/`` answers 503, reach the Maintenance page, see
  the state, the fleet (every gunicorn worker's report, by ``host:pid``) and the history,
  and submit the form to turn maintenance off with a reason; a plain HTTP ``GET /`` then
  serves 200 (bounded wait), and the history's newest row names the user and the reason.
  Screenshots of the page in light and dark go to ``build/screenshots`` (``admin-*.png``);
- a staff user without the permission signs in, gets 403 on the Maintenance page and the
  site's 503 on ``/`` and the admin index.

Every request goes to 127.0.0.1 only; every wait is bounded and fails saying what it saw.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from maintenance_env import fleet
from maintenance_env.cache_build import build_cache
from tests import servers
from tests.integration import test_browser
from tests.integration.test_browser import CANVAS, SCREENSHOTS, luminance, over, parse_color
from tests.redis_server import RedisServer, running_redis
from tests.tools import need_tool

try:
    from playwright.sync_api import Browser, Page
except ImportError:  # the chromium fixture reports it
    Browser = Page = Any  # type: ignore[assignment,misc]

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.redis]

chromium = test_browser.chromium  # the shared fixture: Debian's Chromium through Playwright

PAGE = "/admin/maintenance_env/maintenance/"
LOGIN = f"/admin/login/?next={PAGE}"
RELOAD_INTERVAL = 0.25
#: Bounds of the waits (not assertions): tries, and seconds between them.
TRIES = 200
PAUSE = 0.05
#: Answers in a row that count as "the site serves this now" (new connection each).
STEADY = 5
PASSWORDS = {"root": "pw-root-9f3c1a", "ops": "pw-ops-4b7e2d", "plain": "pw-plain-8a6c0e"}
USERS_SCRIPT = f"""
from django.contrib.auth.models import Permission, User
User.objects.create_superuser("root", password={PASSWORDS["root"]!r})
ops = User.objects.create_user("ops", password={PASSWORDS["ops"]!r}, is_staff=True)
ops.user_permissions.add(Permission.objects.get(
    content_type__app_label="maintenance_env", codename="change_maintenance"))
User.objects.create_user("plain", password={PASSWORDS["plain"]!r}, is_staff=True)
"""


@dataclass
class Site:
    redis: RedisServer
    server: servers.Server
    environ: dict[str, str]
    tmp: Path
    workers: set[int]

    @property
    def origin(self) -> str:
        return f"http://{servers.HOST}:{self.server.port}"

    def manage(self, *args: str) -> str:
        """``example_project/manage.py ARGS`` with the server's environment."""
        done = subprocess.run(
            [sys.executable, "example_project/manage.py", *args],
            cwd=servers.ROOT,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def statuses(self, path: str = "/") -> list[int]:
        """Eight concurrent GETs of ``path``, each on a new connection (any worker answers)."""
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _n: self.server.get(path)[0], range(8)))

    def wait_for(self, status: int) -> None:
        """Bounded: until a plain ``GET /`` answers ``status`` STEADY times in a row."""
        seen: list[int] = []
        for _try in range(TRIES):
            seen.append(self.server.get("/")[0])
            if seen[-STEADY:] == [status] * STEADY:
                return
            time.sleep(PAUSE)
        pytest.fail(f"GET / did not settle on {status} after {TRIES} tries: {seen[-20:]}")

    def switch_on(self) -> None:
        """Maintenance on in the store, as an operator does it, waiting (``--wait``, bounded)
        until every live process serves it."""
        self.manage(
            "maintenance_mode", "on", "--write", "--wait", "--timeout", "30",
            "--reason", "upgrade", "--by", "ci",
        )  # fmt: skip
        self.wait_for(503)


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (the gunicorn master's workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser-admin")
    with running_redis(need_tool("redis-server")) as redis:
        port = servers.free_port()
        environ = servers.server_environment(
            port,
            {
                "MAINTENANCE_MODE_CACHE": redis.url,
                "MAINTENANCE_MODE_RELOAD_INTERVAL": str(RELOAD_INTERVAL),
                "MAINTENANCE_MODE_CONFIG_PATH": "",  # the store only
                "MAINTENANCE_MODE_EXCEPT_URLS": "^/static/",
                "WEB_CONCURRENCY": "2",
            },
            tmp,
        )
        argv = servers.gunicorn_command()
        log = tmp / "gunicorn.log"
        with servers.running("gunicorn", argv, environ, port, log) as server:
            site = Site(redis, server, environ, tmp, set())
            site.manage("migrate", "--noinput", "-v", "0")
            site.manage("shell", "-c", USERS_SCRIPT)
            site.switch_on()
            site.workers = _children(server.process.pid)
            assert len(site.workers) == 2, (site.workers, server.output())
            # Every worker reports to the fleet once it has served: requests until all have.
            cache = build_cache(redis.url)
            reported: set[int] = set()
            for _try in range(TRIES):
                reported = {r.pid for r in fleet.live_reports(cache)}
                if site.workers <= reported:
                    break
                site.statuses()
            assert site.workers <= reported, (site.workers, reported, server.output())
            yield site


@contextlib.contextmanager
def browsing(chromium: Browser, site: Site, user: str) -> Iterator[tuple[Page, list[str]]]:
    """A fresh context in which ``user`` signed in at the admin login during maintenance,
    landing where the login sends them; yields the page and every URL requested."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800}, color_scheme="light", service_workers="block"
    )
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        page = context.new_page()
        assert site.server.get("/")[0] == 503  # the site is in maintenance...
        login = page.goto(site.origin + LOGIN)
        assert login is not None
        assert login.status == 200  # ...and the admin login answers
        page.fill("#id_username", user)
        page.fill("#id_password", PASSWORDS[user])
        with page.expect_navigation():
            page.click("#login-form input[type=submit]")
        yield page, requests
    finally:
        context.close()
    foreign = [u for u in requests if not u.startswith(site.origin + "/")]
    assert foreign == []


def cells(page: Page, table: str) -> list[list[str]]:
    """The text of every body cell of ``table`` (a CSS selector), row by row."""
    rows: list[list[str]] = page.eval_on_selector_all(
        f"{table} tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))",
    )
    return rows


def shoot(page: Page, user: str, scheme: Literal["light", "dark"]) -> None:
    """A full-page screenshot in ``scheme``, checked to be a PNG of the page's width, whose
    background follows the scheme."""
    page.emulate_media(color_scheme=scheme)
    background = over(
        parse_color(page.evaluate("() => getComputedStyle(document.body).backgroundColor")),
        CANVAS[scheme],
    )
    assert (luminance(background) < 0.1) if scheme == "dark" else (luminance(background) > 0.6)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"admin-maintenance-{user}-{scheme}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24])[0] == 1280


@pytest.mark.parametrize("user", ["root", "ops"])
def test_a_permitted_user_signs_in_and_turns_maintenance_off(
    chromium: Browser, site: Site, user: str
) -> None:
    site.switch_on()
    with browsing(chromium, site, user) as (page, _requests):
        assert page.url == site.origin + PAGE
        assert page.locator("#content-main h2").first.inner_text() == "Maintenance is active"
        # The fleet: every gunicorn worker, serving "on"; and the operator's switch.
        assert f"{len(site.workers)} live processes." in page.locator("h2#fleet + p").inner_text()
        fleet_rows = cells(page, "h2#fleet + p + table")
        host = socket.gethostname()
        assert sorted(row[1] for row in fleet_rows) == sorted(
            f"{host}:{pid}" for pid in site.workers
        )
        assert {row[0] for row in fleet_rows} == {"on"}
        assert cells(page, "h2#history + table")[0][1:] == ["on", "ci (command)", "upgrade"]
        for scheme in ("light", "dark"):
            shoot(page, user, scheme)
        page.emulate_media(color_scheme="light")

        reason = f"done, by {user}"
        page.get_by_label("Off", exact=True).check()
        page.fill("#id_reason", reason)
        with page.expect_navigation():
            page.click("#content-main form input[type=submit]")
        assert page.url == site.origin + PAGE
        assert "Maintenance set to off." in page.locator(".messagelist").inner_text()
        # Newest first: the change, by this user through the admin, with the reason.
        assert cells(page, "h2#history + table")[0][1:] == ["off", f"{user} (admin)", reason]
        site.wait_for(200)
        # The page itself, from whichever worker answers, says so too (bounded).
        for _try in range(TRIES):
            heading = page.locator("#content-main h2").first.inner_text()
            if heading == "Maintenance is not active":
                break
            time.sleep(PAUSE)
            page.reload()
        assert heading == "Maintenance is not active"


def test_a_user_without_the_permission_gets_403_and_the_site_503(
    chromium: Browser, site: Site
) -> None:
    site.switch_on()
    with browsing(chromium, site, "plain") as (page, _requests):
        # Signed in (the login accepted a staff user), but the page is not theirs.
        assert page.url == site.origin + PAGE
        response = page.goto(site.origin + PAGE)
        assert response is not None
        assert response.status == 403
        for path in ("/", "/admin/"):
            response = page.goto(site.origin + path)
            assert response is not None
            assert response.status == 503, path
        assert "sessionid" in {c["name"] for c in page.context.cookies()}
    site.wait_for(503)  # nothing was changed
