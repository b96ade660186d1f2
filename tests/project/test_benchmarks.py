"""The benchmarked code paths, as ordinary tests.

Each test runs one path of ``benchmarks/`` (the middleware alone, a ``WSGIHandler`` loop,
an ``ASGIHandler`` loop) under pytest-benchmark and checks the responses. ``make test``
runs them once each (``--benchmark-disable``); ``pytest tests/project/test_benchmarks.py
--benchmark-enable`` times them. Only maintenance_env is needed, not the incumbent.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpResponse, HttpResponseBase
from django.test import override_settings

from benchmarks import inprocess, reload, server, stacks
from benchmarks.timing import Case, interleave, timed_loop
from maintenance_env import runtime
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.variables import Origin
from tests.kubelet import ConfigMapVolume
from tests.redis_server import RedisServer

OURS_CHAIN = [*stacks.BASE_MIDDLEWARE, stacks.OURS_MIDDLEWARE]
LOOP = 20  # requests per benchmarked call

Env = Callable[..., None]


@pytest.fixture(autouse=True)
def no_database_closing() -> Iterator[None]:
    """As Django's test client does: no ``close_old_connections`` around these requests,
    which would touch a connection another test opened (pytest-django forbids that here)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["env off", "mounted off", "env on", "mounted on"])
def maintenance(request: pytest.FixtureRequest, env: Env, volume: ConfigMapVolume) -> int:
    """Configure maintenance the way the benchmark does; returns the status to expect."""
    source, state = request.param.split()
    if source == "env":
        env(MAINTENANCE_MODE=state)
    else:
        volume.update({"MAINTENANCE_MODE": state})
        env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    return 503 if state == "on" else 200


def _check_origin(request: pytest.FixtureRequest) -> None:
    """The mounted cases really read the mounted config."""
    expected = Origin.CONFIG if "mounted" in request.node.callspec.id else Origin.ENVIRONMENT
    assert runtime.get_state().resolution.origins["MAINTENANCE_MODE"] is expected


# --- 1. the middleware alone ----------------------------------------------------------------


def test_pass_through_baseline(benchmark: Any) -> None:
    middleware = stacks.PassThroughMiddleware(stacks.trivial_get_response)
    response = benchmark(middleware, stacks.prebuilt_request())
    assert response.status_code == 200


def test_middleware_alone(benchmark: Any, maintenance: int, request: pytest.FixtureRequest) -> None:
    middleware = MaintenanceModeMiddleware(stacks.trivial_get_response)
    prebuilt = stacks.prebuilt_request()

    response: HttpResponseBase = benchmark(middleware, prebuilt)

    assert response.status_code == maintenance
    if maintenance == 200:
        assert response is stacks.trivial_get_response(prebuilt)  # untouched
    else:
        assert response["Retry-After"] == "3600"
        assert isinstance(response, HttpResponse)
        assert b"Down for maintenance" in response.content
    _check_origin(request)


# --- 2. handler loops -------------------------------------------------------------------------


def test_wsgi_handler_loop(
    benchmark: Any, maintenance: int, request: pytest.FixtureRequest
) -> None:
    handler = stacks.wsgi_handler(OURS_CHAIN)
    environ = stacks.wsgi_environ("/")

    status = benchmark(stacks.wsgi_loop, handler, environ, LOOP)

    assert status == maintenance
    status, body = stacks.call_wsgi(handler, environ)
    assert status == maintenance
    assert (b"Down for maintenance" in body) is (maintenance == 503)
    _check_origin(request)


def test_wsgi_bare_baseline(benchmark: Any) -> None:
    handler = stacks.wsgi_handler(stacks.BASE_MIDDLEWARE)
    assert benchmark(stacks.wsgi_loop, handler, stacks.wsgi_environ("/"), LOOP) == 200


