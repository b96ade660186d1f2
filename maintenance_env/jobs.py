"""``skip_during_maintenance``: jobs that do not run while maintenance is active.

For plain functions, async functions and Celery tasks (put it *below* the task
decorator, so that it wraps the function the task runs)::

    from maintenance_env import skip_during_maintenance

    @app.task
    @skip_during_maintenance
    def send_newsletter(): ...

    @app.task(bind=True, max_retries=None)
    @skip_during_maintenance(action="retry")
    def sync_orders(self, since): ...

While maintenance is active (:func:`maintenance_env.is_active`, this process's view,
live sources included), the function's body does not run. What happens instead is
``action``:

- ``"skip"`` (the default): it returns ``None``, and an INFO line on the
  ``maintenance_env`` logger says which function was skipped and why;
- ``"raise"``: it raises :class:`MaintenanceActive`;
- ``"retry"``: a bound Celery task (``bind=True``: its first argument is the task) calls
  Celery's own ``self.retry(countdown=...)``, which raises ``Retry`` and schedules the task
  again; anything else raises :class:`MaintenanceActive`, which Celery's
  ``autoretry_for=(MaintenanceActive,)`` or a job runner's own retry can act on.

``countdown`` is the seconds until the retry, by default the ``Retry-After`` of the
maintenance response (the seconds left until ``ENDS_AT``, or ``RETRY_AFTER``, or 3600).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

from asgiref.sync import iscoroutinefunction

from maintenance_env import runtime

__all__ = ["ACTIONS", "MaintenanceActive", "skip_during_maintenance"]

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


def _stopped(name: str, action: Action, countdown: int | None, args: tuple[Any, ...]) -> bool:
    """``False`` when the job may run; ``True`` when it is skipped (logged); otherwise
    raises (``"raise"``, ``"retry"``)."""
    policy = runtime.get_state()
    if not policy.is_active():
        return False
    retry_after = policy.retry_after() if countdown is None else countdown
    if action == "skip":
        logger.info("maintenance_env: %s skipped: maintenance is active", name)
        return True
    if action == "retry" and args and _celery_task(args[0]):
        logger.info(
            "maintenance_env: %s will be retried in %s s: maintenance is active",
            name,
            retry_after,
        )
        raise args[0].retry(countdown=retry_after)
    raise MaintenanceActive(name, retry_after)


@overload
def skip_during_maintenance(func: F) -> F: ...


@overload
def skip_during_maintenance(
    func: None = None, *, action: Action = "skip", countdown: int | None = None
) -> Callable[[F], F]: ...


def skip_during_maintenance(
    func: F | None = None, *, action: Action = "skip", countdown: int | None = None
) -> F | Callable[[F], F]:
    """Run the decorated function only while maintenance is not active (see the module).

    ``action`` is ``"skip"``, ``"raise"`` or ``"retry"``; ``countdown`` the seconds until
    a retry (default: the maintenance response's ``Retry-After``). Async functions stay
    async. Raises ``ValueError`` for another action and ``TypeError`` when given a Celery
    task object (decorate the function under ``@app.task`` instead).
    """
    if action not in ACTIONS:
        raise ValueError(f"skip_during_maintenance(action={action!r}): expected one of {ACTIONS}")
    if countdown is not None and (
        isinstance(countdown, bool) or not isinstance(countdown, int) or countdown < 0
    ):
        raise ValueError(
            f"skip_during_maintenance(countdown={countdown!r}): expected whole seconds >= 0"
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
                if _stopped(name, action, countdown, args):
                    return None
                return await function(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _stopped(name, action, countdown, args):
                return None
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorate(func)
    return decorate
