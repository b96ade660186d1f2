"""The cache-URL grammar: one URL one backend, refusals naming the form that works, the
store's private instance (no key namespace, no swallowed errors), masking by parsing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from io import StringIO
from typing import Any

import environ
import pytest
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.memcached import PyMemcacheCache
from django.core.cache.backends.redis import RedisCache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from maintenance_env import cache_build, cache_url
from maintenance_env.sources.store import SharedStore

Env = Callable[..., None]
REDIS = "django.core.cache.backends.redis.RedisCache"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def run_check(*, deploy: bool = False) -> str:
    out, err = StringIO(), StringIO()
    options = {"deploy": True, "tags": ["maintenance_env_store"]} if deploy else {}
    try:
        call_command("check", stdout=out, stderr=err, **options)
    except SystemCheckError as exc:
        return str(exc)
    return out.getvalue() + err.getvalue()


@pytest.fixture(params=["plain", "django-redis installed"])
def installed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """With django-redis installed, django-environ builds it for redis:// URLs."""
    if request.param != "plain":
        schemes = dict(environ.Env.CACHE_SCHEMES)
        for scheme in ("redis", "rediss", "rediscache"):
            schemes[scheme] = "django_redis.cache.RedisCache"
        monkeypatch.setattr(environ.Env, "CACHE_SCHEMES", schemes)
    return str(request.param)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:pw@cache.internal:6379/0",
        "rediss://:pw@cache.internal:6380/0?ssl_cert_reqs=none",
        "rediss://cache.internal:6380/2?ssl_cert_reqs=none&ssl_check_hostname=false",
        "unix:///run/redis/redis.sock?db=3",
    ],
)
def test_a_redis_url_builds_djangos_redis_cache_with_the_url_itself(
    url: str, installed: str
) -> None:
    cache = cache_build.build_cache(url)
    assert type(cache) is RedisCache
    assert cache._servers == [url]  # type: ignore[attr-defined]
    # The query reaches redis-py as redis-py reads it (no connection is opened).
    pool = cache._cache._get_connection_pool(False)  # type: ignore[attr-defined]
    kwargs = pool.connection_kwargs
    if "ssl_cert_reqs=none" in url:
        assert kwargs["ssl_cert_reqs"] == "none"
    if url.startswith("unix://"):
        assert kwargs["path"] == "/run/redis/redis.sock"
        assert kwargs["db"] == 3
    assert kwargs["socket_timeout"] == cache_build.SOCKET_TIMEOUT


@pytest.mark.parametrize(
    ("url", "backend", "location"),
    [
        ("pymemcache://127.0.0.1:11211", PyMemcacheCache, "127.0.0.1:11211"),
        ("pymemcache://h1:11211,h2:11211", PyMemcacheCache, ["h1:11211", "h2:11211"]),
        ("dbcache://maintenance_env_store", DatabaseCache, "maintenance_env_store"),
    ],
)
def test_other_urls_build_one_backend_each(url: str, backend: type, location: object) -> None:
    params = cache_url.cache_params(url)
    assert params["BACKEND"] == f"{backend.__module__}.{backend.__name__}"
    assert params["LOCATION"] == location


@pytest.mark.parametrize(
    ("value", "expected", "hint"),
    [
        (
            "valkey://cache:6379/0",
            "redis://HOST:6379/0 instead of valkey://",
            "redis://HOST:6379/0",
        ),
        ("valkeys://cache:6380/0", "rediss://HOST:6380/0 instead of valkeys://", "rediss://"),
        ("memcache://cache:11211", "pymemcache://HOST:11211 instead", "pymemcache://HOST:11211"),
        ("rediscache://cache:6379/0", "redis://HOST:6379/0 instead", "redis://HOST:6379/0"),
        ("ftp://:hunter2@x/", "a cache URL (dbcache://,", "redis://HOST:6379/0 (rediss://"),
        ("dbcache://", "dbcache://TABLE", "createcachetable maintenance_env_store"),
        ("nosuchalias", "an alias of CACHES (there: default)", "Name one of the aliases"),
    ],
)
def test_each_refusal_names_the_form_that_works(
    env: Env, value: str, expected: str, hint: str
) -> None:
    env(MAINTENANCE_MODE_CACHE=value)
    output = run_check()
    assert "maintenance_env.E022" in output
    assert expected in output
    line = next(x for x in output.splitlines() if "HINT:" in x)
    assert hint in line
    assert "address, the password and the network path" not in output
    assert "hunter2" not in output


