"""The Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from daguerre.platform.catalog.db import alembic_config, make_engine, upgrade
from daguerre.platform.catalog.models import Base


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
