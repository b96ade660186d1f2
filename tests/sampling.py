"""One fleet sampler for the load tests of real servers: clients, samples, convergence.

The sites these tests serve (``tests.live_site`` and what builds on it) stamp every
response with the worker that answered it and when it decided (``X-Worker-Pid``,
``X-Worker-Began``, ``X-Worker-Ended``, on the machine's one ``time.time()`` clock), so a
:class:`Sample` says which worker answered what and when. A :class:`Sampler` runs client
threads against one or more servers, each sending its :class:`Request` list in turn (a new
connection per request, or a kept-alive one), and collects statuses, failures and, when
asked, every sample; :func:`converge` waits (bounded) until every known worker serves a
status for good and says how long each took. Each test keeps its own rule as a ``check``
(a function of one sample returning a problem, or ``None``): the sampler only runs it.

Every loop here is bounded in count and in time; the bounds end a test, they are not what
it asserts.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tests.servers import Server

__all__ = [
    "JOIN_TIMEOUT",
    "Converged",
    "Request",
    "Sample",
    "Sampler",
    "converge",
    "discover_pids",
    "output",
    "send",
    "start",
    "stop",
]

#: Seconds each client thread may take to notice the stop event (a bound, not an assertion).
JOIN_TIMEOUT = 60.0
#: Set by ``tests/live_site.py`` (not imported here: it imports the example's settings).
PID_HEADER = "X-Worker-Pid"
BEGAN_HEADER = "X-Worker-Began"
ENDED_HEADER = "X-Worker-Ended"

Argument = TypeVar("Argument")
Worker = tuple[str, int]  # (server name, pid)


def start(
    client: Callable[[Argument], None], arguments: Iterable[Argument]
) -> list[threading.Thread]:
    """One started daemon thread running ``client(argument)`` per argument."""
    threads = [threading.Thread(target=client, args=(a,), daemon=True) for a in arguments]
    for thread in threads:
        thread.start()
    return threads


def stop(event: threading.Event, threads: list[threading.Thread]) -> None:
    """Set ``event``, join every thread within :data:`JOIN_TIMEOUT` seconds each.

    Raises ``AssertionError`` naming how many are still running.
    """
    event.set()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    alive = [thread for thread in threads if thread.is_alive()]
    assert not alive, f"{len(alive)} client thread(s) did not finish"


@dataclass(frozen=True)
class Request:
    """What a client sends: ``method``, ``path`` (with its query), headers, a body."""

    method: str = "GET"
    path: str = "/pid"
    headers: Mapping[str, str] = field(default_factory=lambda: {"Accept": "text/html"})
    body: bytes | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.headers.get('Accept', '')}".rstrip()


#: The cheapest page of ``tests.live_site``, as HTML: the default of a sampler.
PID = Request()


@dataclass(frozen=True)
class Sample:
    """One answered request: which server and worker answered what, and when.

    ``sent``/``received`` are the client's ``time.time()``; ``began``/``ended`` the
    worker's, around its middleware chain: the maintenance decision was made between them,
    so they bound the moment a worker switched without the time spent queued or on the
    wire. ``pid``, ``began`` and ``ended`` are 0 when the site does not stamp them.
    """

    server: str
    request: Request
    status: int
    headers: Mapping[str, str]
    body: bytes
    sent: float
    received: float
    pid: int
    began: float
    ended: float

    @property
    def worker(self) -> Worker:
        return (self.server, self.pid)


def send(
    server: Server, request: Request = PID, conn: http.client.HTTPConnection | None = None
) -> Sample:
    """``request`` on ``conn`` (kept open), or on a new connection closed after it.

    Raises ``OSError``, ``http.client.HTTPException`` or ``ValueError`` (a malformed stamp).
    """
    own = conn is None
    connection = server.connection() if conn is None else conn
    sent = time.time()
    try:
        connection.request(
            request.method, request.path, body=request.body, headers=dict(request.headers)
        )
        response = connection.getresponse()
        body = response.read()
        received = time.time()
    finally:
        if own:
            connection.close()
    # ``getheader`` matches names whatever their case (RFC 9110, section 5.1).
    return Sample(
        server.name,
        request,
        response.status,
        dict(response.getheaders()),
        body,
        sent,
        received,
        int(response.getheader(PID_HEADER) or 0),
        float(response.getheader(BEGAN_HEADER) or 0),
        float(response.getheader(ENDED_HEADER) or 0),
    )


Check = Callable[[Sample], "str | None"]


@dataclass
class Sampler:
    """Client threads requesting until stopped, bounded in count and in time.

    ``clients`` threads per server; client *n* sends ``requests[(n + i) % len(requests)]``
    as its *i*-th request, so every client covers every request. With ``keep_alive`` every
    other client reuses one connection (the rest open one per request, so any worker may
    answer). ``pause`` seconds between two requests of one client keep the machine's CPUs
    free (a saturated machine measures its scheduler). ``check`` is each test's rule; its
    problems are collected in :attr:`problems`. A failed request (a connection error, a
    malformed stamp) is collected in :attr:`errors` and ends its client, unless
    ``retry_errors`` (then the client waits 10 ms and goes on: a store outage test wants
    every request tried); any other exception is collected and ends its client, and a
    ``check`` that raises is collected as a problem. ``keep`` keeps every sample (bodies included) for later rules;
    without it only the counts are kept.
    """

    servers: Sequence[Server]
    requests: Sequence[Request] = (PID,)
    clients: int = 3
    keep_alive: bool = False
    pause: float = 0.0
    check: Check | None = None
    keep: bool = True
    retry_errors: bool = False
    max_requests: int = 20_000
    max_seconds: float = 120.0
    samples: list[Sample] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    #: Every worker that answered, (server name, pid).
    workers: set[Worker] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    count: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _record(self, sample: Sample) -> None:
        try:
            problem = self.check(sample) if self.check is not None else None
        except Exception as exc:  # a rule that cannot judge an answer is a problem too
            problem = f"the check raised {exc!r} on {sample.status} for {sample.request}"
        with self._lock:
            self.count += 1
            self.statuses[sample.status] += 1
            if sample.pid:
                self.workers.add(sample.worker)
            if self.keep:
                self.samples.append(sample)
            if problem is not None:
                self.problems.append(problem)

    def _client(self, arguments: tuple[Server, int]) -> None:
        server, number = arguments
        conn = server.connection() if self.keep_alive and number % 2 == 0 else None
        deadline = time.monotonic() + self.max_seconds
        try:
            for i in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                request = self.requests[(number + i) % len(self.requests)]
                try:
                    sample = send(server, request, conn)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    with self._lock:
                        self.errors.append(f"{server.name} {request}: {exc!r}")
                    if not self.retry_errors:
                        return
                    if conn is not None:
                        conn.close()
                        conn = server.connection()
                    time.sleep(0.01)
                    continue
                except Exception as exc:  # anything else ends the client, never silently
                    with self._lock:
                        self.errors.append(f"{server.name} {request}: {exc!r}")
                    return
                self._record(sample)
                if self.pause:
                    time.sleep(self.pause)
        finally:
            if conn is not None:
                conn.close()

    def __enter__(self) -> Sampler:
        arguments = [(s, n) for s in self.servers for n in range(self.clients)]
        self._threads = start(self._client, arguments)
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop(self._stop, self._threads)

    def since(self, moment: float) -> list[Sample]:
        """The kept samples sent at or after ``moment`` (``time.time()``)."""
        with self._lock:
            return [s for s in self.samples if s.sent >= moment]

    def answered(self) -> set[Worker]:
        """A copy of :attr:`workers`, taken under the lock."""
        with self._lock:
            return set(self.workers)

    def output(self) -> str:
        """Every server's output so far (for failure messages)."""
        return output(self.servers)