def test_asgi_handler_loop(
    benchmark: Any, maintenance: int, request: pytest.FixtureRequest
) -> None:
    handler = stacks.asgi_handler(OURS_CHAIN)
    scope = stacks.asgi_scope("/async/")

    status = benchmark(lambda: asyncio.run(stacks.asgi_loop(handler, scope, LOOP)))

    assert status == maintenance
    status, body = asyncio.run(stacks.call_asgi(handler, scope))
    assert status == maintenance
    assert (b"Down for maintenance" in body) is (maintenance == 503)
    _check_origin(request)


# --- ASGI: no sync/async adaptation in our path ----------------------------------------------


def test_asgi_handler_does_not_adapt_our_middleware(env: Env) -> None:
    env(MAINTENANCE_MODE="off")
    with stacks.adapted_middleware() as adapted:
        stacks.asgi_handler(OURS_CHAIN)
    assert adapted == []


def test_adaptation_detector_sees_a_sync_only_middleware() -> None:
    """The check above can fail: a sync-only middleware is reported."""
    with stacks.adapted_middleware() as adapted:
        stacks.asgi_handler([*OURS_CHAIN, "benchmarks.stacks.PassThroughMiddleware"])
    assert any("benchmarks.stacks.PassThroughMiddleware" in line for line in adapted)


def _hops(chain: list[str], requests: int = 5, path: str = "/async/") -> dict[str, int]:
    handler = stacks.asgi_handler(chain)
    scope = stacks.asgi_scope(path)
    asyncio.run(stacks.asgi_loop(handler, scope, 1))  # first-request work out of the count
    with stacks.thread_hops() as hops:
        asyncio.run(stacks.asgi_loop(handler, scope, requests))
    return hops


@pytest.mark.parametrize("mounted", [False, True], ids=["env", "mounted"])
def test_asgi_our_middleware_adds_no_thread_hop_when_off(
    env: Env, volume: ConfigMapVolume, mounted: bool
) -> None:
    if mounted:
        volume.update({"MAINTENANCE_MODE": "off"})
        env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    else:
        env(MAINTENANCE_MODE="off")
    bare = _hops(list(stacks.BASE_MIDDLEWARE))
    ours = _hops(OURS_CHAIN)
    assert bare["sync_to_async"] > 0  # the counter works: Django's own hops are seen
    assert ours == bare


def test_asgi_maintenance_response_adds_only_djangos_error_log_hop(env: Env) -> None:
    """A 503 costs Django's own ``sync_to_async(log_response)``, as the control (a bare view
    answering 503) does, and nothing of ours."""
    env(MAINTENANCE_MODE="on")
    requests = 5
    with override_settings(ROOT_URLCONF="benchmarks.urls"):
        unavailable = stacks.asgi_scope("/async/unavailable/")
        status = asyncio.run(
            stacks.call_asgi(stacks.asgi_handler(stacks.BASE_MIDDLEWARE), unavailable)
        )[0]
        assert status == 503
        bare = _hops(list(stacks.BASE_MIDDLEWARE), requests)
        control = _hops(list(stacks.BASE_MIDDLEWARE), requests, "/async/unavailable/")
        ours = _hops(OURS_CHAIN, requests)
    assert control["sync_to_async"] == bare["sync_to_async"] + requests  # Django's hop
    assert ours == control


# --- the harness ------------------------------------------------------------------------------


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_interleave_measures_every_case_every_round() -> None:
    calls: list[str] = []
    cases = [
        Case(name, functools.partial(calls.append, name), timed_loop(lambda: None), batch=10)
        for name in ("a", "b", "c")
    ]

    results = interleave(cases, rounds=4, target=0.001)

    assert set(results) == {"a", "b", "c"}
    assert all(len(r.per_op) == 4 and r.median >= 0 for r in results.values())
    assert calls.count("a") == calls.count("b") == calls.count("c") == 5  # warm-up + rounds
    rounds = [calls[i : i + 3] for i in range(3, len(calls), 3)]
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)


def test_interleave_calibrates_the_batch_size() -> None:
    case = Case("x", lambda: None, timed_loop(lambda: sum(range(100))))
    interleave([case], rounds=1, target=0.002)
    assert case.batch > 1


# --- the shared store and django-maintenance-mode's cache backend (a real redis-server) -----


