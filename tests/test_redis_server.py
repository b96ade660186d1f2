"""The redis-server fixture itself: each fault it offers really happens."""

from __future__ import annotations

import os
import signal

import pytest
from django.core.cache.backends.redis import RedisCache

from tests.redis_server import RedisServer

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
