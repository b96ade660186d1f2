"""``skip_during_maintenance``: plain, async and Celery (eager mode: no broker) jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

import maintenance_env
from maintenance_env import MaintenanceActive, override, skip_during_maintenance

celery = pytest.importorskip("celery")


# --- plain functions ----------------------------------------------------------------


def test_runs_while_maintenance_is_not_active() -> None:
    @skip_during_maintenance
    def job(x: int, *, y: int) -> int:
        return x + y

    assert job(1, y=2) == 3


def test_skipped_while_active_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[int] = []

    @skip_during_maintenance
    def send_newsletter(n: int) -> int:
        ran.append(n)
        return n

    with override(active=True), caplog.at_level(logging.INFO, "maintenance_env"):
        assert send_newsletter(1) is None
        assert send_newsletter(3) is None
    assert ran == []
    records = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(records) == 2  # every skipped call, not the first only
    assert {r.levelno for r in records} == {logging.WARNING}
    assert "send_newsletter skipped: maintenance is active" in records[0].getMessage()
    assert send_newsletter(2) == 2
    assert ran == [2]


def test_follows_the_environment_like_the_middleware(env: Callable[..., None]) -> None:
    ran: list[bool] = []

    def record() -> None:
        ran.append(True)

    job = skip_during_maintenance(record)
    env(MAINTENANCE_MODE="on")
    job()
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_STARTS_AT="2999-01-01")
    job()
    assert ran == [True]


def test_raise_instead() -> None:
    @skip_during_maintenance(action="raise")
    def job() -> str:
        return "ran"

    with override(active=True, retry_after=120), pytest.raises(MaintenanceActive) as info:
        job()
    assert info.value.retry_after == 120
    assert "job did not run: maintenance is active" in str(info.value)
    assert job() == "ran"


def test_retry_of_a_plain_function_raises_with_the_countdown() -> None:
    @skip_during_maintenance(action="retry", countdown=30)
    def job() -> None:
        raise AssertionError("must not run")

    with override(active=True), pytest.raises(MaintenanceActive) as info:
        job()
    assert info.value.retry_after == 30


def test_keeps_the_name_and_docs() -> None:
    @skip_during_maintenance
    def job() -> None:
        """Docs."""

    assert job.__name__ == "job"
    assert job.__doc__ == "Docs."


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="action='later'"):
        skip_during_maintenance(action="later")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="countdown=-1"):
        skip_during_maintenance(countdown=-1)
    with pytest.raises(ValueError, match="max_countdown=0"):
        skip_during_maintenance(max_countdown=0)


def test_retry_outside_a_task_caps_the_countdown_too() -> None:
    @skip_during_maintenance(action="retry")
    def job() -> None:
        raise AssertionError("must not run")

    with override(active=True, retry_after=7200), pytest.raises(MaintenanceActive) as info:
        job()
    assert info.value.retry_after == 300


# --- async functions ----------------------------------------------------------------


async def test_async_functions_stay_async() -> None:
    ran: list[int] = []

    @skip_during_maintenance
    async def job(n: int) -> int:
        await asyncio.sleep(0)
        ran.append(n)
        return n

    assert asyncio.iscoroutinefunction(job)
    assert await job(1) == 1
    with override(active=True):
        assert await job(2) is None
    assert ran == [1]


async def test_async_raise() -> None:
    @skip_during_maintenance(action="raise")
    async def job() -> None:
        raise AssertionError("must not run")

    with override(active=True), pytest.raises(MaintenanceActive):
        await job()


# --- Celery, eager ------------------------------------------------------------------


@pytest.fixture
def app() -> Any:
    app = celery.Celery("tests", set_as_current=False)
    app.conf.task_always_eager = True
    app.conf.task_store_eager_result = False
    return app


def _retried_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = []
    for record in caplog.records:
        message = record.getMessage()
        if "will be retried in" in message:
            found.append(message.split("will be retried in ", 1)[1].split(" s", 1)[0])
    return found


def test_a_celery_task_is_retried_by_default_never_dropped(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []

    @app.task(max_retries=2)
    @skip_during_maintenance
    def sync_orders(since: int) -> int:
        ran.append(since)
        return since

    assert sync_orders.name.endswith("sync_orders")
    with override(active=True), caplog.at_level(logging.INFO, "maintenance_env"):
        result = sync_orders.apply(args=(1,))
    # Eagerly, Celery runs the retries at once, until max_retries: it failed loudly.
    assert result.failed()
    assert isinstance(result.result, celery.exceptions.MaxRetriesExceededError)
    assert ran == []
    assert "skipped" not in caplog.text
    # The window's Retry-After (3600 s by default) is capped at 300 s.
    assert _retried_in(caplog) == ["300", "300", "300"]
    assert sync_orders.delay(2).get() == 2
    assert ran == [2]


@pytest.mark.parametrize(
    ("options", "values", "expected"),
    [
        ({}, {"retry_after": 7200}, "300"),
        ({}, {"retry_after": 42}, "42"),
        ({}, {"retry_after": 0}, "300"),  # no estimate: the cap
        ({"max_countdown": 60}, {"retry_after": 7200}, "60"),
        ({"countdown": 45}, {}, "45"),
        ({"countdown": 900, "max_countdown": 120}, {}, "120"),
    ],
)
def test_the_countdown_is_capped(
    app: Any,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, int],
    values: dict[str, int],
    expected: str,
) -> None:
    @app.task(bind=True, max_retries=0)
    @skip_during_maintenance(**options)  # type: ignore[call-overload]
    def job(self: Any) -> None:
        raise AssertionError("must not run")

    with override(active=True, **values), caplog.at_level(logging.INFO, "maintenance_env"):
        job.apply()
    assert _retried_in(caplog)[0] == expected


def test_a_retried_task_runs_exactly_once_after_the_window(
    app: Any, env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery.signals import task_prerun

    ran: list[int] = []
    runs: list[str] = []

    @app.task(max_retries=None)
    @skip_during_maintenance
    def sync_orders(since: int) -> int:
        ran.append(since)
        return since

    def window_closes_on_the_third_try(**kwargs: Any) -> None:
        runs.append(kwargs["task_id"])
        if len(runs) == 3:
            env(MAINTENANCE_MODE="off")

    env(MAINTENANCE_MODE="on")
    task_prerun.connect(window_closes_on_the_third_try, weak=False)
    try:
        result = sync_orders.apply(args=(7,))
    finally:
        task_prerun.disconnect(window_closes_on_the_third_try)
    assert result.successful()
    assert len(runs) == 3
    assert ran == [7]


def test_a_plain_helper_called_inside_a_task_is_skipped_not_retried(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the task's own body is retried: a decorated helper it calls is not that task."""

    @skip_during_maintenance
    def helper() -> str:
        return "ran"

    @app.task
    def outer() -> object:
        return helper()

    with override(active=True), caplog.at_level(logging.INFO, "maintenance_env"):
        assert outer.apply().get() is None
    assert "helper skipped" in caplog.text
    assert _retried_in(caplog) == []


