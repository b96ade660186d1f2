"""Hostile and large exemption lists: linear-time patterns with re.match meaning, networks
by prefix length, IPv4-mapped addresses on both sides."""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from maintenance_env import runtime
from maintenance_env.matching import NetworkSet, PathPatterns
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.parsers import InvalidValue, parse_networks, parse_regexes

Env = Callable[..., None]

#: Patterns that backtrack catastrophically in Python's re on a path that almost matches.
CATASTROPHIC = [
    r"^/api/v1/(\w+/?)+$",
    r"^/(a+)+$",
    r"^/(a|aa)+$",
    r"^/(\w*)*x$",
    r"^/((ab)*|a*)*c",
]
#: A bound for the test's own sake: Python's re needs hours on these paths.
BOUND = 10.0


def finishes(call: Callable[[], object]) -> object:
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    worker.start()
    worker.join(BOUND)
    assert outcome, "matching did not finish"
    return outcome[0]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
@pytest.mark.parametrize("length", [35, 60, 4000])
def test_no_pattern_makes_one_path_expensive(pattern: str, length: int) -> None:
    patterns = PathPatterns([p.pattern for p in parse_regexes("X", pattern)])
    for path in ("/api/v1/" + "a" * length + "!", "/" + "a" * length + "!", "/" + "ab" * length):
        assert finishes(lambda path=path: patterns.match(path)) is False  # type: ignore[misc]


def test_a_hostile_pattern_from_the_environment_does_not_block_a_request(env: Env) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_EXCEPT_URLS=CATASTROPHIC[0])
    middleware = MaintenanceModeMiddleware(lambda request: HttpResponse("ok"))
    request = RequestFactory().get("/api/v1/" + "a" * 35 + "!")
    response = finishes(lambda: middleware(request))
    assert response.status_code == 503  # type: ignore[attr-defined]


@pytest.mark.parametrize("pattern", [r"^/(a)\1", r"^/(?=admin)", r"^/admin\Z", r"^/(?<!x)y"])
def test_a_pattern_the_linear_engine_cannot_match_is_refused(pattern: str, env: Env) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_regexes("MAINTENANCE_MODE_EXCEPT_URLS", f"^/ok/,{pattern}")
    assert "MAINTENANCE_MODE_EXCEPT_URLS" in str(caught.value)
    assert "RE2" in str(caught.value)
    env(MAINTENANCE_MODE_EXCEPT_URLS=pattern)
    with pytest.raises(ImproperlyConfigured):
        runtime.load_runtime()


PATTERNS = [
    r"^/admin/",
    r"/static/",
    r"^/api/v\d+/status$",
    r"(?i)^/HEALTH",
    "^/café/",
    r"^/(?P<slug>[a-z-]+)/feed$",
    r"^/(?P<slug>[0-9]+)/x",  # the same group name: combined patterns still work
    r"^/a|^/b",
    r"",
]
PATHS = [
    "/admin/",
    "/admin",
    "/x/static/",
    "/static/x",
    "/api/v12/status",
    "/api/v12/status/",
    "/health",
    "/Health/z",
    "/café/menu",
    "/my-blog/feed",
    "/12/x",
    "/b",
    "/",
    "",
]


@pytest.mark.parametrize("count", [1, 2, len(PATTERNS)])
def test_combined_patterns_keep_re_match_meaning(count: int) -> None:
    for start in range(len(PATTERNS) - count + 1):
        chosen = PATTERNS[start : start + count]
        if "" in chosen and count > 1:
            chosen = [p for p in chosen if p]
        patterns = PathPatterns(chosen)
        for path in PATHS:
            expected = any(re.match(p, path) for p in chosen)
            assert patterns.match(path) is expected, (chosen, path)


