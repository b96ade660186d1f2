"""Property tests (hypothesis): hostile and malformed input never breaks anything.

- Every variable's parser, over arbitrary text (the environment, a mounted file) and
  arbitrary Python objects (settings), returns a value or raises ``InvalidValue`` naming
  the variable: nothing else, ever.
- The dotenv parser never raises.
- Arbitrary paths, query strings, ``Accept`` headers, ``X-Forwarded-For`` chains and
  cookies never cause a 500, and a request gets past maintenance only when an exemption
  truly matches (checked against an oracle written from the docs, not the code).

``EXAMPLES`` is the number of generated inputs per property (per variable for parsers):
300, or ``PROPERTY_EXAMPLES`` from the environment (``make test-fast`` uses fewer).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse, QueryDict
from django.test import Client, RequestFactory
from django.urls import is_valid_path
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from maintenance_env import bypass, config, parsers, policy, sources, variables
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.sources import mounted as mounted_source
from tests.conftest import ok_view

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "300"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NAMES = list(variables.VARIABLES)

# --- the parsers ------------------------------------------------------------------------

#: Text that looks almost right for some kind: numbers, dates, lists, regexes, addresses.
near_misses = st.one_of(
    st.from_regex(r"\A[+-]?\d{1,6}(\.\d{0,3})?\Z"),
    st.from_regex(r"\A\d{1,5}\Z").map(lambda digits: digits * 900),  # > 4300 digits
    st.from_regex(
        r"\A\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?)?"
        r"(Z|[+-]\d\d(:?\d\d)?)?\Z"
    ),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+01:00",
            "0001-01-01",
            "9999-12-31T23:59:59.999999",
            "2026-02-29T00:00",
        ]
    ),
    st.from_regex(r"\A(\d{1,3}\.){3}\d{1,3}(/\d{1,3})?\Z"),
    st.from_regex(r"\A[0-9a-f:]{2,20}(/\d{1,3})?(%\w*)?\Z"),
    st.lists(st.text(max_size=12), max_size=6).map(",".join),
    st.sampled_from(
        [
            "a{4294967296}",
            "(" * 1200 + ")" * 1200,
            "[",
            "(?P<x>",
            "*",
            "\\",
            "a{1,2}{3}",
            "(?<=a+)b",
            "x{2,1}",
        ]
    ),
    st.sampled_from(
        ["on", "OFF", " yes ", "1", "0", "nan", "inf", "-0", "1e3", "\uff10", "\u0661\u0662"]
    ),
)
any_text = st.one_of(st.text(), near_misses)

#: What a settings module could hold by mistake.
#: Fixed UTC offsets, the kind ISO 8601 text carries (no tz database needed on the machine).
offsets = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
)

settings_objects = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.binary(),
        st.datetimes(timezones=st.one_of(st.none(), offsets)),
        st.dates(),
        st.times(),
        st.timedeltas(),
        st.decimals(),
        st.complex_numbers(),
        near_misses,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.sets(st.integers() | st.text(max_size=5), max_size=4),
        st.dictionaries(st.text(max_size=5), children, max_size=3),
    ),
    max_leaves=8,
)


def parses_or_names_itself(name: str, value: object) -> None:
    variable = variables.VARIABLES[name]
    error: parsers.InvalidValue | None = None
    try:
        variable.parse(name, value)
    except parsers.InvalidValue as exc:  # anything else fails the test, with its traceback
        error = exc
    if error is not None:
        assert error.name == name
        assert str(error).startswith(f"{name}=")


@pytest.mark.parametrize("name", NAMES)
def test_every_parser_over_arbitrary_text(name: str) -> None:
    @PROPERTY
    @given(value=any_text)
    def check(value: str) -> None:
        parses_or_names_itself(name, value)

    check()


@pytest.mark.parametrize("name", NAMES)
def test_every_parser_over_arbitrary_settings_objects(name: str) -> None:
    @PROPERTY
    @given(value=settings_objects)
    def check(value: object) -> None:
        parses_or_names_itself(name, value)

    check()


@PROPERTY
@given(data=st.binary(max_size=200))
def test_every_parser_over_undecodable_file_contents(data: bytes) -> None:
    """A mounted file that is not UTF-8 reaches the parsers as bytes."""
    for name in NAMES:
        parses_or_names_itself(name, data)


dotenv_lines = st.one_of(
    st.text(),
    st.builds(
        lambda export, key, sep, value: f"{export}{key}{sep}{value}",
        st.sampled_from(["", "export ", "  export\t"]),
        st.sampled_from(["MAINTENANCE_MODE", "MAINTENANCE_MODE_MESSAGE", "X", "1BAD"]),
        st.sampled_from(["=", " = ", "==", ":"]),
        st.text(alphabet=st.sampled_from("ab #'\"\\ntx=$\t"), max_size=20),
    ),
)


@PROPERTY
@given(lines=st.lists(dotenv_lines, max_size=12), newline=st.sampled_from(["\n", "\r\n", "\r"]))
@example(lines=["' '="], newline="\n")  # a quoted key holding a space (found in CI)
def test_the_dotenv_parser_never_raises(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    values = sources.parse_dotenv(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
    assert sources.read_dotenv(text).notes() is not None  # never raises either
    # python-dotenv's keys may be almost anything (a quoted key, `' '=x`, holds a space):
    # whatever a line names, the mounted config takes only the exact names of variables.
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "maintenance.env")
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        snapshot = mounted_source.read_mounted(path)
    assert set(snapshot.values) <= set(variables.VARIABLES)


# --- requests ---------------------------------------------------------------------------

SECRET = "property-test-bypass-secret-1234"
ALLOWED_NET = ipaddress.ip_network("203.0.113.0/24")
EXCEPT_URL = re.compile("^/open/")
EXEMPT_VIEWS = {"/exempt/", "/async-exempt/", "/exempt-class/"}
HEALTH = set(variables.DEFAULT_HEALTH_PATHS)  # exact, one trailing "/" optional

path_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
paths = st.one_of(
    path_text.map(lambda text: "/" + text),
    path_text,
    st.sampled_from(
        [
            "/",
            "/healthz",
            "/healthz/",
            "/healthz//",
            "/HEALTHZ",
            "/healthz.json",
            "/open/",
            "/open",
            "/opened/",
            "//open/",
            "/open/../admin/",
            "/exempt/",
            "/exempt",
            "/exempt/x",
            "/exempt-class/",
            "/async-exempt/",
            "/forced/",
            "/up",
            "/up/",
            "/upload",
            "/%2e%2e/healthz",
            "/\x00",
        ]
    ),
    st.builds(lambda a, b: a + b, st.sampled_from(["/healthz", "/open/", "/exempt/"]), path_text),
)
hops = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=4, network=ALLOWED_NET).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=4, network=ALLOWED_NET).map(lambda ip: f"{ip}:{ip.packed[-1] + 1000}"),
    st.ip_addresses(v=4, network=ALLOWED_NET).map(lambda ip: f"::ffff:{ip}"),
    st.text(max_size=12),
    st.just(""),
)
forwarded_for = st.lists(hops, max_size=5).map(lambda items: ", ".join(items))
accepts = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            [
                "application/json",
                "text/html",
                "*/*",
                "application/ld+json",
                "application/json;q=0",
                "APPLICATION/JSON",
                "text/*;q=0.1",
                ",",
                ";",
                "  ",
            ]
        ),
        max_size=4,
    ).map(", ".join),
)
query_pairs = st.lists(
    st.tuples(
        st.one_of(
            st.text(max_size=10), st.just("maintenance_bypass"), st.just("maintenance_bypass[]")
        ),
        st.one_of(
            st.text(max_size=20), st.just(SECRET), st.just(SECRET[:-1]), st.just(SECRET + " ")
        ),
    ),
    max_size=4,
)
raw_queries = st.one_of(
    query_pairs.map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
    query_pairs.map(urlencode),
    st.text(max_size=40),
)
cookie_headers = st.one_of(
    st.text(max_size=60),
    st.text(max_size=40).map(lambda value: f"{bypass.BYPASS_COOKIE}={value}"),
    st.builds(
        lambda a, b: f"{bypass.BYPASS_COOKIE}={a}:{b}",
        st.text(max_size=10),
        st.text(max_size=30),
    ),
)


def latin1(text: str) -> str:
    """How a WSGI server puts a decoded path into ``PATH_INFO``."""
    return text.encode("utf-8").decode("latin-1")


def client_address(forwarded: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The documented client address with one trusted proxy: the last hop, if it is one."""
    chain = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not chain:
        return None
    hop = chain[-1]
    candidates = [hop]
    if hop.count(":") == 1:  # "address:port"
        candidates.append(hop.split(":")[0])
    if hop.startswith("[") and "]" in hop:  # "[v6]:port"
        candidates.append(hop[1 : hop.index("]")])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            return address.ipv4_mapped
        return address
    return None


