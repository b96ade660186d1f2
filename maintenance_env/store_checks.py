"""System checks of the shared store: what makes it a poor home for the switch (from the
settings alone), a store that lost every key, and, with ``check --deploy`` only, whether
it can be read now, within a deadline of the check's own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Warning

from maintenance_env import cache_build, cache_url
from maintenance_env import runtime as process
from maintenance_env.cache_url import LOCAL_BACKENDS, StoreError, backend_path
from maintenance_env.live import Runtime
from maintenance_env.sources.store import LOST

__all__ = [
    "STORE_CHECK_TIMEOUT",
    "STORE_TAG",
    "check_store_reachable",
    "lost_store",
    "store_problems",
]

#: Seconds the deploy check waits for the shared store before warning that it cannot be
#: read: a deadline of the check's own, whatever the backend and its client do.
STORE_CHECK_TIMEOUT = 1.0
#: The tag of the check that reads the shared store: it runs with ``check --deploy`` only
#: (``check --deploy --tag maintenance_env_store`` runs it alone), so that ``check``,
#: ``migrate`` and ``runserver`` never wait on the network.
STORE_TAG = "maintenance_env_store"


def lost_store() -> list[CheckMessage]:
    """The process's store lost every key after a read that found some (a fresh
    process cannot know: it has never seen them)."""
    current = process._runtime
    store = current.store if current is not None else None
    if store is None or not store.lost:
        return []
    return [
        Warning(
            f"{store.label[0].upper()}{store.label[1:]} {LOST}.",
            hint="Write the switch again (manage.py maintenance_mode on|off --write), and "
            "give the store a cache of its own that nothing clears or culls.",
            id="maintenance_env.W011",
        )
    ]


def store_problems(runtime: Runtime) -> list[CheckMessage]:
    """What makes a valid store a poor home for the switch; nothing is connected to.

    W008: a cache that is not shared between processes. W021: the app's ``default``
    cache, which deploy scripts clear. W022: a backend that culls past ``MAX_ENTRIES``.
    W023: an option that turns errors into misses, which the store ignores.
    """
    store = runtime.store
    if store is None:
        return []
    try:
        params, dropped = cache_build.store_params(store.setting)
    except StoreError:  # reported as E022 already
        return []
    backend = backend_path(params)
    messages: list[CheckMessage] = []
    if backend in LOCAL_BACKENDS:
        what, missed = LOCAL_BACKENDS[backend]
        messages.append(
            Warning(
                f"MAINTENANCE_MODE_CACHE names {store.where}, {what}: it is not a shared "
                f"store, so a switch written there does not reach {missed}.",
                hint="Use a cache every process reaches, such as Redis (Django's RedisCache: "
                "redis://host:6379/0), or the mounted config.",
                id="maintenance_env.W008",
            )
        )
    if store.setting == "default":
        messages.append(
            Warning(
                "MAINTENANCE_MODE_CACHE names the app's default cache: a cache.clear() in a "
                "deploy script, or any eviction, removes the switch with the cache data.",
                hint="Give the store a cache of its own: another alias of CACHES, or a URL "
                "such as redis://HOST:6379/1 (its own database number).",
                id="maintenance_env.W021",
            )
        )
    limit = cache_url.culls(params)
    if limit is not None and not cache_url.is_url(store.setting):
        messages.append(
            Warning(
                f"MAINTENANCE_MODE_CACHE names {store.where}, a {backend.rsplit('.', 1)[-1]} "
                f"that deletes entries past MAX_ENTRIES={limit}: the switch may be culled "
                "with the app's cache data.",
                hint="Give the store a table of its own: MAINTENANCE_MODE_CACHE="
                "dbcache://maintenance_env_store, then 'python manage.py createcachetable "
                "maintenance_env_store'.",
                id="maintenance_env.W022",
            )
        )
    shared = _sharing_alias(store.setting, backend, params)
    if shared is not None:
        messages.append(
            Warning(
                f"MAINTENANCE_MODE_CACHE={store.where} uses the table of CACHES[{shared!r}]: "
                "that cache's culling past MAX_ENTRIES and its clear() delete the switch.",
                hint="Give the store a table of its own: MAINTENANCE_MODE_CACHE="
                "dbcache://maintenance_env_store, then 'python manage.py createcachetable "
                "maintenance_env_store'.",
                id="maintenance_env.W022",
            )
        )
    if dropped:
        messages.append(
            Warning(
                f"MAINTENANCE_MODE_CACHE names {store.where}, whose OPTIONS set "
                f"{', '.join(dropped)}: the store ignores it, since an outage must never "
                "read as 'maintenance off'.",
                hint="Nothing to do for the store; the app's own use of the cache keeps the "
                "option.",
                id="maintenance_env.W023",
            )
        )
    return messages


def _sharing_alias(setting: str, backend: str, params: dict[str, Any]) -> str | None:
    """The alias of ``CACHES`` whose ``DatabaseCache`` table a ``dbcache://TABLE`` store
    shares, if one does (an alias store is checked for culling itself)."""
    if not cache_url.is_url(setting) or backend != cache_url.DATABASE_BACKEND:
        return None
    for alias, conf in getattr(settings, "CACHES", {}).items():
        if backend_path(conf) == backend and conf.get("LOCATION") == params.get("LOCATION"):
            return str(alias)
    return None


def _read_within(runtime: Runtime, seconds: float) -> str | None:
    """The store read once in a daemon thread, waited for at most ``seconds``: the error,
    ``None`` when it was read, or a timeout error (the thread is left to finish)."""
    store = runtime.store
    assert store is not None
    outcome: list[str | None] = []
    reader = threading.Thread(
        target=lambda: outcome.append(store.read_now(timeout=seconds)),
        name="maintenance_env store check",
        daemon=True,
    )
    reader.start()
    reader.join(seconds)
    if not outcome:
        return f"cannot be read: no answer within {seconds:g} s"
    return outcome[0]


def check_store_reachable(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """W009: the shared store cannot be read now, waited for at most
    :data:`STORE_CHECK_TIMEOUT` seconds. Registered for ``check --deploy`` only."""
    runtime = Runtime(background=False)
    store = runtime.store
    if store is None:
        return []
    try:
        params = cache_url.cache_params(store.setting)
    except StoreError:
        return []
    if backend_path(params) in LOCAL_BACKENDS:
        return []
    error = _read_within(runtime, STORE_CHECK_TIMEOUT)
    if error is None:
        return []
    fix = cache_url.table_fix(params)
    hint = (
        f"Create the store's table: {fix}."
        if fix
        else "Check the address, the password and the network path to the store "
        "(MAINTENANCE_MODE_CACHE)."
    )
    return [
        Warning(
            f"{store.label[0].upper()}{store.label[1:]} {error} (within "
            f"{STORE_CHECK_TIMEOUT:g} s). Servers start anyway: until it is read it counts "
            "as absent, and the environment and settings decide.",
            hint=hint,
            id="maintenance_env.W009",
        )
    ]