def test_an_explicit_skip_of_a_task_is_logged_at_warning(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    @skip_during_maintenance(action="skip")
    def cleanup() -> str:
        return "ran"

    with override(active=True), caplog.at_level(logging.INFO, "maintenance_env"):
        assert cleanup.apply().get() is None
    (record,) = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "cleanup" in record.getMessage()


def test_a_bound_celery_task_retries_with_celerys_own_retry(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []

    @app.task(bind=True, max_retries=2)
    @skip_during_maintenance(action="retry", countdown=45)
    def sync_orders(self: Any, since: int) -> int:
        ran.append(since)
        return since

    with override(active=True), caplog.at_level(logging.INFO, "maintenance_env"):
        result = sync_orders.apply(args=(1,))
    # Eagerly, Celery runs the retries at once, until max_retries: the body never ran.
    assert result.failed()
    assert isinstance(result.result, celery.exceptions.MaxRetriesExceededError)
    assert ran == []
    retries = [r for r in caplog.records if "will be retried in 45 s" in r.getMessage()]
    assert len(retries) == 3  # the first call and its two retries
    assert sync_orders.apply(args=(2,)).get() == 2


def test_an_unbound_task_can_autoretry_on_maintenance_active(app: Any) -> None:
    @app.task(autoretry_for=(MaintenanceActive,), max_retries=1)
    @skip_during_maintenance(action="raise")
    def job() -> str:
        return "ran"

    with override(active=True):
        result = job.apply()
    assert result.failed()
    assert isinstance(result.result, MaintenanceActive)
    assert job.apply().get() == "ran"


def test_above_the_task_decorator_is_refused(app: Any) -> None:
    @app.task
    def job() -> None: ...

    with pytest.raises(TypeError, match=r"below @app\.task"):
        skip_during_maintenance(job)


def test_is_active_is_what_the_decorator_asks() -> None:
    with override(active=True):
        assert maintenance_env.is_active() is True


def test_maintenance_active_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(MaintenanceActive("job", 60)))
    assert isinstance(error, MaintenanceActive)
    assert (error.name, error.retry_after, str(error)) == (
        "job",
        60,
        "job did not run: maintenance is active",
    )
