"""``logs.is_heard``: ``False`` exactly when logging the record would run no handler's
``emit`` and no filter of the project's, checked against the logging module itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils.log import RequireDebugFalse, RequireDebugTrue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintenance_env import logs

LEVELS = [logging.NOTSET, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]


@dataclass
class Seen:
    """What ran while a record was logged: handlers' ``emit`` and project filters."""

    calls: list[str] = field(default_factory=list)


class Spy(logging.Handler):
    def __init__(self, seen: Seen, name: str, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.seen, self.label = seen, name

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.calls.append(f"emit {self.label}")


class SpyFilter(logging.Filter):
    def __init__(self, seen: Seen, name: str, verdict: bool) -> None:
        super().__init__()
        self.seen, self.label, self.verdict = seen, name, verdict

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen.calls.append(f"filter {self.label}")
        return self.verdict


def hierarchy(root_level: int = logging.DEBUG) -> logging.Manager:
    """A logger tree of its own, so pytest's capture handlers on the real root stay out."""
    return logging.Manager(logging.RootLogger(root_level))


@pytest.fixture
def last_resort(monkeypatch: pytest.MonkeyPatch) -> Seen:
    seen = Seen()
    monkeypatch.setattr(logging, "lastResort", Spy(seen, "last resort", logging.WARNING))
    return seen


# --- the cases that matter --------------------------------------------------------------


@contextmanager
def quiet_root() -> Iterator[None]:
    """The real root logger without pytest's capture handlers (added around each test's
    call, after fixtures), as in production."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = []
    try:
        yield
    finally:
        root.handlers[:] = saved


@override_settings(DEBUG=False)
def test_django_default_logging_without_debug_hears_no_info(
    django_default_logging: logging.Logger,
) -> None:
    with quiet_root():
        assert logs.is_heard(django_default_logging, logging.INFO) is False
        assert logs.is_heard(django_default_logging, logging.ERROR) is True  # mail_admins


@override_settings(DEBUG=True)
def test_django_default_logging_with_debug_prints_info_to_the_console(
    django_default_logging: logging.Logger,
) -> None:
    with quiet_root():
        assert logs.is_heard(django_default_logging, logging.INFO) is True


@override_settings(DEBUG=False)
def test_a_capturing_handler_hears_everything(
    django_default_logging: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "django.request")
    assert logs.is_heard(django_default_logging, logging.INFO) is True


def test_a_logger_level_above_the_record_is_not_heard(last_resort: Seen) -> None:
    logger = hierarchy().getLogger("app")
    logger.addHandler(Spy(Seen(), "h"))
    logger.setLevel(logging.WARNING)
    assert logs.is_heard(logger, logging.INFO) is False


def test_a_disabled_logger_is_not_heard(last_resort: Seen) -> None:
    logger = hierarchy().getLogger("app")
    logger.addHandler(Spy(Seen(), "h"))
    logger.disabled = True
    assert logs.is_heard(logger, logging.ERROR) is False


def test_a_project_filter_on_the_logger_must_run() -> None:
    logger = hierarchy().getLogger("app")
    logger.addFilter(SpyFilter(Seen(), "f", verdict=False))
    logger.addHandler(logging.NullHandler())
    assert logs.is_heard(logger, logging.INFO) is True


def test_a_record_factory_of_the_project_must_run(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = hierarchy().getLogger("app")
    logger.addHandler(logging.NullHandler())
    assert logs.is_heard(logger, logging.INFO) is False
    monkeypatch.setattr(logging, "_logRecordFactory", lambda *a, **k: logging.LogRecord(*a, **k))
    assert logs.is_heard(logger, logging.INFO) is True


@override_settings(DEBUG=False)
def test_a_project_filter_before_a_debug_filter_must_run() -> None:
    logger = hierarchy().getLogger("app")
    handler = Spy(Seen(), "h")
    handler.addFilter(lambda record: True)
    handler.addFilter(RequireDebugTrue())
    logger.addHandler(handler)
    assert logs.is_heard(logger, logging.INFO) is True
    handler.filters.reverse()  # the debug filter refuses first: the lambda never runs
    assert logs.is_heard(logger, logging.INFO) is False


def test_propagation_stops_where_it_is_turned_off(last_resort: Seen) -> None:
    manager = hierarchy()
    manager.root.addHandler(Spy(Seen(), "root"))
    logger = manager.getLogger("app.part")
    manager.getLogger("app").addHandler(logging.NullHandler())
    assert logs.is_heard(logger, logging.WARNING) is True
    manager.getLogger("app").propagate = False
    assert logs.is_heard(logger, logging.WARNING) is False


@pytest.mark.parametrize(("level", "heard"), [(logging.INFO, False), (logging.WARNING, True)])
def test_without_any_handler_the_last_resort_decides(
    last_resort: Seen, level: int, heard: bool
) -> None:
    manager = hierarchy(logging.NOTSET)
    assert logs.is_heard(manager.getLogger("app"), level) is heard


def test_without_a_last_resort_python_prints_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging, "lastResort", None)
    assert logs.is_heard(hierarchy(logging.NOTSET).getLogger("app"), logging.INFO) is True


@override_settings(DEBUG=False, MAINTENANCE_MODE=True)
def test_no_record_is_built_when_nobody_listens(
    django_default_logging: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[logging.LogRecord] = []
    logger = django_default_logging
    make_record = logger.makeRecord

    def spy(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        made.append(record)
        return record

    monkeypatch.setattr(logger, "makeRecord", spy)
    with quiet_root():
        assert Client().get("/").status_code == 503
        assert made == []
        with override_settings(DEBUG=True):  # the control: now the console prints it
            assert Client().get("/").status_code == 503
    assert [r.getMessage() for r in made] == ["Maintenance mode: GET /"]


# --- the property: is_heard agrees with the logging module ------------------------------


@dataclass
class HandlerPlan:
    level: int
    null: bool
    filters: list[str]  # "debug-true", "debug-false", "pass", "refuse"


@dataclass
class LoggerPlan:
    level: int
    propagate: bool
    disabled: bool
    filters: list[str]  # "pass", "refuse"
    handlers: list[HandlerPlan]


handler_plans = st.builds(
    HandlerPlan,
    level=st.sampled_from(LEVELS),
    null=st.booleans(),
    filters=st.lists(st.sampled_from(["debug-true", "debug-false", "pass", "refuse"]), max_size=3),
)
logger_plans = st.builds(
    LoggerPlan,
    level=st.sampled_from(LEVELS),
    propagate=st.booleans(),
    disabled=st.booleans(),
    filters=st.lists(st.sampled_from(["pass", "refuse"]), max_size=1),
    handlers=st.lists(handler_plans, max_size=2),
)


def build(plans: list[LoggerPlan], seen: Seen) -> logging.Logger:
    """Loggers root, "a", "a.b", … following ``plans`` (root first); returns the deepest."""
    manager = hierarchy()
    names = ["a.b.c"[: 2 * i - 1] for i in range(len(plans))]  # "", "a", "a.b", ...
    logger: logging.Logger = manager.root
    for depth, plan in enumerate(plans):
        logger = manager.root if depth == 0 else manager.getLogger(names[depth])
        logger.setLevel(plan.level if depth else max(plan.level, logging.DEBUG))
        logger.propagate, logger.disabled = plan.propagate, plan.disabled and depth > 0
        for kind in plan.filters:
            logger.addFilter(SpyFilter(seen, f"{depth} logger", kind == "pass"))
        for number, hp in enumerate(plan.handlers):
            label = f"{depth}.{number}"
            handler = logging.NullHandler() if hp.null else Spy(seen, label)
            handler.setLevel(hp.level)
            for kind in hp.filters:
                if kind == "debug-true":
                    handler.addFilter(RequireDebugTrue())
                elif kind == "debug-false":
                    handler.addFilter(RequireDebugFalse())
                else:
                    handler.addFilter(SpyFilter(seen, label, kind == "pass"))
            logger.addHandler(handler)
    return logger


@settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plans=st.lists(logger_plans, min_size=1, max_size=4),
    level=st.sampled_from(LEVELS[1:]),
    debug=st.booleans(),
)
def test_is_heard_is_false_exactly_when_logging_runs_nothing(
    last_resort: Seen, plans: list[LoggerPlan], level: int, debug: bool
) -> None:
    seen = Seen()
    last_resort.calls.clear()
    logger = build(plans, seen)
    with override_settings(DEBUG=debug):
        heard = logs.is_heard(logger, level)
        logger.log(level, "probe")
    ran = seen.calls + last_resort.calls
    assert heard is bool(ran), (heard, ran)
