"""The redis-server fixtures themselves: each form and each fault they offer really happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable

import pytest
from django.core.cache.backends.redis import RedisCache

from tests.redis_server import HOST, RedisServer

pytestmark = pytest.mark.redis


def _cache(url: str) -> RedisCache:
    return RedisCache(url, {"OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}})


def test_answers_with_the_password_only(redis_server: RedisServer) -> None:
    assert redis_server.command("PING") == b"+PONG"
    cache = _cache(redis_server.url)
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert redis_server.password not in redis_server.url.split("@", 1)[1]
    from redis.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError):
        _cache(redis_server.url_for(password="wrong")).get("k")


def test_pause_hangs_and_resume_answers(redis_server: RedisServer) -> None:
    redis_server.pause()
    with pytest.raises(TimeoutError):  # the port is open, nothing answers
        redis_server.command("PING")
    redis_server.resume()
    assert redis_server.command("PING") == b"+PONG"


def test_kill_refuses_and_restart_comes_back_empty(redis_server: RedisServer) -> None:
    _cache(redis_server.url).set("k", "v")
    port, pid = redis_server.port, redis_server.pid
    redis_server.kill()
    with pytest.raises(ConnectionRefusedError):
        redis_server.command("PING")
    redis_server.restart()
    assert (redis_server.port, redis_server.pid != pid) == (port, True)
    assert _cache(redis_server.url).get("k") is None


def test_stop_after_pause(redis_server: RedisServer) -> None:
    redis_server.pause()
    redis_server.stop()
    assert redis_server.process is not None
    assert redis_server.process.returncode == -signal.SIGTERM or (
        redis_server.process.returncode == 0
    )
    with pytest.raises(ProcessLookupError):
        os.kill(redis_server.process.pid, 0)


def test_without_a_password(redis_servers: Callable[..., RedisServer]) -> None:
    server = redis_servers(password=False)
    assert "@" not in server.url
    cache = _cache(server.url)
    cache.set("k", "v")
    assert cache.get("k") == "v"


def test_tls_only_with_a_certificate_of_its_own(redis_servers: Callable[..., RedisServer]) -> None:
    server = redis_servers(tls=True)
    assert server.command("PING") == b"+PONG"  # over TLS, verified against its own CA
    # Plain text to the TLS port is never answered as Redis.
    data = b""
    with (
        contextlib.suppress(OSError),
        socket.create_connection((HOST, server.port), timeout=1) as sock,
    ):
        sock.sendall(b"PING\r\n")
        data = sock.recv(100)
    assert b"PONG" not in data
    # The URL clients are given skips verification, as for Heroku's self-signed certificates.
    assert server.url.startswith("rediss://")
    assert server.url.endswith("?ssl_cert_reqs=none")
    cache = _cache(server.url)
    cache.set("k", "v")
    assert cache.get("k") == "v"
    from redis.exceptions import ConnectionError as RedisConnectionError

    verified = server.url.replace("?ssl_cert_reqs=none", "")
    with pytest.raises(RedisConnectionError, match="certificate verify failed"):
        _cache(verified).get("k")


def test_unix_socket_only(redis_servers: Callable[..., RedisServer]) -> None:
    server = redis_servers(unix=True)
    assert server.port == 0
    assert server.socket_path.is_socket()
    assert server.url == f"unix://:{server.password}@{server.socket_path}?db=0"
    cache = _cache(server.url)
    cache.set("k", "v")
    assert cache.get("k") == "v"
    server.kill()
    server.restart()
    assert cache.get("k") is None  # back, empty, on the same socket
