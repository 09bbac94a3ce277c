"""`daguerre vectors status` and `daguerre vectors migrate`: moving a library's vectors between
FAISS and pgvector both ways, resumably, and searching the same afterwards."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from daguerre.indexer.models import ClipSpec, model_key
from daguerre.indexer.store import VectorStore
from daguerre.platform.catalog.db import Catalog
from daguerre.platform.cli import main
from daguerre.platform.config import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_WEIGHTS
from daguerre.platform.vectors.pgvector import PgVectorStore
from tests.platform.test_vector_backends import add_images

N = 60
DIM = 16
KEY = model_key(ClipSpec(DEFAULT_CLIP_MODEL, DEFAULT_CLIP_WEIGHTS))  # the configured model


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


@pytest.fixture()
def home(tmp_path: Path, pgvector_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory whose catalog is on PostgreSQL with pgvector and whose N images'
    vectors (plus one of an image no longer in the catalog) are in FAISS files."""
    home = tmp_path / "home"
    for key in ("DAGUERRE_CONFIG", "DAGUERRE_VECTOR_STORE", "DAGUERRE_BROKER_URL",
                "DAGUERRE_CLIP_MODEL", "DAGUERRE_CLIP_WEIGHTS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DAGUERRE_HOME", str(home))
    monkeypatch.setenv("DAGUERRE_DATABASE_URL", pgvector_url)
    catalog = Catalog(pgvector_url)
    add_images(catalog, range(1, N + 1))
    catalog.dispose()
    store = VectorStore.open(home / "vectors" / KEY, dim=DIM, model_key=KEY)
    rng = np.random.default_rng(0)
    store.upsert(np.arange(1, N + 2), rng.normal(size=(N + 1, DIM)).astype(np.float32))
    store.save()
    return home


def stores(home: Path, url: str) -> tuple[VectorStore, PgVectorStore]:
    faiss = VectorStore.open(home / "vectors" / KEY, dim=DIM, model_key=KEY)
    catalog = Catalog(url)
    return faiss, PgVectorStore.open(catalog.engine, dim=DIM, model_key=KEY)


def assert_same_answers(a: object, b: object) -> None:
    queries = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
    for kwargs in ({}, {"allowed_ids": np.arange(1, N + 1, 4)}, {"offset": 3}):
        sa, ia = a.search(queries, 8, **kwargs)  # type: ignore[attr-defined]
        sb, ib = b.search(queries, 8, **kwargs)  # type: ignore[attr-defined]
        assert ia.tolist() == ib.tolist()
        np.testing.assert_allclose(sa, sb, atol=1e-3)


def setting(home: Path) -> str:
    return tomllib.loads((home / "daguerre.toml").read_text())["vector_store"]


def test_status_then_migrate_both_ways(home: Path, pgvector_url: str):
    before = json.loads(run("vectors", "status", "--json"))
    assert before["backend"] == "faiss"
    assert "vectors migrate --to pgvector" in before["reason"]
    assert before["pgvector"] == {"available": True, "version": "0.8.2", "reason": None}
    [faiss_row] = before["models"]
    assert faiss_row | {"count": N + 1, "backend": "faiss", "in_use": True} == faiss_row

    out = run("vectors", "migrate", "--to", "pgvector", "--batch", "7")
    assert f"{N} copied, 0 already there, 0 removed, 1 without a catalog image left out" in out
    assert setting(home) == "pgvector"
    faiss, pg = stores(home, pgvector_url)
    assert pg.ids().tolist() == list(range(1, N + 1))
    np.testing.assert_allclose(pg.get([5, 60]), faiss.get([5, 60]), atol=2e-3)
    faiss.remove([N + 1])  # the orphan aside, both answer every query alike
    assert_same_answers(faiss, pg)

    status = json.loads(run("vectors", "status", "--json"))
    assert status["backend"] == "pgvector"
    in_use = [m for m in status["models"] if m["in_use"]]
    assert [(m["backend"], m["count"], m["index_type"]) for m in in_use] == \
        [("pgvector", N, "Flat")]
    text = run("vectors", "status")
    assert "backend: pgvector" in text and f"* pgvector {KEY}: {N} vectors" in text

    # Interrupted run: half the rows missing and one changed; a re-run copies only those.
    with pg.edit() as st:
        st.remove(np.arange(1, 31))
        st.upsert([40], np.ones((1, DIM), np.float32))
    again = json.loads(run("vectors", "migrate", "--to", "pgvector", "--json"))
    [report] = again["models"]
    assert (report["copied"], report["skipped"], report["orphans"]) == (31, N - 31, 1)
    assert_same_answers(faiss, pg)

    # Work done on pgvector (an image's vector replaced, one removed) moves back to FAISS.
    new = np.random.default_rng(2).normal(size=(1, DIM)).astype(np.float32)
    with pg.edit() as st:
        st.upsert([7], new)
        st.remove([8])
    out = run("vectors", "migrate", "--to", "faiss")
    # Removed from the FAISS files: id 8, and the vector of the image no longer in the catalog.
    assert f"1 copied, {N - 2} already there, 2 removed" in out
    assert setting(home) == "faiss"
    faiss.reload()
    assert faiss.ids().tolist() == pg.ids().tolist()
    np.testing.assert_allclose(faiss.get([7])[0], new[0] / np.linalg.norm(new), atol=2e-3)
    assert_same_answers(faiss, pg)
    pg.engine.dispose()


