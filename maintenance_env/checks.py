"""System checks: the same validation as at middleware load, reported by ``manage.py check``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import global_settings, settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from maintenance_env import cache_build
from maintenance_env.live import Runtime
from maintenance_env.store_checks import (
    STORE_TAG,
    check_store_reachable,
    lost_store,
    store_problems,
)
from maintenance_env.variables import PREFIX, SCHEDULE_ORDER_ID, VARIABLES, Origin

__all__ = ["INCUMBENT_SETTINGS", "check_configuration"]

MIDDLEWARE_PATH = "maintenance_env.middleware.MaintenanceModeMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
MIN_SECRET_LENGTH = 16

#: django-maintenance-mode's settings that mean something else (or nothing) here, with
#: what to use instead. Names both packages share (REDIRECT_URL, TEMPLATE, STATUS_CODE,
#: RETRY_AFTER) are not listed: they work here as they are.
INCUMBENT_SETTINGS: dict[str, str] = {
    "MAINTENANCE_MODE_IGNORE_ADMIN_SITE": "MAINTENANCE_MODE_EXCEPT_URLS (e.g. '^/admin/')",
    "MAINTENANCE_MODE_IGNORE_ANONYMOUS_USER": "nothing: anonymous users are never exempt",
    "MAINTENANCE_MODE_IGNORE_AUTHENTICATED_USER": "MAINTENANCE_MODE_EXCEPT_AUTHENTICATED",
    "MAINTENANCE_MODE_IGNORE_STAFF": "MAINTENANCE_MODE_EXCEPT_STAFF",
    "MAINTENANCE_MODE_IGNORE_SUPERUSER": "MAINTENANCE_MODE_EXCEPT_SUPERUSER",
    "MAINTENANCE_MODE_IGNORE_IP_ADDRESSES": "MAINTENANCE_MODE_EXCEPT_IPS (addresses and CIDRs)",
    "MAINTENANCE_MODE_IGNORE_URLS": "MAINTENANCE_MODE_EXCEPT_URLS",
    "MAINTENANCE_MODE_IGNORE_TESTS": "nothing: tests see maintenance only when they turn it on",
    "MAINTENANCE_MODE_GET_CLIENT_IP_ADDRESS": "MAINTENANCE_MODE_TRUSTED_PROXIES",
    "MAINTENANCE_MODE_STATE_BACKEND": "MAINTENANCE_MODE_CONFIG_PATH (a mounted config)",
    "MAINTENANCE_MODE_STATE_BACKEND_FALLBACK_VALUE": "MAINTENANCE_MODE (off by default)",
    "MAINTENANCE_MODE_STATE_FILE_NAME": "MAINTENANCE_MODE_CONFIG_PATH",
    "MAINTENANCE_MODE_STATE_FILE_PATH": "MAINTENANCE_MODE_CONFIG_PATH",
    "MAINTENANCE_MODE_GET_TEMPLATE_CONTEXT": "MAINTENANCE_MODE_MESSAGE, or your own template",
    "MAINTENANCE_MODE_GET_CONTEXT": "MAINTENANCE_MODE_MESSAGE, or your own template",
    "MAINTENANCE_MODE_LOGOUT_AUTHENTICATED_USER": "nothing: sessions are left alone",
    "MAINTENANCE_MODE_RESPONSE_TYPE": "nothing: JSON is chosen by the request's Accept header",
    "MAINTENANCE_MODE_IGNORE_FUNCS": "maintenance_env.decorators.maintenance_exempt",
}

_HINTS = {
    "bool": "Use one of on/off, true/false, yes/no, 1/0.",
    "float": "Use a plain number of seconds, such as 1 or 0.5.",
    "int": "Use a whole number, without units.",
    "datetime": "Use ISO 8601, such as 2040-06-01T02:00:00Z (a naive time is UTC).",
    "regex list": "Use comma-separated regular expressions, matched against the path.",
    "path list": "Use comma-separated paths, each starting with '/'.",
    "permission list": "Use comma-separated permissions as app_label.codename, such as "
    "shop.change_order.",
    "group list": "Use comma-separated group names.",
    "network list": "Use comma-separated addresses or CIDRs, such as 10.0.0.0/8,2001:db8::/32.",
    "url": "Use a path such as /maintenance/ or a full http(s):// URL.",
    "webhook url": "Use the incoming webhook's full https:// (or http://) URL.",
    "template": "Name a template your TEMPLATES settings can find.",
    "platform": "Run 'manage.py maintenance_mode on --platform list' to see the names.",
    "text": "Use plain text.",
    "schedule": "Use comma-separated windows DAYS HH:MM-HH:MM, such as 'sun 01:00-02:00' or "
    "'mon-fri 23:30-00:15, 1st-sun 02:00-06:00' (days: daily, mon..sun, mon-fri, 1st-sun..4th-sun, "
    "last-fri).",
    "time zone": "Use an IANA zone name such as Europe/Berlin, America/Sao_Paulo or UTC "
    "(install tzdata where the system has no zone database).",
    "path": "Use a filesystem path.",
    "cache": "Name an alias of CACHES, or give a cache URL such as "
    "redis://:password@host:6379/0 (install django-maintenance-env[redis] for Redis).",
}


def _middleware_position(name: str) -> int | None:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    return middleware.index(name) if name in middleware else None


def check_configuration(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Errors for every bad value of the environment or settings; warnings for the rest."""
    messages: list[CheckMessage] = []
    runtime = Runtime(background=False)
    for problem in runtime.problems:
        hint = _HINTS[VARIABLES[problem.name].kind]
        if VARIABLES[problem.name].kind == "cache" and isinstance(problem.raw, str):
            refused = cache_build.refusal(problem.raw)
            hint = refused.hint if refused is not None and refused.hint else hint
        if problem.check_id == SCHEDULE_ORDER_ID:
            hint = "Make MAINTENANCE_MODE_STARTS_AT earlier than MAINTENANCE_MODE_ENDS_AT."
        messages.append(Error(str(problem), hint=hint, id=f"maintenance_env.{problem.check_id}"))

    config = runtime.base.config
    if config.user_exemptions:
        ours, auth = _middleware_position(MIDDLEWARE_PATH), _middleware_position(AUTH_MIDDLEWARE)
        if ours is not None and (auth is None or auth > ours):
            messages.append(
                Warning(
                    "A user-based exemption (MAINTENANCE_MODE_EXCEPT_STAFF, _SUPERUSER or "
                    "_AUTHENTICATED) is on, but MaintenanceModeMiddleware runs before "
                    "AuthenticationMiddleware, so no user is ever exempt.",
                    hint=f"Place {MIDDLEWARE_PATH!r} after {AUTH_MIDDLEWARE!r} in MIDDLEWARE.",
                    id="maintenance_env.W001",
                )
            )
    if config.user_exemptions:
        messages.extend(_login_url_problems())
    if config.bypass_secret and len(config.bypass_secret) < MIN_SECRET_LENGTH:
        messages.append(
            Warning(
                f"MAINTENANCE_MODE_BYPASS_SECRET is only {len(config.bypass_secret)} characters "
                "long: a short secret in a link can be guessed.",
                hint=f"Use at least {MIN_SECRET_LENGTH} random characters, e.g. from "
                "'python -c \"import secrets; print(secrets.token_urlsafe(24))\"'.",
                id="maintenance_env.W002",
            )
        )
    if config.config_path and not os.path.exists(config.config_path):
        messages.append(
            Warning(
                f"MAINTENANCE_MODE_CONFIG_PATH={config.config_path!r} does not exist; it is "
                "ignored until it appears.",
                hint="Check the volume mount (mountPath) or the path; the site runs on the "
                "environment and settings meanwhile.",
                id="maintenance_env.W003",
            )
        )
    for name, instead in INCUMBENT_SETTINGS.items():
        where = [
            label
            for label, found in (
                ("settings", hasattr(settings, name)),
                ("environment", name in os.environ),
            )
            if found
        ]
        if where:
            messages.append(
                Warning(
                    f"{name} (a django-maintenance-mode setting, in the {' and '.join(where)}) "
                    "has no effect with django-maintenance-env.",
                    hint=f"Use {instead}.",
                    id="maintenance_env.W004",
                )
            )
    if _middleware_position(MIDDLEWARE_PATH) is None:
        messages.append(
            Warning(
                "maintenance_env is installed but its middleware is not in MIDDLEWARE, so "
                "maintenance mode never takes effect.",
                hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE (after AuthenticationMiddleware).",
                id="maintenance_env.W005",
            )
        )
    messages.extend(_unknown_names())
    messages.extend(_mounted_problems(runtime))
    messages.extend(store_problems(runtime))
    messages.extend(lost_store())
    return messages


