"""Parts 1 and 2: the middleware alone, and full WSGI/ASGI handler loops, in one process.

Every configuration is one :class:`~benchmarks.timing.Case`. The synchronous ones (the
middleware alone, WSGI) are interleaved in the same rounds, so "overhead as a share of a
bare request" compares numbers taken side by side; the ASGI ones likewise among themselves.
maintenance_env's state is per process, so a case switches it (through the environment,
as a deployment would) before each of its batches; django-maintenance-mode's state is its
state file, switched with its own ``set_maintenance_mode``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async

from benchmarks import settings as bench_settings
from benchmarks import stacks
from benchmarks.timing import Case, Result, interleave, timed_loop
from maintenance_env import runtime, sources
from maintenance_env.middleware import MaintenanceModeMiddleware
from tests.kubelet import ConfigMapVolume

__all__ = [
    "READ_ONLY_OFF",
    "READ_ONLY_SAFE",
    "SCALE_BASE",
    "SCALE_NETWORKS",
    "SCALE_PATTERNS",
    "Configuration",
    "adaptation_report",
    "configurations",
    "measure",
    "scale_configurations",
]

OURS_TEMPLATE = "maintenance_env/maintenance.html"
ASGI_TARGET = 0.03  # seconds per ASGI batch: a request costs milliseconds there
PRINTED = "ours on, INFO lines printed"
STORE_OFF = "ours off, store"
STORE_ON = "ours on, store"
DMM_CACHE_OFF = "dmm off, cache"
DMM_CACHE_ON = "dmm on, cache"
#: The Redis databases holding our keys for the store cases: one value per database, so
#: that cases interleaved in one run never rewrite each other's state.
STORE_DB = {STORE_OFF: 0, STORE_ON: 1}
#: How long a store case's setup may wait for its refresher's first read (a bound).
FIRST_READ_TIMEOUT = 5.0
#: The name of the store's refresher threads (``maintenance_env.sources.store``).
REFRESHER_THREAD = "maintenance_env store reader"
CONTROL = "bare, 503 from a view"
HOP = "hop/one sync_to_async call"
#: Read-only mode configured, maintenance off; and on, with a safe request that passes.
READ_ONLY_OFF = "ours read-only, off"
READ_ONLY_SAFE = "ours read-only, GET passes"
STORE_READ = "poll/shared store, one read"
#: The scale rows: an active request that no exemption matches, with long lists.
SCALE_NETWORKS = "ours on, 10,000 EXCEPT_IPS networks"
SCALE_PATTERNS = "ours on, 1,000 EXCEPT_URLS patterns"
#: What the scale rows are compared with: the same request with no lists.
SCALE_BASE = "ours on"
#: None of them contains the request's 127.0.0.1.
NETWORKS = ",".join(f"10.{i // 256}.{i % 256}.0/24" for i in range(10_000))
#: None of them matches the request's path, "/".
PATTERNS = ",".join(rf"^/tenant{i}/(\w+)/detail$" for i in range(1_000))


def have_dmm() -> bool:
    try:
        import maintenance_mode.core  # noqa: F401
    except ImportError:
        return False
    return True


REQUEST_LOGGER = logging.getLogger("django.request")
# A console handler as a project's LOGGING may add, writing where nothing is kept.
PRINTER = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - open for the run
PRINTER.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))


def set_our_environment(values: dict[str, str], *, printed: bool = False) -> None:
    """Make ``values`` this process's MAINTENANCE_MODE* environment and load it.

    ``printed``: a handler on ``django.request`` prints INFO lines (Django's default
    LOGGING prints none with ``DEBUG = False``, so maintenance responses build no record).
    With ``MAINTENANCE_MODE_CACHE``, the store is read now and the refresher thread's
    first read is waited for, so that neither falls into a timed batch (in production
    each process reads once per ``MAINTENANCE_MODE_RELOAD_INTERVAL``).
    """
    if printed:
        REQUEST_LOGGER.addHandler(PRINTER)
    else:
        REQUEST_LOGGER.removeHandler(PRINTER)
    for name in [n for n in os.environ if n.startswith("MAINTENANCE_MODE")]:
        del os.environ[name]
    # django-maintenance-mode sets settings.MAINTENANCE_MODE_TEMPLATE = "503.html" (and
    # other shared names) when imported; the environment wins over settings for us.
    os.environ["MAINTENANCE_MODE_TEMPLATE"] = OURS_TEMPLATE
    os.environ.update(values)
    current = runtime.load_runtime()
    store = current.store
    if store is not None:
        if error := store.read_now():
            raise RuntimeError(f"the benchmark's redis-server cannot be read: {error}")
        current.refresh()  # in force now (another read); starts this process's refresher
        read = store.last_read  # after refresh(): only the refresher's own read changes it
        deadline = time.monotonic() + FIRST_READ_TIMEOUT
        while store.last_read == read and time.monotonic() < deadline:
            time.sleep(0.0005)
    # The replaced current's refresher wakes up, drops its Redis connection and exits in
    # its own thread: wait for that too, or it happens inside the next timed batch (store
    # cases then measured ~8% slower per WSGI request than the same requests timed apart).
    deadline = time.monotonic() + FIRST_READ_TIMEOUT
    while _refreshers() > (store is not None) and time.monotonic() < deadline:
        time.sleep(0.0005)


def _refreshers() -> int:
    """Refresher threads of the shared store alive in this process."""
    return sum(1 for t in threading.enumerate() if t.name == REFRESHER_THREAD)


def store_url(redis_url: str, name: str) -> str:
    """The URL of the Redis database that holds ``name``'s values."""
    return f"{redis_url.rsplit('/', 1)[0]}/{STORE_DB[name]}"


