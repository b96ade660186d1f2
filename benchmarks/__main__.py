"""Run every benchmark: measure into ``benchmarks/results.json``, then render
``benchmarks/results.md`` from it (:mod:`benchmarks.report`).

python -m benchmarks            # everything, a few minutes
python -m benchmarks --quick    # a smoke run, well under a minute
python -m benchmarks --docs     # also benchmarks/summary.md, included by docs/benchmarks.md
python -m benchmarks.report     # render results.json again, measuring nothing
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _wrk_version() -> str | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


def machine() -> list[str]:
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical CPUs (`nproc`)",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- Django {_version('Django')}, django-maintenance-env {_version('django-maintenance-env')}"
        f", django-maintenance-mode {_version('django-maintenance-mode')}"
        f", gunicorn {_version('gunicorn')}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds of the in-process benchmarks")
    parser.add_argument("--skip-reload", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument(
        "--skip-store",
        action="store_true",
        help="no redis-server: leave out the shared store and django-maintenance-mode's cache",
    )
    parser.add_argument(
        "--load", choices=("wrk", "python"), help="load generator (default: wrk when installed)"
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help="also write benchmarks/summary.md, which docs/benchmarks.md includes (not "
        "with --quick: a smoke run's figures are not published)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        os.environ["BENCH_DMM_STATE_FILE"] = os.path.join(tmp, "dmm-state.txt")
        with _redis(args) as redis, _other_stores(args):
            return run(args, redis)


@contextlib.contextmanager
def _redis(args: argparse.Namespace) -> Iterator[Any]:
    """The benchmark's own redis-server (password, no persistence, a free loopback port),
    stopped at the end; ``None`` without ``redis-server`` or with ``--skip-store``."""
    executable = shutil.which("redis-server")
    if args.skip_store or executable is None:
        if executable is None:
            print("redis-server not found: the shared-store rows are skipped", file=sys.stderr)
        yield None
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.redis_server import running_redis

    with running_redis(executable) as redis:
        os.environ["BENCH_REDIS_URL"] = redis.url
        try:
            yield redis
        finally:
            del os.environ["BENCH_REDIS_URL"]


@contextlib.contextmanager
def _other_stores(args: argparse.Namespace) -> Iterator[None]:
    """memcached and PostgreSQL for the store-backend rows (``benchmarks.offpath``), each
    when installed (Debian: ``memcached``, ``postgresql``), started before Django is set
    up (the settings read ``BENCH_POSTGRES``) and always stopped; a missing one is said."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.store_servers import postgresql_bindir, running_memcached, running_postgresql

    with contextlib.ExitStack() as stack:
        memcached = shutil.which("memcached")
        if args.skip_store or memcached is None:
            print("memcached not found: its store row is skipped", file=sys.stderr)
        else:
            server = stack.enter_context(running_memcached(memcached))
            stack.enter_context(_environ("BENCH_MEMCACHED", server.location))
        bindir = postgresql_bindir()
        if args.skip_store or bindir is None:
            print("PostgreSQL not found: the DatabaseCache row is skipped", file=sys.stderr)
        else:
            postgres = stack.enter_context(running_postgresql(bindir))
            postgres.create_database("bench")
            stack.enter_context(_environ("BENCH_POSTGRES", json.dumps(postgres.settings("bench"))))
        yield


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]


def run(args: argparse.Namespace, redis: Any = None) -> int:
    """Measure everything ``args`` asks for into one :class:`benchmarks.data.Run`, save
    it as ``benchmarks/results.json`` and render the tables (:mod:`benchmarks.report`)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ["BENCH_STACK"] = "all"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from benchmarks import data, inprocess, offpath, reload, report, server

    started = time.monotonic()
    rounds = args.rounds or (10 if args.quick else 150)
    notes: list[str] = []
    if not inprocess.have_dmm():
        notes += [
            "django-maintenance-mode is not installed (`pip install --group bench`): "
            "its rows are missing.",
            "",
        ]
    redis_url = redis.url if redis is not None else None
    if redis_url is None:
        notes += [
            "No redis-server (`apt-get install redis-server`): the shared-store rows are missing.",
            "",
        ]

    print(f"in-process: {rounds} interleaved rounds…", file=sys.stderr)
    measured = inprocess.measure(
        rounds=rounds,
        target=0.002,
        redis_url=redis_url,
        more=offpath.schedule_configurations,
        alone_only=offpath.configurations,
    )
    result = data.Run(machine(), notes, measured, inprocess.adaptation_report(redis_url=redis_url))
    if not args.skip_reload:
        print("live reload…", file=sys.stderr)
        swaps = 2 if args.quick else 8
        result.reload = reload.measure((0.25, 1.0), processes=4, swaps=swaps)
        if redis_url is not None:
            print("flips through the shared store…", file=sys.stderr)
            result.flips = reload.measure(
                (0.25, 1.0), processes=4, swaps=swaps, redis_url=redis_url
            )
    if not args.skip_server:
        generator = args.load or server.load_generator()
        print(f"gunicorn under load ({generator})…", file=sys.stderr)
        server_rounds, duration, connections = (1, 1.0, 4) if args.quick else (5, 2.0, 4)
        result.loaded = server.measure(
            rounds=server_rounds,
            duration=duration,
            connections=connections,
            generator=generator,
            redis=redis,
        )
        result.server = data.ServerSetup(
            generator_name(generator), server_rounds, duration, connections
        )
    result.seconds, result.quick = time.monotonic() - started, args.quick
    data.save(result, report.DATA)
    print(f"written to {report.DATA}", file=sys.stderr)
    print(report.write(result, summary=args.docs))
    return 0


def generator_name(generator: str) -> str:
    if generator == "wrk":
        return f"`{_wrk_version() or 'wrk'}`"
    return "the threaded Python client in `benchmarks/server.py`"


if __name__ == "__main__":
    sys.exit(main())
