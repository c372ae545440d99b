"""The servers a benchmark runs against, all on loopback: a private ``redis-server`` (or
``BENCH_REDIS_URL``) and a throw-away schema in the PostgreSQL at ``BENCH_PG_URL``.

Each run starts its own Redis on a free port with persistence off, or flushes only the
database it is given; its PostgreSQL schema is dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

from _processes import free_port, wait_for

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free loopback port (no persistence), or BENCH_REDIS_URL."""
    import redis

    given = os.environ.get("BENCH_REDIS_URL")
    if given:
        client = redis.Redis.from_url(given)
        client.flushdb()
        try:
            yield given
        finally:
            client.flushdb()
            client.close()
        return
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found; set BENCH_REDIS_URL=redis://127.0.0.1:6379/13")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for(up, timeout=10, what="redis-server")
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


@contextlib.contextmanager
def pg_schema(tag: str) -> Iterator[str]:
    """A fresh schema ``bench_<tag>_<random>``; yields a URL whose search_path is that schema."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{tag}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def pg_version() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return version
