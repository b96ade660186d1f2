"""Cache URLs and aliases for the shared store: the grammar, the backend built, masking.

``MAINTENANCE_MODE_CACHE`` names a cache: an alias of ``CACHES``, or a cache URL from which
a private cache instance is built. This module knows what each form means and builds the
instance; it never connects to anything itself. It is a bottom layer: it imports only
Django, django-environ and the standard library, so that the variables, the checks, the
command and the store's reader can all use it.
"""

from __future__ import annotations

import copy
import logging
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.utils.module_loading import import_string

__all__ = [
    "CHANGED_KEY",
    "KEY_PREFIX",
    "LOCAL_BACKENDS",
    "PYMEMCACHE_BACKEND",
    "REDIS_BACKEND",
    "SOCKET_TIMEOUT",
    "StoreError",
    "backend_class",
    "backend_path",
    "build_cache",
    "cache_params",
    "describe_error",
    "describe_setting",
    "is_url",
    "key",
    "mask",
    "scrub",
    "secrets_of",
    "setting_secrets",
]

logger = logging.getLogger("maintenance_env")

#: Each variable's key in the cache, before the cache's own ``KEY_PREFIX`` and ``VERSION``.
KEY_PREFIX = "maintenance_env:"
REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"
PYMEMCACHE_BACKEND = "django.core.cache.backends.memcached.PyMemcacheCache"
#: Backends that cannot carry a switch across a fleet: what they are, and who a value
#: written there does not reach (the system check's W008).
LOCAL_BACKENDS: dict[str, tuple[str, str]] = {
    "django.core.cache.backends.locmem.LocMemCache": (
        "local memory, private to each process",
        "any other process",
    ),
    "django.core.cache.backends.dummy.DummyCache": (
        "a dummy cache that keeps nothing",
        "any process",
    ),
    "django.core.cache.backends.filebased.FileBasedCache": (
        "files on one host's disk",
        "the processes of other hosts",
    ),
}
#: Seconds a read or a connection may take before it counts as a failure. Django's
#: ``RedisCache`` (and pymemcache) have none by default, so a hung server would block the
#: reader forever; it is added when the cache's ``OPTIONS`` do not set one.
SOCKET_TIMEOUT = 1.0
_URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)


class StoreError(Exception):
    """The shared store cannot be used: unknown alias, bad URL, unreachable, failing.

    The message names the store with its credentials masked.
    """


#: When ``maintenance_mode`` last wrote the store (ISO 8601 UTC text), beside the values.
CHANGED_KEY = KEY_PREFIX + "changed_at"


def key(name: str) -> str:
    """The cache key of a variable, before the cache's ``KEY_PREFIX``/``VERSION``."""
    return KEY_PREFIX + name


#: A URL in a text: the scheme, then everything up to the next whitespace or quote.
_URL_IN_TEXT_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>]*)", re.I)
#: Query parameters that carry a secret (``?password=…``, which redis-py honours).
_SECRET_PARAM_RE = re.compile(
    r"(?P<name>[^?&;=#]*(?:pass|secret|token|auth)[^?&;=#]*)=(?P<value>[^&;#]*)", re.I
)


def _split_url(rest: str) -> tuple[str | None, str]:
    """A URL after its scheme, as (userinfo, the rest). The userinfo ends at the *last*
    ``@``: a generated password may hold ``/``, ``#`` or ``?`` unencoded."""
    at = rest.rfind("@")
    if at < 0:
        return None, rest
    return rest[:at], rest[at + 1 :]


def mask(setting: str) -> str:
    """``setting`` (or any text) with every URL's password, and any query parameter that
    carries a secret, replaced by ``***``; a user name is kept.

    >>> mask("redis://:hunter2@cache.internal:6379/0")
    'redis://:***@cache.internal:6379/0'
    >>> mask("redis://cache.internal:6379/0?password=hunter2")
    'redis://cache.internal:6379/0?password=***'
    """

    def hide(match: re.Match[str]) -> str:
        userinfo, rest = _split_url(match["rest"])
        rest = _SECRET_PARAM_RE.sub(lambda m: f"{m['name']}=***", rest)
        if userinfo is None:
            return match["scheme"] + rest
        user, colon, _password = userinfo.partition(":")
        return f"{match['scheme']}{user}{':***' if colon else ''}@{rest}"

    return _URL_IN_TEXT_RE.sub(hide, setting)


