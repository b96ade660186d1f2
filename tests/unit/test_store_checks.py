"""System checks for the shared store, through ``manage.py check``: E022, W008, W009."""

from __future__ import annotations

import sys
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from tests.redis_server import RedisServer

Env = Callable[..., None]
REDIS = "django.core.cache.backends.redis.RedisCache"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def run_check(*, deploy: bool = False) -> str:
    out, err = StringIO(), StringIO()
    options = {"deploy": True, "tags": ["maintenance_env_store"]} if deploy else {}
    call_command("check", stdout=out, stderr=err, **options)
    return out.getvalue() + err.getvalue()


def check_error(env: Env, value: str) -> str:
    env(MAINTENANCE_MODE_CACHE=value)
    with pytest.raises(SystemCheckError) as info:
        run_check()
    message = str(info.value)
    assert "maintenance_env.E022" in message
    return message


def test_an_unknown_alias_is_an_error(env: Env) -> None:
    message = check_error(env, "shared")
    # The alias is shown: it is no secret, only a URL's password is.
    assert "MAINTENANCE_MODE_CACHE='shared' is not valid: expected an alias of CACHES " in message
    assert "(there: default)" in message
    assert "HINT: Name one of the aliases of CACHES (default), or give a cache URL" in message


def test_a_url_that_cannot_be_read_is_an_error_and_its_password_is_not_shown(env: Env) -> None:
    message = check_error(env, "redis://:hunter2@[::1/0")
    assert "a cache URL redis-py can read" in message
    assert "HINT: Write it as redis://[:PASSWORD@]HOST:PORT/DB" in message
    assert "hunter2" not in message
    message = check_error(env, "mongodb://:hunter2@db/0")
    assert "an alias of CACHES or a cache URL (dbcache" in message
    assert "hunter2" not in message


def test_redis_without_its_client_library_is_an_error(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` fails, as when not installed
    message = check_error(env, "redis://cache:6379/0")
    assert "backend (django.core.cache.backends.redis.RedisCache) and client library" in message
    assert "HINT: Install its client: pip install 'django-maintenance-env[redis]'" in message


@pytest.mark.parametrize(
    ("backend", "said"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", "does not reach any other process"),
        ("django.core.cache.backends.dummy.DummyCache", "does not reach any process"),
        (
            "django.core.cache.backends.filebased.FileBasedCache",
            "does not reach the processes of other hosts",
        ),
    ],
)
def test_a_cache_that_is_not_shared_is_a_warning(
    env: Env, backend: str, said: str, tmp_path: object
) -> None:
    caches = {"default": {"BACKEND": backend, "LOCATION": str(tmp_path)}}
    env(MAINTENANCE_MODE_CACHE="default")
    with override_settings(CACHES=caches):
        output = run_check()
    assert "maintenance_env.W008" in output
    assert said in output
    assert "it is not a shared store" in output
    assert "maintenance_env.W009" not in output


def test_a_url_of_a_local_cache_is_a_warning_too(env: Env) -> None:
    env(MAINTENANCE_MODE_CACHE="locmemcache://")
    assert "maintenance_env.W008" in run_check()


@pytest.mark.redis
def test_a_reachable_store_passes(redis_server: RedisServer, env: Env) -> None:
    env(MAINTENANCE_MODE_CACHE=redis_server.url)
    assert "maintenance_env" not in run_check()
    assert "maintenance_env" not in run_check(deploy=True)
    caches = {"shared": {"BACKEND": REDIS, "LOCATION": redis_server.url}}
    with override_settings(CACHES={"default": {"BACKEND": LOCMEM}, **caches}):
        env(MAINTENANCE_MODE_CACHE="shared")
        assert "maintenance_env" not in run_check(deploy=True)


@pytest.mark.redis
@pytest.mark.parametrize("fault", ["killed", "hung", "wrong password"])
def test_an_unreachable_store_is_a_warning_not_an_error(
    redis_server: RedisServer, env: Env, fault: str
) -> None:
    setting = redis_server.url
    if fault == "killed":
        redis_server.kill()
    elif fault == "hung":
        redis_server.pause()
    else:
        setting = redis_server.url_for(password="not-the-password-42")
    env(MAINTENANCE_MODE_CACHE=setting)
    try:
        assert "maintenance_env.W009" not in run_check()  # only with check --deploy
        output = run_check(deploy=True)  # no SystemCheckError: a warning
    finally:
        if fault == "hung":
            redis_server.resume()
    assert "maintenance_env.W009" in output
    assert f"The shared store redis://:***@127.0.0.1:{redis_server.port}/0 cannot be read" in output
    assert "counts as absent" in output
    assert redis_server.password not in output
    assert "not-the-password-42" not in output
