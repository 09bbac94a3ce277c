"""The catalog's side of pgvector: the migration chain on a PostgreSQL that has the extension,
a role that may not create it, and which backend a model's vectors use."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psycopg
import pytest
from sqlalchemy import inspect, text

from daguerre.indexer.store import StoreError, VectorStore
from daguerre.platform.catalog.db import Catalog, alembic_config, make_engine, upgrade
from daguerre.platform.catalog.models import Base
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.vectors.backend import choose
from daguerre.platform.vectors.pgvector import REGISTRY, PgVectorStore, availability


def test_migration_chain_on_postgresql_with_pgvector(pgvector_url: str):
    from alembic import command

    engine = make_engine(pgvector_url)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert conn.execute(text(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar() \
                >= "0.8"
            assert conn.execute(text("SELECT to_regclass(:r)"), {"r": REGISTRY}).scalar()
        assert availability(engine) == ("0.8.2", "")
        # A model's table made at run time is not drift for `alembic check` (its own schema).
        PgVectorStore.open(engine, dim=8, model_key="m")
        command.check(alembic_config(pgvector_url))
        command.downgrade(alembic_config(pgvector_url), "0006")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass(:r)"), {"r": REGISTRY}).scalar() is None
        upgrade(engine)
        assert availability(engine)[0] is not None
    finally:
        engine.dispose()


def test_a_role_that_may_not_create_the_extension_still_migrates(pgvector_url: str):
    base, _, query = pgvector_url.partition("?")
    name = base.rsplit("/", 1)[1]
    with psycopg.connect(pgvector_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE limited_role LOGIN")
        conn.execute(f'ALTER DATABASE "{name}" OWNER TO limited_role')
    limited = base.replace("postgresql://postgres:@", "postgresql://limited_role@") + "?" + query
    catalog = Catalog(limited)
    try:
        version, why = availability(catalog.engine)
        assert version is None
        assert "CREATE EXTENSION vector" in why and "superuser" in why
        settings = load_settings(env={}, home="/nonexistent", database_url=limited)
        assert choose(settings, catalog, "m").backend == "faiss"
        with pytest.raises(StoreError, match="superuser"):
            choose(settings.with_overrides(vector_store="pgvector"), catalog, "m")
        with psycopg.connect(pgvector_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        assert availability(catalog.engine)[0] is not None
        assert choose(settings, catalog, "m").backend == "pgvector"
    finally:
        catalog.dispose()
        with psycopg.connect(pgvector_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" OWNER TO postgres')
            conn.execute("DROP OWNED BY limited_role")
            conn.execute("DROP ROLE limited_role")


def _context(home: Path, url: str, **overrides: str) -> Context:
    return Context(settings=load_settings(env={}, home=str(home), database_url=url,
                                          **overrides))


def test_context_store_uses_the_backend_the_setting_chooses(pgvector_url: str, tmp_path: Path):
    encoder = SimpleNamespace(key="tiny-model", dim=8)
    ctx = _context(tmp_path / "home", pgvector_url)
    try:
        store = ctx.store(encoder)  # type: ignore[arg-type]
        assert isinstance(store, PgVectorStore)
        assert "pgvector 0.8" in choose(ctx.settings, ctx.catalog, "tiny-model").reason
        assert ctx.existing_store("tiny-model") is not None
        assert ctx.existing_store("other-model") is None
    finally:
        ctx.close()
    ctx = _context(tmp_path / "home", pgvector_url, vector_store="faiss")
    try:
        assert isinstance(ctx.store(encoder), VectorStore)  # type: ignore[arg-type]
        assert {type(s).__name__ for s in ctx.all_stores()} == {"VectorStore", "PgVectorStore"}
    finally:
        ctx.close()


def test_auto_keeps_a_model_whose_vectors_are_still_in_faiss(pgvector_url: str, tmp_path: Path):
    home = tmp_path / "home"
    faiss = VectorStore.open(home / "vectors" / "old-model", dim=8, model_key="old-model")
    faiss.upsert([1], np.ones((1, 8), np.float32))
    faiss.save()
    ctx = _context(home, pgvector_url)
    try:
        choice = choose(ctx.settings, ctx.catalog, "old-model")
        assert choice.backend == "faiss"
        assert "daguerre vectors migrate --to pgvector" in choice.reason
        assert choose(ctx.settings, ctx.catalog, "new-model").backend == "pgvector"
    finally:
        ctx.close()


def test_sqlite_catalog_keeps_faiss(tmp_path: Path):
    ctx = _context(tmp_path / "home", "")
    try:
        choice = choose(ctx.settings, ctx.catalog, "m")
        assert choice.backend == "faiss" and "sqlite" in choice.reason
        with pytest.raises(StoreError, match="vector_store is pgvector, but the catalog is sqlite"):
            choose(ctx.settings.with_overrides(vector_store="pgvector"), ctx.catalog, "m")
        assert isinstance(ctx.store(SimpleNamespace(key="m", dim=4)),  # type: ignore[arg-type]
                          VectorStore)
    finally:
        ctx.close()


def test_vector_store_setting_is_checked():
    from daguerre.platform.config import ConfigError

    with pytest.raises(ConfigError, match="DAGUERRE_VECTOR_STORE must be auto, faiss or pgvector"):
        load_settings(env={"DAGUERRE_VECTOR_STORE": "milvus"})
    with pytest.raises(ConfigError, match="DAGUERRE_PGVECTOR_M must be a positive integer"):
        load_settings(env={"DAGUERRE_PGVECTOR_M": "0"})
    assert load_settings(env={"DAGUERRE_PGVECTOR_EF_SEARCH": "100"}).pgvector_ef_search == 100
