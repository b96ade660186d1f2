"""What a path is while maintenance is active: open for everyone (a health path, the
redirect target, ``EXCEPT_URLS``), an exempt view, a login view, another view, or no view
at all (and then whether Django would only redirect it to a path that passes); and the
login URL. Resolving is cached per policy, bounded; an error while checking is logged once
per kind (:func:`check_failed`) and means "not exempt".
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils import translation

from maintenance_env.languages import request_language
from maintenance_env.matching import PathPatterns
from maintenance_env.policy import EXEMPT_ATTR, Policy, Reach, health_key

__all__ = [
    "EXEMPT_CACHE_SIZE",
    "check_failed",
    "is_login_url",
    "is_open_path",
    "path_reach",
    "redirects_to_passing_path",
]

logger = logging.getLogger("maintenance_env")


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


#: How many paths' verdicts a state remembers before it starts over: bounded, so that a
#: flood of made-up paths costs resolving, never memory.
EXEMPT_CACHE_SIZE = 1024


def is_open_path(path: str, state: Policy) -> bool:
    """A health path, the redirect target (a trailing slash optional for both), or a
    match of ``EXCEPT_URLS``: the paths that pass for everyone without resolving."""
    key = health_key(path)
    if key in state.health_paths or key == state.redirect_key:
        return True
    if not state.config.except_urls:
        return False
    patterns = state.url_patterns
    if patterns is None:
        patterns = state.url_patterns = PathPatterns(p.pattern for p in state.config.except_urls)
    return patterns.match(path)


def _is_login_class(view_class: type) -> bool:
    if not apps.is_installed("django.contrib.auth"):
        return False
    from django.contrib.auth.views import LoginView, LogoutView

    return issubclass(view_class, (LoginView, LogoutView))


def _admin_reach(func: Any) -> Reach:
    """An ``AdminSite``'s (``admin.site`` or one of your own) login and logout views are
    login views, and always pass on a site that shows the Maintenance page; its final
    catch-all view only ever adds a slash or answers 404, like no view at all; every other
    view of it is a view."""
    if not apps.is_installed("django.contrib.admin"):
        return Reach.VIEW
    from django.contrib.admin.sites import AdminSite

    from maintenance_env.models import Maintenance

    # login is the site's bound method; logout and the catch-all are wrapped around theirs.
    for view in (func, getattr(func, "__wrapped__", None)):
        site = getattr(view, "__self__", None)
        if isinstance(site, AdminSite):
            name = getattr(view, "__name__", "")
            if name in {"login", "logout"}:
                return Reach.ADMIN_LOGIN if site.is_registered(Maintenance) else Reach.LOGIN
            return Reach.NONE if name == "catch_all_view" else Reach.VIEW
    return Reach.VIEW


def _classify(func: Any) -> Reach:
    if getattr(func, EXEMPT_ATTR, False):
        return Reach.EXEMPT
    from django.views.i18n import set_language

    if func is set_language:
        return Reach.SESSION
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


def path_reach(path: str, urlconf: str | None, state: Policy) -> Reach:
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
    if is_open_path(path, state):
        return True
    reach = path_reach(path, urlconf, state)
    return reach in (Reach.EXEMPT, Reach.ADMIN_LOGIN) or (
        reach is Reach.LOGIN and state.config.user_exemptions
    )


def redirects_to_passing_path(request: HttpRequest, path: str, state: Policy) -> bool:
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
            prefixed = f"/{request_language(request, state)}{path}"
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


def is_login_url(request: HttpRequest, state: Policy) -> bool:
    login = state.login_path
    if login is None:
        login = state.login_path = _login_path()
    return bool(login) and login in (health_key(request.path), health_key(request.path_info))