def output(fleet: Iterable[Server]) -> str:
    """Every server's output so far, each under its name (for failure messages)."""
    return "\n".join(f"--- {s.name}\n{s.output()}" for s in fleet)


def discover_pids(
    sampler_for: Callable[[], Sampler], workers: int, bound: float
) -> dict[str, set[int]]:
    """Every worker's pid per server, from a sampler's requests: ``workers`` per server,
    waited for within ``bound`` seconds. Raises ``AssertionError`` with what was found."""
    sampler = sampler_for()
    found: dict[str, set[int]] = {s.name: set() for s in sampler.servers}
    deadline = time.monotonic() + bound
    with sampler:
        while time.monotonic() < deadline:
            for server, pid in sampler.answered():
                found[server].add(pid)
            if all(len(pids) >= workers for pids in found.values()):
                break
            time.sleep(0.05)
    assert all(len(pids) == workers for pids in found.values()), (found, sampler.output())
    assert sampler.errors == [], sampler.errors[:5]
    return found


@dataclass
class Converged:
    """When each worker started serving ``status`` for good, after ``since``."""

    status: int
    since: float
    #: worker -> seconds from ``since`` until the worker had served its first new answer
    #: (its ``ended``): an upper bound of the moment it switched.
    delays: dict[Worker, float]
    #: worker -> seconds from ``since`` until the worker began its last old answer: a lower
    #: bound of the moment it switched.
    last_old: dict[Worker, float]

    @property
    def worst(self) -> float:
        return max(self.delays.values())

    def figures(self) -> dict[str, float]:
        """The delays by ``server:pid``, in seconds to 0.1 ms."""
        return {f"{s}:{p}": round(d, 4) for (s, p), d in self.delays.items()}


