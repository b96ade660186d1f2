"""A phased one-off window opening and closing under load, through real servers (section 11).

Each server starts with ``MAINTENANCE_MODE=on`` and a window a few seconds from now,
computed from the clock at start-up (whole seconds, nothing tied to a date):
``MAINTENANCE_MODE_STARTS_AT`` = S, ``MAINTENANCE_MODE_ENDS_AT`` = S + 6 and
``MAINTENANCE_MODE_READ_ONLY_FIRST=3``, so the process goes off -> read-only -> full ->
off by the clock alone, no source changing, no thread of the package's own. Servers:
gunicorn with 2 sync workers (``--threads 1``), the Procfile's gunicorn as it is (2
workers x 4 threads) and uvicorn (2 workers), serving ``tests.schedule_site`` (the
example site, a worker-pid header, and a receiver logging every ``maintenance_changed``).

Client threads, each request on a new connection, GET ``/`` (HTML and JSON), POST to
``/visits/`` (a real database write, with a CSRF cookie and header, HTML and JSON) and GET
the health probe, from before the window until after it. What proves it:

- only 200 and 503 are ever served, and the probe is always 200;
- each response is checked against the phase of the instants the worker stamped on it
  (``X-Worker-Began``/``X-Worker-Ended``: the decision was made in between, on the same
  clock): off: everything 200; read-only: GETs 200, POSTs the read-only 503 (``"read_only":
  true`` in JSON, the read-only sentence in HTML); full: everything the 503 page, not
  read-only. A response whose stamps straddle an edge may be either side's;
- every phase is seen with its own answers;
- every worker that answered sent the start signal (``previous=None``) once, then exactly
  one signal per edge, in order: off -> read-only, read-only -> full, full -> off (cause
  ``schedule``), and nothing else.

No timed assertion: the waits are bounded and fail with what they saw.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import sampling, servers

pytestmark = [pytest.mark.server, pytest.mark.slow]

WORKERS = 2
#: Seconds from the server's launch to the window's start; doubled (and the server
#: started again) when the server took so long to answer that less than MIN_LEAD is left.
LEAD = 5
MIN_LEAD = 1.5
START_ATTEMPTS = 3
READ_ONLY_FIRST = 3
FULL = 3
#: How long the load goes on after the window closed.
AFTER = 2.0
CLIENT_THREADS = 6
#: Each client thread stops after this many requests even if nobody tells it to.
MAX_REQUESTS_PER_THREAD = 20_000
#: The bound on every worker's last signal arriving once the load is over.
SIGNAL_BOUND = 15.0


READ_ONLY_SENTENCE = b"changes cannot be saved right now"
CSRF_TOKEN = secrets.token_hex(16)  # 32 alphanumerics: a well-formed unmasked token
JSON_ACCEPT = {"Accept": "application/json"}
HTML_ACCEPT = {"Accept": "text/html,application/xhtml+xml"}
POST_HEADERS = {
    "Cookie": f"csrftoken={CSRF_TOKEN}",
    "X-CSRFToken": CSRF_TOKEN,
    "Content-Type": "application/x-www-form-urlencoded",
}


def kind_of(request: sampling.Request) -> str:
    """ "probe", "write" (a POST) or "read"."""
    if request.path == "/healthz":
        return "probe"
    return "write" if request.method == "POST" else "read"


VISIT = b"note=visit"
TARGETS = [
    sampling.Request("GET", "/", HTML_ACCEPT),
    sampling.Request("POST", "/visits/", {**POST_HEADERS, **JSON_ACCEPT}, VISIT),
    sampling.Request("GET", "/", JSON_ACCEPT),
    sampling.Request("POST", "/visits/", {**POST_HEADERS, **HTML_ACCEPT}, VISIT),
    sampling.Request("GET", "/healthz", {}),
]

# What a response is, by what it says: "ok" (served), "read-only" (the read-only 503),
# "down" (the full maintenance 503).
OUTCOMES = {
    # phase: {target kind: outcome}
    "off": {"read": "ok", "write": "ok", "probe": "ok"},
    "read-only": {"read": "ok", "write": "read-only", "probe": "ok"},
    "full": {"read": "down", "write": "down", "probe": "ok"},
}


@dataclass(frozen=True)
class Window:
    """The window's instants, Unix seconds (whole)."""

    starts: int
    full: int
    ends: int

    @classmethod
    def after(cls, lead: int) -> Window:
        starts = math.ceil(time.time()) + lead
        return cls(starts, starts + READ_ONLY_FIRST, starts + READ_ONLY_FIRST + FULL)

    def environment(self) -> dict[str, str]:
        def iso(seconds: int) -> str:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()

        return {
            "MAINTENANCE_MODE": "on",
            "MAINTENANCE_MODE_STARTS_AT": iso(self.starts),
            "MAINTENANCE_MODE_ENDS_AT": iso(self.ends),
            "MAINTENANCE_MODE_READ_ONLY_FIRST": str(READ_ONLY_FIRST),
        }

    def phase(self, moment: float) -> tuple[int, str]:
        """The stretch ``moment`` is in (0 before, 1 read-only, 2 full, 3 after) and its
        phase name."""
        if moment < self.starts:
            return 0, "off"
        if moment < self.full:
            return 1, "read-only"
        if moment < self.ends:
            return 2, "full"
        return 3, "off"