def write_store(redis_url: str) -> None:
    """Put each store case's ``MAINTENANCE_MODE`` into its database."""
    from maintenance_env.sources.store import SharedStore

    for name, value in ((STORE_OFF, "off"), (STORE_ON, "on")):
        store = SharedStore(store_url(redis_url, name), ["MAINTENANCE_MODE"], 1.0, background=False)
        store.write({"MAINTENANCE_MODE": value})


def set_dmm(active: bool, backend: str = "local") -> None:
    """Switch django-maintenance-mode with its own ``set_maintenance_mode``, its state in
    its default local file or (``backend="cache"``) in the benchmark's Redis through its
    ``CacheBackend``, which reads the cache on every request."""
    from django.conf import settings
    from maintenance_mode.core import set_maintenance_mode

    REQUEST_LOGGER.removeHandler(PRINTER)
    settings.MAINTENANCE_MODE_STATE_BACKEND = bench_settings.DMM_BACKENDS[backend]
    set_maintenance_mode(active)


@dataclass
class Configuration:
    """A maintenance setup: which middleware, how to switch it on, the status expected."""

    name: str
    middleware: str | None
    activate: Callable[[], None]
    status: int
    path: str = "/"  # the sync view, for WSGI
    async_path: str = "/async/"  # the async view, for ASGI


