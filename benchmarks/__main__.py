"""Run every benchmark, print the results as Markdown and write ``benchmarks/results.md``.

    python -m benchmarks            # everything, a few minutes
    python -m benchmarks --quick    # a smoke run, well under a minute
    python -m benchmarks --readme   # also put the tables into README.md
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
README = ROOT / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
SLACK = 0.050  # the live-reload target: RELOAD_INTERVAL + 50 ms


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


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} µs" if seconds < 1e-5 else f"{seconds * 1e6:,.1f} µs"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def _mark(ok: bool) -> str:
    return "✅ met" if ok else "❌ missed"


def inprocess_tables(results: dict[str, Any], adaptations: list[dict[str, Any]],
                     targets: list[str]) -> list[str]:
    med = {name: r.median for name, r in results.items()}
    bare_wsgi = med["wsgi/bare"]
    passthrough = med["alone/pass-through"]
    lines = [
        "#### 1. The middleware alone",
        "",
        "Called directly on a prebuilt `RequestFactory` GET with a trivial `get_response`; "
        "overhead is the median minus a pass-through middleware's, compared with one bare "
        "Django request through `WSGIHandler` (table 2) from the same run.",
        "",
        "| configuration | median per call | overhead vs pass-through | overhead ÷ bare WSGI request |",
        "|---|---:|---:|---:|",
    ]
    for name in [n for n in med if n.startswith("alone/")]:
        label = name.removeprefix("alone/")
        over = med[name] - passthrough
        share = "—" if label == "pass-through" else f"{over / bare_wsgi:.2%}"
        spread = results[name].spread
        lines.append(f"| {label} | {_us(med[name])} (±{spread:.0%}) | "
                     f"{'—' if label == 'pass-through' else _us(over)} | {share} |")
    for label in ("ours off", "ours off, mounted"):
        share = (med[f"alone/{label}"] - passthrough) / bare_wsgi
        targets.append(f"maintenance off, middleware alone ({label}): {share:.2%} of a bare "
                       f"request (target ≤ 2%) — {_mark(share <= 0.02)}")
    if "alone/dmm off" in med:
        share = (med["alone/dmm off"] - passthrough) / bare_wsgi
        targets.append(f"for comparison, django-maintenance-mode off: {share:.1%} of a bare "
                       "request")
    poll = med.get("poll/mounted config, no change")
    if poll is not None:
        lines += ["", f"A check of the mounted config that finds no change (`os.stat` of the "
                  f"directory and each file), paid once per `MAINTENANCE_MODE_RELOAD_INTERVAL` "
                  f"per process: {_us(poll)}, {poll / bare_wsgi:.2f}x one bare WSGI request."]

    lines += [
        "",
        "#### 2. Full handler loops",
        "",
        "`WSGIHandler` / `ASGIHandler` called with hand-built environ dicts / scopes "
        "(no test client) over one small URLconf (sync view for WSGI, async view for ASGI) "
        "with SecurityMiddleware, SessionMiddleware, CommonMiddleware, "
        "AuthenticationMiddleware, plus the maintenance middleware last.",
        "",
        "| configuration | status | WSGI per request | vs bare | ASGI per request | vs bare |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    bare_asgi = med["asgi/bare"]
    for name in [n for n in med if n.startswith("wsgi/")]:
        label = name.removeprefix("wsgi/")
        status = 503 if label.endswith(" on") else 200
        lines.append(
            f"| {label} | {status} | {_us(med[name])} (±{results[name].spread:.0%}) | "
            f"{med[name] / bare_wsgi:.2f}x | {_us(med['asgi/' + label])} "
            f"(±{results['asgi/' + label].spread:.0%}) | {med['asgi/' + label] / bare_asgi:.2f}x |")
    for proto, bare in (("wsgi", bare_wsgi), ("asgi", bare_asgi)):
        ratio = med[f"{proto}/ours on"] / bare
        targets.append(f"maintenance on, {proto.upper()}: a maintenance response costs "
                       f"{ratio:.2f}x a bare 200 request (target ≤ 1.00x) — {_mark(ratio <= 1.0)}")
        if f"{proto}/dmm on" in med:
            targets.append(f"for comparison, django-maintenance-mode on, {proto.upper()}: "
                           f"{med[f'{proto}/dmm on'] / bare:.2f}x")

    lines += [
        "",
        "#### ASGI: sync/async adaptation",
        "",
        "Adapters Django's handler logs while loading the chain (\"… handler adapted for "
        "middleware …\", `DEBUG = True`), and `sync_to_async` / `async_to_sync` calls per "
        "request counted over 20 requests to the async view.",
        "",
        "| configuration | adapters at load | sync_to_async per request | async_to_sync per request |",
        "|---|---:|---:|---:|",
    ]
    base = next(row for row in adaptations if row["name"] == "bare")
    for row in adaptations:
        lines.append(f"| {row['name']} | {row['adapted']} | {row['sync_to_async']:g} | "
                     f"{row['async_to_sync']:g} |")
    ours = [row for row in adaptations if row["name"].startswith("ours")]
    clean = all(row["adapted"] == 0 for row in ours) and all(
        row["sync_to_async"] == base["sync_to_async"] and row["async_to_sync"] == 0
        for row in ours if row["name"] != "ours on")
    on = next(row for row in ours if row["name"] == "ours on")
    targets.append(
        f"ASGI: our middleware is adapted {sum(r['adapted'] for r in ours)} times and adds "
        f"{max(r['sync_to_async'] - base['sync_to_async'] for r in ours if r is not on):g} "
        f"thread hops per request when off — {_mark(clean)}")
    lines += ["", "The bare stack's hops are Django's own: `request_started` receivers, "
              "`response.close()`, and `process_request`/`process_response` of each "
              "`MiddlewareMixin` middleware. The one extra hop of \"ours on\" "
              f"({on['sync_to_async']:g} vs {base['sync_to_async']:g}) is also Django's: "
              "`get_response_async` calls `log_response` through `sync_to_async` for every "
              "response with status ≥ 400, a 404 included."]
    return lines


def reload_table(results: list[Any], targets: list[str]) -> list[str]:
    lines = [
        "#### 3. Live reload",
        "",
        "Separate processes, each running the middleware about every 0.5 ms with "
        "`MAINTENANCE_MODE_CONFIG_PATH` on a directory that is swapped the way the kubelet "
        "does it (new timestamped directory, `..data` symlink renamed over). Delay: from "
        "just before the swap until each process served the new status.",
        "",
        "| RELOAD_INTERVAL | processes x swaps | median delay | worst delay | target |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ok = r.worst <= r.interval + SLACK
        lines.append(f"| {r.interval:g} s | {r.processes} x {len(r.delays) // r.processes} | "
                     f"{_ms(r.median)} | {_ms(r.worst)} | ≤ {_ms(r.interval + SLACK)}: "
                     f"{_mark(ok)} |")
        targets.append(f"live reload, interval {r.interval:g} s: worst {_ms(r.worst)} "
                       f"(target ≤ {_ms(r.interval + SLACK)}) — {_mark(ok)}")
    return lines


def server_table(results: dict[str, Any], generator: str, rounds: int, duration: float,
                 connections: int) -> list[str]:
    bare = results["bare"].median("rps")
    lines = [
        "#### 4. A real server",
        "",
        f"gunicorn, 2 sync workers per server, 127.0.0.1; load from {generator}, "
        f"{connections} connections, {duration:g} s per run, {rounds} rounds per "
        "configuration interleaved; medians over rounds. The load generator shares the "
        "machine's CPUs with the server, so compare rows, not absolute numbers.",
        "",
        "| configuration | requests/s | vs bare | p50 | p90 | p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r.median('rps'):,.0f} | {r.median('rps') / bare:.2f}x | "
                     f"{_ms(r.median('p50'))} | {_ms(r.median('p90'))} | "
                     f"{_ms(r.median('p99'))} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds of the in-process benchmarks")
    parser.add_argument("--skip-reload", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--readme", action="store_true",
                        help=f"replace the text between {START} and {END} in README.md")
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ["BENCH_STACK"] = "all"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from benchmarks import inprocess, reload, server

    started = time.monotonic()
    rounds = args.rounds or (5 if args.quick else 25)
    lines = ["### Benchmarks", "", *machine(), ""]
    targets: list[str] = []
    if not inprocess.have_dmm():
        lines += ["django-maintenance-mode is not installed (`pip install -e '.[bench]'`): "
                  "its rows are missing.", ""]

    print(f"in-process: {rounds} interleaved rounds…", file=sys.stderr)
    measured = inprocess.measure(rounds=rounds, target=0.01 if args.quick else 0.02)
    adaptations = inprocess.adaptation_report()
    body = inprocess_tables(measured, adaptations, targets)

    if not args.skip_reload:
        print("live reload…", file=sys.stderr)
        swaps = 2 if args.quick else 8
        body += ["", *reload_table(reload.measure((0.25, 1.0), processes=4, swaps=swaps),
                                   targets)]
    if not args.skip_server:
        print(f"gunicorn under load ({server.load_generator()})…", file=sys.stderr)
        server_rounds, duration, connections = (1, 1.0, 4) if args.quick else (3, 3.0, 4)
        loaded = server.measure(rounds=server_rounds, duration=duration,
                                connections=connections)
        generator = reload_generator_name(server.load_generator())
        body += ["", *server_table(loaded, generator, server_rounds, duration, connections)]

    lines += ["Targets, each a ratio from this run:", "", *[f"- {t}" for t in targets], "",
              *body, "",
              f"Reproduce: `make bench` (this run took {time.monotonic() - started:.0f} s"
              f"{', --quick' if args.quick else ''})."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.output.write_text(text)
    print(f"written to {args.output}", file=sys.stderr)
    if args.readme:
        _update_readme(text)
    return 0


def reload_generator_name(generator: str) -> str:
    if generator == "wrk":
        return f"`{_wrk_version() or 'wrk'}`"
    return "the threaded Python client in `benchmarks/server.py` (wrk not installed)"


def _update_readme(text: str) -> None:
    readme = README.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {START} … {END} region")
    region = f"{START}\n{text.replace('### Benchmarks', '## Benchmarks', 1)}{END}"
    README.write_text(pattern.sub(lambda _: region, readme, count=1))
    print("README.md updated", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
