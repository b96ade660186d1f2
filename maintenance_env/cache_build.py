"""Building the store's private cache instance from a setting: the backend imported with
its client library, the options that would hide an outage forced off, socket timeouts
added, and never the alias's ``KEY_PREFIX``, ``VERSION`` or ``KEY_FUNCTION``.

What a setting means (the URL grammar, the alias lookup, masking) is
:mod:`maintenance_env.cache_url`; this module only builds. It never connects: the first
call on the instance does.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.utils.module_loading import import_string

from maintenance_env.cache_url import (
    DJANGO_REDIS_BACKEND,
    PYLIBMC_BACKEND,
    PYMEMCACHE_BACKEND,
    REDIS_BACKEND,
    StoreError,
    backend_path,
    cache_params,
    describe_setting,
    mask,
)

__all__ = [
    "CLIENTS",
    "FORCED_OPTIONS",
    "SOCKET_TIMEOUT",
    "SWALLOWING_OPTIONS",
    "backend_class",
    "build_cache",
    "refusal",
    "store_params",
]

logger = logging.getLogger("maintenance_env")

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
#: Seconds a read or a connection may take before it counts as a failure. Django's
#: ``RedisCache`` (and pymemcache) have none by default, so a hung server would block the
#: reader forever; it is added when the cache's ``OPTIONS`` do not set one.
SOCKET_TIMEOUT = 1.0


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
