"""Start a real gunicorn or uvicorn on a free loopback port, and always stop it.

The gunicorn command is read from the ``Procfile``'s ``web:`` line, so the tests run the
very configuration a deployment runs (2 workers x 4 threads from
``example_project/gunicorn.conf.py``). Every wait here is bounded: a server that never
answers fails the test with its own output, it does not hang the suite.

:class:`Daemon` is the same for the servers the tests talk to (redis-server, memcached,
PostgreSQL; see ``tests/redis_server.py`` and ``tests/store_servers.py``): started in a
temporary directory, probed until it answers within a bound, always stopped.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "HOST",
    "ROOT",
    "Account",
    "Daemon",
    "Server",
    "free_port",
    "gunicorn_command",
    "procfile_command",
    "running",
    "server_environment",
    "unprivileged_account",
    "uvicorn_command",
]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

#: How long a server may take to answer its first request (a bound, not an assertion).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def procfile_command(process: str = "web", procfile: Path = ROOT / "Procfile") -> list[str]:
    """The command of one process type of the ``Procfile``, split as a shell would."""
    for line in procfile.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            return shlex.split(command)
    raise LookupError(f"no {process!r} line in {procfile}")


def gunicorn_command() -> list[str]:
    """The Procfile's web command, run with this interpreter's gunicorn."""
    argv = procfile_command("web")
    if not argv or Path(argv[0]).name != "gunicorn":
        raise LookupError(f"the Procfile's web line does not start gunicorn: {argv}")
    return [sys.executable, "-m", "gunicorn", *argv[1:]]


def uvicorn_command(port: int, workers: int = 2) -> list[str]:
    """uvicorn serving the example site's ASGI application."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "demo_site.asgi:application",
        "--app-dir",
        str(ROOT / "example_project"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def server_environment(port: int, extra: Mapping[str, str], tmp: Path) -> dict[str, str]:
    """The parent's environment without anything that would steer the server elsewhere."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAINTENANCE_MODE") and k != "DJANGO_SETTINGS_MODULE"
    }
    environ.update(
        {
            "PORT": str(port),
            "HOST": HOST,
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "STATIC_ROOT": str(tmp / "static"),
            "PYTHONUNBUFFERED": "1",
            "GUNICORN_LOG_LEVEL": "warning",
        }
    )
    environ.update(extra)
    return environ


@dataclass
class Server:
    """A running server process and where it answers."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        """What the server wrote so far (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=30)

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """One request on a new connection: (status, body)."""
        conn = self.connection()
        try:
            conn.request("GET", path, headers=dict(headers or {}))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _wait_until_answers(server: Server, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.output()}"
            )
        try:
            server.get(path)
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{server.name} did not answer within {START_TIMEOUT:g} s:\n{server.output()}"
            )
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group (master and workers), then SIGKILL if need be."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
    # Workers that outlived their master would keep the port: make sure the group is gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(
    name: str,
    argv: list[str],
    environ: Mapping[str, str],
    port: int,
    log: Path,
    ready_path: str = "/healthz",
) -> Iterator[Server]:
    """Start ``argv`` in its own process group, wait until it answers, stop it at the end."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    try:
        _wait_until_answers(server, ready_path)
        yield server
    finally:
        _stop(process)


def command_for(kind: str, port: int, workers: int = 2) -> list[str]:
    """The command line of ``kind``: ``gunicorn`` (the Procfile's web line: gthread workers,
    ``WEB_CONCURRENCY`` of them), ``gunicorn-sync`` (the same with one-thread sync workers)
    or ``uvicorn`` (``workers`` processes)."""
    if kind == "uvicorn":
        return uvicorn_command(port, workers)
    argv = gunicorn_command()
    if kind == "gunicorn-sync":
        argv += ["--worker-class", "sync", "--threads", "1"]  # the command line wins
    elif kind != "gunicorn":
        raise ValueError(f"unknown server kind {kind!r}")
    return argv


def serve(
    kind: str, tmp: Path, extra: Mapping[str, str], workers: int = 2, log: Path | None = None
) -> contextlib.AbstractContextManager[Server]:
    """:func:`running` for the usual case: ``kind`` (see :func:`command_for`) on a free port,
    with :func:`server_environment` plus ``extra``, logging to ``log`` (default
    ``tmp/<kind>-<port>.log``)."""
    port = free_port()
    environ = server_environment(port, extra, tmp)
    log = log or tmp / f"{kind}-{port}.log"
    return running(kind, command_for(kind, port, workers), environ, port, log)


# --- background servers a test starts: redis-server, memcached, PostgreSQL -----------------


@dataclass(frozen=True)
class Account:
    """An unprivileged user a server runs as (PostgreSQL refuses root; memcached wants one)."""

    name: str
    uid: int
    gid: int


def unprivileged_account(name: str = "nobody") -> Account | None:
    """The account a server started by root runs as (``None``: this process is not root,
    so servers run as this user). Raises ``LookupError`` when root has no such account."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise LookupError(f"no user {name!r} to run the server as (this process is root)") from None
    return Account(name, entry.pw_uid, entry.pw_gid)