def outcome(request: sampling.Request, status: int, body: bytes) -> str:
    """What the response is ("ok", "read-only", "down"), or a problem's description."""
    if status == 200:
        return "ok"
    if status != 503:
        return f"status {status}"
    if request.headers.get("Accept") == JSON_ACCEPT["Accept"]:
        try:
            document = json.loads(body)
        except ValueError:
            return f"503 without a JSON body: {body[:200]!r}"
        if not isinstance(document, dict) or "detail" not in document:
            return f"503 without the maintenance JSON: {body[:200]!r}"
        return "read-only" if document.get("read_only") is True else "down"
    lowered = body.lower()
    if b"maintenance" not in lowered:
        return f"503 without the maintenance page: {body[:200]!r}"
    return "read-only" if READ_ONLY_SENTENCE in lowered else "down"


def judge(
    window: Window, sample: sampling.Sample
) -> tuple[str | None, tuple[int, str, str] | None]:
    """(a problem or None, and (stretch, target kind, outcome) when the response was
    decided wholly inside one stretch): the answer against the phase of the instants the
    worker stamped on it; one whose stamps straddle an edge may be either side's."""
    if not sample.pid or not sample.began or not sample.ended:
        return f"{sample.status} without the worker's headers: {sample.headers}", None
    found = outcome(sample.request, sample.status, sample.body)
    kind = kind_of(sample.request)
    first, last = window.phase(sample.began), window.phase(sample.ended)
    allowed = {OUTCOMES[first[1]][kind], OUTCOMES[last[1]][kind]}
    if found not in allowed:
        return (
            f"{sample.request}: {found!r} in {first[1]}..{last[1]} (expected "
            f"{sorted(allowed)}), at {sample.began - window.starts:+.3f} s from the start"
        ), None
    return None, ((first[0], kind, found) if first == last else None)


def load(
    server: servers.Server, window: Window, seen: Counter[tuple[int, str, str]]
) -> sampling.Sampler:
    """CLIENT_THREADS clients, each request on a new connection (any worker may answer),
    every answer judged as it comes and counted in ``seen`` by (stretch, target kind,
    outcome) when it was decided wholly inside one stretch (only the counts are kept)."""
    lock = threading.Lock()

    def check(sample: sampling.Sample) -> str | None:
        problem, key = judge(window, sample)
        if key is not None:
            with lock:
                seen[key] += 1
        return problem

    return sampling.Sampler(
        [server],
        TARGETS,
        clients=CLIENT_THREADS,
        check=check,
        keep=False,
        max_requests=MAX_REQUESTS_PER_THREAD,
    )


