"""The memcached and PostgreSQL fixtures themselves: each property they promise holds."""

from __future__ import annotations

import os

import pytest

from tests.servers import HOST
from tests.store_servers import MemcachedServer, PostgresServer


@pytest.mark.memcached
def test_memcached_answers_and_restarts_empty(memcached_server: MemcachedServer) -> None:
    from pymemcache.client.base import Client

    client = Client((HOST, memcached_server.port), timeout=1)
    client.set("k", b"v")
    assert client.get("k") == b"v"
    port = memcached_server.port
    memcached_server.kill()
    with pytest.raises(ConnectionRefusedError):
        memcached_server.command("version")
    memcached_server.restart()
    assert memcached_server.port == port
    assert Client((HOST, port), timeout=1).get("k") is None


@pytest.mark.postgresql
def test_postgresql_runs_unprivileged_on_a_socket_only(postgresql_server: PostgresServer) -> None:
    owner = os.stat(f"/proc/{postgresql_server.pid}").st_uid
    if os.geteuid() == 0:
        assert owner != 0  # PostgreSQL refuses root; the fixture runs it as another user
    else:
        assert owner == os.geteuid()
    assert postgresql_server.sql("SHOW listen_addresses").strip() == ""  # no TCP
    assert (postgresql_server.sockets / f".s.PGSQL.{postgresql_server.port}").is_socket()


@pytest.mark.postgresql
def test_postgresql_keeps_its_data_across_a_restart(postgresql_server: PostgresServer) -> None:
    postgresql_server.create_database("kept")
    postgresql_server.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('here')", "kept")
    postgresql_server.stop()
    assert not postgresql_server.ready()
    postgresql_server.restart()
    assert postgresql_server.sql("SELECT v FROM t", "kept").strip() == "here"


@pytest.mark.postgresql
def test_psycopg_reaches_it_with_djangos_settings(postgresql_server: PostgresServer) -> None:
    import psycopg

    postgresql_server.create_database("app")
    entry = postgresql_server.settings("app")
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    with psycopg.connect(
        dbname=entry["NAME"], user=entry["USER"], host=entry["HOST"], port=entry["PORT"]
    ) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("app",)
