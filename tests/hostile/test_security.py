"""Security: who gets in, what can be forged, what is never shown.

- ``X-Forwarded-For`` is ignored unless ``MAINTENANCE_MODE_TRUSTED_PROXIES`` says how many
  proxies append to it, and then only the hop those proxies wrote counts.
- The bypass cookie cannot be forged, replayed after the secret rotates, or used after it
  expires; the secret is compared with ``hmac.compare_digest``.
- The secret never appears in a log record, an error message, ``manage.py check``, the
  page, the JSON body or the redirect.
- ``MESSAGE`` is escaped on the page and exact in JSON.
- The bypass redirect stays on the site whatever the path looks like.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIRequest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings

from maintenance_env import bypass as bypass_module
from maintenance_env import responses, runtime
from maintenance_env.middleware import MaintenanceModeMiddleware
from tests.conftest import ok_view
from tests.kubelet import ConfigMapVolume

SECRET = "kV7-secret-for-the-bypass-link-Qx9"
OTHER_SECRET = "a-completely-different-secret-0042"


def make_request(
    path: str = "/",
    *,
    query: str = "",
    remote: str = "10.1.2.3",
    cookies: dict[str, str] | None = None,
    secure: bool = False,
    **headers: str,
) -> WSGIRequest:
    """A request whose decoded path is exactly ``path``, as a WSGI server passes it on
    (``PATH_INFO`` holds the UTF-8 bytes as latin-1 text)."""
    extra: dict[str, Any] = dict(headers)  # WSGI environ entries, typed as the stubs type them
    base = RequestFactory().get("/", secure=secure, **extra)
    environ = dict(
        base.environ,
        PATH_INFO=path.encode().decode("latin-1"),
        QUERY_STRING=query,
        REMOTE_ADDR=remote,
    )
    request = WSGIRequest(environ)
    for name, value in (cookies or {}).items():
        request.COOKIES[name] = value
    return request


@pytest.fixture
def site(env: Callable[..., None]) -> Callable[..., Callable[[HttpRequest], HttpResponse]]:
    """``site(**environment)``: maintenance on, plus the environment given; the middleware."""

    def build(**environment: str) -> Callable[[HttpRequest], HttpResponse]:
        env(MAINTENANCE_MODE="on", **environment)
        return MaintenanceModeMiddleware(ok_view)

    return build


# --- X-Forwarded-For -------------------------------------------------------------------

ALLOWED = "203.0.113.7"


@pytest.mark.parametrize(
    "forwarded",
    [
        ALLOWED,
        f"{ALLOWED}, 198.51.100.2",
        f"198.51.100.2, {ALLOWED}",
    ],
)
def test_forwarded_for_is_ignored_without_trusted_proxies(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]], forwarded: str
) -> None:
    middleware = site(MAINTENANCE_MODE_EXCEPT_IPS=ALLOWED)
    request = make_request(
        remote="198.51.100.99",
        HTTP_X_FORWARDED_FOR=forwarded,
        HTTP_X_REAL_IP=ALLOWED,
        HTTP_FORWARDED=f"for={ALLOWED}",
    )
    assert middleware(request).status_code == 503
    assert middleware(make_request(remote=ALLOWED)).status_code == 200


@pytest.mark.parametrize(
    ("proxies", "forwarded", "status"),
    [
        # One proxy appends the address it saw: the last entry is the client.
        ("1", ALLOWED, 200),
        ("1", f"198.51.100.2, {ALLOWED}", 200),
        # The client sent "X-Forwarded-For: 203.0.113.7" itself; the proxy appended its real one.
        ("1", f"{ALLOWED}, 198.51.100.2", 503),
        ("1", f"{ALLOWED},{ALLOWED}, 198.51.100.2", 503),
        # Two proxies: the second from the right is the client; the last is the first proxy.
        ("2", f"{ALLOWED}, 10.0.0.5", 200),
        ("2", f"6.6.6.6, {ALLOWED}, 10.0.0.5", 200),
        ("2", f"{ALLOWED}, 198.51.100.2, 10.0.0.5", 503),
        ("2", f"198.51.100.2, {ALLOWED}", 503),  # the allowed address is the proxy's hop
        # Fewer entries than proxies: nothing trustworthy, no exemption.
        ("2", ALLOWED, 503),
        ("3", f"{ALLOWED}, 10.0.0.5", 503),
        # Garbage where the client's hop should be.
        ("1", f"{ALLOWED}, not-an-address", 503),
        ("1", f"{ALLOWED}, ", 200),  # an empty trailing item is not a hop
        ("1", "", 503),
    ],
)
def test_only_the_hop_the_trusted_proxies_wrote_counts(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
    proxies: str,
    forwarded: str,
    status: int,
) -> None:
    middleware = site(MAINTENANCE_MODE_EXCEPT_IPS=ALLOWED, MAINTENANCE_MODE_TRUSTED_PROXIES=proxies)
    # REMOTE_ADDR is the proxy: even the allowed address there does not count any more.
    request = make_request(remote=ALLOWED, HTTP_X_FORWARDED_FOR=forwarded)
    assert middleware(request).status_code == status


def test_forwarded_for_forms_of_an_address(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    middleware = site(
        MAINTENANCE_MODE_EXCEPT_IPS="203.0.113.0/24,2001:db8::/32",
        MAINTENANCE_MODE_TRUSTED_PROXIES="1",
    )
    for hop, status in [
        ("203.0.113.9:51234", 200),
        ("[2001:db8::1]:443", 200),
        ("2001:db8::1", 200),
        ("::ffff:203.0.113.9", 200),  # IPv4-mapped
        ("203.0.114.1", 503),
        ("2001:db9::1", 503),
        ("203.0.113.9/24", 503),
    ]:
        request = make_request(remote="10.0.0.1", HTTP_X_FORWARDED_FOR=hop)
        assert middleware(request).status_code == status, hop


# --- the bypass cookie ------------------------------------------------------------------


def bypass(
    middleware: Callable[[HttpRequest], HttpResponse],
    secret: str = SECRET,
    path: str = "/",
    secure: bool = False,
) -> HttpResponse:
    return middleware(make_request(path, query=f"maintenance_bypass={secret}", secure=secure))


def cookie_of(response: HttpResponse) -> str:
    return str(response.cookies[bypass_module.BYPASS_COOKIE].value)


def test_bypass_link_sets_a_hardened_cookie(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    middleware = site(
        MAINTENANCE_MODE_BYPASS_SECRET=SECRET, MAINTENANCE_MODE_BYPASS_COOKIE_AGE="600"
    )
    response = bypass(middleware)
    assert response.status_code == 302
    morsel = response.cookies[bypass_module.BYPASS_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["max-age"] == 600
    assert not morsel["secure"]
    assert SECRET not in morsel.value
    assert bypass(middleware, secure=True).cookies[bypass_module.BYPASS_COOKIE]["secure"] is True
    let_in = make_request(cookies={bypass_module.BYPASS_COOKIE: morsel.value})
    assert middleware(let_in).status_code == 200


@pytest.mark.parametrize(
    "given",
    [
        "",
        "x",
        SECRET[:-1],
        SECRET + "x",
        SECRET.upper(),
        f" {SECRET}",
        OTHER_SECRET,
    ],
)
def test_a_wrong_secret_gets_the_normal_response_and_no_cookie(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]], given: str
) -> None:
    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    response = bypass(middleware, given)
    assert response.status_code == 503
    assert bypass_module.BYPASS_COOKIE not in response.cookies


def forged_cookies() -> Iterator[str]:
    """Cookies an attacker could make without the server's SECRET_KEY and salt."""
    yield "bypass"
    yield "1"
    yield "bypass:1:" + "A" * 43
    with override_settings(SECRET_KEY="guessed-secret-key"):
        yield signing.TimestampSigner(salt="maintenance_env.bypass").sign("bypass")
    # Right key, wrong salt: what another part of the site signs (sessions, messages...).
    yield signing.TimestampSigner().sign("bypass")
    yield signing.TimestampSigner(salt="django.contrib.sessions").sign("bypass")
    yield signing.dumps("bypass")