def test_environment_override_is_reported(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGUERRE_VECTOR_STORE", "faiss")
    result = CliRunner().invoke(main, ["vectors", "migrate", "--to", "pgvector"])
    assert result.exit_code == 0, result.output
    assert "DAGUERRE_VECTOR_STORE in the environment overrides that file: " \
           "set DAGUERRE_VECTOR_STORE=pgvector" in result.output
    assert setting(home) == "pgvector"


def test_settings_file_keeps_other_lines(home: Path):
    (home / "daguerre.toml").write_text('# mine\nbatch_size = 8\nvector_store = "faiss"\n')
    run("vectors", "migrate", "--to", "pgvector")
    text = (home / "daguerre.toml").read_text()
    assert text == '# mine\nbatch_size = 8\nvector_store = "pgvector"\n'


def test_migrate_to_pgvector_on_sqlite_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key in ("DAGUERRE_CONFIG", "DAGUERRE_VECTOR_STORE", "DAGUERRE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DAGUERRE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["vectors", "migrate", "--to", "pgvector"])
    assert result.exit_code == 2
    assert "cannot move vectors into pgvector: the catalog is sqlite" in result.output
    assert not (tmp_path / "home" / "daguerre.toml").exists()
    status = json.loads(run("vectors", "status", "--json"))
    assert status["backend"] == "faiss" and status["models"] == []
    assert "no vectors stored yet" in run("vectors", "status")


def test_search_service_answers_the_same_after_migration(home: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    """services.search.rank over each backend (the model is not loaded: only its key and
    dimension matter to the store), unfiltered, filtered by catalog columns, and paged."""
    from types import SimpleNamespace

    from daguerre.platform.context import Context
    from daguerre.platform.services.search import rank

    monkeypatch.setattr(Context, "encoder", lambda self: SimpleNamespace(key=KEY, dim=DIM))
    query = np.random.default_rng(3).normal(size=DIM).astype(np.float32)
    asks = [dict(limit=10), dict(limit=5, offset=5, exclude={3, 4}),
            dict(limit=8, filters={"min_width": 68, "library": "lib"}),
            dict(limit=4, offset=2, filters={"min_width": 70})]

    def answers(backend: str) -> list[list[tuple[int, float]]]:
        ctx = Context()
        try:
            assert type(ctx.store()).__name__ == backend
            return [[(h.id, h.score) for h in rank(ctx, query, **ask)] for ask in asks]
        finally:
            ctx.close()

    before = answers("VectorStore")
    run("vectors", "migrate", "--to", "pgvector")
    after = answers("PgVectorStore")
    assert [[i for i, _ in page] for page in after] == [[i for i, _ in page] for page in before]
    assert all(len(page) > 0 for page in after)
    np.testing.assert_allclose([s for page in after for _, s in page],
                               [s for page in before for _, s in page], atol=1e-3)


def test_migration_loads_then_indexes_once(home: Path, pgvector_url: str,
                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(PgVectorStore, "FLAT_MAX", 40)
    built: list[str | None] = []
    real = PgVectorStore.rebuild
    monkeypatch.setattr(PgVectorStore, "rebuild",
                        lambda self, index_type=None, **kw: (built.append(index_type),
                                                             real(self, index_type, **kw))[1])
    run("vectors", "migrate", "--to", "pgvector", "--batch", "25")
    assert built == ["Flat", None]  # pinned exact while loading, then automatic: one build
    _, pg = stores(home, pgvector_url)
    assert (pg.index_type, pg.automatic, len(pg)) == ("HNSW", True, N)
    pg.engine.dispose()
