"""Cache URLs and aliases for the shared store: the grammar, the backend built, masking.

``MAINTENANCE_MODE_CACHE`` names a cache: an alias of ``CACHES``, or a cache URL from which
a private cache instance is built. This module knows what each form means and builds the
instance; it never connects to anything itself. It is a bottom layer: it imports only
Django, django-environ and the standard library, so that the variables, the checks, the
command and the store's reader can all use it.
"""

from __future__ import annotations

import copy
import importlib
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.utils.module_loading import import_string

from maintenance_env.masking import describe_error, is_url, mask, scrub, secrets_of

__all__ = [
    "BY_KEY",
    "CHANGED_KEY",
    "KEY_PREFIX",
    "LOCAL_BACKENDS",
    "PYMEMCACHE_BACKEND",
    "REASON_KEY",
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
#: The client library each backend needs, and how to install it.
CLIENTS: dict[str, tuple[str, str]] = {
    REDIS_BACKEND: ("redis", "pip install 'django-maintenance-env[redis]'"),
    PYMEMCACHE_BACKEND: ("pymemcache", "pip install pymemcache"),
    PYLIBMC_BACKEND: ("pylibmc", "pip install pylibmc"),
}
#: ``OPTIONS`` that turn a backend's errors into misses, and the value the store forces:
#: the switch is configuration, and an outage must never read as "no keys".
SWALLOWING_OPTIONS: dict[str, tuple[str, object]] = {
    DJANGO_REDIS_BACKEND: ("IGNORE_EXCEPTIONS", False),
    PYMEMCACHE_BACKEND: ("ignore_exc", False),
}
#: ``OPTIONS`` the store sets whatever the alias says, because the client's own defaults
#: hide an outage: pymemcache's ``HashClient`` answers "not found" for a failing server
#: between its retries (``retry_attempts``, ``retry_timeout``), then leaves the server out
#: for ``dead_timeout`` seconds; with no retries and no dead time every read asks the
#: server, and fails when it cannot answer.
FORCED_OPTIONS: dict[str, dict[str, object]] = {
    PYMEMCACHE_BACKEND: {"retry_attempts": 0, "dead_timeout": 0},
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
#: Seconds a read or a connection may take before it counts as a failure. Django's
#: ``RedisCache`` (and pymemcache) have none by default, so a hung server would block the
#: reader forever; it is added when the cache's ``OPTIONS`` do not set one.
SOCKET_TIMEOUT = 1.0


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


def backend_class(params: Mapping[str, Any]) -> type[BaseCache]:
    """The backend class of ``params``, imported, along with the client library it needs
    (``redis`` for Django's ``RedisCache``, which imports it only when first used).

    Raises :class:`StoreError` when the class, or its library, cannot be imported.
    """
    backend = backend_path(params)
    library, install = CLIENTS.get(backend, ("", ""))
    try:
        found: type[BaseCache] = import_string(backend)
        if library:
            importlib.import_module(library)
    except ImportError as exc:
        hint = f"Install its client: {install}." if install else f"Install {backend}'s package."
        raise StoreError(
            f"its backend {backend} cannot be imported ({exc})",
            expected=f"a cache whose backend ({backend}) and client library can be imported",
            hint=hint,
        ) from None
    return found


def refusal(setting: str, caches: Mapping[str, Any] | None = None) -> StoreError | None:
    """Why ``setting`` cannot name a store, without connecting to anything; ``None`` when
    it can (the scheme is served, the URL reads, the alias exists, the backend imports)."""
    try:
        params = cache_params(setting, caches)
        backend_class(params)
    except StoreError as exc:
        return exc
    return None


def store_params(
    setting: str, caches: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The entry the store's private instance is built from, and the options it dropped.

    Only the alias's ``BACKEND``, ``LOCATION`` and ``OPTIONS`` are kept: never its
    ``KEY_PREFIX``, ``VERSION`` or ``KEY_FUNCTION``, which teams change per release, so
    that every process of a rolling deploy (and the printed store route) reads and writes
    the same keys. Options that turn errors into misses (:data:`SWALLOWING_OPTIONS`) are
    forced off; their names are returned, to be said once.
    """
    full = cache_params(setting, caches)
    params: dict[str, Any] = {"BACKEND": backend_path(full), "LOCATION": full.get("LOCATION", "")}
    options = dict(full.get("OPTIONS") or {})
    dropped: list[str] = []
    name, forced = SWALLOWING_OPTIONS.get(params["BACKEND"], ("", None))
    if name:
        if options.get(name):
            dropped.append(name)
        elif params["BACKEND"] == DJANGO_REDIS_BACKEND and getattr(
            settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False
        ):
            # django-redis's global default for the option: set here, it is overridden.
            dropped.append("DJANGO_REDIS_IGNORE_EXCEPTIONS (the setting)")
        options[name] = forced  # explicit: it outranks django-redis's global setting
    options.update(FORCED_OPTIONS.get(params["BACKEND"], {}))
    params["OPTIONS"] = options
    return params, dropped


#: The settings whose dropped options were already logged in this process.
_SAID: set[str] = set()


def build_cache(
    setting: str, caches: Mapping[str, Any] | None = None, *, timeout: float | None = None
) -> BaseCache:
    """A private cache instance for ``setting``, as Django's ``CacheHandler`` would build it
    from :func:`store_params` (no ``KEY_PREFIX``, ``VERSION`` or ``KEY_FUNCTION``).

    Private: the request path's ``caches[alias]`` are not touched, and the instance belongs
    to the thread that built it. For Django's ``RedisCache``, django-redis and
    ``PyMemcacheCache`` a connect and read timeout of :data:`SOCKET_TIMEOUT` seconds is
    added unless ``OPTIONS`` set one; ``timeout`` (seconds) replaces both, set or not (the
    system check's short probe). Raises :class:`StoreError` when the entry is unknown or
    its backend cannot be imported.
    """
    params, dropped = store_params(setting, caches)
    if dropped and setting not in _SAID:
        _SAID.add(setting)
        logger.warning(
            "maintenance_env: the shared store %s ignores %s: an outage must never read as "
            "'no keys'",
            describe_setting(setting, caches),
            ", ".join(dropped),
        )
    try:
        cls = backend_class(params)
    except StoreError as exc:
        raise StoreError(
            f"MAINTENANCE_MODE_CACHE={mask(setting)!r}: {exc}",
            expected=exc.expected,
            hint=exc.hint,
        ) from None
    backend = params["BACKEND"]
    location = params["LOCATION"]
    names = {
        REDIS_BACKEND: ("socket_timeout", "socket_connect_timeout"),
        DJANGO_REDIS_BACKEND: ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT"),
        PYMEMCACHE_BACKEND: ("timeout", "connect_timeout"),
    }.get(backend, ())
    options = params["OPTIONS"]
    for name in names:
        if timeout is not None:
            options[name] = timeout
        else:
            options.setdefault(name, SOCKET_TIMEOUT)
    if not options:
        del params["OPTIONS"]
    del params["BACKEND"], params["LOCATION"]
    # Every backend of Django takes (location, params), though BaseCache only params.
    factory: Any = cls
    cache: BaseCache = factory(location, params)
    return cache


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
