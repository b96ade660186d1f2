"""memcached and PostgreSQL for the shared-store tests, started and always stopped by them.

- :class:`MemcachedServer`: Debian's ``memcached`` on a free 127.0.0.1 port (as ``nobody``
  when the tests run as root, since memcached refuses root), 16 MB, no UDP.
- :class:`PostgresServer`: Debian's ``postgresql`` binaries (``/usr/lib/postgresql/<N>/bin``,
  not on ``PATH``): ``initdb`` into the temporary directory and ``postgres`` run as an
  unprivileged user (``nobody`` when the tests run as root: PostgreSQL refuses root),
  listening only on a unix socket in the temporary directory, no TCP, with trust
  authentication for its own ``postgres`` role and durability off (a test's data need not
  survive a crash). ``settings()`` is the ``DATABASES`` entry that reaches it.

Faults are those of :class:`tests.servers.Daemon` (pause, kill, restart). Every wait is
bounded; neither server outlives its ``running_*`` block.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.servers import HOST, Account, Daemon, free_port, unprivileged_account

__all__ = [
    "MemcachedServer",
    "PostgresServer",
    "postgresql_bindir",
    "running_memcached",
    "running_postgresql",
]

PROBE_TIMEOUT = 1.0
#: initdb, createdb and psql may take this long (seconds; a bound, not an assertion).
TOOL_TIMEOUT = 120.0


class MemcachedServer(Daemon):
    """One memcached on ``HOST:port``; ``url`` is its ``pymemcache://`` cache URL."""

    name = "memcached"

    def __init__(self, executable: str, directory: Path, account: Account | None) -> None:
        super().__init__(directory, account)
        self.executable = executable
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"pymemcache://{HOST}:{self.port}"

    @property
    def location(self) -> str:
        """``LOCATION`` of a ``CACHES`` entry for it."""
        return f"{HOST}:{self.port}"

    def command_line(self) -> list[str]:
        argv = [self.executable, "-l", HOST, "-p", str(self.port), "-U", "0", "-m", "16", "-t", "1"]
        if self.account is not None:
            argv += ["-u", self.account.name]
        return argv

    def new_address(self) -> None:
        self.port = free_port()

    def command(self, line: str) -> bytes:
        """Send one text-protocol command; the first line of the reply (``OSError`` when it
        cannot be reached within :data:`PROBE_TIMEOUT`)."""
        with socket.create_connection((HOST, self.port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(line.encode() + b"\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n", 1)[0]

    def ready(self) -> bool:
        return self.command("version").startswith(b"VERSION ")

    def flush(self) -> None:
        """Empty it."""
        self.command("flush_all")


def postgresql_bindir() -> Path | None:
    """Where PostgreSQL's server binaries are: the newest ``/usr/lib/postgresql/<N>/bin``
    (Debian's layout), else the directory of an ``initdb`` on ``PATH``; ``None`` without."""

    def major(path: str) -> int:
        found = re.search(r"/postgresql/(\d+)/", path)
        return int(found.group(1)) if found else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer(Daemon):
    """One PostgreSQL cluster in ``directory``, on a unix socket only.

    :meth:`create_database` and :meth:`sql` run its own ``createdb``/``psql``;
    :meth:`settings` is a ``DATABASES`` entry for a database of it.
    """

    name = "postgresql"
    start_timeout = 60.0
    stop_signal = signal.SIGINT  # fast shutdown: sessions are ended, not waited for
    role = "postgres"

    def __init__(self, bindir: Path, directory: Path, account: Account | None) -> None:
        super().__init__(directory, account)
        self.bindir = bindir
        self.data = directory / "data"
        self.sockets = directory / "sockets"
        # Only the socket's name: nothing listens on TCP.
        self.port = free_port()

    def _tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        extra: dict[str, object] = dict(self.as_account())
        result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            [str(self.bindir / name), *args],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            cwd=self.directory,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
            **extra,
        )
        if result.returncode:
            raise RuntimeError(f"{name} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def initdb(self) -> None:
        """Create the cluster (once, before :meth:`start`)."""
        self.give_to_account(self.data, self.sockets)
        self._tool(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.role,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def command_line(self) -> list[str]:
        settings = {
            "listen_addresses": "",
            "unix_socket_directories": str(self.sockets),
            "port": str(self.port),
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "shared_buffers": "16MB",
            "max_connections": "40",
        }
        argv = [str(self.bindir / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    def new_address(self) -> None:
        self.port = free_port()

    def _connection_args(self, database: str) -> list[str]:
        return ["-h", str(self.sockets), "-p", str(self.port), "-U", self.role, "-d", database]

    def ready(self) -> bool:
        result = subprocess.run(
            [str(self.bindir / "pg_isready"), "-t", "1", *self._connection_args("postgres")],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0

    def sql(self, query: str, database: str = "postgres") -> str:
        """Run ``query`` with ``psql``; what it printed (unaligned, tuples only)."""
        return self._tool(
            "psql",
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            query,
            *self._connection_args(database),
        ).stdout

    def create_database(self, name: str) -> None:
        self._tool("createdb", *self._connection_args("postgres")[:-2], name)

    def settings(self, database: str) -> dict[str, str]:
        """The ``DATABASES`` entry for ``database`` (Django's PostgreSQL backend, psycopg)."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": self.role,
            "HOST": str(self.sockets),
            "PORT": str(self.port),
        }


@contextlib.contextmanager
def running_memcached(executable: str) -> Iterator[MemcachedServer]:
    """A started :class:`MemcachedServer`, killed when the block ends whatever happened."""
    with tempfile.TemporaryDirectory(prefix="memcached-") as directory:
        server = MemcachedServer(executable, Path(directory), unprivileged_account())
        try:
            server.start()
            yield server
        finally:
            server.kill()


@contextlib.contextmanager
def running_postgresql(bindir: Path) -> Iterator[PostgresServer]:
    """A started :class:`PostgresServer` (``initdb`` first), stopped when the block ends
    whatever happened."""
    with tempfile.TemporaryDirectory(prefix="postgresql-") as directory:
        server = PostgresServer(bindir, Path(directory), unprivileged_account())
        try:
            server.initdb()
            server.start()
            yield server
        finally:
            server.stop()
