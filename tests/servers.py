"""Start a real gunicorn or uvicorn on a free loopback port, and always stop it.

The gunicorn command is read from the ``Procfile``'s ``web:`` line, so the tests run the
very configuration a deployment runs (2 workers x 4 threads from
``example_project/gunicorn.conf.py``). Every wait here is bounded: a server that never
answers fails the test with its own output, it does not hang the suite.
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

__all__ = [
    "HOST",
    "ROOT",
    "Server",
    "free_port",
    "gunicorn_command",
    "procfile_command",
    "running",
    "server_environment",
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
