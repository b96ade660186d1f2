"""The maintenance middleware: a hybrid sync/async middleware with no ``process_*`` hooks.

While maintenance is not active a request costs one attribute check (and, with a mounted
config, one ``time.monotonic()`` comparison): no URL resolving, no session or user
access, no file read, no regex work.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from maintenance_env import conf, responses
from maintenance_env.conf import State
from maintenance_env.decorators import EXEMPT_ATTR

__all__ = ["MaintenanceModeMiddleware", "client_ip"]

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What the sync part of the decision can conclude besides "this response".
_PASS = object()  # let the request through
_ASK_USER = object()  # only a user-based exemption can still let it through


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


def _view_is_exempt(request: HttpRequest, state: State) -> bool:
    """Whether the view of this path is ``maintenance_exempt``, resolved once per path.

    A maintenance response is then cheaper than a normal page: resolving a large URLconf
    is the costliest step left. The cache lives on the state, so it starts afresh on
    every configuration change (and on ``setting_changed``, which covers ROOT_URLCONF).
    """
    urlconf = getattr(request, "urlconf", None)
    key = (request.path_info, urlconf)
    cache: dict[tuple[str, str | None], bool] = state.cached("exempt_views", dict)
    try:
        return cache[key]
    except KeyError:
        pass
    verdict = _resolves_to_exempt_view(*key)
    if len(cache) >= EXEMPT_CACHE_SIZE:
        cache.clear()
    cache[key] = verdict
    return verdict


def _user_passes(user: Any, state: State) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    config = state.config
    return bool(
        config.except_authenticated
        or (config.except_staff and getattr(user, "is_staff", False))
        or (config.except_superuser and getattr(user, "is_superuser", False))
    )


def _is_redirect_target(request: HttpRequest, state: State) -> bool:
    if state.redirect_path not in (request.path_info, request.path):
        return False
    if state.redirect_host is None:
        return True
    try:
        return request.get_host().lower() == state.redirect_host
    except DisallowedHost:
        return False


def _decide(request: HttpRequest, state: State) -> object:
    """Everything but the user check, cheapest first: a response, ``_PASS`` or ``_ASK_USER``."""
    config = state.config
    bypass = responses.wants_bypass(request, state)
    if bypass:
        return responses.bypass_redirect(request, state)
    path = request.path_info
    if conf.health_key(path) in state.health_paths:
        return _PASS
    if state.redirect_path is not None and _is_redirect_target(request, state):
        return _PASS
    for pattern in config.except_urls:
        if pattern.match(path):
            return _PASS
    if config.except_ips:
        address = client_ip(request, config.trusted_proxies)
        if address is not None and any(address in net for net in config.except_ips):
            return _PASS
    if _view_is_exempt(request, state):
        return _PASS
    if responses.has_bypass_cookie(request, state):
        return _PASS
    if config.user_exemptions:
        return _ASK_USER
    return responses.maintenance_response(request, state)


class MaintenanceModeMiddleware:
    """Answer with the maintenance response while maintenance is active.

    Reads the environment and settings when created, raising ``ImproperlyConfigured`` on
    a bad value, so a server never starts half-configured.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        conf.load_runtime()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = conf.get_state()
        if state.enabled and state.is_active():
            decision = _decide(request, state)
            if decision is _ASK_USER:
                if _user_passes(getattr(request, "user", None), state):
                    return self.get_response(request)
                return responses.maintenance_response(request, state)
            if decision is not _PASS:
                return decision
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = conf.get_state()
        if state.enabled and state.is_active():
            decision = _decide(request, state)
            if decision is _ASK_USER:
                auser = getattr(request, "auser", None)
                user = await auser() if auser is not None else None
                if _user_passes(user, state):
                    return await cast(AsyncGetResponse, self.get_response)(request)
                return responses.maintenance_response(request, state)
            if decision is not _PASS:
                return decision  # type: ignore[return-value]
        return await cast(AsyncGetResponse, self.get_response)(request)
