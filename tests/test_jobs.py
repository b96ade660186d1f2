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
    assert ran == []
    (record,) = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "send_newsletter skipped: maintenance is active" in record.getMessage()
    assert send_newsletter(2) == 2
    assert ran == [2]


def test_follows_the_environment_like_the_middleware(env: Callable[..., None]) -> None:
    ran: list[bool] = []
    job = skip_during_maintenance(lambda: ran.append(True))
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


def test_a_celery_task_called_while_active_does_not_run_its_body(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []

    @app.task
    @skip_during_maintenance
    def sync_orders(since: int) -> int:
        ran.append(since)
        return since

    assert sync_orders.name.endswith("sync_orders")
    with override(active=True), caplog.at_level(logging.INFO, "maintenance_env"):
        result = sync_orders.delay(1)
        assert result.successful()
        assert result.get() is None
    assert ran == []
    assert "sync_orders skipped: maintenance is active" in caplog.text
    assert sync_orders.delay(2).get() == 2
    assert ran == [2]


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
