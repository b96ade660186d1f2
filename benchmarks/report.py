"""The benchmark's tables and target lines, rendered from a run's data
(:class:`benchmarks.data.Run`): ``benchmarks/results.md`` (every table) and
``benchmarks/summary.md`` (the summary that ``docs/benchmarks.md`` includes).

python -m benchmarks.report     # render benchmarks/results.json again, measuring nothing
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.data import Run, load

__all__ = ["RESULTS", "SUMMARY", "render"]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
SUMMARY = HERE / "summary.md"
DATA = HERE / "results.json"
REPOSITORY = "https://github.com/django-maintenance-env/django-maintenance-env/blob/main/"
SLACK = 0.050  # the live-reload target: RELOAD_INTERVAL + 50 ms


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} µs" if seconds < 1e-5 else f"{seconds * 1e6:,.1f} µs"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def _mark(ok: bool) -> str:
    return "✅ met" if ok else "❌ missed"


def inprocess_tables(
    results: dict[str, Any], adaptations: list[dict[str, Any]], targets: list[str]
) -> list[str]:
    from benchmarks import timing
    from benchmarks.inprocess import (
        CONTROL,
        DMM_CACHE_OFF,
        DMM_CACHE_ON,
        HOP,
        PRINTED,
        READ_ONLY_OFF,
        READ_ONLY_SAFE,
        SCALE_BASE,
        SCALE_NETWORKS,
        SCALE_PATTERNS,
        STORE_OFF,
        STORE_ON,
        STORE_READ,
    )

    med = {name: r.median for name, r in results.items()}
    bare_wsgi = results["wsgi/bare"]
    passthrough = results["alone/pass-through"]

    def overhead_share(name: str) -> float:
        return timing.overhead_share(results, name)

    lines = [
        "#### 1. The middleware alone",
        "",
        "Called directly on a prebuilt `RequestFactory` GET with a trivial `get_response`. "
        "Overhead: its time minus a pass-through middleware's, divided by one bare Django "
        "request through `WSGIHandler` (table 2), taken round by round in the same run "
        "(median over rounds). ± is the interquartile range over rounds.",
        "",
        "| configuration | median per call | overhead vs pass-through | overhead ÷ bare WSGI request |",
        "|---|---:|---:|---:|",
    ]
    for name in [n for n in med if n.startswith("alone/")]:
        label = name.removeprefix("alone/")
        reference = label == "pass-through"
        lines.append(
            f"| {label} | {_us(med[name])} (±{results[name].spread:.0%}) | "
            f"{'—' if reference else _us(med[name] - passthrough.median)} | "
            f"{'—' if reference else f'{overhead_share(name):.2%}'} |"
        )
    for label in ("ours off", "ours off, mounted"):
        share = overhead_share(f"alone/{label}")
        targets.append(
            f"maintenance off, middleware alone ({label}): {share:.2%} of a bare "
            f"request (target ≤ 2%) — {_mark(share <= 0.02)}"
        )
    for label, what in (
        (READ_ONLY_OFF, "read-only mode configured, maintenance off"),
        (READ_ONLY_SAFE, "read-only mode, a GET that passes"),
    ):
        if f"alone/{label}" in med:
            share = overhead_share(f"alone/{label}")
            targets.append(
                f"{what}, middleware alone: {share:.2%} of a bare request "
                f"(target ≤ 2%) — {_mark(share <= 0.02)}"
            )
    if f"alone/{STORE_OFF}" in med:
        share = overhead_share(f"alone/{STORE_OFF}")
        targets.append(
            f"maintenance off, middleware alone with the shared store configured "
            f"({STORE_OFF}): {share:.2%} of a bare request (target ≤ 2%) — "
            f"{_mark(share <= 0.02)}"
        )
    scale_base = results.get(f"alone/{SCALE_BASE}")
    for label, what in (
        (SCALE_NETWORKS, "10,000 EXCEPT_IPS networks"),
        (SCALE_PATTERNS, "1,000 EXCEPT_URLS patterns"),
    ):
        if scale_base is not None and f"alone/{label}" in results:
            ratio = results[f"alone/{label}"].ratio(scale_base)
            targets.append(
                f"maintenance on, no exemption matches, middleware alone with {what}: "
                f"{ratio:.2f}x the same request with no lists (target ≤ 1.50x) — "
                f"{_mark(ratio <= 1.5)}"
            )
    if "alone/dmm off" in med:
        targets.append(
            f"for comparison, django-maintenance-mode off, middleware alone: "
            f"{overhead_share('alone/dmm off'):.1%} of a bare request"
        )
    if f"alone/{DMM_CACHE_OFF}" in med:
        targets.append(
            f"for comparison, django-maintenance-mode off with its CacheBackend on the same "
            f"Redis, middleware alone: {overhead_share(f'alone/{DMM_CACHE_OFF}'):.1%} of a "
            "bare request"
        )
    poll = results.get("poll/mounted config, no change")
    if poll is not None:
        lines += [
            "",
            "A check of the mounted config that finds no change (`os.stat` of the "
            "directory and each file), paid once per `MAINTENANCE_MODE_RELOAD_INTERVAL` "
            f"per process: {_us(poll.median)}, {poll.ratio(bare_wsgi):.2f}x one bare "
            "WSGI request.",
        ]
    store_read = results.get(STORE_READ)
    if store_read is not None:
        lines += [
            "",
            "One read of the shared store by a process's refresher thread (one `get_many` "
            "of every live variable from the redis-server on loopback), paid once per "
            "`MAINTENANCE_MODE_RELOAD_INTERVAL` per process, off the request path: "
            f"{_us(store_read.median)}, {store_read.ratio(bare_wsgi):.2f}x one bare WSGI "
            "request.",
        ]

    bare_asgi = results["asgi/bare"]
    lines += [
        "",
        "#### 2. Full handler loops",
        "",
        "`WSGIHandler` / `ASGIHandler` called with hand-built environ dicts / scopes "
        "(no test client) over one small URLconf (a sync view for WSGI, an async view for "
        "ASGI) with SecurityMiddleware, SessionMiddleware, CommonMiddleware and "
        'AuthenticationMiddleware, the maintenance middleware last. "vs bare" is the '
        "median over rounds of the ratio to the bare stack in the same round.",
        "",
        "| configuration | status | WSGI per request | vs bare | ASGI per request | vs bare |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in [n for n in med if n.startswith("wsgi/")]:
        label = name.removeprefix("wsgi/")
        wsgi, asgi = results[name], results["asgi/" + label]
        status = 503 if " on" in label or label == CONTROL else 200
        lines.append(
            f"| {label} | {status} | {_us(wsgi.median)} (±{wsgi.spread:.0%}) | "
            f"{wsgi.ratio(bare_wsgi):.2f}x | {_us(asgi.median)} (±{asgi.spread:.0%}) | "
            f"{asgi.ratio(bare_asgi):.2f}x |"
        )
    for proto, bare in (("wsgi", bare_wsgi), ("asgi", bare_asgi)):
        store_on = results.get(f"{proto}/{STORE_ON}")
        if proto == "wsgi" and store_on is not None:
            ratio = store_on.ratio(bare)
            targets.append(
                f"maintenance on from the shared store, WSGI: a maintenance response costs "
                f"{ratio:.2f}x a bare 200 request (target ≤ 1.00x) — {_mark(ratio <= 1.0)}"
            )
            if f"wsgi/{DMM_CACHE_ON}" in med:
                targets.append(
                    "for comparison, django-maintenance-mode on with its CacheBackend, WSGI: "
                    f"{results[f'wsgi/{DMM_CACHE_ON}'].ratio(bare):.2f}x"
                )
        ours_on = results[f"{proto}/ours on"]
        ratio = ours_on.ratio(bare)
        control = results.get(f"{proto}/{CONTROL}")
        if proto == "asgi" and control is not None:
            # Django's ASGI handler makes one thread hop for every response ≥ 400: no 503
            # can cost as little as a 200 there. The target is met when ours costs no more
            # than the cheapest 503 Django can serve.
            floor = control.ratio(bare)
            versus = ours_on.ratio(control)
            targets.append(
                f"maintenance on, ASGI: a maintenance response costs {ratio:.2f}x a bare 200 "
                f"request; a bare view answering 503 costs {floor:.2f}x (Django's own "
                f"thread hop for any status ≥ 400), and ours costs {versus:.2f}x that "
                f"(target ≤ 1.00x) — {_mark(versus <= 1.0)}"
            )
        else:
            targets.append(
                f"maintenance on, {proto.upper()}: a maintenance response costs "
                f"{ratio:.2f}x a bare 200 request (target ≤ 1.00x) — "
                f"{_mark(ratio <= 1.0)}"
            )
        printed = results.get(f"{proto}/{PRINTED}")
        if printed is not None:
            targets.append(
                f"  - diagnostic, the same with a handler printing `django.request` "
                f"INFO lines (one line per maintenance response): "
                f"{printed.ratio(bare):.2f}x"
            )
        if f"{proto}/dmm on" in med:
            targets.append(
                f"for comparison, django-maintenance-mode on, {proto.upper()}: "
                f"{results[f'{proto}/dmm on'].ratio(bare):.2f}x"
            )
    hop = results.get(HOP)
    if hop is not None:
        lines += [
            "",
            f"One `sync_to_async` call (a thread hop) costs {_us(hop.median)} on this "
            f"machine, {hop.ratio(bare_asgi):.2f}x a bare ASGI request: the ASGI "
            "column is dominated by the hops Django itself makes (below).",
        ]

    lines += [
        "",
        "#### ASGI: sync/async adaptation",
        "",
        "Adapters Django's handler logs while loading the chain (\"… handler adapted for "
        'middleware …", `DEBUG = True`), and `sync_to_async` / `async_to_sync` calls per '
        "request counted over 20 requests to the async view.",
        "",
        "| configuration | adapters at load | sync_to_async per request | async_to_sync per request |",
        "|---|---:|---:|---:|",
    ]
    base = next(row for row in adaptations if row["name"] == "bare")
    for row in adaptations:
        lines.append(
            f"| {row['name']} | {row['adapted']} | {row['sync_to_async']:g} | "
            f"{row['async_to_sync']:g} |"
        )
    ours = [row for row in adaptations if row["name"].startswith("ours")]
    off = [row for row in ours if " on" not in row["name"]]
    on = next(row for row in ours if row["name"] == "ours on")
    clean = all(row["adapted"] == 0 for row in ours) and all(
        row["sync_to_async"] == base["sync_to_async"] and row["async_to_sync"] == 0 for row in off
    )
    targets.append(
        f"ASGI: Django adapts our middleware {sum(r['adapted'] for r in ours)} times, and it "
        f"adds {max(r['sync_to_async'] - base['sync_to_async'] for r in off):g} thread hops "
        f"per request when off — {_mark(clean)}"
    )
    lines += [
        "",
        "The bare stack's hops are Django's own: `request_started` receivers, "
        "`response.close()`, and `process_request`/`process_response` of each "
        '`MiddlewareMixin` middleware. The one extra hop of "ours on" '
        f"({on['sync_to_async']:g} vs {base['sync_to_async']:g}) is Django's too: "
        "`get_response_async` calls `log_response` through `sync_to_async` for every "
        "response with status ≥ 400, a 404 included; the control, a bare view "
        "answering 503, makes the same number. django-maintenance-mode is "
        "sync-only, so Django runs the whole chain in a thread (fewer, but blocking, "
        "hops) and calls the async view through `async_to_sync`.",
    ]
    return lines


def _flip_rows(results: list[Any], targets: list[str], *, changes: str, target: str) -> list[str]:
    """The table of flip delays (one row per interval) and one target line per row:
    ``changes`` names what was changed (swaps, writes), ``target`` starts the target line."""
    lines = [
        f"| RELOAD_INTERVAL | processes x {changes} | all switched, median "
        "| all switched, worst | target |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ok = r.worst <= r.interval + SLACK
        lines.append(
            f"| {r.interval:g} s | {r.processes} x {len(r.swaps)} | "
            f"{_ms(r.median)} | {_ms(r.worst)} | ≤ {_ms(r.interval + SLACK)}: "
            f"{_mark(ok)} |"
        )
        targets.append(
            f"{target}, interval {r.interval:g} s: worst {_ms(r.worst)} "
            f"(target ≤ {_ms(r.interval + SLACK)}) — {_mark(ok)}"
        )
    return lines


def store_reload_table(results: list[Any], targets: list[str]) -> list[str]:
    """Part 3 again, with the shared store as the source: a table of its own, after the
    mounted config's."""
    return [
        "",
        "The same processes with `MAINTENANCE_MODE_CACHE` on the benchmark's redis-server "
        "instead, and `MAINTENANCE_MODE` written to it at a random moment as "
        "`maintenance_mode on|off --write` does (`set_many`, no expiry). Each process's "
        "refresher thread reads the store once per interval; what it read is in force "
        "from the next request on. Delay: from just before the write until every process "
        "served the new status.",
        "",
        *_flip_rows(results, targets, changes="writes", target="shared store flip"),
        "",
        "With the fleet's reports (contract section 10): the store's commands per process per "
        "interval in steady state, over three intervals before the writes (Redis `INFO "
        "commandstats`: the read's `MGET` and the report's `SET`; a change adds one `add` per "
        "process to claim it; target ≤ 2), and how long `--wait` took, after the last process served the "
        "new state, to see it in the reports (target ≤ the interval + 0.5 s).",
        "",
        "| RELOAD_INTERVAL | commands per process per interval | --wait after the last, worst "
        "| target |",
        "|---:|---:|---:|---|",
        *_fleet_rows(results, targets),
    ]


