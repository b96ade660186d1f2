"""The shared store: a Django cache that every process of a fleet reads, off the request path.

``MAINTENANCE_MODE_CACHE`` names the cache: an alias of ``CACHES``, or a cache URL in
django-environ's ``cache_url`` form (``redis://``, ``rediss://``, ``pymemcache://`` …) from
which a private cache instance is built. One key per variable, ``maintenance_env:<NAME>``,
through the cache's own key function (so ``KEY_PREFIX`` and ``VERSION`` apply), holding the
value's text, written with no expiry.

A per-process refresher thread reads every key in one ``get_many`` once per reload interval
and publishes what it read; the request path only picks up the published snapshot, so no
request ever waits on the network and an event loop is never blocked. The thread is started
on the first poll in each process (so a prefork server's workers each start their own after
the fork). While the store fails, the last values read from it stay in force and the thread
retries sooner at first, then once per interval; before the first successful read the store
counts as absent.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.utils.module_loading import import_string

from maintenance_env.sources.base import Snapshot
from maintenance_env.variables import Origin

__all__ = [
    "KEY_PREFIX",
    "REDIS_BACKEND",
    "SOCKET_TIMEOUT",
    "SharedStore",
    "StoreError",
    "build_cache",
    "describe_error",
    "key",
    "mask",
]

logger = logging.getLogger("maintenance_env")

#: Each variable's key in the cache, before the cache's own ``KEY_PREFIX`` and ``VERSION``.
KEY_PREFIX = "maintenance_env:"
REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"
#: Seconds a read or a connection may take before it counts as a failure. Django's
#: ``RedisCache`` has none by default, so a hung server would block the reader forever;
#: it is added when the cache's ``OPTIONS`` do not set one.
SOCKET_TIMEOUT = 1.0
#: The shortest pause between two reads (seconds), whatever the reload interval: with an
#: interval of 0 the store is read continuously, but never in a busy loop.
MIN_PAUSE = 0.05

_URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
_CREDENTIALS_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^@/?#]*)@", re.I)


class StoreError(Exception):
    """The shared store cannot be used: unknown alias, bad URL, unreachable, failing.

    The message names the store with its credentials masked.
    """


def key(name: str) -> str:
    """The cache key of a variable, before the cache's ``KEY_PREFIX``/``VERSION``."""
    return KEY_PREFIX + name


def mask(setting: str) -> str:
    """``setting`` with any password in a URL replaced by ``***`` (a user name is kept).

    >>> mask("redis://:hunter2@cache.internal:6379/0")
    'redis://:***@cache.internal:6379/0'
    """

    def hide(match: re.Match[str]) -> str:
        user, _, password = match["userinfo"].partition(":")
        shown = f"{user}:***" if password or ":" in match["userinfo"] else user
        return f"{match['scheme']}{shown}@"

    return _CREDENTIALS_RE.sub(hide, setting)


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
                f"django-environ can read ({exc.__class__.__name__})"
            ) from None
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


def build_cache(setting: str, caches: Mapping[str, Any] | None = None) -> BaseCache:
    """A private cache instance for ``setting``, as Django's ``CacheHandler`` would build it.

    Private: the request path's ``caches[alias]`` are not touched, and the instance belongs
    to the thread that built it. For Django's ``RedisCache`` a socket timeout of
    :data:`SOCKET_TIMEOUT` seconds is added unless ``OPTIONS`` set one. Raises
    :class:`StoreError` when the entry is unknown or its backend cannot be imported.
    """
    params = cache_params(setting, caches)
    backend = params.pop("BACKEND", "django.core.cache.backends.locmem.LocMemCache")
    location = params.pop("LOCATION", "")
    if backend == REDIS_BACKEND:
        options = params.setdefault("OPTIONS", {})
        options.setdefault("socket_timeout", SOCKET_TIMEOUT)
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
    try:
        backend_class = import_string(backend)
    except ImportError as exc:
        raise StoreError(
            f"the cache backend {backend!r} of MAINTENANCE_MODE_CACHE={mask(setting)!r} "
            f"cannot be imported ({exc}); for Redis, install django-maintenance-env[redis]"
        ) from None
    cache: BaseCache = backend_class(location, params)
    return cache


def describe_error(exc: BaseException) -> str:
    """One line for a failure of the store, without credentials."""
    text = mask(str(exc)).strip().splitlines()
    detail = text[0] if text else ""
    name = exc.__class__.__name__
    return f"{name}: {detail}" if detail else name


def _text(value: object) -> object:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # refused by the parsers as "not text", naming the variable
    return value