@pytest.fixture
def restore_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The benchmark switches configurations through ``os.environ`` itself: put it back.

    And no django-maintenance-mode cases: importing it (``have_dmm``) writes its defaults
    into ``settings`` (``MAINTENANCE_MODE_TEMPLATE = "503.html"``…) for the rest of the
    session, in a ``.venv`` where ``make bench`` installed it.
    """
    monkeypatch.setattr(inprocess, "have_dmm", lambda: False)
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    runtime.reset()


@pytest.mark.redis
@pytest.mark.usefixtures("restore_environ")
def test_store_cases_serve_what_the_store_holds(redis_server: RedisServer, tmp_path: Path) -> None:
    inprocess.write_store(redis_server.url)
    configs = {c.name: c for c in inprocess.configurations(tmp_path, redis_server.url)}

    for name, status in ((inprocess.STORE_OFF, 200), (inprocess.STORE_ON, 503)):
        config = configs[name]
        assert config.status == status
        # Each case checks the status it serves, raising otherwise.
        inprocess._alone_case(config)
        inprocess._wsgi_case(config)
        resolution = runtime.get_state().resolution
        assert resolution.origins["MAINTENANCE_MODE"] is Origin.CACHE
        assert resolution.config.enabled is (status == 503)


@pytest.mark.redis
@pytest.mark.usefixtures("restore_environ")
def test_store_cases_need_their_keys(redis_server: RedisServer, tmp_path: Path) -> None:
    """The status check can fail: with nothing written, the store holds no key and the
    "on" case serves the default, 200."""
    config = next(
        c
        for c in inprocess.configurations(tmp_path, redis_server.url)
        if c.name == inprocess.STORE_ON
    )
    with pytest.raises(RuntimeError, match="status 200, expected 503"):
        inprocess._alone_case(config)


@pytest.mark.redis
def test_one_read_of_the_store(redis_server: RedisServer) -> None:
    inprocess.write_store(redis_server.url)
    case = inprocess._store_read_case(redis_server.url)
    assert case.name == inprocess.STORE_READ
    assert case.run(3) >= 0


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.usefixtures("restore_environ", "no_database_closing")
def test_every_in_process_case_with_the_store_once(redis_server: RedisServer) -> None:
    with override_settings(ROOT_URLCONF="benchmarks.urls"):  # the 503 control's view
        results = inprocess.measure(rounds=1, target=0.0005, redis_url=redis_server.url)
        rows = {row["name"]: row for row in inprocess.adaptation_report(2, redis_server.url)}

    for name in (inprocess.STORE_OFF, inprocess.STORE_ON):
        for part in ("alone", "wsgi", "asgi"):
            assert len(results[f"{part}/{name}"].per_op) == 1
    assert results[inprocess.STORE_READ].median > 0
    assert rows[inprocess.STORE_OFF]["adapted"] == 0
    assert rows[inprocess.STORE_OFF]["sync_to_async"] == rows["bare"]["sync_to_async"]


@pytest.mark.redis
@pytest.mark.slow
def test_flips_through_the_store_reach_every_process(redis_server: RedisServer) -> None:
    (result,) = reload.measure((0.1,), processes=2, swaps=2, redis_url=redis_server.url)

    assert result.source == reload.STORE
    assert len(result.swaps) == 2
    assert all(len(delays) == 2 and min(delays) >= 0 for delays in result.swaps)
    # --wait saw each write in the processes' reports; the store's commands were counted.
    assert len(result.wait_after_last) == 2
    assert result.calls_per_interval is not None
    assert result.calls_per_interval > 0


@pytest.mark.server
@pytest.mark.redis
@pytest.mark.slow
def test_a_server_keeps_answering_while_the_store_is_hung(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    setup = next(s for s in server.SETUPS if s.name == inprocess.STORE_OFF)
    inprocess.write_store(redis_server.url)
    running = server.Server(setup, tmp_path, redis_url=redis_server.url)
    try:
        running.wait_ready()
        results = server._measure_hung([running], redis_server, 1, 0.5, 2, server.python_load, None)
    finally:
        running.stop()

    hung = results[inprocess.STORE_OFF + server.HUNG_SUFFIX]
    assert hung.rps[0] > 0
    assert hung.errors == 0
    assert results[inprocess.STORE_OFF + server.HEALTHY_SUFFIX].rps[0] > 0
    assert not redis_server.paused


def test_store_tables_and_targets() -> None:
    from benchmarks.report import hung_table, store_reload_table

    targets: list[str] = []
    flips = [reload.ReloadResult(0.25, 2, [[0.1, 0.2], [0.25, 0.31]], reload.STORE)]
    lines = store_reload_table(flips, targets)
    assert any("| 0.25 s | 2 x 2 |" in line and "❌ missed" in line for line in lines)
    assert targets[0] == (
        "shared store flip, interval 0.25 s: worst 310.00 ms (target ≤ 300.00 ms) — ❌ missed"
    )
    # Without the fleet's figures, its row says so and misses its target.
    assert any(line.startswith("| 0.25 s | n/a | n/a |") for line in lines)
    assert targets[1].startswith("fleet reports, interval 0.25 s: n/a commands")
    assert len(targets) == 2
    targets.clear()

    def load(name: str, rps: float, errors: int = 0) -> server.LoadResult:
        return server.LoadResult(name, [rps], [0.001], [0.002], [0.003], errors)

    suffix, healthy = server.HUNG_SUFFIX, server.HEALTHY_SUFFIX
    results = {
        inprocess.STORE_OFF: load(inprocess.STORE_OFF, 500),  # the main rounds: not compared
        inprocess.STORE_OFF + healthy: load(inprocess.STORE_OFF + healthy, 1000),
        inprocess.STORE_OFF + suffix: load(inprocess.STORE_OFF + suffix, 990),
        inprocess.DMM_CACHE_OFF + healthy: load(inprocess.DMM_CACHE_OFF + healthy, 800),
        inprocess.DMM_CACHE_OFF + suffix: load(inprocess.DMM_CACHE_OFF + suffix, 0, 4),
    }
    targets = []
    lines = hung_table(results, targets)
    assert "| ours off, store | hung | 990 | 0.99x |" in "\n".join(lines)
    assert "| dmm off, cache | hung | 0 | 0.00x | — | — | 4 |" in "\n".join(lines)
    assert targets[0].startswith("requests/s while the shared store is hung: 0.99x")
    assert targets[0].endswith("✅ met")
    assert "0.00x, 4 errors" in targets[1]
    assert hung_table({}, []) == []


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_scale_rows_serve_maintenance_and_are_measured() -> None:
    # The lists hold nothing that lets the prebuilt request through: both answer 503.
    cases = inprocess._scale_cases()
    assert [c.name for c in cases] == [
        f"alone/{inprocess.SCALE_NETWORKS}",
        f"alone/{inprocess.SCALE_PATTERNS}",
    ]
    try:
        results = interleave(cases, rounds=1, target=0.0005)
    finally:
        inprocess.set_our_environment({})
    assert all(results[c.name].median > 0 for c in cases)


def test_the_schedule_rows_place_their_window_from_the_clock() -> None:
    from benchmarks import offpath

    now = datetime(2031, 5, 4, 23, 30, tzinfo=timezone.utc)
    assert offpath.window(now, inside=True) == "daily 22:30-00:30"  # across midnight
    assert offpath.window(now, inside=False) == "daily 01:30-02:30"


@pytest.mark.usefixtures("restore_environ")
def test_the_off_path_rows_serve_what_they_say(tmp_path: Path) -> None:
    from benchmarks import offpath

    os.environ.pop("BENCH_MEMCACHED", None)
    os.environ.pop("BENCH_POSTGRES", None)
    os.environ.pop("BENCH_REDIS_URL", None)
    configs = [*offpath.schedule_configurations(), *offpath.configurations(tmp_path)]
    assert [c.name for c in configs] == [
        offpath.SCHEDULE_OFF,
        offpath.SCHEDULE_ON,
        offpath.PERMISSIONS_OFF,
        offpath.SCALE_MOUNTED_PATTERNS,
    ]
    try:
        for config in configs:
            inprocess._alone_case(config)  # raises unless it serves config.status
        inprocess._wsgi_case(configs[1])
    finally:
        inprocess.set_our_environment({})


def test_the_off_path_targets_name_every_row() -> None:
    from benchmarks import offpath
    from benchmarks.timing import Result

    def result(per_op: float) -> Result:
        return Result("x", [per_op] * 3)

    results = {
        "alone/pass-through": result(1.0),
        "wsgi/bare": result(100.0),
        f"alone/{offpath.SCHEDULE_OFF}": result(1.3),  # 0.3%: missed
        f"alone/{offpath.PERMISSIONS_OFF}": result(1.1),  # 0.1%: met
        f"wsgi/{offpath.SCHEDULE_ON}": result(99.0),
    }
    lines: list[str] = []
    offpath.targets(results, lines)
    text = "\n".join(lines)
    assert "outside a window of MAINTENANCE_MODE_SCHEDULE, middleware alone: 0.30%" in text
    assert "0.30% of a bare request (target ≤ 0.2%) — ❌ missed" in text
    assert (
        "exemptions configured, middleware alone: 0.10% of a bare request (target ≤ 0.2%) — ✅ met"
        in text
    )
    assert "inside a scheduled window, WSGI: a maintenance response costs 0.99x" in text
    assert (
        "not measured (server not installed): " + ", ".join(offpath.BACKEND_ROWS.values()) in text
    )


def test_a_run_renders_again_from_its_json(tmp_path: Path) -> None:
    """The measuring and the rendering are apart: a run saved as JSON and loaded back
    renders the same tables and targets."""
    from benchmarks import data, report
    from benchmarks.timing import Result

    names = ["bare", "ours off", "ours off, mounted", "ours on", "bare, 503 from a view"]
    measured = {"alone/pass-through": Result("alone/pass-through", [1e-7, 1e-7])}
    for name in names:
        for proto, seconds in (("wsgi", 6e-5), ("asgi", 2e-3)):
            status_cost = 0.99 if " on" in name else 1.0
            measured[f"{proto}/{name}"] = Result(
                f"{proto}/{name}", [seconds * status_cost, seconds * status_cost]
            )
        if name not in ("bare", "bare, 503 from a view"):
            measured[f"alone/{name}"] = Result(f"alone/{name}", [2e-7, 2e-7])
    adaptations = [
        {"name": name, "adapted": 0, "sync_to_async": 9, "async_to_sync": 0} for name in names
    ]
    run = data.Run(
        ["- CPU: test"],
        [],
        measured,
        adaptations,
        seconds=12.0,
        reload=[reload.ReloadResult(0.25, 2, [[0.1, 0.2]])],
        flips=[
            reload.ReloadResult(
                0.25, 2, [[0.1, 0.2]], reload.STORE, wait_after_last=[0.05], calls_per_interval=2.0
            )
        ],
        loaded={"bare": server.LoadResult("bare", [1000.0], [0.001], [0.002], [0.003])},
        server=data.ServerSetup("`wrk`", 1, 1.0, 4),
    )
    path = tmp_path / "run.json"
    data.save(run, path)
    again = data.load(path)
    assert again == run
    results, summary = report.render(again)
    assert results == report.render(run)[0]
    assert "maintenance on, WSGI: a maintenance response costs 0.99x a bare 200" in results
    assert "fleet reports, interval 0.25 s: 2.00 commands per process per interval" in results
    assert "| bare | 1,000 | 1.00x |" in results
    assert summary.startswith("- CPU: test")
    assert "this run took 12 s" in summary


def test_a_json_of_another_version_is_refused(tmp_path: Path) -> None:
    from benchmarks import data

    path = tmp_path / "old.json"
    path.write_text('{"version": 0}')
    with pytest.raises(ValueError, match="not a version 1 benchmark run"):
        data.load(path)