def path_passes(path: str) -> bool:
    return bool(
        (path[:-1] if len(path) > 1 and path.endswith("/") else path) in HEALTH
        or EXCEPT_URL.match(path)
        or path in EXEMPT_VIEWS
    )


def may_pass(request: WSGIRequest) -> bool:
    """May this request get past maintenance, by the documented exemptions? A path that
    resolves to no view passes when APPEND_SLASH sends it to one that passes."""
    path = request.path_info
    address = client_address(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    return bool(
        path_passes(path)
        or (not path.endswith("/") and not is_valid_path(path) and path_passes(path + "/"))
        or (address is not None and address in ALLOWED_NET)
    )


@pytest.fixture
def middleware(env: Callable[..., None]) -> Callable[[WSGIRequest], HttpResponse]:
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_BYPASS_SECRET=SECRET,
        MAINTENANCE_MODE_EXCEPT_URLS=EXCEPT_URL.pattern,
        MAINTENANCE_MODE_EXCEPT_IPS=str(ALLOWED_NET),
        MAINTENANCE_MODE_TRUSTED_PROXIES="1",
    )
    handler: Callable[[WSGIRequest], HttpResponse] = MaintenanceModeMiddleware(ok_view)
    return handler


def test_hostile_requests_never_fail_and_never_sneak_in(
    middleware: Callable[[WSGIRequest], HttpResponse],
) -> None:
    base = RequestFactory().get("/").environ
    counts = {"passed": 0, "maintenance": 0, "bypass": 0}

    @PROPERTY
    @given(
        path=paths,
        query=raw_queries,
        accept=accepts,
        forwarded=forwarded_for,
        cookie=cookie_headers,
        remote=st.ip_addresses().map(str),
        xhr=st.booleans(),
    )
    # One input per outcome, always run, so the closing claim that every outcome was reached
    # holds whatever the generators happen to draw (100 draws once missed the bypass link).
    @example(
        path="/",
        query=f"{bypass.BYPASS_PARAM}={SECRET}",
        accept="text/html",
        forwarded="",
        cookie="",
        remote="198.51.100.7",
        xhr=False,
    )
    @example(
        path="/healthz",
        query="",
        accept="*/*",
        forwarded="",
        cookie="",
        remote="198.51.100.7",
        xhr=False,
    )
    @example(
        path="/",
        query="",
        accept="application/json",
        forwarded="",
        cookie="",
        remote="198.51.100.7",
        xhr=True,
    )
    def check(
        path: str, query: str, accept: str, forwarded: str, cookie: str, remote: str, xhr: bool
    ) -> None:
        environ: dict[str, Any] = dict(
            base,
            PATH_INFO=latin1(path),
            QUERY_STRING=latin1(query),
            HTTP_ACCEPT=latin1(accept),
            HTTP_X_FORWARDED_FOR=latin1(forwarded),
            HTTP_COOKIE=latin1(cookie),
            REMOTE_ADDR=remote,
        )
        if xhr:
            environ["HTTP_X_REQUESTED_WITH"] = "XMLHttpRequest"
        request = WSGIRequest(environ)
        response = middleware(request)
        status = response.status_code
        if status == 302:
            # Only the right secret redirects, and never off the site.
            assert QueryDict(request.META["QUERY_STRING"]).get(bypass.BYPASS_PARAM) == SECRET
            assert response["Location"].startswith("/")
            assert not response["Location"].startswith(("//", "/\\"))
            counts["bypass"] += 1
        elif status == 200:
            assert response.content == b"ok"
            assert may_pass(request), (path, forwarded)
            counts["passed"] += 1
        else:
            assert status == 503
            assert not may_pass(request), (path, forwarded)
            if response["Content-Type"] == "application/json":
                assert set(json.loads(response.content)) == {
                    "detail",
                    "read_only",
                    "retry_after",
                    "ends_at",
                }
            else:
                assert response["Content-Type"].startswith("text/html")
            counts["maintenance"] += 1

    check()
    # The generators reach every outcome, or the property proves little.
    assert all(counts.values()), counts


