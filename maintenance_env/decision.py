"""The decision for one request while maintenance is active: pass, or answer it.

Cheap checks first, and what passes for every client before what passes for one client
only (health paths, the redirect target, ``EXCEPT_URLS``, the exempt view, login views,
then addresses and the bypass cookie); ``request.user`` is touched only when a user-based
exemption is on, and then by the middleware, which knows whether it runs sync or async.

In read-only mode (``MAINTENANCE_MODE_READ_ONLY``) a request with a safe method passes
right after the bypass link is handled; the others go through the usual exemptions.

Checking an exemption never fails a request: an error while checking one (a database
that is down, a session that cannot be read, a URLconf that raises) means "not exempt",
logged once per kind and configuration at WARNING.
"""

from __future__ import annotations

import ipaddress
import logging
from contextlib import nullcontext
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils import translation

from maintenance_env import bypass, responses, user_rules
from maintenance_env.decorators import EXEMPT_ATTR
from maintenance_env.policy import Policy, health_key

__all__ = [
    "EXEMPT_CACHE_SIZE",
    "SAFE_METHODS",
    "Reach",
    "Verdict",
    "auser_passes",
    "check_failed",
    "client_ip",
    "decide",
    "request_user_passes",
    "user_passes",
]

logger = logging.getLogger("maintenance_env")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The methods read-only mode lets through: RFC 9110 section 9.2.1's safe methods.
SAFE_METHODS = responses.SAFE_METHODS


class Verdict(Enum):
    """What :func:`decide` can conclude besides "this response"."""

    PASS = "pass"  # let the request through: the same for every client
    PASS_CLIENT = "pass client"  # through for this client's address only: mark private
    PASS_COOKIE = "pass cookie"  # through for a cookie's holder only: private, Vary: Cookie
    ASK_USER = "ask user"  # only a user-based exemption can still let it through


class Reach(Enum):
    """What a path resolves to, as far as maintenance is concerned."""

    EXEMPT = "exempt"  # a view decorated with maintenance_exempt
    LOGIN = "login"  # a login or logout view: passes while a user-based exemption is on
    VIEW = "view"  # any other view, or resolving failed
    NONE = "none"  # no view: Django answers 404, or redirects (APPEND_SLASH, i18n_patterns)


def check_failed(state: Policy, kind: str, error: BaseException) -> None:
    """Log that checking ``kind`` failed: once per kind under one configuration, at WARNING
    (a site in maintenance with its database down would otherwise log every request)."""
    if kind in state.failures:
        return
    state.failures.add(kind)
    logger.warning(
        "maintenance_env: checking %s failed (%s: %s); such requests get the maintenance "
        "response. Logged once until the configuration changes.",
        kind,
        type(error).__name__,
        error,
        exc_info=error,
    )


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


# --- the path: one rule for "this path passes" ------------------------------------------------

#: How many paths' verdicts a state remembers before it starts over: bounded, so that a
#: flood of made-up paths costs resolving, never memory.
EXEMPT_CACHE_SIZE = 1024


def _is_open_path(path: str, state: Policy) -> bool:
    """A health path, the redirect target (a trailing slash optional for both), or a
    match of ``EXCEPT_URLS``: the paths that pass for everyone without resolving."""
    key = health_key(path)
    if key in state.health_paths or key == state.redirect_key:
        return True
    return any(pattern.match(path) for pattern in state.config.except_urls)


def _is_login_class(view_class: type) -> bool:
    if not apps.is_installed("django.contrib.auth"):
        return False
    from django.contrib.auth.views import LoginView, LogoutView

    return issubclass(view_class, (LoginView, LogoutView))


def _admin_reach(func: Any) -> Reach:
    """An ``AdminSite``'s (``admin.site`` or one of your own) login and logout views are
    login views; its final catch-all view only ever adds a slash or answers 404, like no
    view at all; every other view of it is a view."""
    if not apps.is_installed("django.contrib.admin"):
        return Reach.VIEW
    from django.contrib.admin.sites import AdminSite

    # login is the site's bound method; logout and the catch-all are wrapped around theirs.
    for view in (func, getattr(func, "__wrapped__", None)):
        if isinstance(getattr(view, "__self__", None), AdminSite):
            name = getattr(view, "__name__", "")
            if name in {"login", "logout"}:
                return Reach.LOGIN
            return Reach.NONE if name == "catch_all_view" else Reach.VIEW
    return Reach.VIEW


def _classify(func: Any) -> Reach:
    if getattr(func, EXEMPT_ATTR, False):
        return Reach.EXEMPT
    view_class = getattr(func, "view_class", None)
    if view_class is not None:
        if getattr(view_class, EXEMPT_ATTR, False):
            return Reach.EXEMPT
        return Reach.LOGIN if _is_login_class(view_class) else Reach.VIEW
    return _admin_reach(func)


def _path_language(path: str) -> str | None:
    """The language to resolve ``path`` under, as ``LocaleMiddleware`` would activate it for
    ``i18n_patterns``: the path's own prefix (``/de/...``), else ``LANGUAGE_CODE``; ``None``
    when i18n is off. Never the thread's active language, which depends on earlier code."""
    if not settings.USE_I18N:
        return None
    return translation.get_language_from_path(path) or settings.LANGUAGE_CODE


def _resolve_reach(path: str, urlconf: str | None) -> Reach:
    language = _path_language(path)
    with translation.override(language) if language else nullcontext():
        try:
            match = resolve(path, urlconf)
        except Resolver404:
            return Reach.NONE
    return _classify(match.func)