def _migrate(environ: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "example_project/manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=servers.ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"migrate:\n{done.stdout}{done.stderr}"


@contextlib.contextmanager
def serving(kind: str, tmp: Path, signal_log: Path) -> Iterator[tuple[servers.Server, Window]]:
    """The server, started with a window that opens at least MIN_LEAD s after it answers."""
    lead = LEAD
    for attempt in range(START_ATTEMPTS):
        port = servers.free_port()
        window = Window.after(lead)
        environ = servers.server_environment(
            port,
            {
                "DJANGO_SETTINGS_MODULE": "tests.schedule_site",
                "PYTHONPATH": str(servers.ROOT),
                # The example's default mounted config directory is not part of this test.
                "MAINTENANCE_MODE_CONFIG_PATH": "",
                "WEB_CONCURRENCY": str(WORKERS),
                "SIGNAL_LOG": str(signal_log),
                **window.environment(),
            },
            tmp,
        )
        if attempt == 0:
            _migrate(environ)
        signal_log.unlink(missing_ok=True)
        log = tmp / f"{kind}-{attempt}.log"
        with servers.running(
            kind, servers.command_for(kind, port, WORKERS), environ, port, log
        ) as server:
            if window.starts - time.time() >= MIN_LEAD:
                yield server, window
                return
        lead *= 2
    pytest.fail(f"{kind} never answered {MIN_LEAD} s before its window (lead up to {lead} s)")


def _signals(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _edges(lines: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(s["previous"], s["active"], s["read_only"], s["cause"]) for s in lines]


START = (None, False, False, "start")
EXPECTED_EDGES = [
    (False, True, True, "schedule"),  # off -> read-only
    (True, True, False, "schedule"),  # read-only -> full
    (True, False, False, "schedule"),  # full -> off
]


def _by_pid(path: Path) -> dict[int, list[dict[str, object]]]:
    found: dict[int, list[dict[str, object]]] = {}
    for line in _signals(path):
        found.setdefault(int(str(line["pid"])), []).append(line)
    return found


def _wait_for_signals(server: servers.Server, path: Path, pids: set[int]) -> None:
    """Bounded: until every worker in ``pids`` logged its last edge (a uvicorn worker sends
    from a task on its loop), nudging the workers with GETs, each on a new connection."""
    deadline = time.monotonic() + SIGNAL_BOUND
    while time.monotonic() < deadline:
        found = _by_pid(path)
        if all(len(found.get(pid, [])) >= 1 + len(EXPECTED_EDGES) for pid in pids):
            return
        server.get("/healthz")
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["gunicorn-sync", "gunicorn", "uvicorn"])
def test_a_phased_window_opens_and_closes_under_load(kind: str, tmp_path: Path) -> None:
    signal_log = tmp_path / "signals.jsonl"
    with serving(kind, tmp_path, signal_log) as (server, window):
        seen: Counter[tuple[int, str, str]] = Counter()
        with load(server, window, seen) as sampler:
            # Bounded: the clock reaches the end (plus AFTER) in about LEAD + 6 + AFTER s.
            while time.time() < window.ends + AFTER and not sampler.errors:
                time.sleep(0.05)
        pids = {pid for _, pid in sampler.workers}
        _wait_for_signals(server, signal_log, pids)
        output = server.output()

    assert sampler.errors == [], sampler.errors[:5]
    assert sampler.problems == [], sampler.problems[:5]
    assert set(sampler.statuses) <= {200, 503}, sampler.statuses
    assert "Traceback" not in output, output

    # Every stretch seen with its own answers.
    for stretch, phase in enumerate(["off", "read-only", "full", "off"]):
        for kind_of_target, expected in OUTCOMES[phase].items():
            assert seen[(stretch, kind_of_target, expected)] > 0, (
                f"no {kind_of_target} answered {expected!r} in stretch {stretch} ({phase}): "
                f"{dict(seen)}"
            )

    # The signal: once at each worker's start, then once per edge per worker.
    found = _by_pid(signal_log)
    assert len(pids) >= WORKERS, (pids, found)
    assert set(found) == pids, (sorted(found), sorted(pids))
    for pid, lines in found.items():
        edges = _edges(lines)
        assert edges.count(START) == 1, (pid, edges)
        assert edges[0] == START, (pid, edges)
        assert edges[1:] == EXPECTED_EDGES, (pid, edges)
        phases = [line["phase"] for line in lines[1:]]
        assert phases == ["read-only", "active", "off"], (pid, phases)
    print(
        f"\n{kind}: {sampler.count} requests {dict(sampler.statuses)}, "
        f"{len(found)} workers, each {1 + len(EXPECTED_EDGES)} signals"
    )