def _fleet_rows(results: list[Any], targets: list[str]) -> list[str]:
    rows = []
    for r in results:
        calls, wait = r.calls_per_interval, r.wait_worst
        ok = calls is not None and calls <= 2.0 and wait is not None and wait <= r.interval + 0.5
        shown_calls = "n/a" if calls is None else f"{calls:.2f}"
        shown_wait = "n/a" if wait is None else _ms(wait)
        rows.append(f"| {r.interval:g} s | {shown_calls} | {shown_wait} | {_mark(ok)} |")
        targets.append(
            f"fleet reports, interval {r.interval:g} s: {shown_calls} commands per process per "
            f"interval, --wait {shown_wait} after the last (targets ≤ 2, ≤ "
            f"{_ms(r.interval + 0.5)}) — {_mark(ok)}"
        )
    return rows


def reload_table(results: list[Any], targets: list[str]) -> list[str]:
    return [
        "#### 3. Live reload",
        "",
        "Separate processes, each running the middleware about every 0.5 ms with "
        "`MAINTENANCE_MODE_CONFIG_PATH` on a directory that is swapped the way the kubelet "
        "does it (new timestamped directory, `..data` symlink renamed over), at a random "
        "moment. Delay: from just before the swap until every process served the new "
        "status. A process checks at most once per interval, so the expected worst case is "
        "the interval itself.",
        "",
        *_flip_rows(results, targets, changes="swaps", target="live reload"),
    ]


