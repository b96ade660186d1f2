"""Cache URLs and aliases for the shared store: the grammar, the alias look-up, masking.

``MAINTENANCE_MODE_CACHE`` names a cache: an alias of ``CACHES``, or a cache URL from which
a private cache instance is built. This module knows what each form means
(:mod:`maintenance_env.cache_build` builds the instance); it never connects to anything.
It is a bottom layer: it imports only Django, django-environ and the standard library, so
that the variables, the checks, the command and the store's reader can all use it.
"""

from __future__ import annotations

import copy
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from maintenance_env.masking import describe_error, is_url, mask, scrub, secrets_of

__all__ = [
    "BY_KEY",
    "CHANGED_KEY",
    "KEY_PREFIX",
    "LOCAL_BACKENDS",
    "PYMEMCACHE_BACKEND",
    "REASON_KEY",
    "REDIS_BACKEND",
    "StoreError",
    "backend_path",
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
PYLIBMC_BACKEND = "django.core.cache.backends.memcached.PyLibMCCache"
DATABASE_BACKEND = "django.core.cache.backends.db.DatabaseCache"
FILE_BACKEND = "django.core.cache.backends.filebased.FileBasedCache"
DJANGO_REDIS_BACKEND = "django_redis.cache.RedisCache"
#: The URL schemes the store serves, and the backend each one builds, whatever else is
#: installed. ``redis``, ``rediss`` and ``unix`` URLs become the ``LOCATION`` itself, so
#: their query options reach redis-py; the others are read by django-environ.
SCHEMES: dict[str, str] = {
    "redis": REDIS_BACKEND,
    "rediss": REDIS_BACKEND,
    "unix": REDIS_BACKEND,
    "pymemcache": PYMEMCACHE_BACKEND,
    "pylibmc": PYLIBMC_BACKEND,
    "dbcache": DATABASE_BACKEND,
    "filecache": FILE_BACKEND,
    "locmemcache": "django.core.cache.backends.locmem.LocMemCache",
    "dummycache": "django.core.cache.backends.dummy.DummyCache",
}
#: Schemes that look served but are not, with the form that works instead.
INSTEAD: dict[str, str] = {
    "valkey": "redis://HOST:6379/0 (Valkey speaks the Redis protocol; Django's RedisCache "
    "serves it)",
    "valkeys": "rediss://HOST:6380/0 (Valkey speaks the Redis protocol; Django's RedisCache "
    "serves it)",
    "rediscache": "redis://HOST:6379/0",
    "memcache": "pymemcache://HOST:11211 (Django's PyMemcacheCache; MemcachedCache was "
    "removed from Django)",
}
#: Backends that delete entries past ``MAX_ENTRIES`` (300 unless ``OPTIONS`` set it).
CULLING_BACKENDS = (DATABASE_BACKEND, FILE_BACKEND)
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


class StoreError(Exception):
    """The shared store cannot be used: unknown alias, bad URL, unreachable, failing.

    The message names the store with its credentials masked; ``expected`` says what would
    be accepted and ``hint`` the form that works (both may be empty).
    """

    def __init__(self, message: str, *, expected: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.hint = hint


#: When ``maintenance_mode`` last wrote the store (ISO 8601 UTC text, in microseconds),
#: beside the values.
CHANGED_KEY = KEY_PREFIX + "changed_at"
#: Who made the last write (text), beside ``changed_at``.
BY_KEY = KEY_PREFIX + "changed_by"
#: Why (text, or absent), beside ``changed_at``.
REASON_KEY = KEY_PREFIX + "reason"


def key(name: str) -> str:
    """The cache key of a variable, before the cache's ``KEY_PREFIX``/``VERSION``."""
    return KEY_PREFIX + name


def _scheme(setting: str) -> str:
    return setting.split("://", 1)[0].lower()


def _schemes_served() -> str:
    return ", ".join(f"{name}://" for name in sorted(SCHEMES))


def _url_params(setting: str) -> dict[str, Any]:
    """The entry a cache URL builds (its scheme is one of :data:`SCHEMES`)."""
    scheme = _scheme(setting)
    backend = SCHEMES[scheme]
    if backend == REDIS_BACKEND:
        # The URL itself, so that redis-py reads its query (ssl_cert_reqs=none, db=…)
        # exactly as it documents, and django-redis is never chosen for it. Only the two
        # timeouts move into OPTIONS, so that the package's own bound can replace them.
        try:
            parts = urllib.parse.urlsplit(setting)
        except ValueError as exc:
            raise StoreError(
                f"MAINTENANCE_MODE_CACHE={mask(setting)!r} is not a URL redis-py can read "
                f"({mask(str(exc))})",
                expected="a cache URL redis-py can read",
                hint=f"Write it as {scheme}://[:PASSWORD@]HOST:PORT/DB, with any '@', ':' or "
                "'/' in the password percent-encoded"
                + (" (unix:///PATH/TO/SOCKET?db=0 for a socket)" if scheme == "unix" else ""),
            ) from None
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        options: dict[str, Any] = {}
        kept = []
        for name, value in query:
            if name in ("socket_timeout", "socket_connect_timeout"):
                try:
                    options[name] = float(value)
                except ValueError:
                    raise StoreError(
                        f"MAINTENANCE_MODE_CACHE={mask(setting)!r}: {name}={value!r} is not a "
                        "number of seconds",
                        expected=f"a cache URL whose {name} is a number of seconds",
                        hint=f"Write {name}=1.5 (seconds) in the URL's query.",
                    ) from None
            else:
                kept.append((name, value))
        location = setting
        if options:
            location = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(kept)))
        params: dict[str, Any] = {"BACKEND": backend, "LOCATION": location}
        if options:
            params["OPTIONS"] = options
        return params
    import environ

    try:
        params = dict(environ.Env.cache_url_config(setting))
    except Exception as exc:
        raise StoreError(
            f"MAINTENANCE_MODE_CACHE={mask(setting)!r} is not a cache URL django-environ can "
            f"read ({mask(str(exc)) or exc.__class__.__name__})",
            expected="a cache URL django-environ can read",
            hint=f"Write it as {scheme}://… in django-environ's cache_url form.",
        ) from None
    # django-environ maps pymemcache:// to PyLibMCCache (pylibmc), and may pick other
    # backends by what is installed: the scheme alone decides here.
    params["BACKEND"] = backend
    if backend == DATABASE_BACKEND and not params.get("LOCATION"):
        raise StoreError(
            f"MAINTENANCE_MODE_CACHE={mask(setting)!r} names no table",
            expected="dbcache://TABLE",
            hint="Write dbcache://maintenance_env_store, then run "
            "'python manage.py createcachetable maintenance_env_store'.",
        )
    return params