def test_a_forged_cookie_does_not_get_in(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    genuine = cookie_of(bypass(middleware))
    value, timestamp, signature = genuine.split(":")
    tampered = [
        f"{value}x:{timestamp}:{signature}",
        f"{value}:{timestamp}x:{signature}",
        f"{value}:{timestamp}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{value}:{timestamp}",
    ]
    for cookie in [*forged_cookies(), *tampered]:
        request = make_request(cookies={bypass_module.BYPASS_COOKIE: cookie})
        assert middleware(request).status_code == 503, cookie
    genuine_request = make_request(cookies={bypass_module.BYPASS_COOKIE: genuine})
    assert middleware(genuine_request).status_code == 200


def test_knowing_the_secret_is_not_enough_to_forge_a_cookie(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    """The cookie is keyed with SECRET_KEY: the bypass secret alone signs nothing valid."""
    import hashlib

    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    for key in (SECRET, "tests-only-not-secret-but-wrong"):
        signer = signing.TimestampSigner(key=key, salt=f"maintenance_env.bypass.{digest}")
        request = make_request(cookies={bypass_module.BYPASS_COOKIE: signer.sign("bypass")})
        assert middleware(request).status_code == 503


def test_a_cookie_is_void_after_the_secret_rotates(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_BYPASS_SECRET": SECRET})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    middleware = MaintenanceModeMiddleware(ok_view)
    cookie = cookie_of(bypass(middleware))

    def with_cookie() -> int:
        request = make_request(cookies={bypass_module.BYPASS_COOKIE: cookie})
        response: HttpResponseBase = middleware(request)
        return response.status_code

    assert with_cookie() == 200
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_BYPASS_SECRET": OTHER_SECRET})
    assert with_cookie() == 503  # replayed after the rotation
    assert bypass(middleware, SECRET).status_code == 503  # the old link is dead too
    assert bypass(middleware, OTHER_SECRET).status_code == 302
    volume.update({"MAINTENANCE_MODE": "on"})
    assert with_cookie() == 503  # the secret removed: no cookie is accepted at all


class WallClock:
    """``time.time`` for Django's signer, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: float) -> None:
        self.now = now
        monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: self.now))


def test_a_cookie_expires(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = WallClock(monkeypatch, 1_900_000_000.0)
    middleware = site(
        MAINTENANCE_MODE_BYPASS_SECRET=SECRET, MAINTENANCE_MODE_BYPASS_COOKIE_AGE="3600"
    )
    cookie = cookie_of(bypass(middleware))

    def request() -> WSGIRequest:
        return make_request(cookies={bypass_module.BYPASS_COOKIE: cookie})

    clock.now += 3599
    assert middleware(request()).status_code == 200
    clock.now += 2  # the browser would have dropped it; a replayed copy is refused
    assert middleware(request()).status_code == 503
    clock.now += 86400 * 365
    assert middleware(request()).status_code == 503


def test_the_secret_is_compared_in_constant_time(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("maintenance_env.bypass.hmac.compare_digest", spy)
    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    assert bypass(middleware, "wrong").status_code == 503
    assert bypass(middleware, SECRET).status_code == 302
    assert calls == [(b"wrong", SECRET.encode()), (SECRET.encode(), SECRET.encode())]


# --- the secret is never shown ---------------------------------------------------------


def test_the_secret_never_appears_in_logs_or_responses(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_BYPASS_SECRET": SECRET})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    middleware = MaintenanceModeMiddleware(ok_view)
    shown: list[str] = []
    for path in ("/", "/some/page/"):
        for accept in ("text/html", "application/json"):
            for query in (
                f"maintenance_bypass={SECRET}",
                "maintenance_bypass=wrong",
                f"next=1&maintenance_bypass={SECRET}&x=2",
                "",
            ):
                response = middleware(make_request(path, query=query, HTTP_ACCEPT=accept))
                shown.append(response.content.decode())
                shown.append(str(response.headers))
                assert response.status_code in (302, 503)
    # A rotation and a broken secret file are logged, never with the value.
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_BYPASS_SECRET": OTHER_SECRET})
    middleware(make_request())
    (volume.root / "..data" / "MAINTENANCE_MODE_BYPASS_SECRET").write_bytes(
        b"\xff" + SECRET.encode()
    )
    middleware(make_request())
    assert "MAINTENANCE_MODE_BYPASS_SECRET" in caplog.text  # the problem was logged...
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in (SECRET, OTHER_SECRET):
        assert secret not in logged  # ... without the value
        assert all(secret not in text for text in shown)


def test_a_bad_secret_setting_is_not_shown_in_errors_or_checks() -> None:
    number = 918273645546372819
    with override_settings(MAINTENANCE_MODE_BYPASS_SECRET=number):
        with pytest.raises(ImproperlyConfigured) as error:
            runtime.load_runtime()
        assert "MAINTENANCE_MODE_BYPASS_SECRET" in str(error.value)
        assert str(number) not in str(error.value)
        out = io.StringIO()
        with pytest.raises(SystemCheckError) as failed:
            call_command("check", stdout=out, stderr=out)
        assert "MAINTENANCE_MODE_BYPASS_SECRET" in str(failed.value)
        assert str(number) not in str(failed.value) + out.getvalue()


def test_a_short_secret_warning_does_not_show_it(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_BYPASS_SECRET="tiny-secret")
    out = io.StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "MAINTENANCE_MODE_BYPASS_SECRET" in out.getvalue()
    assert "tiny-secret" not in out.getvalue()


# --- what the page shows is escaped ---------------------------------------------------

HOSTILE = '<script>alert("x")</script> & <b onmouseover=\'y()\'>bold</b> {{ 1 }} {% now "Y" %}'


def test_message_is_escaped_on_the_page_and_exact_in_json(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    middleware = site(
        MAINTENANCE_MODE_MESSAGE=HOSTILE, MAINTENANCE_MODE_ENDS_AT="2099-01-01T00:00:00Z"
    )
    page = middleware(make_request()).content.decode()
    assert "<script>" not in page
    assert "<b onmouseover" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b onmouseover=" in page
    assert "{{ 1 }} {% now &quot;Y&quot; %}" in page  # text, never template code
    body = json.loads(middleware(make_request(HTTP_ACCEPT="application/json")).content)
    assert body["detail"] == HOSTILE
    assert body["ends_at"] == "2099-01-01T00:00:00Z"


def test_message_is_escaped_on_the_fallback_page(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a broken user template")

    monkeypatch.setattr(responses, "render_to_string", broken)
    middleware = site(MAINTENANCE_MODE_MESSAGE=HOSTILE)
    response = middleware(make_request())
    assert response.status_code == 503
    page = response.content.decode()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


# --- the bypass redirect stays on the site --------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/",
        "//evil.example",
        "///evil.example/",
        "/\\evil.example",
        "/\\\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "//\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "//evil.example/%2F..",
        "/%2F%2Fevil.example",  # a server that does not decode %2F leaves it like this
        "/%5Cevil.example",
        "//evil.example@good.example/",
        "/https://evil.example/",
        "//%65vil.example/",
        "/\u3000/evil.example",
        "/\uff0f\uff0fevil.example",  # fullwidth solidus
    ],
)
def test_bypass_redirect_is_never_an_open_redirect(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]], path: str
) -> None:
    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    response = bypass(middleware, path=path)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\")), location
    # Browsers drop tabs and newlines and read "\" as "/" before resolving a URL.
    cleaned = "".join(ch for ch in location if ch not in "\t\r\n").replace("\\", "/")
    parts = urlsplit(cleaned)
    assert (parts.scheme, parts.netloc) == ("", ""), location
    assert not cleaned.startswith("//"), location
    assert "maintenance_bypass" not in location
    assert SECRET not in location


def test_bypass_redirect_keeps_the_rest_of_the_query(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    request = make_request("/shop/", query=f"a=1&maintenance_bypass={SECRET}&next=//evil.example")
    location = middleware(request)["Location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/shop/")
    assert "maintenance_bypass" not in parts.query
    assert "a=1" in parts.query


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("/a%23b?keep=1&maintenance_bypass=S", "/a%23b?keep=1"),
        ("/a%3Fb?maintenance_bypass=S&x=%25&y=", "/a%3Fb?x=%25&y="),
        ("/100%25/?q=a%2Bb&maintenance_bypass=S&q=%23", "/100%25/?q=a%2Bb&q=%23"),
        ("/caf%C3%A9/?maintenance_bypass=S", "/caf%C3%A9/"),
    ],
)
@pytest.mark.parametrize("script_name", ["", "/app"])
def test_bypass_redirect_keeps_the_url_as_it_was_sent(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
    sent: str,
    expected: str,
    script_name: str,
) -> None:
    middleware = site(MAINTENANCE_MODE_BYPASS_SECRET="S")
    request = RequestFactory().get(sent, SCRIPT_NAME=script_name)
    response = middleware(request)
    assert response.status_code == 302
    assert response["Location"] == script_name + expected


@override_settings(SESSION_COOKIE_DOMAIN=".example.com", SESSION_COOKIE_PATH="/app/")
def test_bypass_cookie_holds_wherever_the_session_does(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    morsel = bypass(site(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)).cookies[
        bypass_module.BYPASS_COOKIE
    ]
    assert morsel["domain"] == ".example.com"
    assert morsel["path"] == "/app/"


def test_json_requests_are_never_redirected(
    site: Callable[..., Callable[[HttpRequest], HttpResponse]],
) -> None:
    middleware = site(MAINTENANCE_MODE_REDIRECT_URL="https://status.example.com/")
    assert middleware(make_request())["Location"] == "https://status.example.com/"
    response = middleware(make_request(HTTP_ACCEPT="application/json"))
    assert response.status_code == 503
    assert "Location" not in response


# --- the management command masks secrets ----------------------------------------------


def run_command(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("maintenance_mode", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.mark.parametrize("where", ["environment", "settings", "config file"])
def test_status_masks_the_secret(
    env: Callable[..., None], volume: ConfigMapVolume, where: str
) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    environment = {"MAINTENANCE_MODE_CONFIG_PATH": str(volume.root)}
    if where == "environment":
        environment["MAINTENANCE_MODE_BYPASS_SECRET"] = SECRET
    elif where == "config file":
        volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_BYPASS_SECRET": SECRET})
    env(**environment)
    with override_settings(
        **({"MAINTENANCE_MODE_BYPASS_SECRET": SECRET} if where == "settings" else {})
    ):
        report = json.loads(run_command("status", "--json"))
        text = run_command("status")
    secret = report["variables"]["MAINTENANCE_MODE_BYPASS_SECRET"]
    assert secret == {"value": "***", "origin": where}
    assert SECRET not in json.dumps(report)
    assert SECRET not in text
    assert "***" in text


def test_status_does_not_show_a_malformed_secret(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_BYPASS_SECRET": SECRET})
    (volume.root / "..data" / "MAINTENANCE_MODE_BYPASS_SECRET").write_bytes(
        b"\xfe" + SECRET.encode()
    )
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    report = run_command("status", "--json")
    assert "MAINTENANCE_MODE_BYPASS_SECRET" in report  # the problem is reported...
    assert SECRET not in report  # ... without the value
    assert SECRET not in run_command("status")


def test_printed_commands_never_carry_the_secret(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_BYPASS_SECRET=SECRET)
    for action in ("on", "off"):
        for platform in ("shell", "kubernetes", "heroku"):
            assert SECRET not in run_command(action, "--platform", platform)


# --- the same, through real servers' own path decoding ---------------------------------

RAW_TARGETS = [
    "//evil.example/",
    "///evil.example/",
    "/%2F%2Fevil.example/",
    "/%2f/evil.example/",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/\\evil.example",
    "/%09/evil.example",
    "/%0D%0A/evil.example",
    "/%0D%0ALocation:%20http://evil.example/",
    "//evil.example/%2E%2E/",
    "/%E3%80%80/evil.example",
    "http://evil.example/",  # absolute-form request target
    "http://127.0.0.1//evil.example/",
]


def raw_get(port: int, target: str) -> tuple[int, dict[str, str]]:
    """Send one request line exactly as given (http.client would refuse some)."""
    import socket

    request = (
        f"GET {target}{'&' if '?' in target else '?'}maintenance_bypass={SECRET} "
        f"HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        for _ in range(10_000):  # bounded: the server closes after one response
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


@pytest.mark.server
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_bypass_redirect_through_real_servers_stays_on_the_site(kind: str, tmp_path: Path) -> None:
    from tests import servers

    config = tmp_path / "config"
    config.mkdir()
    extra = {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_BYPASS_SECRET": SECRET,
        "MAINTENANCE_MODE_CONFIG_PATH": str(config),
    }
    seen: dict[str, tuple[int, str | None]] = {}
    with servers.serve(kind, tmp_path, extra, workers=1) as server:
        port = server.port
        for target in RAW_TARGETS:
            status, headers = raw_get(port, target)
            location = headers.get("location")
            seen[target] = (status, location)
        log = server.output()
    print(f"\n{kind}: " + "\n".join(f"{t!r} -> {s} {loc!r}" for t, (s, loc) in seen.items()))
    for target, (status, location) in seen.items():
        assert status in (302, 400, 404), (target, status)  # never a 500
        if location is not None:
            assert location.startswith("/"), (target, location)
            assert not location.startswith(("//", "/\\")), (target, location)
            assert urlsplit(location).netloc == "", (target, location)
            assert SECRET not in location
    assert sum(status == 302 for status, _ in seen.values()) >= len(RAW_TARGETS) // 2, seen
    assert "Traceback" not in log
    assert SECRET not in log