class Daemon:
    """One server process run by a test in a temporary ``directory``, and always stopped.

    Subclasses say how to start it (:meth:`command_line`) and how to tell it answers
    (:meth:`ready`: one probe, ``True`` or an ``OSError``). It runs in its own session, with
    its output in ``<directory>/<name>.log``, as ``account`` when one is given. Every wait
    is bounded: a server that does not answer within :attr:`start_timeout` seconds fails
    with its own log. Faults are real: :meth:`pause` (SIGSTOP: the kernel accepts
    connections, nothing answers), :meth:`kill` (SIGKILL of its whole process group),
    :meth:`restart` (the same address).
    """

    name = "server"
    #: How long it may take to answer its first probe (seconds; a bound, not an assertion).
    start_timeout = 20.0
    stop_timeout = STOP_TIMEOUT
    #: The signal of a clean stop (PostgreSQL's fast shutdown is SIGINT).
    stop_signal = signal.SIGTERM

    def __init__(self, directory: Path, account: Account | None = None) -> None:
        self.directory = directory
        self.account = account
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    # --- what a subclass says -----------------------------------------------------------

    def command_line(self) -> list[str]:
        """The argv that runs the server in the foreground."""
        raise NotImplementedError

    def ready(self) -> bool:
        """One probe: whether it answers now (may raise ``OSError``)."""
        raise NotImplementedError

    def new_address(self) -> None:
        """Pick another address after a failed start (the port was taken meanwhile)."""

    # --- life cycle ---------------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    @property
    def log(self) -> str:
        """What the server wrote (for a failing test's message)."""
        path = self.directory / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def as_account(self) -> dict[str, object]:
        """``subprocess`` arguments that run a command as :attr:`account`."""
        if self.account is None:
            return {}
        return {"user": self.account.uid, "group": self.account.gid, "extra_groups": []}

    def give_to_account(self, *paths: Path) -> None:
        """Let :attr:`account` use ``paths`` (created if need be) and reach the directory."""
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
        if self.account is None:
            return
        self.directory.chmod(0o755)
        for path in paths:
            os.chown(path, self.account.uid, self.account.gid)

    def start(self, attempts: int = 3) -> None:
        """Start it and wait until it answers (bounded); an address taken meanwhile by
        another process is retried on a new one, ``attempts`` times in all."""
        for attempt in range(attempts):
            self._spawn()
            try:
                self._wait_ready()
                return
            except RuntimeError:
                self.kill()
                if attempt == attempts - 1:
                    raise
                self.new_address()

    def _spawn(self) -> None:
        extra: Any = self.as_account()
        with open(self.directory / f"{self.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                self.command_line(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
                **extra,
            )
        self.paused = False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}):\n{self.log[-6000:]}"
                )
            with contextlib.suppress(OSError):
                if self.ready():
                    return
            time.sleep(0.02)
        raise RuntimeError(
            f"{self.name} did not answer within {self.start_timeout:g} s:\n{self.log[-6000:]}"
        )

    def pause(self) -> None:
        """SIGSTOP: the port stays open, nothing is answered (a hung server)."""
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL to its process group, then reap it: nothing answers until :meth:`restart`."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=self.stop_timeout)
        self.paused = False

    def stop(self) -> None:
        """A clean stop (:attr:`stop_signal`; SIGKILL after :attr:`stop_timeout`)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        if self.paused:
            self.resume()
        process.send_signal(self.stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=self.stop_timeout)
        self.kill()  # what it left behind, if anything

    def restart(self) -> None:
        """Kill it if it runs, and start it again at the same address."""
        self.kill()
        self._spawn()
        self._wait_ready()