def test_a_thousand_patterns_are_one_alternation() -> None:
    patterns = PathPatterns([rf"^/tenant{i}/(\w+)/detail$" for i in range(1000)])
    assert len(patterns._compiled) == 1
    assert patterns.match("/tenant999/x/detail")
    assert patterns.match("/tenant0/abc/detail")
    assert not patterns.match("/tenant1000/x/detail")
    assert not patterns.match("/nothing/here")


@pytest.mark.parametrize(
    ("networks", "inside", "outside"),
    [
        ("10.0.0.0/8", ["10.1.2.3", "::ffff:10.1.2.3"], ["11.0.0.1", "::ffff:11.0.0.1", "::1"]),
        ("::ffff:10.0.0.0/104", ["10.1.2.3", "::ffff:10.200.0.1"], ["11.0.0.1"]),
        ("::ffff:192.0.2.7", ["192.0.2.7"], ["192.0.2.8"]),
        ("2001:db8::/32", ["2001:db8::1", "2001:db8:ffff::1"], ["2001:db9::1", "10.0.0.1"]),
        ("192.0.2.7,198.51.100.0/24", ["192.0.2.7", "198.51.100.200"], ["192.0.2.8"]),
    ],
)
def test_networks_match_as_ipaddress_does_and_mapped_addresses_match_both_ways(
    networks: str, inside: list[str], outside: list[str]
) -> None:
    found = NetworkSet(parse_networks("MAINTENANCE_MODE_EXCEPT_IPS", networks))
    for text in inside:
        assert ipaddress.ip_address(text) in found, text
    for text in outside:
        assert ipaddress.ip_address(text) not in found, text


def test_ten_thousand_networks_are_a_few_set_lookups() -> None:
    networks = [ipaddress.ip_network(f"10.{i // 256}.{i % 256}.0/24") for i in range(10_000)]
    networks += [ipaddress.ip_network(f"2001:db8:{i:x}::/48") for i in range(100)]
    found = NetworkSet(networks)
    assert len(found._groups) == 2
    assert ipaddress.ip_address("10.39.15.7") in found  # 9999 = 39 * 256 + 15
    assert ipaddress.ip_address("10.39.16.7") not in found
    assert ipaddress.ip_address("2001:db8:63::1") in found
    assert ipaddress.ip_address("2001:db8:64::1") not in found


def test_a_mapped_network_lets_a_mapped_client_through(env: Env) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_EXCEPT_IPS="::ffff:203.0.113.0/120")
    middleware = MaintenanceModeMiddleware(lambda request: HttpResponse("ok"))
    for client, status in (
        ("203.0.113.9", 200),
        ("::ffff:203.0.113.9", 200),
        ("198.51.100.1", 503),
    ):
        response = middleware(RequestFactory().get("/", REMOTE_ADDR=client))
        assert response.status_code == status, client


def test_patterns_from_a_mounted_config_are_bounded_and_refused_alike(
    env: Env, tmp_path: Path
) -> None:
    config = tmp_path / "maintenance.env"
    config.write_text(f"MAINTENANCE_MODE=on\nMAINTENANCE_MODE_EXCEPT_URLS={CATASTROPHIC[0]}\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    middleware = MaintenanceModeMiddleware(lambda request: HttpResponse("ok"))
    hostile = RequestFactory().get("/api/v1/" + "a" * 35 + "!")
    assert finishes(lambda: middleware(hostile)).status_code == 503  # type: ignore[attr-defined]
    assert middleware(RequestFactory().get("/api/v1/users/")).status_code == 200
    # A pattern RE2 cannot match arrives live: refused, the last good list stays.
    config.write_text("MAINTENANCE_MODE=on\nMAINTENANCE_MODE_EXCEPT_URLS=^/(a)\\1\n")
    os.utime(config, (1, 1))  # a different modification time, whatever the clock's grain
    assert middleware(RequestFactory().get("/api/v1/users/")).status_code == 200
    problems = [str(p) for p in runtime.get_runtime().state().resolution.problems]
    assert any("MAINTENANCE_MODE_EXCEPT_URLS" in p and "RE2" in p for p in problems), problems
