"""This process's runtime: the one :class:`~maintenance_env.live.Runtime` the request path,
the Python API and jobs ask, and what belongs to the process rather than to a runtime.

- :func:`load_runtime`, :func:`get_runtime`, :func:`get_state` and :func:`reset`: the
  process's runtime is created when the middleware loads (or on first use) and forgotten
  when Django's ``setting_changed`` fires, so ``override_settings`` works in tests;
- the test override layer (:func:`push_override`, :func:`pop_override`), applied at once to
  the process's runtime;
- **the one at-fork hook** of the package: a child gets fresh locks and no thread, and
  starts as if it had never read the shared store (no I/O in the hook: it runs in every
  ``multiprocessing``, Celery prefork or ``subprocess`` ``preexec_fn`` child);
- sending :data:`maintenance_env.signals.maintenance_changed` for the process's runtime
  (a management command's or a check's private runtime sends nothing).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from maintenance_env import fleet, live, overrides, status_report, webhook
from maintenance_env.policy import Policy
from maintenance_env.signals import Change, maintenance_changed
from maintenance_env.variables import PREFIX

__all__ = ["get_runtime", "get_state", "load_runtime", "pop_override", "push_override", "reset"]

logger = logging.getLogger("maintenance_env")

_runtime: live.Runtime | None = None
_runtime_lock = threading.Lock()
#: Signal tasks scheduled on an event loop, kept until done (the loop keeps weak refs).
_tasks: set[asyncio.Task[Any]] = set()


def _announce(runtime: live.Runtime, change: Change) -> None:
    """Send ``maintenance_changed`` for the process's runtime; receivers' errors are
    logged, never raised."""
    if runtime is not _runtime or not maintenance_changed.has_listeners(live.Runtime):
        return
    try:
        arguments: dict[str, Any] = {
            "active": change.active,
            "previous": change.previous,
            "status": status_report.build_status(runtime, runtime.state()),
            "change": change,
        }
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            maintenance_changed.send_robust(sender=live.Runtime, **arguments)
            return
        # Under an event loop (ASGI) the receivers run in a task on it, so async ones can
        # be awaited and sync ones go to a thread: the request is not held up.
        task = loop.create_task(maintenance_changed.asend_robust(sender=live.Runtime, **arguments))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    except Exception:
        logger.exception("maintenance_env: sending maintenance_changed failed")


def push_override(values: Mapping[str, object]) -> object:
    """Put ``values`` (already validated) on top of every source; returns the token that
    :func:`pop_override` takes. The process's runtime resolves again at once."""
    token = overrides.OVERRIDES.push(values)
    _reapply()
    return token


def pop_override(token: object) -> None:
    """Take the override of ``token`` away (in any order; unknown tokens are ignored)."""
    overrides.OVERRIDES.pop(token)
    _reapply()


def _reapply() -> None:
    runtime = _runtime
    if runtime is not None:
        runtime.reapply("override")


def load_runtime() -> live.Runtime:
    """Read the environment and settings again, and make that the process's runtime.

    Raises ``ImproperlyConfigured`` naming every bad variable and value, so that a server
    never starts half-configured (system checks do not run under gunicorn or uvicorn).
    Nothing is read from the shared store here: a server's master may load the app and
    then fork; each process reads the store before its own first answer.
    """
    global _runtime
    runtime = live.Runtime(on_change=_announce)
    problems = runtime.problems
    if problems:
        runtime.close()
        raise ImproperlyConfigured(
            "django-maintenance-env is misconfigured:\n" + "\n".join(f"  {p}" for p in problems)
        )
    with _runtime_lock:
        old, _runtime = _runtime, runtime
    if old is not None:
        old.close()
    return runtime


def get_runtime() -> live.Runtime:
    """The process's runtime, loaded on first use."""
    runtime = _runtime
    if runtime is None:
        runtime = load_runtime()
    return runtime


def get_state() -> Policy:
    """The current policy; the one call the request path makes."""
    runtime = _runtime
    if runtime is None:
        runtime = load_runtime()
    return runtime.state()


def reset() -> None:
    """Forget the runtime: the next request or middleware load reads everything again."""
    global _runtime
    with _runtime_lock:
        old, _runtime = _runtime, None
    if old is not None:
        old.close()


def _after_fork_in_child() -> None:
    """The package's only at-fork hook. No I/O: it only replaces locks that another thread
    of the parent may have held at the fork, forgets the parent's thread, and marks the
    shared store as never read in this process (the next answer reads it, bounded)."""
    global _runtime_lock
    _runtime_lock = threading.Lock()
    overrides.OVERRIDES.after_fork()
    fleet.after_fork()
    webhook.after_fork()
    runtime = _runtime
    if runtime is not None:
        runtime.after_fork()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith(PREFIX) or setting in {
        "CACHES",
        "TEMPLATES",
        "LANGUAGE_CODE",
        "LANGUAGES",
        "LOCALE_PATHS",
        "TIME_ZONE",
        "USE_TZ",
        "USE_I18N",
        "SECRET_KEY",
        "ROOT_URLCONF",
        "LOGIN_URL",
    }:
        reset()