def test_valkey_urls_are_refused_before_any_read(env: Env) -> None:
    refused = cache_build.refusal("valkey://cache:6379/0")
    assert refused is not None
    assert "redis://" in refused.hint
    assert cache_build.refusal("redis://cache:6379/0") is None


def test_the_store_ignores_options_that_swallow_errors(caplog: pytest.LogCaptureFixture) -> None:
    caches = {
        "default": {"BACKEND": LOCMEM},
        "memcached": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": "127.0.0.1:1",
            "OPTIONS": {"ignore_exc": True, "no_delay": True},
        },
        "redis_plus": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": 3},
        },
    }
    params, dropped = cache_build.store_params("memcached", caches)
    assert params["OPTIONS"] == {
        "ignore_exc": False,
        "no_delay": True,
        "retry_attempts": 0,
        "dead_timeout": 0,
    }
    assert dropped == ["ignore_exc"]
    params, dropped = cache_build.store_params("redis_plus", caches)
    # Forced off even when unset: DJANGO_REDIS_IGNORE_EXCEPTIONS would turn it on.
    assert params["OPTIONS"]["IGNORE_EXCEPTIONS"] is False
    assert dropped == ["IGNORE_EXCEPTIONS"]
    pytest.importorskip("pymemcache")
    cache_build._SAID.discard("memcached")
    with caplog.at_level(logging.WARNING, "maintenance_env"):
        for _ in range(3):
            cache = cache_build.build_cache("memcached", caches)
    assert cache._options["ignore_exc"] is False  # type: ignore[attr-defined]
    said = [r.getMessage() for r in caplog.records if "ignores ignore_exc" in r.getMessage()]
    assert len(said) == 1  # once per process, not per read


def test_the_check_warns_about_swallowing_options(env: Env) -> None:
    pytest.importorskip("pymemcache")
    caches = {
        "default": {"BACKEND": LOCMEM},
        "memcached": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": "127.0.0.1:1",
            "OPTIONS": {"ignore_exc": True},
        },
    }
    env(MAINTENANCE_MODE_CACHE="memcached")
    with override_settings(CACHES=caches):
        output = run_check()
    assert "maintenance_env.W023" in output
    assert "ignore_exc" in output


@pytest.mark.parametrize(
    "extra",
    [
        {"KEY_PREFIX": "release-42"},
        {"VERSION": 7},
        {"KEY_PREFIX": "shop", "VERSION": 2},
        {"KEY_FUNCTION": "tests.unit.test_cache_url.custom_key"},
    ],
)
def test_the_private_instance_has_no_key_namespace(extra: dict[str, Any]) -> None:
    caches = {"shared": {"BACKEND": LOCMEM, "LOCATION": "x", **extra}}
    params, _ = cache_build.store_params("shared", caches)
    assert set(params) == {"BACKEND", "LOCATION", "OPTIONS"}
    cache = cache_build.build_cache("shared", caches)
    assert (
        cache.make_key(cache_url.key("MAINTENANCE_MODE")) == ":1:maintenance_env:MAINTENANCE_MODE"
    )


def custom_key(key: str, key_prefix: str, version: int) -> str:
    return f"custom|{key}"


@pytest.mark.parametrize(
    ("caches", "alias", "warning"),
    [
        ({"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"}}, "default", "W021"),
        (
            {
                "default": {"BACKEND": LOCMEM},
                "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"},
            },
            "db",
            "W022",
        ),
        (
            {
                "default": {"BACKEND": LOCMEM},
                "files": {
                    "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                    "LOCATION": "/nonexistent/cache",
                    "OPTIONS": {"MAX_ENTRIES": 50},
                },
            },
            "files",
            "MAX_ENTRIES=50",
        ),
    ],
)
def test_a_default_or_culling_store_is_a_warning(
    env: Env, caches: dict[str, Any], alias: str, warning: str
) -> None:
    env(MAINTENANCE_MODE_CACHE=alias)
    with override_settings(CACHES=caches):
        output = run_check()
    assert warning in output
    assert "maintenance_env.E" not in output