def server_table(
    results: dict[str, Any], generator: str, rounds: int, duration: float, connections: int
) -> list[str]:
    from benchmarks.server import HEALTHY_SUFFIX, HUNG_SUFFIX

    bare = results["bare"].median("rps")
    lines = [
        "#### 4. A real server",
        "",
        f"gunicorn, 2 sync workers per server, 127.0.0.1; load from {generator}, "
        f"{connections} connections, {duration:g} s per run, {rounds} rounds per "
        "configuration interleaved; medians over rounds. With 2 or more CPUs the load "
        "generator is pinned to the first and the servers to the others, so both workers "
        "of a server share what is left: compare rows, not absolute numbers.",
        "",
        "| configuration | requests/s | vs bare | p50 | p90 | p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        if name.endswith((HUNG_SUFFIX, HEALTHY_SUFFIX)):
            continue  # in the table of the hung store
        lines.append(
            f"| {name} | {r.median('rps'):,.0f} | {r.median('rps') / bare:.2f}x | "
            f"{_ms(r.median('p50'))} | {_ms(r.median('p90'))} | "
            f"{_ms(r.median('p99'))} |"
        )
    return lines


def hung_table(results: dict[str, Any], targets: list[str]) -> list[str]:
    """Requests/s of the store setups with the redis-server healthy and stopped."""
    from benchmarks.server import HANG_FIRST, HEALTHY_SUFFIX, HUNG, HUNG_SUFFIX

    pairs = [
        (n + HEALTHY_SUFFIX, n + HUNG_SUFFIX)
        for n in HUNG
        if n + HEALTHY_SUFFIX in results and n + HUNG_SUFFIX in results
    ]
    if not pairs:
        return []
    lines = [
        "",
        "The same servers loaded again, in rounds of their own: a run with the "
        "redis-server healthy, then one while it is stopped (`SIGSTOP`: "
        "connections accepted by the kernel, never answered, as with a hung server or "
        f"dropped packets), from {HANG_FIRST:g} s after it stopped, so that every read of it "
        "already fails. Ours keeps serving what it last read; django-maintenance-mode's "
        "`CacheBackend` asks the cache on every request, and Django's `RedisCache` has no "
        "socket timeout by default.",
        "",
        "| configuration | store | requests/s | vs healthy | p50 | p99 | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for healthy, hung in pairs:
        base = results[healthy].median("rps")
        for name, state in ((healthy, "healthy"), (hung, "hung")):
            r = results[name]
            label = healthy.removesuffix(HEALTHY_SUFFIX)
            # No answer at all: no latency to show.
            p50, p99 = (
                (_ms(r.median("p50")), _ms(r.median("p99"))) if r.median("rps") else ("—", "—")
            )
            lines.append(
                f"| {label} | {state} | {r.median('rps'):,.0f} | "
                f"{r.median('rps') / base:.2f}x | {p50} | {p99} | {r.errors} |"
            )
    ours_healthy, ours_hung = results[pairs[0][0]], results[pairs[0][1]]
    ratio = ours_hung.median("rps") / ours_healthy.median("rps")
    targets.append(
        f"requests/s while the shared store is hung: {ratio:.2f}x the healthy store "
        f"(target: unchanged, within ±{HUNG_TOLERANCE:.0%}), "
        f"{ours_hung.errors} errors — {_mark(ratio >= 1 - HUNG_TOLERANCE and not ours_hung.errors)}"
    )
    for healthy, hung in pairs[1:]:
        targets.append(
            f"for comparison, {healthy.removesuffix(HEALTHY_SUFFIX)} while the store is hung: "
            f"{results[hung].median('rps') / results[healthy].median('rps'):.2f}x, "
            f"{results[hung].errors} errors"
        )
    return lines


#: "Unchanged" requests/s under a hung store: within the run-to-run spread of one server
#: under the same load on this machine (a few percent).
HUNG_TOLERANCE = 0.05

COLUMNS = (
    "bare",
    "ours off",
    "ours off, mounted",
    "ours on",
    "ours off, store",
    "ours on, store",
    "dmm off",
    "dmm on",
    "dmm off, cache",
    "dmm on, cache",
)


def summary_table(measured: dict[str, Any], loaded: dict[str, Any] | None) -> list[str]:
    """One table, configurations side by side, every cell a ratio from this run."""
    columns = [c for c in COLUMNS if f"wsgi/{c}" in measured]
    passthrough, bare_wsgi = measured["alone/pass-through"], measured["wsgi/bare"]

    def alone(name: str) -> str:
        if name == "bare":
            return "—"
        rounds = zip(
            measured[f"alone/{name}"].per_op, passthrough.per_op, bare_wsgi.per_op, strict=True
        )
        return f"{statistics.median((a - p) / w for a, p, w in rounds):.1%}"

    rows = [
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
        "| status | " + " | ".join("503" if " on" in c else "200" for c in columns) + " |",
        "| middleware alone: overhead ÷ one bare request | "
        + " | ".join(alone(c) for c in columns)
        + " |",
    ]
    for proto in ("wsgi", "asgi"):
        bare = measured[f"{proto}/bare"]
        rows.append(
            f"| {proto.upper()}Handler loop: time vs bare | "
            + " | ".join(f"{measured[f'{proto}/{c}'].ratio(bare):.2f}x" for c in columns)
            + " |"
        )
    if loaded is not None:
        bare_rps = loaded["bare"].median("rps")
        rows.append(
            "| gunicorn + load generator: requests/s vs bare | "
            + " | ".join(
                f"{loaded[c].median('rps') / bare_rps:.2f}x" if c in loaded else "—"
                for c in columns
            )
            + " |"
        )
        rows.append(
            "| gunicorn: median latency | "
            + " | ".join(_ms(loaded[c].median("p50")) if c in loaded else "—" for c in columns)
            + " |"
        )
    return rows


def summary_notes(measured: dict[str, Any], adaptations: list[dict[str, Any]]) -> list[str]:
    from benchmarks.inprocess import HOP

    notes = [
        "The middleware-alone row is the precise one; the handler-loop and server "
        "ratios move by a few percent from run to run on a busy machine."
    ]
    hop = measured.get(HOP)
    bare = next((row for row in adaptations if row["name"] == "bare"), None)
    if hop is not None and bare is not None:
        notes += [
            "",
            f"ASGI times are mostly thread hops that Django makes for its own "
            f"`MiddlewareMixin` middleware ({bare['sync_to_async']:g} per request here, "
            f"{_us(hop.median)} each on this machine). django-maintenance-mode is "
            "sync-only, so Django runs the whole chain in one hop instead: that is "
            "why it can look cheaper than bare there.",
        ]
    return notes


def render(run: Run) -> tuple[str, str]:
    """``(results.md, summary.md)`` for ``run``: every table with its targets, and the
    summary table with the targets (for the documentation)."""
    from benchmarks import offpath

    targets: list[str] = []
    measured = run.measured
    body = inprocess_tables(measured, run.adaptations, targets)
    offpath.targets(measured, targets)
    if run.reload is not None:
        body += ["", *reload_table(run.reload, targets)]
    if run.flips is not None:
        body += store_reload_table(run.flips, targets)
    if run.loaded is not None and run.server is not None:
        setup = run.server
        body += [
            "",
            *server_table(
                run.loaded, setup.generator, setup.rounds, setup.duration, setup.connections
            ),
            *hung_table(run.loaded, targets),
        ]
    took = (
        f"Reproduce: `make bench` (this run took {run.seconds:.0f} s"
        f"{', --quick' if run.quick else ''}). It installs the `bench` dependency group "
        "(django-maintenance-mode, `dmm` above) and uses `wrk` when installed "
        "(`apt-get install wrk`). How each number is taken: "
        f"[benchmarks/README.md]({REPOSITORY}benchmarks/README.md)."
    )
    head = [
        *run.machine,
        "",
        *run.notes,
        *summary_table(measured, run.loaded),
        "",
        *summary_notes(measured, run.adaptations),
        "",
        "Targets, each a ratio from this run:",
        "",
        *[t if t.startswith("  - ") else f"- {t}" for t in targets],
        "",
    ]
    results = "\n".join(["### Benchmarks", "", *head, *body, "", took]) + "\n"
    link = (
        "Every table, with absolute medians and how each number is taken: "
        f"[benchmarks/results.md]({REPOSITORY}benchmarks/results.md)."
    )
    summary = "\n".join([*head, link, "", took]) + "\n"
    return results, summary


def write(run: Run, *, summary: bool) -> str:
    """Render ``run`` into :data:`RESULTS` (and :data:`SUMMARY` when ``summary``: not for
    a quick run, whose figures are not published); returns the results text."""
    results, summary_text = render(run)
    RESULTS.write_text(results, encoding="utf-8")
    print(f"written to {RESULTS}", file=sys.stderr)
    if summary and run.quick:
        print("--quick: benchmarks/summary.md left as it is", file=sys.stderr)
    elif summary:
        SUMMARY.write_text(summary_text, encoding="utf-8")
        print(f"written to {SUMMARY} (docs/benchmarks.md includes it)", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("data", nargs="?", type=Path, default=DATA, help="a run's JSON")
    parser.add_argument("--docs", action="store_true", help="also write benchmarks/summary.md")
    args = parser.parse_args(argv)
    write(load(args.data), summary=args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