def _resolves(url: str) -> bool | None:
    """Whether ``url`` is a path of this site with a view; ``None`` for another site's URL."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    try:
        resolve(parts.path or "/")
    except Resolver404:
        return False
    return True


def _admin_login_exists() -> bool:
    try:
        reverse("admin:login")
    except NoReverseMatch:
        return False
    return True


def _login_url_problems() -> list[CheckMessage]:
    """While a user-based exemption is on, the login view must be reachable during
    maintenance (it passes then): warn when ``LOGIN_URL`` names no view of this site.
    The default ``LOGIN_URL`` is not worth a warning when the admin's login exists."""
    login_url = settings.LOGIN_URL
    try:
        url = str(resolve_url(login_url))
        found = _resolves(url)
    except NoReverseMatch:
        found = False
    except Exception:  # a broken URLconf: Django's own checks report it
        return []
    if found is not False:
        return []
    if login_url == global_settings.LOGIN_URL and _admin_login_exists():
        return []
    return [
        Warning(
            f"A user-based exemption is on, but LOGIN_URL={login_url!r} resolves to no view, "
            "so during maintenance nobody can log in to become exempt.",
            hint="Set LOGIN_URL to your login view's path or URL name (its login and logout "
            "views, and the admin's, pass while maintenance is active).",
            id="maintenance_env.W010",
        )
    ]


def _unknown_names() -> list[CheckMessage]:
    """``MAINTENANCE_MODE_*`` names we do not know: most likely typos."""
    found = {n for n in os.environ if n.startswith(PREFIX)}
    found |= {n for n in dir(settings) if n.startswith(PREFIX)}
    unknown = sorted(found - set(VARIABLES) - set(INCUMBENT_SETTINGS))
    return [
        Warning(
            f"{name} is not a variable of django-maintenance-env and is ignored.",
            hint="Check the spelling against the README's list of variables.",
            id="maintenance_env.W006",
        )
        for name in unknown
    ]


def _mounted_problems(runtime: Runtime) -> list[CheckMessage]:
    """Bad values in the mounted config are not fatal (they are live), but worth a warning."""
    if runtime.mounted is None:
        return []
    resolution = runtime.state().resolution
    return [
        Warning(
            str(p),
            hint="The last good value stays in force until it is fixed.",
            id="maintenance_env.W007",
        )
        for p in resolution.problems
        if p.origin is Origin.CONFIG
    ]


def register_checks() -> None:
    register(check_configuration, "maintenance_env")
    register(check_store_reachable, Tags.caches, Tags.database, STORE_TAG, deploy=True)
