"""A real redis-server for the shared-store tests, started and always stopped by the tests.

Debian's ``redis-server`` runs with no persistence (``--save ''``, ``--appendonly no``) and
its working directory in a temporary directory, so a restart comes back empty, as a cache
server restarted without persistence does. Four forms, as deployments reach it: on a free
127.0.0.1 port with a password (the default), without one, over TLS with a certificate
made for the test (a CA of its own, as Heroku's self-signed ones: clients connect with
``ssl_cert_reqs=none``), or on a unix socket in the temporary directory. Faults are real
(see :class:`tests.servers.Daemon`): :meth:`~tests.servers.Daemon.pause` (SIGSTOP),
:meth:`~tests.servers.Daemon.kill` (SIGKILL), :meth:`~tests.servers.Daemon.restart` (same
address and password, empty).

Every wait is bounded; the server never outlives the test (see :func:`running_redis`).
The readiness probe speaks RESP over a plain socket, so it does not need redis-py.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.servers import HOST, Daemon, free_port

__all__ = ["HOST", "RedisServer", "running_redis"]

#: How long redis-server may take to answer its first PING (a bound, not an assertion).
START_TIMEOUT = 20.0
PROBE_TIMEOUT = 1.0


def _resp(*args: str) -> bytes:
    """One command in RESP, the Redis protocol (an array of bulk strings)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RedisServer(Daemon):
    """One redis-server process: on ``HOST:port`` with a password by default.

    ``password=False`` runs it without one; ``tls=True`` serves TLS only, with a
    certificate for 127.0.0.1 issued by a CA made for this server (``ca_file``);
    ``unix=True`` listens on ``socket_path`` only, no TCP. ``url`` is what
    ``MAINTENANCE_MODE_CACHE`` takes for it (``redis://:<password>@127.0.0.1:<port>/0``,
    ``rediss://…/0?ssl_cert_reqs=none``, ``unix://:<password>@/…/redis.sock?db=0``).
    """

    name = "redis"
    start_timeout = START_TIMEOUT

    def __init__(
        self,
        executable: str,
        directory: Path,
        *,
        password: bool = True,
        tls: bool = False,
        unix: bool = False,
    ) -> None:
        if tls and unix:
            raise ValueError("a redis-server of these tests serves TLS or a unix socket, not both")
        super().__init__(directory)
        self.executable = executable
        self.password = secrets.token_hex(12) if password else ""
        self.tls = tls
        self.unix = unix
        self.port = 0 if unix else free_port()
        self.socket_path = directory / "redis.sock"
        self.ca_file = directory / "ca.pem"
        if tls:
            self._make_certificate()

    def _make_certificate(self) -> None:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert(HOST, "localhost")
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(self.directory / "cert.pem"))
        cert.private_key_pem.write_to_path(str(self.directory / "key.pem"))

    # --- addresses ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's URL, database 0, with the password."""
        return self.url_for(0)

    def url_for(self, db: int = 0, password: str | None = None) -> str:
        """A URL of this server for database ``db``; ``password`` replaces the real one."""
        secret = self.password if password is None else password
        auth = f":{secret}@" if secret else ""
        if self.unix:
            return f"unix://{auth}{self.socket_path}?db={db}"
        if self.tls:
            return f"rediss://{auth}{HOST}:{self.port}/{db}?ssl_cert_reqs=none"
        return f"redis://{auth}{HOST}:{self.port}/{db}"

    # --- life cycle --------------------------------------------------------------------

    def command_line(self) -> list[str]:
        argv = [self.executable, "--bind", HOST]
        if self.unix:
            argv += [
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
            ]
        elif self.tls:
            argv += [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.directory / "cert.pem"),
                "--tls-key-file",
                str(self.directory / "key.pem"),
                "--tls-ca-cert-file",
                str(self.ca_file),
                "--tls-auth-clients",
                "no",
            ]
        else:
            argv += ["--port", str(self.port)]
        if self.password:
            argv += ["--requirepass", self.password]
        return [
            *argv,
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
        ]

    def new_address(self) -> None:
        if not self.unix:
            self.port = free_port()

    def ready(self) -> bool:
        return self.command("PING") == b"+PONG"

    def _connect(self) -> socket.socket:
        if self.unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(PROBE_TIMEOUT)
            try:
                sock.connect(str(self.socket_path))
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((HOST, self.port), timeout=PROBE_TIMEOUT)
        if not self.tls:
            return sock
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            return context.wrap_socket(sock, server_hostname=HOST)
        except OSError:
            sock.close()
            raise

    def command(self, *args: str) -> bytes:
        """Send one command (after AUTH when it has a password) over a fresh connection;
        the first line of the reply.

        Raises ``OSError`` when the server cannot be reached within :data:`PROBE_TIMEOUT`
        or refuses the password.
        """
        auth = _resp("AUTH", self.password) if self.password else b""
        with self._connect() as sock:
            sock.sendall(auth + _resp(*args))
            data = b""
            wanted = 2 if auth else 1
            while data.count(b"\r\n") < wanted:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.split(b"\r\n")
        if auth:
            if lines[0] != b"+OK":
                raise OSError(f"AUTH failed: {lines[0]!r}")
            lines = lines[1:]
        return lines[0] if lines else b""

    def flush(self) -> None:
        """Empty every database."""
        self.command("FLUSHALL")


@contextlib.contextmanager
def running_redis(
    executable: str, *, password: bool = True, tls: bool = False, unix: bool = False
) -> Iterator[RedisServer]:
    """A started :class:`RedisServer` (keywords as there), killed when the block ends
    whatever happened."""
    with tempfile.TemporaryDirectory(prefix="redis-") as directory:
        server = RedisServer(executable, Path(directory), password=password, tls=tls, unix=unix)
        try:
            server.start()
            yield server
        finally:
            server.kill()
