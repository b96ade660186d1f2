"""``skip_during_maintenance``: jobs that do not run while maintenance is active.

For plain functions, async functions and Celery tasks (put it *below* the task
decorator, so that it wraps the function the task runs)::

    from maintenance_env import skip_during_maintenance

    @app.task(max_retries=None)
    @skip_during_maintenance
    def sync_orders(since): ...          # retried after the window: nothing is lost

    @skip_during_maintenance
    def refresh_sitemap(): ...           # skipped, with a WARNING naming it

While maintenance is active (:func:`maintenance_env.is_active`, this process's view,
live sources included), the function's body does not run. What happens instead is
``action``:

- by default (``action=None``): a Celery task is retried, a plain function skipped;
- ``"retry"``: the running Celery task (bound or not) calls Celery's own
  ``task.retry(countdown=...)``, which raises ``Retry`` and schedules it again; called
  outside a Celery task, it raises :class:`MaintenanceActive`, which a job runner's own
  retry (or Celery's ``autoretry_for=(MaintenanceActive,)``) can act on;
- ``"skip"``: it returns ``None``; every skipped call is logged at WARNING on the
  ``maintenance_env`` logger, naming the function: that call is gone, not postponed;
- ``"raise"``: it raises :class:`MaintenanceActive`.

The retry's countdown is ``countdown``, or else the seconds until the maintenance window
ends (the maintenance response's ``Retry-After``), and never more than ``max_countdown``
(300 s by default). A task retried later than the broker's ``visibility_timeout`` (Redis
and SQS: one hour by default) is handed to a second worker while the first still holds
it, and then runs more than once: keep ``max_countdown`` well under it. Each retry
counts against the task's ``max_retries`` (Celery's default is 3): give tasks that may
wait out a long window ``max_retries=None``.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

from asgiref.sync import iscoroutinefunction

from maintenance_env import runtime

__all__ = ["ACTIONS", "MAX_COUNTDOWN", "MaintenanceActive", "skip_during_maintenance"]

logger = logging.getLogger("maintenance_env")

F = TypeVar("F", bound=Callable[..., Any])
Action = Literal["skip", "raise", "retry"]
ACTIONS: tuple[Action, ...] = ("skip", "raise", "retry")


class MaintenanceActive(Exception):
    """A job was not run because maintenance is active.

    ``retry_after`` is the seconds after which trying again makes sense (``None``: no
    estimate, ``MAINTENANCE_MODE_RETRY_AFTER=0``).
    """

    def __init__(self, name: str, retry_after: int | None) -> None:
        self.name = name
        self.retry_after = retry_after
        super().__init__(f"{name} did not run: maintenance is active")

    def __reduce__(self) -> tuple[type[MaintenanceActive], tuple[str, int | None]]:
        # Picklable as its arguments, so a result backend (or Celery's eager result) can
        # hand it back as itself.
        return type(self), (self.name, self.retry_after)


def _celery_task(candidate: object) -> bool:
    """Whether ``candidate`` is a Celery task (looked up only if Celery is imported)."""
    module = sys.modules.get("celery.app.task")
    task_class = getattr(module, "Task", None)
    return task_class is not None and isinstance(candidate, task_class)


#: The longest countdown of a retry by default, in seconds: well under the one-hour
#: ``visibility_timeout`` of Celery's Redis and SQS transports.
MAX_COUNTDOWN = 300


def _running_task(wrapper: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """The Celery task whose body is ``wrapper`` and that is running it now (bound: its
    first argument; unbound: Celery's current task), or ``None`` for a plain call."""
    if args and _celery_task(args[0]):
        return args[0]
    state = sys.modules.get("celery._state")
    task = state.get_current_task() if state is not None else None
    run = getattr(task, "run", None)
    if run is not None and (run is wrapper or getattr(run, "__func__", None) is wrapper):
        return task
    return None


def _stopped(
    name: str,
    action: Action | None,
    countdown: int | None,
    max_countdown: int,
    wrapper: Callable[..., Any],
    args: tuple[Any, ...],
) -> bool:
    """``False`` when the job may run; ``True`` when it is skipped (logged at WARNING);
    otherwise raises (``"raise"``, ``"retry"``)."""
    policy = runtime.get_state()
    if not policy.is_active():
        return False
    retry_after = policy.retry_after() if countdown is None else countdown
    task = _running_task(wrapper, args) if action in (None, "retry") else None
    if action is None:
        action = "retry" if task is not None else "skip"
    if action == "skip":
        logger.warning(
            "maintenance_env: %s skipped: maintenance is active; this call will not run",
            name,
        )
        return True
    if action == "raise":
        raise MaintenanceActive(name, retry_after)
    delay = min(max_countdown if retry_after is None else retry_after, max_countdown)
    if task is not None:
        logger.info(
            "maintenance_env: %s will be retried in %s s: maintenance is active", name, delay
        )
        raise task.retry(countdown=delay)
    raise MaintenanceActive(name, delay)


@overload
def skip_during_maintenance(func: F) -> F: ...


@overload
def skip_during_maintenance(
    func: None = None,
    *,
    action: Action | None = None,
    countdown: int | None = None,
    max_countdown: int = MAX_COUNTDOWN,
) -> Callable[[F], F]: ...


def skip_during_maintenance(
    func: F | None = None,
    *,
    action: Action | None = None,
    countdown: int | None = None,
    max_countdown: int = MAX_COUNTDOWN,
) -> F | Callable[[F], F]:
    """Run the decorated function only while maintenance is not active (see the module).

    ``action`` is ``None`` (retry a Celery task, skip a plain function), ``"retry"``,
    ``"skip"`` or ``"raise"``; ``countdown`` the seconds until a retry (default: until the
    window ends, the maintenance response's ``Retry-After``), capped at ``max_countdown``
    seconds (default 300; keep it under the broker's ``visibility_timeout``). Async
    functions stay async. Raises ``ValueError`` for another action or a negative
    countdown, and ``TypeError`` when given a Celery task object (decorate the function
    under ``@app.task`` instead).
    """
    if action is not None and action not in ACTIONS:
        raise ValueError(f"skip_during_maintenance(action={action!r}): expected one of {ACTIONS}")
    for label, seconds, low in (("countdown", countdown, 0), ("max_countdown", max_countdown, 1)):
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < low
        ):
            raise ValueError(
                f"skip_during_maintenance({label}={seconds!r}): expected whole seconds >= {low}"
            )

    def decorate(function: F) -> F:
        if _celery_task(function):
            raise TypeError(
                "skip_during_maintenance must wrap the task's function: put it below "
                "@app.task / @shared_task, not above"
            )
        name = getattr(function, "__qualname__", None) or repr(function)
        if iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _stopped(name, action, countdown, max_countdown, async_wrapper, args):
                    return None
                return await function(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _stopped(name, action, countdown, max_countdown, wrapper, args):
                return None
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorate(func)
    return decorate
