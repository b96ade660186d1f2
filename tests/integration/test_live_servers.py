"""Live flips under load, through real servers on loopback.

gunicorn runs the Procfile's ``web:`` command (2 workers x 4 threads) and uvicorn serves
the same site over ASGI (2 workers). A bounded pool of client threads, half reusing
keep-alive connections and half opening a new one per request, hammers several URLs
while a writer flips ``MAINTENANCE_MODE`` many times:

- the kubelet way (a timestamped directory, ``..data_tmp`` renamed over ``..data``);
- a dotenv file replaced by rename (``sources.write_value``, what ``on --write`` does);
- a dotenv file edited in place (truncated and rewritten). ``os.stat`` cannot see an
  in-place edit that keeps the size within one mtime tick, so the writer alternates
  values of different lengths (``on``/``off``) as a real edit of the switch does.

Only 200 and 503 may ever be served, with no connection error; the health probe is always
200; after the last flip every worker converges (polled, with a generous bound so that the
test ends, and the time measured, not asserted). The figures go to
``build/reliability/live-servers.json``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maintenance_env import sources
from tests import load, servers
from tests.kubelet import ConfigMapVolume

pytestmark = [pytest.mark.server, pytest.mark.slow]

RELOAD_INTERVAL = 0.2
FLIPS = 60
CLIENT_THREADS = 8
#: Each client thread stops after this many requests even if nobody tells it to.
MAX_REQUESTS_PER_THREAD = 20_000
#: The bound on convergence after the last flip (it takes about RELOAD_INTERVAL).
CONVERGE_BOUND = 30.0
#: Consecutive agreeing requests (in parallel, new connections) that count as converged.
AGREEING = 48
AGREEING_BATCHES = 3

JSON = {"Accept": "application/json"}
#: (path, headers, what may be served). The probe passes maintenance; the rest flip.
TARGETS: list[tuple[str, dict[str, str], frozenset[int]]] = [
    ("/", {}, frozenset({200, 503})),
    ("/", JSON, frozenset({200, 503})),
    ("/admin/login/", {}, frozenset({200, 503})),
    ("/?page=2&q=caf%C3%A9", {"Accept": "text/html,application/xhtml+xml"}, frozenset({200, 503})),
    ("/healthz", {}, frozenset({200})),
]

FIGURES = servers.ROOT / "build" / "reliability" / "live-servers.json"


@dataclass
class Load:
    """A bounded concurrent client; counts statuses and collects every failure."""

    server: servers.Server
    #: Text every 503 must carry, when the writer changes the message with the switch.
    on_message: bytes | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _check(self, target: int, status: int, body: bytes) -> None:
        path, headers, allowed = TARGETS[target]
        problem = None
        if status not in allowed:
            problem = f"{status} for {path} {headers}: {body[:200]!r}"
        elif status == 503 and headers is JSON and not body.startswith(b'{"detail"'):
            problem = f"503 for JSON without the JSON body: {body[:200]!r}"
        elif status == 503 and headers is not JSON and b"maintenance" not in body.lower():
            problem = f"503 without the maintenance page for {path}: {body[:200]!r}"
        elif status == 503 and self.on_message is not None and self.on_message not in body:
            # The switch and the message come from one payload: never a mix of two.
            problem = f"503 with a message from another payload: {body[:300]!r}"
        with self._lock:
            self.requests += 1
            self.statuses[status] += 1
            if problem:
                self.unexpected.append(problem)

    def _client(self, number: int) -> None:
        keep_alive = number % 2 == 0
        conn = self.server.connection() if keep_alive else None
        try:
            for i in range(MAX_REQUESTS_PER_THREAD):
                if self._stop.is_set():
                    return
                target = (number + i) % len(TARGETS)
                path, headers, _ = TARGETS[target]
                try:
                    if conn is None:
                        status, body = self.server.get(path, headers)
                    else:
                        conn.request("GET", path, headers=headers)
                        response = conn.getresponse()
                        status, body = response.status, response.read()
                except Exception as exc:  # OSError, http.client's errors: all are failures
                    with self._lock:
                        self.errors.append(f"{path}: {exc.__class__.__name__}: {exc}")
                    return
                self._check(target, status, body)
        finally:
            if conn is not None:
                conn.close()

    def __enter__(self) -> Load:
        self._threads = load.start(self._client, range(CLIENT_THREADS))
        return self

    def __exit__(self, *exc_info: object) -> None:
        load.stop(self._stop, self._threads)


def converge(server: servers.Server, expected: int, since: float | None = None) -> float:
    """Seconds from ``since`` (a monotonic time; default now) until AGREEING_BATCHES batches
    in a row of AGREEING parallel requests on new connections all answer ``expected`` (so
    many that every worker answers some)."""
    started = time.monotonic() if since is None else since
    agreed_since: float | None = None
    agreeing = 0
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        while True:
            batch_started = time.monotonic()
            results = list(pool.map(lambda _: server.get("/")[0], range(AGREEING)))
            if all(status == expected for status in results):
                agreed_since = batch_started if agreed_since is None else agreed_since
                agreeing += 1
                if agreeing == AGREEING_BATCHES:
                    return agreed_since - started
                continue
            agreed_since, agreeing = None, 0
            assert set(results) <= {200, 503}, results
            assert time.monotonic() - started < CONVERGE_BOUND, (
                f"workers still disagree {CONVERGE_BOUND:g} s after the last flip: {results}"
            )
            time.sleep(RELOAD_INTERVAL / 4)


# --- the writers ------------------------------------------------------------------------

Writer = Callable[[str], None]


def kubelet_writer(tmp: Path) -> tuple[Path, Writer]:
    volume = ConfigMapVolume(tmp / "configmap", {"MAINTENANCE_MODE": "off"})

    def write(value: str) -> None:
        volume.update(
            {
                "MAINTENANCE_MODE": value,
                "MAINTENANCE_MODE_MESSAGE": f"Flipped to {value} by the test",
            }
        )

    return volume.root, write


def rename_writer(tmp: Path) -> tuple[Path, Writer]:
    path = tmp / "maintenance.env"
    path.write_text("# live maintenance switch\nMAINTENANCE_MODE=off\n")

    def write(value: str) -> None:
        sources.write_value(str(path), "MAINTENANCE_MODE", value)

    return path, write


def in_place_writer(tmp: Path) -> tuple[Path, Writer]:
    path = tmp / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")

    def write(value: str) -> None:
        inode = os.stat(path).st_ino
        with open(path, "w") as handle:  # truncate and rewrite the same inode
            handle.write(f"MAINTENANCE_MODE={value}\n")
        assert os.stat(path).st_ino == inode

    return path, write


WRITERS: dict[str, Callable[[Path], tuple[Path, Writer]]] = {
    "kubelet": kubelet_writer,
    "dotenv-rename": rename_writer,
    "dotenv-in-place": in_place_writer,
}


def flip(write: Writer) -> None:
    """FLIPS flips, mostly faster than the reload interval, some held longer; the last one
    (off to on) is made by the caller, so that convergence is timed from a real change."""
    for number in range(FLIPS):
        write("on" if number % 2 == 0 else "off")
        # A flip held past the reload interval is seen by every worker; the quick ones
        # race the pollers on purpose.
        time.sleep(RELOAD_INTERVAL * 1.5 if number % 5 == 4 else 0.02)


# --- the servers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures() -> Iterator[list[dict[str, object]]]:
    collected: list[dict[str, object]] = []
    yield collected
    if collected:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(
            json.dumps(
                {
                    "runs": collected,
                    "flips": sum(int(str(r["flips"])) for r in collected),
                    "requests": sum(int(str(r["requests"])) for r in collected),
                },
                indent=2,
            )
            + "\n"
        )


def start(kind: str, tmp: Path, config: Path) -> AbstractContextManager[servers.Server]:
    extra = {
        "MAINTENANCE_MODE_CONFIG_PATH": str(config),
        "MAINTENANCE_MODE_RELOAD_INTERVAL": str(RELOAD_INTERVAL),
    }
    return servers.serve(kind, tmp, extra)


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_live_flips_under_load(
    kind: str, writer: str, tmp_path: Path, figures: list[dict[str, object]]
) -> None:
    config, write = WRITERS[writer](tmp_path)
    with start(kind, tmp_path, config) as server:
        assert converge(server, 200) >= 0  # the initial "off" is in force everywhere
        on_message = b"Flipped to on by the test" if writer == "kubelet" else None
        with Load(server, on_message) as load:
            flip(write)  # ends on "off", held
            write("on")
            last_flip = time.monotonic()
        took = converge(server, 503, since=last_flip)
        write("off")
        took_back = converge(server, 200, since=time.monotonic())
        log = server.output()

    assert load.errors == [], load.errors[:5]
    assert load.unexpected == [], load.unexpected[:5]
    assert set(load.statuses) <= {200, 503}
    assert load.statuses[503] > 0, load.statuses
    assert load.statuses[200] > 0, load.statuses
    assert "Traceback" not in log, log
    figures.append(
        {
            "server": kind,
            "writer": writer,
            "flips": FLIPS + 2,
            "requests": load.requests,
            "statuses": dict(load.statuses),
            "converged_after_s": round(max(took, 0.0), 3),
            "converged_back_after_s": round(took_back, 3),
        }
    )
    print(
        f"\n{kind} {writer}: {FLIPS + 2} flips, {load.requests} requests "
        f"{dict(load.statuses)}, converged in {took:.3f} s / {took_back:.3f} s"
    )