def secrets_of(params: Mapping[str, Any] | str) -> tuple[str, ...]:
    """The secrets a store's setting holds (a URL's password and secret query values, an
    entry's ``OPTIONS`` password), and their pieces (a client library may quote part of a
    URL it could not parse), so that error texts can be scrubbed of them."""
    texts: list[str] = []
    found: list[str] = []
    if isinstance(params, str):
        texts.append(params)
    else:
        location = params.get("LOCATION") or ""
        texts += (
            [str(x) for x in location] if isinstance(location, (list, tuple)) else [str(location)]
        )
        for name, value in dict(params.get("OPTIONS") or {}).items():
            if re.search(r"pass|secret|token|auth", str(name), re.I) and isinstance(value, str):
                found.append(value)
    for text in texts:
        for match in _URL_IN_TEXT_RE.finditer(text):
            userinfo, rest = _split_url(match["rest"])
            if userinfo and ":" in userinfo:
                found.append(userinfo.partition(":")[2])
            found += [m["value"] for m in _SECRET_PARAM_RE.finditer(rest)]
    pieces: set[str] = set()
    for secret in found:
        if not secret:
            continue
        pieces.add(secret)
        pieces.add(urllib.parse.unquote(secret))
        pieces.update(p for p in re.split(r"[/?#@:]", secret) if len(p) >= 3)
    return tuple(sorted(pieces, key=len, reverse=True))


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` masked (:func:`mask`) and with every one of ``secrets`` replaced by ``***``."""
    text = mask(text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def is_url(setting: str) -> bool:
    """Whether ``MAINTENANCE_MODE_CACHE`` holds a cache URL rather than an alias."""
    return bool(_URL_RE.match(setting))


def cache_params(setting: str, caches: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``CACHES``-style entry (``BACKEND``, ``LOCATION``, ``OPTIONS`` …) for ``setting``.

    Raises :class:`StoreError` for an alias that ``CACHES`` does not have or a URL that
    django-environ cannot parse.
    """
    if is_url(setting):
        import environ

        try:
            params: dict[str, Any] = dict(environ.Env.cache_url_config(setting))
        except Exception as exc:
            raise StoreError(
                f"MAINTENANCE_MODE_CACHE={mask(setting)!r} is not a cache URL "
                f"django-environ can read ({mask(str(exc)) or exc.__class__.__name__})"
            ) from None
        # django-environ maps pymemcache:// to PyLibMCCache (pylibmc); Django's backend
        # for the pymemcache library is PyMemcacheCache.
        if setting.lower().startswith("pymemcache://"):
            params["BACKEND"] = PYMEMCACHE_BACKEND
        return params
    if caches is None:
        from django.conf import settings

        caches = getattr(settings, "CACHES", {})
    if setting not in caches:
        known = ", ".join(sorted(caches)) or "none"
        raise StoreError(
            f"MAINTENANCE_MODE_CACHE={setting!r} is not an alias of CACHES (aliases: {known})"
        )
    return copy.deepcopy(dict(caches[setting]))


def backend_path(params: Mapping[str, Any]) -> str:
    """The dotted path of a ``CACHES`` entry's backend (Django's default when unset)."""
    return str(params.get("BACKEND", "django.core.cache.backends.locmem.LocMemCache"))


def backend_class(params: Mapping[str, Any]) -> type[BaseCache]:
    """The backend class of ``params``, imported, along with the client library it needs
    (``redis`` for Django's ``RedisCache``, which imports it only when first used).

    Raises :class:`StoreError` when the class, or its library, cannot be imported.
    """
    backend = backend_path(params)
    try:
        found: type[BaseCache] = import_string(backend)
        if backend == REDIS_BACKEND:
            import redis  # noqa: F401
    except ImportError as exc:
        hint = "; install django-maintenance-env[redis]" if backend == REDIS_BACKEND else ""
        raise StoreError(f"its backend {backend} cannot be imported ({exc}){hint}") from None
    return found


def build_cache(
    setting: str, caches: Mapping[str, Any] | None = None, *, timeout: float | None = None
) -> BaseCache:
    """A private cache instance for ``setting``, as Django's ``CacheHandler`` would build it.

    Private: the request path's ``caches[alias]`` are not touched, and the instance belongs
    to the thread that built it. For Django's ``RedisCache`` and ``PyMemcacheCache`` a
    connect and read timeout of :data:`SOCKET_TIMEOUT` seconds is added unless ``OPTIONS``
    set one; ``timeout`` (seconds) replaces both, set or not (the system check's short
    probe). Raises :class:`StoreError` when the entry is unknown or its backend cannot be
    imported.
    """
    params = cache_params(setting, caches)
    try:
        cls = backend_class(params)
    except StoreError as exc:
        raise StoreError(f"MAINTENANCE_MODE_CACHE={mask(setting)!r}: {exc}") from None
    backend = backend_path(params)
    params.pop("BACKEND", None)
    location = params.pop("LOCATION", "")
    names = {
        REDIS_BACKEND: ("socket_timeout", "socket_connect_timeout"),
        PYMEMCACHE_BACKEND: ("timeout", "connect_timeout"),
    }.get(backend, ())
    options = params.setdefault("OPTIONS", {}) if names else {}
    for name in names:
        if timeout is not None:
            options[name] = timeout
        else:
            options.setdefault(name, SOCKET_TIMEOUT)
    # Every backend of Django takes (location, params), though BaseCache only params.
    factory: Any = cls
    cache: BaseCache = factory(location, params)
    return cache


def describe_setting(setting: str, caches: Mapping[str, Any] | None = None) -> str:
    """How logs and ``status`` name the store, credentials masked: the URL, or the alias
    with its location (``CACHES['default'] at redis://:***@cache:6379/0``)."""
    if is_url(setting):
        return mask(setting)
    try:
        location = cache_params(setting, caches).get("LOCATION") or ""
    except StoreError:
        location = ""
    if isinstance(location, (list, tuple)):
        location = ",".join(str(item) for item in location)
    where = f" at {mask(str(location))}" if location else ""
    return f"CACHES[{setting!r}]{where}"


def setting_secrets(setting: str, caches: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The secrets of ``setting`` (a URL, or the alias's entry), for :func:`scrub`."""
    if is_url(setting):
        return secrets_of(setting)
    try:
        return secrets_of(cache_params(setting, caches))
    except StoreError:
        return ()


def describe_error(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """One line for a failure of the store, without credentials (masked, and scrubbed of
    ``secrets``): the exception's class and the first line of its message."""
    text = scrub(str(exc), secrets).strip().splitlines()
    detail = text[0] if text else ""
    name = exc.__class__.__name__
    return f"{name}: {detail}" if detail else name