class SharedStore:
    """The shared store as a live source, read by a refresher thread of this process.

    :meth:`poll` never touches the network: it returns what the refresher last published,
    once per change. ``names`` are the variables to read (the live ones).
    """

    origin = Origin.CACHE

    def __init__(
        self,
        setting: str,
        names: Iterable[str],
        interval: float,
        *,
        caches: Mapping[str, Any] | None = None,
        background: bool = True,
    ) -> None:
        self.setting = setting
        #: Whether :meth:`poll` starts the refresher thread; without it only
        #: :meth:`read_now` reads (a management command, a system check).
        self.background = background
        self.label = f"the shared store {mask(setting)}"
        self.interval = interval
        self._names = tuple(names)
        self._caches = caches
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None
        self._stopped = False
        # (generation, snapshot), replaced whole so that readers never see a mix.
        self._published: tuple[int, Snapshot] = (0, Snapshot({}, "not read yet", "pending"))
        self._seen = -1
        #: ``time.time()`` of the last successful read, and of the first failure since.
        self.last_read: float | None = None
        self.failing_since: float | None = None
        #: Called (by the refresher thread) after each new publication, so that the
        #: runtime picks it up on its next request instead of an interval later.
        self.on_publish: Callable[[], None] | None = None

    # --- the request side ---------------------------------------------------------------

    def poll(self) -> Snapshot | None:
        """The snapshot last published by the refresher if it is new, else ``None``."""
        if self.background and self._pid != os.getpid():
            self._start()
        generation, snapshot = self._published
        if generation == self._seen:
            return None
        self._seen = generation
        return snapshot

    @property
    def snapshot(self) -> Snapshot:
        """What the refresher last published (values in force and the current error)."""
        return self._published[1]

    def stop(self) -> None:
        """Stop this process's refresher (tests; a new runtime replaces this one)."""
        self._stopped = True
        self._wake.set()

    def _start(self) -> None:
        with self._guard:
            pid = os.getpid()
            if self._pid == pid or self._stopped:
                return
            self._pid = pid
            thread = threading.Thread(
                target=self._run, args=(pid,), name="maintenance_env store reader", daemon=True
            )
            thread.start()

    # --- the refresher thread -------------------------------------------------------------

    def read_once(self, cache: BaseCache) -> dict[str, object]:
        """Every variable present in the store, read in one ``get_many`` (may raise)."""
        found = cache.get_many([key(name) for name in self._names])
        values: dict[str, object] = {}
        for name in self._names:
            value = found.get(key(name))
            if value is not None:
                values[name] = _text(value)
        return values

    def _publish(self, values: Mapping[str, Any], error: str | None) -> None:
        generation, current = self._published
        if dict(current.values) == dict(values) and current.error == error:
            return
        self._published = (generation + 1, Snapshot(dict(values), error, "cache"))
        if self.on_publish is not None:
            self.on_publish()

    def _pause(self, failures: int) -> float:
        """Seconds until the next read: the interval, or sooner while the store has just
        started failing (1/8, 1/4, 1/2 of it), so a short blip heals fast and a long outage
        costs one attempt per interval."""
        interval = max(self.interval, MIN_PAUSE)
        if failures:
            interval = interval / 2 ** max(0, 4 - failures)
        return max(interval, MIN_PAUSE)

    def _read(self, cache: BaseCache | None) -> tuple[BaseCache | None, str | None]:
        """One read, published; returns the cache to reuse and the error, if any."""
        try:
            if cache is None:
                cache = build_cache(self.setting, self._caches)
            values = self.read_once(cache)
        except Exception as exc:
            if self.failing_since is None:
                self.failing_since = time.time()
            error = str(exc) if isinstance(exc, StoreError) else describe_error(exc)
            # Before the first good read the store counts as absent; after it, the last
            # values read stay in force.
            self._publish(self.snapshot.values, error)
            return cache, error
        self.last_read = time.time()
        self.failing_since = None
        self._publish(values, None)
        return cache, None

    def read_now(self) -> str | None:
        """Read the store once now, in this thread (it may wait up to the socket timeout),
        and publish the result for the next :meth:`poll`. Returns the error, or ``None``."""
        return self._read(None)[1]

    def _run(self, pid: int) -> None:
        cache: BaseCache | None = None
        failures = 0
        while not self._stopped and os.getpid() == pid:
            cache, error = self._read(cache)
            failures = failures + 1 if error else 0
            self._wake.wait(self._pause(failures))

    # --- writing (``maintenance_mode on|off --write``) -----------------------------------

    def write(self, values: Mapping[str, str | None], *, cache: BaseCache | None = None) -> None:
        """Set each variable to its text, with no expiry; ``None`` deletes the key so that
        lower sources apply again. Raises :class:`StoreError` when the store cannot be
        reached or refuses, before or while writing."""
        try:
            cache = cache or build_cache(self.setting, self._caches)
            to_set = {key(n): v for n, v in values.items() if v is not None}
            to_delete = [key(n) for n, v in values.items() if v is None]
            if to_set:
                failed = cache.set_many(to_set, timeout=None)
                if failed:
                    raise StoreError(f"the store did not keep {', '.join(sorted(failed))}")
            if to_delete:
                cache.delete_many(to_delete)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self.label} cannot be written: {describe_error(exc)}") from None