def _path_reach(path: str, urlconf: str | None, state: Policy) -> Reach:
    """What the view of this path is, resolved once per path and configuration.

    A maintenance response is then cheaper than a normal page: resolving a large URLconf
    is the costliest step left. The cache lives on the state, so it starts afresh on
    every configuration change (and on ``setting_changed``, which covers ROOT_URLCONF).
    The language a path resolves under depends on the path alone (:func:`_path_language`),
    so the path is the whole key. A failure is not cached: it may pass next time.
    """
    key = (path, urlconf)
    cache = state.exempt_views
    try:
        return cache[key]
    except KeyError:
        pass
    try:
        reach = _resolve_reach(path, urlconf)
    except Exception as error:
        check_failed(state, "URL resolution", error)
        return Reach.VIEW
    if len(cache) >= EXEMPT_CACHE_SIZE:
        cache.clear()
    cache[key] = reach
    return reach


def _passes(path: str, urlconf: str | None, state: Policy) -> bool:
    if _is_open_path(path, state):
        return True
    reach = _path_reach(path, urlconf, state)
    return reach is Reach.EXEMPT or (reach is Reach.LOGIN and state.config.user_exemptions)


def _redirects_to_passing_path(request: HttpRequest, path: str, state: Policy) -> bool:
    """For a path that resolves to no view: whether Django redirects it to a path that
    passes. ``CommonMiddleware`` adds a slash (``APPEND_SLASH``), ``LocaleMiddleware`` puts
    the request's language in front (``i18n_patterns`` with ``prefix_default_language``).
    Letting such a request through can only ever give it that redirect, or a 404.
    """
    urlconf = getattr(request, "urlconf", None)
    slash = not path.endswith("/") and settings.APPEND_SLASH
    candidates = [path + "/"] if slash else []
    if state.languages is not None:
        # Cached by Django, so asked first: finding no language in a path is not cached.
        used, prefixed_default = is_language_prefix_patterns_used(urlconf or settings.ROOT_URLCONF)
        if used and prefixed_default and translation.get_language_from_path(path) is None:
            prefixed = f"/{responses.request_language(request, state)}{path}"
            candidates.append(prefixed)
            if slash:
                candidates.append(prefixed + "/")
    return any(_passes(candidate, urlconf, state) for candidate in candidates)


def _login_path() -> str:
    """``LOGIN_URL`` as a path of this site (a trailing slash dropped); "" when it is a URL
    of another site or cannot be reversed."""
    try:
        url = str(resolve_url(settings.LOGIN_URL))
    except Exception:
        return ""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return ""
    return health_key(parts.path or "/")


def _is_login_url(request: HttpRequest, state: Policy) -> bool:
    login = state.login_path
    if login is None:
        login = state.login_path = _login_path()
    return bool(login) and login in (health_key(request.path), health_key(request.path_info))


# --- users ------------------------------------------------------------------------------------


def user_passes(user: Any, state: Policy) -> bool:
    """Whether ``user`` matches an enabled user-based exemption (staff, superuser,
    authenticated). Evaluating a lazy user may raise: see :func:`request_user_passes`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    config = state.config
    return bool(
        config.except_authenticated
        or (config.except_staff and getattr(user, "is_staff", False))
        or (config.except_superuser and getattr(user, "is_superuser", False))
        or user_rules.matches(user, config.except_permissions, config.except_groups)
    )


def request_user_passes(request: HttpRequest, state: Policy) -> bool:
    """:func:`user_passes` for ``request.user`` (sync); a failure loading the user (the
    session store or the database down) means "not exempt", never an exception."""
    try:
        return user_passes(getattr(request, "user", None), state)
    except Exception as error:
        check_failed(state, "the user (session or database)", error)
        return False


async def auser_passes(request: HttpRequest, state: Policy) -> bool:
    """:func:`request_user_passes` under ASGI: the user comes from ``await request.auser()``."""
    try:
        auser = getattr(request, "auser", None)
        user = await auser() if auser is not None else None
        if state.config.except_permissions or state.config.except_groups:
            # Permissions and groups come from the database: not in the event loop.
            return await sync_to_async(user_passes)(user, state)
        return user_passes(user, state)
    except Exception as error:
        check_failed(state, "the user (session or database)", error)
        return False


# --- the decision -----------------------------------------------------------------------------


def _exemption(request: HttpRequest, state: Policy) -> HttpResponse | Verdict | None:
    config = state.config
    if bypass.wants_bypass(request, state):
        return bypass.bypass_redirect(request, state)
    if config.read_only and request.method in SAFE_METHODS:
        return Verdict.PASS  # for everyone alike: nothing to mark private
    path = request.path_info
    # First what passes for every client alike, then what passes for this client only.
    if _is_open_path(path, state):
        return Verdict.PASS
    reach = _path_reach(path, getattr(request, "urlconf", None), state)
    if reach is Reach.EXEMPT:
        return Verdict.PASS
    users = config.user_exemptions
    if users and (reach is Reach.LOGIN or _is_login_url(request, state)):
        return Verdict.PASS
    if reach is Reach.NONE and _redirects_to_passing_path(request, path, state):
        return Verdict.PASS
    if config.except_ips:
        address = client_ip(request, config.trusted_proxies)
        if address is not None and any(address in net for net in config.except_ips):
            return Verdict.PASS_CLIENT
    if bypass.has_bypass_cookie(request, state):
        return Verdict.PASS_COOKIE
    if users:
        return Verdict.ASK_USER
    return None


def decide(request: HttpRequest, state: Policy) -> HttpResponse | Verdict:
    """Everything but the user check, cheapest first: a response, or a :class:`Verdict`.

    Never raises because of an exemption: an error while checking one is logged (see
    :func:`check_failed`) and the request gets the maintenance response.
    """
    try:
        verdict = _exemption(request, state)
    except Exception as error:
        check_failed(state, "an exemption", error)
        verdict = None
    if verdict is None:
        return responses.maintenance_response(request, state)
    return verdict