@pytest.mark.parametrize(
    ("location", "warned"), [("app_cache", True), ("maintenance_env_store", False)]
)
def test_a_dbcache_url_on_an_aliass_table_is_a_warning(
    env: Env, location: str, warned: bool
) -> None:
    db = "django.core.cache.backends.db.DatabaseCache"
    caches = {"default": {"BACKEND": LOCMEM}, "pages": {"BACKEND": db, "LOCATION": "app_cache"}}
    env(MAINTENANCE_MODE_CACHE=f"dbcache://{location}")
    with override_settings(CACHES=caches):
        output = run_check()
    assert ("maintenance_env.W022" in output) is warned
    if warned:
        assert "uses the table of CACHES['pages']" in output


def test_check_reads_the_store_only_with_deploy_and_within_its_bound(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[float | None] = []
    release = threading.Event()

    def hung_read(self: SharedStore, *, timeout: float | None = None) -> str | None:
        reads.append(timeout)
        release.wait(10)  # a store that never answers (bounded for the test's own sake)
        return None

    monkeypatch.setattr(SharedStore, "read_now", hung_read)
    env(MAINTENANCE_MODE_CACHE="redis://127.0.0.1:1/0")
    try:
        assert "maintenance_env" not in run_check()
        assert reads == []  # check, migrate and runserver never contact the store
        output = run_check(deploy=True)
    finally:
        release.set()
    assert reads == [1.0]
    assert "maintenance_env.W009" in output
    assert "no answer within 1 s" in output


@pytest.mark.django_db(transaction=True)
def test_a_dbcache_store_works_after_the_named_createcachetable(env: Env) -> None:
    table = "maintenance_env_store"
    env(MAINTENANCE_MODE_CACHE=f"dbcache://{table}")
    output = run_check(deploy=True)
    assert "maintenance_env.W009" in output
    assert f"python manage.py createcachetable {table}" in output
    call_command("createcachetable", table)
    assert "maintenance_env.W009" not in run_check(deploy=True)
    store = SharedStore(f"dbcache://{table}", ["MAINTENANCE_MODE"], 1.0, background=False)
    store.write({"MAINTENANCE_MODE": "on"})
    assert store.read_now() is None
    assert store.snapshot.values == {"MAINTENANCE_MODE": "on"}


PASSWORDS = ['a"b9Q', "a'b9Q", "a<b9Q", "a>b9Q", "a b9Q", "a/b9Q", "a#b9Q", "a?b9Q", "p@ss9Q"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_is_masked_by_parsing_the_url(password: str) -> None:
    for url in (
        f"redis://:{password}@cache:6379/0",
        f"rediss://user:{password}@cache:6380/0?ssl_cert_reqs=none",
        f"redis://cache:6379/0?password={password}",
    ):
        for shown in (
            cache_url.mask(url),
            cache_url.describe_setting(url),
            cache_url.scrub(f"Error connecting to {url}: refused", cache_url.secrets_of(url)),
        ):
            assert password not in shown
            assert "b9Q" not in shown
            assert "***" in shown


@pytest.mark.parametrize(
    "caches",
    [
        None,
        {
            "mc": {
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": "127.0.0.1:11211",
                "OPTIONS": {"retry_attempts": 3, "dead_timeout": 60},
            }
        },
    ],
)
def test_pymemcache_asks_the_server_on_every_read(caches: dict[str, Any] | None) -> None:
    """pymemcache's HashClient answers "not found" between its retries and leaves a failed
    server out for dead_timeout: the store turns both off, whatever the alias says."""
    setting = "pymemcache://127.0.0.1:11211" if caches is None else "mc"
    params, _ = cache_build.store_params(setting, caches)
    assert params["OPTIONS"]["retry_attempts"] == 0
    assert params["OPTIONS"]["dead_timeout"] == 0


def test_django_redis_global_ignore_exceptions_never_reaches_the_store(env: Env) -> None:
    caches = {
        "default": {"BACKEND": LOCMEM},
        "switch": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    with override_settings(CACHES=caches, DJANGO_REDIS_IGNORE_EXCEPTIONS=True):
        params, dropped = cache_build.store_params("switch")
        assert params["OPTIONS"]["IGNORE_EXCEPTIONS"] is False  # outranks the setting
        assert dropped == ["DJANGO_REDIS_IGNORE_EXCEPTIONS (the setting)"]
        env(MAINTENANCE_MODE_CACHE="switch")
        assert "DJANGO_REDIS_IGNORE_EXCEPTIONS" in run_check()
