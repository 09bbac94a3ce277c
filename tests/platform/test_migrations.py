"""The Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from daguerre.platform.catalog.db import alembic_config, make_engine, upgrade
from daguerre.platform.catalog.models import Base
from tests.conftest import require_service

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture()
def pg_url() -> Iterator[str]:
    require_service("PostgreSQL", _reachable("127.0.0.1", 5432))
    import psycopg

    name = f"daguerre_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _check(url: str) -> None:
    from alembic import command

    engine = make_engine(url)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        # `alembic check`: the models and the migrated database agree (no drift).
        command.check(alembic_config(url))
    finally:
        engine.dispose()


def test_sqlite(tmp_path: Path):
    _check(f"sqlite:///{tmp_path / 'c.sqlite3'}")


@pytest.mark.postgres
def test_postgresql(pg_url: str):
    _check(pg_url)