def _check_scheme(setting: str) -> None:
    scheme = _scheme(setting)
    if scheme in SCHEMES:
        return
    served = _schemes_served()
    if scheme in INSTEAD:
        instead = INSTEAD[scheme]
        raise StoreError(
            f"MAINTENANCE_MODE_CACHE={mask(setting)!r}: the store cannot serve {scheme}://",
            expected=f"{instead.split(' ', 1)[0]} instead of {scheme}://",
            hint=f"Use {instead}.",
        )
    raise StoreError(
        f"MAINTENANCE_MODE_CACHE={mask(setting)!r}: {scheme}:// is not a cache URL scheme the "
        f"store serves ({served})",
        expected=f"an alias of CACHES or a cache URL ({served})",
        hint="Use redis://HOST:6379/0 (rediss:// for TLS, unix:///PATH for a socket), "
        "pymemcache://HOST:11211, dbcache://TABLE, or an alias of CACHES.",
    )


def cache_params(setting: str, caches: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``CACHES``-style entry (``BACKEND``, ``LOCATION``, ``OPTIONS`` …) for ``setting``.

    A URL always builds the same backend (:data:`SCHEMES`), whatever else is installed.
    Raises :class:`StoreError` (with ``expected`` and ``hint``) for a scheme the store does
    not serve, a URL that cannot be read, or an alias that ``CACHES`` does not have.
    """
    if is_url(setting):
        _check_scheme(setting)
        return _url_params(setting)
    if caches is None:
        from django.conf import settings

        caches = getattr(settings, "CACHES", {})
    if setting not in caches:
        known = ", ".join(sorted(caches)) or "none"
        raise StoreError(
            f"MAINTENANCE_MODE_CACHE={setting!r} is not an alias of CACHES (aliases: {known})",
            expected=f"an alias of CACHES (there: {known}) or a cache URL",
            hint=f"Name one of the aliases of CACHES ({known}), or give a cache URL such as "
            "redis://HOST:6379/0.",
        )
    return copy.deepcopy(dict(caches[setting]))


def backend_path(params: Mapping[str, Any]) -> str:
    """The dotted path of a ``CACHES`` entry's backend (Django's default when unset)."""
    return str(params.get("BACKEND", "django.core.cache.backends.locmem.LocMemCache"))


def culls(params: Mapping[str, Any]) -> int | None:
    """The ``MAX_ENTRIES`` past which ``params``'s backend deletes entries (the switch
    among them), or ``None`` for a backend that does not cull."""
    if backend_path(params) not in CULLING_BACKENDS:
        return None
    options = dict(params.get("OPTIONS") or {})
    try:
        return int(options.get("MAX_ENTRIES", 300))
    except (TypeError, ValueError):
        return 300


def table_fix(params: Mapping[str, Any]) -> str:
    """For a ``DatabaseCache`` store, the command that creates its table (Django's
    ``createcachetable`` alone only knows the tables of ``CACHES``); else empty."""
    if backend_path(params) != DATABASE_BACKEND:
        return ""
    return f"python manage.py createcachetable {params.get('LOCATION')}"


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