def converge(
    sampler: Sampler,
    workers: Mapping[str, set[int]],
    status: int,
    since: float,
    *,
    steady: int,
    bound: float,
    settled: bool = True,
) -> Converged:
    """Wait until every worker in ``workers`` answered ``status`` ``steady`` times after
    ``since`` (``time.time()``), within ``bound`` seconds; ``sampler`` must keep samples.

    ``settled``: the source held one value before ``since``, so a worker never goes back
    (no old answer begun after a new one ended). After a flood of writes a read begun
    before the last write may still be published after it: then only the last ``steady``
    answers of each worker must be ``status``. Raises ``AssertionError`` naming the
    workers that did not converge, a worker that went back, or an unknown worker.
    """
    known = {(server, pid) for server, pids in workers.items() for pid in pids}
    deadline = time.monotonic() + bound
    while True:
        samples = sorted(sampler.since(since), key=lambda s: s.began)
        first: dict[Worker, Sample] = {}
        last_old: dict[Worker, float] = {}
        agreeing: Counter[Worker] = Counter()
        for sample in samples:
            worker = sample.worker
            if sample.status == status:
                first.setdefault(worker, sample)
                agreeing[worker] += 1
            else:
                # A worker's threads overlap: only an old answer begun after a new one
                # ended was surely decided later.
                assert not settled or worker not in first or sample.began < first[worker].ended, (
                    f"{worker} went back to {sample.status} after serving {status}"
                )
                if not settled:
                    first.pop(worker, None)
                    agreeing[worker] = 0
                last_old[worker] = max(last_old.get(worker, 0.0), sample.began - since)
        unknown = set(first) - known
        assert not unknown, f"answers from unknown workers {unknown} (known: {known})"
        if all(agreeing[w] >= steady for w in known):
            return Converged(status, since, {w: first[w].ended - since for w in known}, last_old)
        assert time.monotonic() < deadline, (
            f"not every worker serves {status} {bound:g} s later: {dict(agreeing)}\n"
            f"{sampler.output()}"
        )
        time.sleep(0.02)
