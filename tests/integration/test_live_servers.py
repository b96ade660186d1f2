"""Live flips under load, through real servers on loopback.

gunicorn runs the Procfile's ``web:`` command (2 workers x 4 threads) and uvicorn serves
the same site over ASGI (2 workers); the site is ``tests.live_site``, the example naming
the answering worker in ``X-Worker-Pid``. A bounded pool of client threads, half reusing
keep-alive connections and half opening a new one per request, hammers several URLs
while a writer flips ``MAINTENANCE_MODE`` many times:

- the kubelet way (a timestamped directory, ``..data_tmp`` renamed over ``..data``);
- a dotenv file replaced by rename (``sources.write_value``, what ``on --write`` does);
- a dotenv file edited in place (truncated and rewritten). ``os.stat`` cannot see an
  in-place edit that keeps the size within one mtime tick, so the writer alternates
  values of different lengths (``on``/``off``) as a real edit of the switch does.

Only 200 and 503 may ever be served, with no connection error; the health probe is always
200; after the last flip every worker, known by its pid, serves the new value and never the
old one again (``tests.sampling.converge``, polled with a generous bound so that the test
ends; the time is measured, not asserted). The figures go to
``build/reliability/live-servers.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from maintenance_env import sources
from tests import sampling, servers
from tests.kubelet import ConfigMapVolume

pytestmark = [pytest.mark.server, pytest.mark.slow]

RELOAD_INTERVAL = 0.2
FLIPS = 60
CLIENT_THREADS = 8
#: Each client thread stops after this many requests even if nobody tells it to.
MAX_REQUESTS_PER_THREAD = 20_000
#: The bound on convergence after the last flip (it takes about RELOAD_INTERVAL).
CONVERGE_BOUND = 30.0
#: Answers of the new value from one worker that count as "that worker converged".
STEADY = 8
#: Per server: the Procfile's gunicorn (x 4 threads) and uvicorn.
WORKERS = 2

JSON = {"Accept": "application/json"}
#: The requests of the load. The probe passes maintenance (always 200); the rest flip.
TARGETS = [
    sampling.Request("GET", "/", {}),
    sampling.Request("GET", "/", JSON),
    sampling.Request("GET", "/admin/login/", {}),
    sampling.Request("GET", "/?page=2&q=caf%C3%A9", {"Accept": "text/html,application/xhtml+xml"}),
    sampling.Request("GET", "/healthz", {}),
]

FIGURES = servers.ROOT / "build" / "reliability" / "live-servers.json"


def answer_rule(on_message: bytes | None) -> sampling.Check:
    """What every answer under load must be; ``on_message``: the text every 503 carries
    when the writer changes the message with the switch (one payload, never a mix)."""

    def check(sample: sampling.Sample) -> str | None:
        request, status, body = sample.request, sample.status, sample.body
        json_asked = request.headers.get("Accept") == JSON["Accept"]
        if status not in ({200} if request.path == "/healthz" else {200, 503}):
            return f"{status} for {request}: {body[:200]!r}"
        if status == 503 and json_asked and not body.startswith(b'{"detail"'):
            return f"503 for JSON without the JSON body: {body[:200]!r}"
        if status == 503 and not json_asked and b"maintenance" not in body.lower():
            return f"503 without the maintenance page for {request}: {body[:200]!r}"
        if status == 503 and on_message is not None and on_message not in body:
            return f"503 with a message from another payload: {body[:300]!r}"
        return None

    return check


def load(server: servers.Server, on_message: bytes | None) -> sampling.Sampler:
    """CLIENT_THREADS clients, half on kept-alive connections, every target in turn, each
    answer checked as it comes (the samples themselves are not kept: tens of thousands)."""
    return sampling.Sampler(
        [server],
        TARGETS,
        clients=CLIENT_THREADS,
        keep_alive=True,
        check=answer_rule(on_message),
        keep=False,
        max_requests=MAX_REQUESTS_PER_THREAD,
    )


def converge(
    server: servers.Server, pids: set[int], expected: int, since: float
) -> sampling.Converged:
    """From ``since`` (``time.time()`` right after the write), until every worker in
    ``pids`` answered ``expected`` STEADY times (new connections, so every worker answers
    some), within CONVERGE_BOUND seconds; every answer meanwhile is a 200 or a 503, and
    every request is answered."""
    with sampling.Sampler([server], [sampling.Request("GET", "/", {})]) as sampler:
        converged = sampling.converge(
            sampler, {server.name: pids}, expected, since, steady=STEADY, bound=CONVERGE_BOUND
        )
    assert sampler.errors == [], sampler.errors[:5]
    assert set(sampler.statuses) <= {200, 503}, sampler.statuses
    return converged


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
        # The example site naming the answering worker (``X-Worker-Pid``).
        "DJANGO_SETTINGS_MODULE": "tests.live_site",
        "PYTHONPATH": str(servers.ROOT),
        "MAINTENANCE_MODE_CONFIG_PATH": str(config),
        "MAINTENANCE_MODE_RELOAD_INTERVAL": str(RELOAD_INTERVAL),
    }
    return servers.serve(kind, tmp, extra, workers=WORKERS)


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_live_flips_under_load(
    kind: str, writer: str, tmp_path: Path, figures: list[dict[str, object]]
) -> None:
    config, write = WRITERS[writer](tmp_path)
    with start(kind, tmp_path, config) as server:
        pids = sampling.discover_pids(lambda: sampling.Sampler([server]), WORKERS, CONVERGE_BOUND)[
            server.name
        ]
        converge(server, pids, 200, time.time())  # the initial "off" is in force everywhere
        on_message = b"Flipped to on by the test" if writer == "kubelet" else None
        with load(server, on_message) as sampler:
            flip(write)  # ends on "off", held
            write("on")
            last_flip = time.time()
        took = converge(server, pids, 503, since=last_flip)
        write("off")
        took_back = converge(server, pids, 200, since=time.time())
        log = server.output()

    assert sampler.errors == [], sampler.errors[:5]
    assert sampler.problems == [], sampler.problems[:5]
    assert set(sampler.statuses) <= {200, 503}
    assert sampler.statuses[503] > 0, sampler.statuses
    assert sampler.statuses[200] > 0, sampler.statuses
    assert "Traceback" not in log, log
    figures.append(
        {
            "server": kind,
            "writer": writer,
            "flips": FLIPS + 2,
            "requests": sampler.count,
            "statuses": dict(sampler.statuses),
            "converged_after_s": round(took.worst, 3),
            "converged_back_after_s": round(took_back.worst, 3),
        }
    )
    print(
        f"\n{kind} {writer}: {FLIPS + 2} flips, {sampler.count} requests "
        f"{dict(sampler.statuses)}, converged in {took.worst:.3f} s / {took_back.worst:.3f} s"
    )