def configurations(workdir: Path, redis_url: str | None = None) -> list[Configuration]:
    """bare, ours off / off with a mounted config / on (and with its log line printed),
    read-only mode configured but off / on with a GET that passes, the 503 control, dmm
    off / on (when installed); with ``redis_url`` (a running redis-server, its keys written
    by :func:`write_store`) also ours off / on with the shared store, and dmm off / on with
    its ``CacheBackend`` on the same server."""
    volume = ConfigMapVolume(workdir / "configmap", {"MAINTENANCE_MODE": "off"})
    ours = stacks.OURS_MIDDLEWARE
    found = [
        Configuration("bare", None, lambda: set_our_environment({}), 200),
        Configuration(
            "ours off", ours, lambda: set_our_environment({"MAINTENANCE_MODE": "off"}), 200
        ),
        Configuration(
            "ours off, mounted",
            ours,
            lambda: set_our_environment({"MAINTENANCE_MODE_CONFIG_PATH": str(volume.root)}),
            200,
        ),
        Configuration(
            "ours on", ours, lambda: set_our_environment({"MAINTENANCE_MODE": "on"}), 503
        ),
        Configuration(
            READ_ONLY_OFF,
            ours,
            lambda: set_our_environment(
                {"MAINTENANCE_MODE": "off", "MAINTENANCE_MODE_READ_ONLY": "on"}
            ),
            200,
        ),
        Configuration(
            READ_ONLY_SAFE,
            ours,
            lambda: set_our_environment(
                {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_READ_ONLY": "on"}
            ),
            200,
        ),
        # Diagnostic: what the per-response INFO line costs when a handler prints it.
        Configuration(
            PRINTED,
            ours,
            lambda: set_our_environment({"MAINTENANCE_MODE": "on"}, printed=True),
            503,
        ),
        # Control: the least a 503 costs through Django's handler.
        Configuration(
            CONTROL,
            None,
            lambda: set_our_environment({}),
            503,
            path="/unavailable/",
            async_path="/async/unavailable/",
        ),
    ]
    if redis_url is not None:
        found += [
            Configuration(
                name,
                ours,
                lambda name=name: set_our_environment(  # type: ignore[misc]
                    {"MAINTENANCE_MODE_CACHE": store_url(redis_url, name)}
                ),
                status,
            )
            for name, status in ((STORE_OFF, 200), (STORE_ON, 503))
        ]
    if have_dmm():
        found += [
            Configuration("dmm off", stacks.DMM_MIDDLEWARE, lambda: set_dmm(False), 200),
            Configuration("dmm on", stacks.DMM_MIDDLEWARE, lambda: set_dmm(True), 503),
        ]
        if redis_url is not None:
            found += [
                Configuration(
                    DMM_CACHE_OFF, stacks.DMM_MIDDLEWARE, lambda: set_dmm(False, "cache"), 200
                ),
                Configuration(
                    DMM_CACHE_ON, stacks.DMM_MIDDLEWARE, lambda: set_dmm(True, "cache"), 503
                ),
            ]
    return found


def scale_configurations() -> list[Configuration]:
    """Maintenance on with 10,000 ``EXCEPT_IPS`` networks, and with 1,000 ``EXCEPT_URLS``
    patterns, none of which lets the request through (issue 18's scale rows)."""
    ours = stacks.OURS_MIDDLEWARE
    return [
        Configuration(
            name,
            ours,
            lambda name=name, values=values: set_our_environment(  # type: ignore[misc]
                {"MAINTENANCE_MODE": "on", name: values}
            ),
            503,
        )
        for name, values in (
            ("MAINTENANCE_MODE_EXCEPT_IPS", NETWORKS),
            ("MAINTENANCE_MODE_EXCEPT_URLS", PATTERNS),
        )
    ]


def _scale_cases() -> list[Case]:
    """The middleware alone under each scale configuration, named for its row."""
    cases = []
    for config, name in zip(scale_configurations(), (SCALE_NETWORKS, SCALE_PATTERNS), strict=True):
        case = _alone_case(config)
        cases.append(Case(f"alone/{name}", case.setup, case.run))
    return cases


def _check(name: str, got: int, expected: int) -> None:
    if got != expected:
        raise RuntimeError(f"{name}: status {got}, expected {expected}")


def _then(activate: Callable[[], None], call: Callable[[], object]) -> Callable[[], None]:
    """A case's setup: switch the configuration, then serve one request untimed.

    Switching reloads the configuration, and the first maintenance response after a
    reload renders the page (once per configuration change, as in production): that
    must not be charged to the next batch.
    """

    def setup() -> None:
        activate()
        call()

    return setup


def _alone_case(config: Configuration) -> Case:
    config.activate()
    if config.middleware is None:
        middleware: Callable[[Any], Any] = stacks.PassThroughMiddleware(stacks.trivial_get_response)
        name = "pass-through"
    elif config.middleware == stacks.OURS_MIDDLEWARE:
        middleware = MaintenanceModeMiddleware(stacks.trivial_get_response)
        name = config.name
    else:
        from maintenance_mode.middleware import (
            MaintenanceModeMiddleware as DmmMiddleware,
        )

        middleware = DmmMiddleware(stacks.trivial_get_response)
        name = config.name
    request = stacks.prebuilt_request()
    config.activate()  # again: loading our middleware reloads the configuration
    _check(f"alone/{name}", middleware(request).status_code, config.status)
    return Case(
        f"alone/{name}",
        _then(config.activate, lambda: middleware(request)),
        timed_loop(lambda: middleware(request)),
    )


def _chain(config: Configuration) -> list[str]:
    return [*stacks.BASE_MIDDLEWARE, *([config.middleware] if config.middleware else [])]


def _wsgi_case(config: Configuration) -> Case:
    config.activate()
    handler = stacks.wsgi_handler(_chain(config))
    environ = stacks.wsgi_environ(config.path)
    config.activate()  # again: loading our middleware reloads the configuration
    _check(f"wsgi/{config.name}", stacks.call_wsgi(handler, environ)[0], config.status)
    return Case(
        f"wsgi/{config.name}",
        _then(config.activate, lambda: stacks.call_wsgi(handler, environ)),
        timed_loop(lambda: stacks.call_wsgi(handler, environ)),
    )


def _asgi_case(config: Configuration, loops: list[asyncio.AbstractEventLoop]) -> Case:
    config.activate()
    handler = stacks.asgi_handler(_chain(config))
    scope = stacks.asgi_scope(config.async_path)
    config.activate()  # again: loading our middleware reloads the configuration
    # One loop per case for the whole run, as a server keeps one: a fresh loop per batch
    # would also start fresh executor threads for Django's sync_to_async calls.
    event_loop = asyncio.new_event_loop()
    loops.append(event_loop)

    async def loop(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await stacks.call_asgi(handler, scope)
        return time.perf_counter() - start

    status = event_loop.run_until_complete(stacks.call_asgi(handler, scope))[0]
    _check(f"asgi/{config.name}", status, config.status)

    def warm_up() -> None:
        event_loop.run_until_complete(stacks.call_asgi(handler, scope))

    return Case(
        f"asgi/{config.name}",
        _then(config.activate, warm_up),
        lambda n: event_loop.run_until_complete(loop(n)),
    )


def _hop_case(loops: list[asyncio.AbstractEventLoop]) -> Case:
    """One ``sync_to_async`` call of a no-op, as Django makes for ``log_response``."""
    event_loop = asyncio.new_event_loop()
    loops.append(event_loop)
    hop = sync_to_async(lambda: None, thread_sensitive=False)

    async def loop(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await hop()
        return time.perf_counter() - start

    return Case(HOP, lambda: None, lambda n: event_loop.run_until_complete(loop(n)))


def _poll_case(workdir: Path) -> Case:
    """One check of the mounted config that finds no change: what each process pays once
    per ``MAINTENANCE_MODE_RELOAD_INTERVAL``."""
    volume = ConfigMapVolume(
        workdir / "polled", {"MAINTENANCE_MODE": "off", "MAINTENANCE_MODE_MESSAGE": "Back soon."}
    )
    mounted = sources.MountedConfig(str(volume.root))
    mounted.poll()
    return Case("poll/mounted config, no change", lambda: None, timed_loop(mounted.poll))


def _store_read_case(redis_url: str) -> Case:
    """One read of the shared store by the refresher thread (one ``get_many`` of every
    live variable over loopback): what each process pays once per
    ``MAINTENANCE_MODE_RELOAD_INTERVAL``, off the request path."""
    from maintenance_env.cache_build import build_cache
    from maintenance_env.sources.store import SharedStore
    from maintenance_env.variables import LIVE_NAMES

    url = store_url(redis_url, STORE_OFF)
    store = SharedStore(url, LIVE_NAMES, 1.0, background=False)
    cache = build_cache(url)
    store.read_once(cache)
    return Case(STORE_READ, lambda: None, timed_loop(lambda: store.read_once(cache)))


def measure(
    *,
    rounds: int,
    target: float,
    redis_url: str | None = None,
    more: Callable[[], Sequence[Configuration]] = tuple,
    alone_only: Callable[[Path], Sequence[Configuration]] = lambda workdir: (),
) -> dict[str, Result]:
    """Every in-process case, interleaved (the store cases when ``redis_url`` is given:
    a running redis-server, see :func:`configurations`). ``more()``: configurations
    measured like these; ``alone_only(workdir)``: configurations measured by the
    middleware alone only (``benchmarks.offpath``)."""
    loops: list[asyncio.AbstractEventLoop] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        if redis_url is not None:
            write_store(redis_url)
        configs = [*configurations(workdir, redis_url), *more()]
        extra = list(alone_only(workdir))
        try:
            # Two groups, each interleaved on its own, so that a round stays short and the
            # cases compared with each other are measured close together in time.
            sync_cases = [_alone_case(c) for c in configs if c.name != CONTROL]
            sync_cases += [_alone_case(c) for c in extra]
            sync_cases += _scale_cases()
            sync_cases += [_wsgi_case(c) for c in configs]
            sync_cases.append(_poll_case(workdir))
            if redis_url is not None:
                sync_cases.append(_store_read_case(redis_url))
            async_cases = [_asgi_case(c, loops) for c in configs]
            async_cases.append(_hop_case(loops))
            results = interleave(sync_cases, rounds=rounds, target=target)
            results.update(interleave(async_cases, rounds=rounds, target=ASGI_TARGET))
            return results
        finally:
            for event_loop in loops:
                event_loop.close()
            set_our_environment({})


def adaptation_report(requests: int = 20, redis_url: str | None = None) -> list[dict[str, Any]]:
    """Per configuration: adapters Django logs at load, and thread hops per ASGI request."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for config in configurations(Path(tmp), redis_url):
            if config.name == PRINTED:
                continue
            config.activate()
            with stacks.adapted_middleware() as adapted:
                handler = stacks.asgi_handler(_chain(config))
            config.activate()
            scope = stacks.asgi_scope(config.async_path)

            async def loop(handler: Any = handler, scope: dict[str, Any] = scope) -> None:
                for _ in range(requests):
                    await stacks.call_asgi(handler, scope)

            asyncio.run(loop())  # warm up
            with stacks.thread_hops() as hops:
                asyncio.run(loop())
            rows.append(
                {
                    "name": config.name,
                    "adapted": len(adapted),
                    "sync_to_async": hops["sync_to_async"] / requests,
                    "async_to_sync": hops["async_to_sync"] / requests,
                }
            )
        set_our_environment({})
    return rows
