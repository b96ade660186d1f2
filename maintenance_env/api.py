"""The Python API: :func:`is_active` and :func:`status`, this process's view for any code.

Views, Celery tasks, management commands and signal receivers ask the same runtime as the
middleware, live sources (the shared store, the mounted config) and test overrides
included::

    import maintenance_env

    if maintenance_env.is_active():
        ...

    info = maintenance_env.status()
    info.active, info.read_only, info.window, info.retry_after
    info.variables["MAINTENANCE_MODE"].origin        # Origin.CONFIG, say
    info.as_dict()                                   # what `maintenance_mode status --json` prints
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from maintenance_env import live, runtime
from maintenance_env.policy import Policy
from maintenance_env.status_report import PlatformInfo, Status, build_status, configured_platform

__all__ = ["Status", "detect_platform", "is_active", "status"]


def is_active() -> bool:
    """Whether maintenance is active in this process now: ``MAINTENANCE_MODE`` on and now
    inside [``STARTS_AT``, ``ENDS_AT``) and inside a window of ``MAINTENANCE_MODE_SCHEDULE``
    when one is set, from the same sources as the middleware, test
    overrides included.

    As cheap as the middleware's own check once the process has its runtime (a few
    hundred nanoseconds; with a live source, at most one poll per
    ``MAINTENANCE_MODE_RELOAD_INTERVAL``). The first call in a process that uses the
    shared store and has not read it yet (a worker that has just started) reads it once,
    waiting at most 1 s, except under a running event loop.

    Raises ``ImproperlyConfigured`` when the environment or settings hold a bad value, as
    the middleware does when it loads.
    """
    return runtime.get_state().is_active()


def detect_platform(current: live.Runtime, policy: Policy, detection_root: str) -> PlatformInfo:
    """The platform the management command prints commands for, and why: the one
    ``MAINTENANCE_MODE_PLATFORM`` names, else the one detected from the environment and
    the markers under ``detection_root``."""
    from maintenance_env import platforms  # the registry, only when it is needed

    configured = configured_platform(current, policy)
    if configured is not None:
        return configured
    detection = platforms.detect(os.environ, detection_root)
    return PlatformInfo(detection.name, detection.reason)


def status(*, detection_root: str = "/") -> Status:
    """This process's view: whether maintenance is active and why, the window, the
    ``Retry-After`` seconds, every variable's value and origin (secrets masked), what is
    wrong, the health of each live source and the last change seen.

    Unlike :func:`is_active` it never raises for a bad configuration: the problems are in
    :attr:`Status.problems`. ``detection_root`` is where platform markers are looked for
    (tests point it at a fake filesystem). Costs well under a millisecond (most of it
    looking for the platform's markers).
    """
    try:
        current = runtime.get_runtime()
    except ImproperlyConfigured:
        # Report what is wrong from a runtime of our own, without installing it.
        current = live.Runtime(background=False)
    policy = current.state()
    platform = detect_platform(current, policy, detection_root)
    return build_status(current, policy, platform=platform)
