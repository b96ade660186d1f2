"""A real redis-server for the shared-store tests, started and always stopped by the tests.

Debian's ``redis-server`` runs on a free 127.0.0.1 port with a password, no persistence
(``--save ''``, ``--appendonly no``) and its working directory in a temporary directory,
so a restart comes back empty, as a cache server restarted without persistence does.
Faults are real: :meth:`RedisServer.pause` stops the process (SIGSTOP: connections are
accepted by the kernel but never answered, as with a hung server or dropped packets),
:meth:`RedisServer.kill` kills it (SIGKILL), :meth:`RedisServer.restart` brings it back
on the same port, empty.

Every wait is bounded; the server never outlives the test (see :func:`running_redis`).
The readiness probe speaks RESP over a plain socket, so it does not need redis-py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["HOST", "RedisServer", "running_redis"]

HOST = "127.0.0.1"
#: How long redis-server may take to answer its first PING (a bound, not an assertion).
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
PROBE_TIMEOUT = 1.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _resp(*args: str) -> bytes:
    """One command in RESP, the Redis protocol (an array of bulk strings)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RedisServer:
    """One redis-server process on ``HOST:port``, with a password.

    ``url`` is what ``MAINTENANCE_MODE_CACHE`` takes (``redis://:<password>@127.0.0.1:<port>/0``).
    """

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.password = secrets.token_hex(12)
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    # --- addresses ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's URL, database 0, with the password."""
        return self.url_for(0)

    def url_for(self, db: int = 0, password: str | None = None) -> str:
        """A URL of this server for database ``db``; ``password`` replaces the real one."""
        return f"redis://:{self.password if password is None else password}@{HOST}:{self.port}/{db}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("redis-server is not running")
        return self.process.pid

    @property
    def log(self) -> str:
        """What redis-server wrote (for a failing test's message)."""
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start it and wait until it answers PING (bounded); a port taken meanwhile by
        another process is retried on a new port, except after :meth:`restart`."""
        attempts = 3
        for attempt in range(attempts):
            self._spawn()
            try:
                self._wait_ready()
                return
            except RuntimeError:
                self.kill()
                if attempt == attempts - 1:
                    raise
                self.port = _free_port()

    def _spawn(self) -> None:
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 (kept by Popen)
        try:
            self.process = subprocess.Popen(
                [
                    self.executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    HOST,
                    "--requirepass",
                    self.password,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                    "--daemonize",
                    "no",
                    "--databases",
                    "16",
                    "--loglevel",
                    "warning",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
        finally:
            log.close()
        self.paused = False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.process.returncode}):\n{self.log}")
            with contextlib.suppress(OSError):
                if self.command("PING") == b"+PONG":
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT} s:\n{self.log}")

    def command(self, *args: str) -> bytes:
        """Send one command after AUTH over a fresh socket; the first line of the reply.

        Raises ``OSError`` when the server cannot be reached within :data:`PROBE_TIMEOUT`.
        """
        with socket.create_connection((HOST, self.port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(_resp("AUTH", self.password) + _resp(*args))
            data = b""
            while data.count(b"\r\n") < 2:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.split(b"\r\n")
        if lines[0] != b"+OK":
            raise OSError(f"AUTH failed: {lines[0]!r}")
        return lines[1] if len(lines) > 1 else b""

    def flush(self) -> None:
        """Empty every database."""
        self.command("FLUSHALL")

    def pause(self) -> None:
        """SIGSTOP: the port stays open, nothing is answered (a hung server)."""
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL, then reap it: the port refuses connections until :meth:`restart`."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        self.paused = False

    def stop(self) -> None:
        """A clean stop (SIGTERM, SIGKILL after :data:`STOP_TIMEOUT`)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        if self.paused:
            self.resume()
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        """Kill it if it runs, and start it again on the same port and password, empty."""
        self.kill()
        self._spawn()
        self._wait_ready()


@contextlib.contextmanager
def running_redis(executable: str) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, killed when the block ends whatever happened."""
    with tempfile.TemporaryDirectory(prefix="redis-") as directory:
        server = RedisServer(executable, Path(directory))
        try:
            server.start()
            yield server
        finally:
            server.kill()
