"""The decision for one request while maintenance is active: pass, or answer it.

Cheap checks first (health paths, the redirect target, ``EXCEPT_URLS``, addresses, the
exempt view, the bypass cookie); ``request.user`` is touched only when a user-based
exemption is on, and then by the middleware, which knows whether it runs sync or async.

In read-only mode (``MAINTENANCE_MODE_READ_ONLY``) a request with a safe method passes
right after the bypass link is handled; the others go through the usual exemptions.
"""

from __future__ import annotations

import ipaddress
from enum import Enum
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from maintenance_env import bypass, responses
from maintenance_env.decorators import EXEMPT_ATTR
from maintenance_env.policy import Policy, health_key

__all__ = [
    "EXEMPT_CACHE_SIZE",
    "SAFE_METHODS",
    "Verdict",
    "client_ip",
    "decide",
    "user_passes",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The methods read-only mode lets through: RFC 9110 section 9.2.1's safe methods.
SAFE_METHODS = responses.SAFE_METHODS


class Verdict(Enum):
    """What :func:`decide` can conclude besides "this response"."""

    PASS = "pass"  # let the request through
    ASK_USER = "ask user"  # only a user-based exemption can still let it through


def _parse_ip(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest, trusted_proxies: int) -> IPAddress | None:
    """The client's address: ``REMOTE_ADDR``, or with N trusted proxies the Nth entry from
    the right of ``X-Forwarded-For``. Anything a client could have forged is not used: with
    fewer entries than proxies, there is no trustworthy address.
    """
    if trusted_proxies <= 0:
        return _parse_ip(request.META.get("REMOTE_ADDR") or "")
    chain = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(chain) < trusted_proxies:
        return None
    return _parse_ip(chain[-trusted_proxies])


#: How many paths' verdicts a state remembers before it starts over: bounded, so that a
#: flood of made-up paths costs resolving, never memory.
EXEMPT_CACHE_SIZE = 1024


def _resolves_to_exempt_view(path: str, urlconf: str | None) -> bool:
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    func = match.func
    if getattr(func, EXEMPT_ATTR, False):
        return True
    view_class = getattr(func, "view_class", None)
    return bool(view_class is not None and getattr(view_class, EXEMPT_ATTR, False))


def _view_is_exempt(request: HttpRequest, state: Policy) -> bool:
    """Whether the view of this path is ``maintenance_exempt``, resolved once per path.

    A maintenance response is then cheaper than a normal page: resolving a large URLconf
    is the costliest step left. The cache lives on the state, so it starts afresh on
    every configuration change (and on ``setting_changed``, which covers ROOT_URLCONF).
    """
    urlconf = getattr(request, "urlconf", None)
    key = (request.path_info, urlconf)
    cache = state.exempt_views
    try:
        return cache[key]
    except KeyError:
        pass
    verdict = _resolves_to_exempt_view(*key)
    if len(cache) >= EXEMPT_CACHE_SIZE:
        cache.clear()
    cache[key] = verdict
    return verdict


def user_passes(user: Any, state: Policy) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    config = state.config
    return bool(
        config.except_authenticated
        or (config.except_staff and getattr(user, "is_staff", False))
        or (config.except_superuser and getattr(user, "is_superuser", False))
    )


def _is_redirect_target(request: HttpRequest, state: Policy) -> bool:
    if state.redirect_path not in (request.path_info, request.path):
        return False
    if state.redirect_host is None:
        return True
    try:
        return request.get_host().lower() == state.redirect_host
    except DisallowedHost:
        return False


def decide(request: HttpRequest, state: Policy) -> HttpResponse | Verdict:
    """Everything but the user check, cheapest first: a response, or a :class:`Verdict`."""
    config = state.config
    if bypass.wants_bypass(request, state):
        return bypass.bypass_redirect(request, state)
    if config.read_only and request.method in SAFE_METHODS:
        return Verdict.PASS  # for everyone alike: nothing to mark private
    path = request.path_info
    if health_key(path) in state.health_paths:
        return Verdict.PASS
    if state.redirect_path is not None and _is_redirect_target(request, state):
        return Verdict.PASS
    for pattern in config.except_urls:
        if pattern.match(path):
            return Verdict.PASS
    if config.except_ips:
        address = client_ip(request, config.trusted_proxies)
        if address is not None and any(address in net for net in config.except_ips):
            return Verdict.PASS
    if _view_is_exempt(request, state):
        return Verdict.PASS
    if bypass.has_bypass_cookie(request, state):
        return Verdict.PASS
    if config.user_exemptions:
        return Verdict.ASK_USER
    return responses.maintenance_response(request, state)