def test_through_the_whole_stack_nothing_is_a_500(env: Callable[..., None]) -> None:
    """The test client runs every middleware of the project and Django's URL handling."""
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_BYPASS_SECRET=SECRET,
        MAINTENANCE_MODE_EXCEPT_URLS="^/open/,^/api/",
        MAINTENANCE_MODE_EXCEPT_IPS=str(ALLOWED_NET),
        MAINTENANCE_MODE_TRUSTED_PROXIES="1",
    )
    client = Client(raise_request_exception=True)

    @PROPERTY
    @given(
        path=paths,
        query=raw_queries,
        accept=accepts,
        forwarded=forwarded_for,
        cookie=cookie_headers,
    )
    def check(path: str, query: str, accept: str, forwarded: str, cookie: str) -> None:
        client.cookies.clear()
        response = client.get(
            "/" + quote(path.lstrip("/"), safe="/") + "?" + quote(query, safe="=&"),
            headers={
                "accept": latin1(accept),
                "x-forwarded-for": latin1(forwarded),
                "cookie": latin1(cookie),
            },
        )
        assert response.status_code in {200, 301, 302, 404, 503}, response.status_code

    check()


@PROPERTY
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=offsets
    )
)
def test_any_valid_window_bound_is_usable(moment: dt.datetime) -> None:
    """A datetime the parser accepts can always be compared and shown."""
    try:
        parsed = parsers.parse_datetime_utc("MAINTENANCE_MODE_ENDS_AT", moment.isoformat())
    except parsers.InvalidValue:
        return  # out of range once in UTC: refused, which the parser tests cover
    state = policy.Policy(
        config.resolve(
            [
                (
                    variables.Origin.SETTINGS,
                    {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_ENDS_AT": parsed},
                )
            ],
            check_template=False,
        )
    )
    state.is_active()
    retry_after = state.retry_after()
    assert retry_after is None or retry_after >= 1
