"""The shared store: a Django cache that every process of a fleet reads, off the request path.

``MAINTENANCE_MODE_CACHE`` names the cache: an alias of ``CACHES``, or a cache URL in
django-environ's ``cache_url`` form (``redis://``, ``rediss://``, ``pymemcache://`` …) from
which a private cache instance is built. One key per variable, ``maintenance_env:<NAME>``,
through the cache's own key function (so ``KEY_PREFIX`` and ``VERSION`` apply), holding the
value's text, written with no expiry.

A per-process refresher thread reads every key in one ``get_many`` once per reload interval
and publishes what it read; the request path only picks up the published snapshot, so no
request ever waits on the network and an event loop is never blocked. The thread is started
on the first poll from a request in each process (so a prefork server's workers each start
their own after the fork, and a master that preloads the app starts none). While the store
fails, the last values read from it stay in force and the thread retries with a backoff
that never waits longer than the interval; before the first successful read the store
counts as absent.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.cache.backends.base import BaseCache
from django.utils.module_loading import import_string

from maintenance_env.sources.base import Snapshot
from maintenance_env.sources.deadline import Deadline, DeadlineExceeded
from maintenance_env.sources.refresher import Refresher
from maintenance_env.variables import Origin

__all__ = [
    "KEY_PREFIX",
    "LOCAL_BACKENDS",
    "PYMEMCACHE_BACKEND",
    "REDIS_BACKEND",
    "SOCKET_TIMEOUT",
    "SharedStore",
    "StoreError",
    "backend_path",
    "build_cache",
    "cache_params",
    "describe_error",
    "key",
    "mask",
]

logger = logging.getLogger("maintenance_env")

T = TypeVar("T")

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
#: The shortest pause between two reads (seconds), whatever the reload interval: with an
#: interval of 0 the store is read continuously, but never in a busy loop.
MIN_PAUSE = 0.05
#: While the store fails, the pause between attempts doubles from the interval up to this
#: many seconds, or the interval if that is longer: a dead store gets at most one attempt a
#: second from each process, and a store that comes back is read within that time.
MAX_RETRY_PAUSE = 1.0

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


def _setting_secrets(setting: str, caches: Mapping[str, Any] | None) -> tuple[str, ...]:
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


def _text(value: object) -> object:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # refused by the parsers as "not text", naming the variable
    return value


#: Seconds the package waits for a read of the store before it counts as failed: the
#: first read before a process answers, the system check's, and the refresher's.
READ_DEADLINE = 1.0
#: Seconds ``maintenance_mode … --write`` waits for the store to take the values.
WRITE_DEADLINE = 5.0

#: The error of a store that lost every key of the package after a read that found some.
LOST = (
    "lost every key of the package (a cache.clear(), an eviction or a cull?); keeping "
    "the values last read from it until maintenance_mode writes it again"
)


class SharedStore:
    """The shared store as a live source, read by a :class:`Refresher` thread of this process.

    :meth:`poll` never touches the network: it returns what the refresher last published,
    once per change, and starts the refresher the first time it is called in a process.
    ``names`` are the variables to read (the live ones); ``interval`` is the reload interval
    in seconds. ``background=False`` never starts the refresher: only :meth:`read_now`
    reads (a management command, a system check). ``on_change`` is called from the
    refresher after it published something new (the runtime uses it to poll at once).
    Every call to the cache has a deadline of the package's own (:class:`Deadline`).
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
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.setting = setting
        self.background = background
        self.on_change = on_change
        #: How logs and ``status`` name the store, credentials masked.
        self.where = describe_setting(setting, caches)
        self.label = f"the shared store {self.where}"
        #: What error texts are scrubbed of (a client may quote part of a URL).
        self.secrets = _setting_secrets(setting, caches)
        self.interval = interval
        self._names = tuple(names)
        self._caches = caches
        self._refresher = Refresher(self._refresh, self._pause, name="maintenance_env store reader")
        self._deadline = Deadline("maintenance_env store call")
        self._forget()

    def _forget(self) -> None:
        """As if this process had never read the store."""
        self._publishing = threading.Lock()
        # (generation, snapshot), replaced whole so that readers never see a mix.
        self._published: tuple[int, Snapshot] = (0, Snapshot({}, "not read yet", "pending"))
        self._seen = -1
        self._cache: BaseCache | None = None
        #: Whether a read in this process found any key of the package (for a lost store).
        self._found_keys = False
        #: ``time.time()`` of the last successful read, and of the first failure since.
        self.last_read: float | None = None
        #: When ``maintenance_mode`` last wrote the store, as last read (ISO 8601 text).
        self.changed_at: str | None = None
        self.failing_since: float | None = None
        #: Whether the store lost every key after a read that found some (until written).
        self.lost = False

    def after_fork(self) -> None:
        """In a child right after a fork: new locks, no thread, none of the parent's
        connections, and none of its values (no I/O)."""
        self._refresher.after_fork()
        self._deadline.after_fork()
        self._forget()

    # --- the request side ---------------------------------------------------------------

    def poll(self) -> Snapshot | None:
        """The snapshot last published by the refresher if it is new, else ``None``.

        Never waits on the network; the first call in a process starts its refresher.
        """
        if self.background:
            self._refresher.ensure_running()
        return self.peek()

    def peek(self) -> Snapshot | None:
        """Like :meth:`poll`, without starting the refresher (a runtime being built, maybe
        in a server's master process before it forks)."""
        generation, snapshot = self._published
        if generation == self._seen:
            return None
        self._seen = generation
        return snapshot

    @property
    def snapshot(self) -> Snapshot:
        """What was last published (values in force and the current error)."""
        return self._published[1]

    @property
    def reachable(self) -> bool | None:
        """Whether the last read succeeded; ``None`` before the first attempt."""
        snapshot = self.snapshot
        if snapshot.kind == "pending":
            return None
        return snapshot.error is None

    def stop(self) -> None:
        """Stop this process's refresher (tests; a new runtime replaces this one)."""
        self._refresher.stop()

    # --- reading --------------------------------------------------------------------------

    def read_once(self, cache: BaseCache) -> dict[str, object]:
        """Every variable present in the store, read in one ``get_many`` (may raise), with
        :data:`CHANGED_KEY` (kept as :attr:`changed_at`, not as a value). Sets
        :attr:`lost` when none of the keys is there after a read that found some."""
        found = cache.get_many([key(name) for name in self._names] + [CHANGED_KEY])
        if found:
            self._found_keys, self.lost = True, False
        elif self._found_keys and not self.lost:
            self.lost = True
        changed = found.get(CHANGED_KEY)
        self.changed_at = changed if isinstance(changed, str) else None
        values: dict[str, object] = {}
        for name in self._names:
            value = found.get(key(name))
            if value is not None:
                values[name] = _text(value)
        return values

    def _publish(self, values: Mapping[str, Any], error: str | None) -> bool:
        with self._publishing:
            generation, current = self._published
            if (
                current.kind != "pending"
                and dict(current.values) == dict(values)
                and current.error == error
            ):
                return False
            self._published = (generation + 1, Snapshot(dict(values), error, "cache"))
            return True

    def _pause(self, failures: int) -> float:
        """Seconds until the next read: the interval (at least :data:`MIN_PAUSE`); while
        the store fails, doubling from that up to :data:`MAX_RETRY_PAUSE` or the interval,
        whichever is longer, so that a dead store is not hammered and a store that is back
        is read again within that time."""
        pause = max(self.interval, MIN_PAUSE)
        if failures:
            ceiling = max(self.interval, MAX_RETRY_PAUSE)
            pause = min(pause * 2 ** min(failures - 1, 32), ceiling)
        return pause

    def _call(self, function: Callable[[], T], seconds: float, what: str) -> T:
        """``function()`` under the package's own deadline, as a :class:`StoreError`."""
        try:
            return self._deadline.call(function, seconds, f"the store {what}")
        except DeadlineExceeded as exc:
            raise StoreError(str(exc)) from None

    def _read(self, *, timeout: float | None = None, keep: bool = True) -> str | None:
        """One read, published; returns the error, if any. ``keep=False`` closes the
        cache's connections after the read (nothing left for a fork or another thread)."""
        error: str | None = None
        seconds = READ_DEADLINE if timeout is None else timeout

        def read() -> dict[str, object]:
            cache = self._cache if keep else None
            if cache is None:
                cache = build_cache(self.setting, self._caches, timeout=timeout)
            try:
                return self.read_once(cache)
            finally:
                if keep:
                    self._cache = cache
                else:
                    cache.close()

        try:
            values = self._call(read, seconds, "(reading)")
        except Exception as exc:
            self._cache = None  # a new client next time: this one may be broken
            if self.failing_since is None:
                self.failing_since = time.time()
            reason = str(exc) if isinstance(exc, StoreError) else describe_error(exc, self.secrets)
            error = f"cannot be read: {reason}"
            # Before the first good read the store counts as absent; after it, the last
            # values read stay in force.
            changed = self._publish(self.snapshot.values, error)
        else:
            self.last_read = time.time()
            if self.lost:
                error = LOST
                if self.failing_since is None:
                    self.failing_since = self.last_read
                changed = self._publish(self.snapshot.values, error)
            else:
                self.failing_since = None
                changed = self._publish(values, None)
        if changed and self.on_change is not None:
            self.on_change()
        return error

    def _refresh(self) -> bool:
        return self._read() is None

    def read_now(self, *, timeout: float | None = None) -> str | None:
        """Read the store once now, in this thread, and publish the result for the next
        :meth:`poll`, waiting at most ``timeout`` seconds (else :data:`READ_DEADLINE`).
        The connections of this read are closed after it. Returns the error, or ``None``."""
        return self._read(timeout=timeout, keep=False)

    # --- writing (``maintenance_mode on|off --write``) -----------------------------------

    def write(
        self, values: Mapping[str, str | None], *, cache: BaseCache | None = None
    ) -> dict[str, str]:
        """Set each variable to its text, with no expiry; ``None`` deletes the key so that
        lower sources apply again. Returns each variable's key as stored (after the cache's
        ``KEY_PREFIX`` and ``VERSION``). All values go in one ``set_many`` (a transaction
        with Django's ``RedisCache``), so the fleet reads all of them or none.

        The store is read first, so that one that cannot be reached fails before anything
        is sent. Raises :class:`StoreError` when the store cannot be reached or refuses,
        naming it with its credentials masked."""
        given = cache

        def send() -> dict[str, str]:
            cache = given
            try:
                cache = cache or build_cache(self.setting, self._caches)
                self.read_once(cache)
            except StoreError:
                raise
            except Exception as exc:
                reason = describe_error(exc, self.secrets)
                raise StoreError(
                    f"{self.label} cannot be reached ({reason}): nothing written"
                ) from None
            try:
                to_set = {key(n): v for n, v in values.items() if v is not None}
                to_delete = [key(n) for n, v in values.items() if v is None]
                # When, for `status` in any process: in the same set_many as the values.
                to_set[CHANGED_KEY] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                if to_set:
                    failed = cache.set_many(to_set, timeout=None)
                    if failed:
                        raise StoreError(
                            f"{self.label} did not keep {', '.join(sorted(failed))}: write again"
                        )
                if to_delete:
                    cache.delete_many(to_delete)
            except StoreError:
                raise
            except Exception as exc:
                reason = describe_error(exc, self.secrets)
                raise StoreError(
                    f"{self.label} failed while writing ({reason}): the write may or may not have "
                    "been applied; run `maintenance_mode status` to see"
                ) from None
            return {name: cache.make_key(key(name)) for name in values}

        try:
            return self._deadline.call(send, WRITE_DEADLINE, "the store (writing)")
        except DeadlineExceeded as exc:
            raise StoreError(
                f"{exc}: the write may or may not have been applied; run "
                "`maintenance_mode status` to see"
            ) from None
