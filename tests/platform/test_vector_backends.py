"""One store test suite, two backends: the FAISS files and the catalog's pgvector behave the same
behind :class:`~daguerre.platform.vectors.backend.VectorBackend`, and agree on the same data.

The pgvector side runs on a real PostgreSQL with pgvector 0.8 (the ``pgvector_server`` fixture;
skipped off CI when it cannot start). One database serves the module; each test uses its own
model key, so its own table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert, select, text

from daguerre.indexer.store import StoreError, VectorStore
from daguerre.platform.catalog.db import Catalog
from daguerre.platform.catalog.models import Image, Library
from daguerre.platform.vectors.backend import (
    SqlVectorBackend,
    VectorBackend,
    held_ids,
)
from daguerre.platform.vectors.pgvector import PgVectorStore
from tests.conftest import pgvector_database

DIM = 16
IMAGES = 600  # catalog rows 1..IMAGES (pgvector keeps vectors only for catalog images)


def add_images(catalog: Catalog, ids: range | list[int]) -> None:
    with catalog.engine.begin() as conn:
        if conn.execute(select(Library.id).where(Library.id == 1)).first() is None:
            conn.execute(insert(Library), [{"id": 1, "name": "lib", "root": "/photos"}])
        conn.execute(insert(Image), [
            {"id": i, "library_id": 1, "path": f"{i}.jpg", "sha256": f"{i:064x}", "size": 1,
             "mtime": 0.0, "width": 64 + i % 7, "height": 64, "format": "JPEG"} for i in ids])


@pytest.fixture(scope="module")
def pg_catalog(pgvector_server: object) -> Iterator[Catalog]:
    with pgvector_database(pgvector_server) as url:
        catalog = Catalog(url)
        add_images(catalog, range(1, IMAGES + 1))
        yield catalog
        catalog.dispose()


class Backend:
    """Opens stores of one backend; ``key`` keeps each test's store apart."""

    def __init__(self, kind: str, root: Path, catalog: Catalog | None, key: str):
        self.kind, self.root, self.catalog, self.key = kind, root, catalog, key

    def open(self, key: str | None = None, dim: int = DIM) -> VectorBackend:
        key = key or self.key
        if self.kind == "faiss":
            return VectorStore.open(self.root / key, dim=dim, model_key=key)
        assert self.catalog is not None
        return PgVectorStore.open(self.catalog.engine, dim=dim, model_key=key)


@pytest.fixture(params=["faiss", "pgvector"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    catalog = request.getfixturevalue("pg_catalog") if request.param == "pgvector" else None
    key = re.sub(r"\W", "-", request.node.name)
    return Backend(request.param, tmp_path, catalog, key)


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact(vectors: dict[int, np.ndarray], query: np.ndarray, k: int,
          allowed: set[int] | None = None) -> list[int]:
    """The true top-k ids (ties by id) by float64 cosine over ``vectors``."""
    q = query / np.linalg.norm(query)
    scored = [(-float(np.dot(q, v / np.linalg.norm(v))), i) for i, v in vectors.items()
              if allowed is None or i in allowed]
    return [i for _, i in sorted(scored)[:k]]


# ------------------------------------------------------------------------- the shared suite


def test_both_backends_implement_the_interface(backend: Backend):
    store = backend.open()
    assert isinstance(store, VectorBackend)
    assert isinstance(store, SqlVectorBackend) == (backend.kind == "pgvector")


def test_upsert_get_contains_and_ids(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(1)
    vecs = unit(rng, 5)
    store.upsert([5, 3, 9, 1, 7], vecs * 3.0)  # normalised on the way in
    assert len(store) == 5
    assert store.ids().tolist() == [1, 3, 5, 7, 9]
    assert 9 in store and 2 not in store and "x" not in store
    got = store.get([9, 5])
    np.testing.assert_allclose(got, vecs[[2, 0]], atol=2e-3)  # float16 storage
    assert got.dtype == np.float32
    with pytest.raises(KeyError, match="4"):
        store.get([1, 4])


def test_update_replaces_and_the_last_repeated_id_wins(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(2)
    a, b, c = unit(rng, 3)
    store.upsert([10, 11], np.stack([a, b]))
    store.upsert([10, 10], np.stack([b, c]))
    assert len(store) == 2
    np.testing.assert_allclose(store.get([10])[0], c, atol=2e-3)
    _, ids = store.search(c, 1)
    assert ids.tolist() == [[10]]


def test_remove_ignores_unknown_ids_and_counts(backend: Backend):
    store = backend.open()
    store.upsert([1, 2, 3], unit(np.random.default_rng(3), 3))
    assert store.remove([2, 3, 404]) == 2
    assert store.remove([2]) == 0
    assert store.ids().tolist() == [1]
    assert store.search(unit(np.random.default_rng(4), 1), 5)[1].tolist() == [[1]]


def test_search_ranks_by_cosine_with_scores(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(5)
    vecs = unit(rng, 200)
    store.upsert(np.arange(1, 201), vecs)
    scores, ids = store.search(vecs[[41, 99]], 10)
    assert ids.shape == scores.shape == (2, 10)
    assert ids[:, 0].tolist() == [42, 100]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-3)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    truth = exact(dict(zip(range(1, 201), vecs, strict=True)), vecs[41], 10)
    assert ids[0].tolist() == truth


def test_search_is_never_padded(backend: Backend):
    store = backend.open()
    store.upsert([1, 2, 3], unit(np.random.default_rng(6), 3))
    scores, ids = store.search(unit(np.random.default_rng(7), 2), 10, offset=1)
    assert ids.shape == scores.shape == (2, 2)
    assert store.search(unit(np.random.default_rng(7), 1), 10, offset=5)[1].shape == (1, 0)


def test_filters_restrict_and_still_fill_the_page(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(8)
    vecs = unit(rng, 300)
    store.upsert(np.arange(1, 301), vecs)
    q = unit(rng, 1)[0]
    allowed = np.array([7, 300, 150, 151, 2, 999, 3, 250, 44, 45, 46, 47])  # 999: not held
    scores, ids = store.search(q, 10, allowed_ids=allowed)
    held = set(allowed.tolist()) - {999}
    assert ids[0].tolist() == exact(dict(zip(range(1, 301), vecs, strict=True)), q, 10, held)
    assert len(ids[0]) == 10
    assert store.search(q, 5, allowed_ids=[999, 1000])[1].shape == (1, 0)
    assert store.search(q, 5, allowed_ids=np.array([], np.int64))[1].shape == (1, 0)


def test_pages_cut_one_order(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(9)
    store.upsert(np.arange(1, 121), unit(rng, 120))
    q = unit(rng, 1)
    _, whole = store.search(q, 40)
    pages = [store.search(q, 10, offset=o)[1][0].tolist() for o in range(0, 40, 10)]
    assert sum(pages, []) == whole[0].tolist()
    allowed = np.arange(1, 121, 2)
    _, fwhole = store.search(q, 30, allowed_ids=allowed)
    fpages = [store.search(q, 10, allowed_ids=allowed, offset=o)[1][0].tolist()
              for o in (0, 10, 20)]
    assert sum(fpages, []) == fwhole[0].tolist()


def test_ties_are_ordered_by_id_across_pages(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(10)
    same = unit(rng, 1)
    others = unit(rng, 30) * 0.1 + same * 0.0
    store.upsert(np.arange(100, 130), others)
    dupes = [57, 12, 88, 31, 64, 5, 40]  # one image stored under seven ids
    store.upsert(dupes, np.repeat(same, len(dupes), axis=0))
    scores, ids = store.search(same, 7)
    assert ids[0].tolist() == sorted(dupes)
    assert len(set(scores[0].tolist())) == 1
    paged = [store.search(same, 3, offset=o)[1][0].tolist() for o in (0, 3, 6)]
    assert sum(paged, [])[:7] == sorted(dupes)


def test_models_are_kept_apart(backend: Backend):
    a = backend.open(backend.key + "-a", dim=DIM)
    b = backend.open(backend.key + "-b", dim=8)
    rng = np.random.default_rng(11)
    a.upsert([1, 2], unit(rng, 2, DIM))
    b.upsert([2, 3, 4], unit(rng, 3, 8))
    assert a.ids().tolist() == [1, 2] and b.ids().tolist() == [2, 3, 4]
    with pytest.raises(StoreError, match="dim"):
        backend.open(backend.key + "-a", dim=8)
    with pytest.raises(StoreError, match="dimension"):
        a.upsert([3], unit(rng, 1, 8))
    with pytest.raises(StoreError, match="dimension"):
        b.search(unit(rng, 1, DIM), 3)
    with pytest.raises(ValueError, match="NaN"):
        a.upsert([3], np.full((1, DIM), np.nan, np.float32))


def test_rebuild_without_reencoding(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(12)
    vecs = unit(rng, 300)
    store.upsert(np.arange(1, 301), vecs)
    queries = unit(rng, 8)
    before = store.search(queries, 10)[1]
    approximate = "IVF4,Flat" if backend.kind == "faiss" else "HNSW"
    with store.edit() as st:
        st.rebuild(approximate)
    assert store.index_type == approximate
    found = store.search(queries, 10)[1]
    recall = np.mean([len(set(f) & set(b)) / 10 for f, b in zip(found, before, strict=True)])
    assert recall >= 0.9
    np.testing.assert_allclose(store.get([7]), vecs[6:7], atol=2e-3)
    with store.edit() as st:
        st.rebuild()  # automatic again: exact at this size
    assert store.index_type == "Flat"
    assert store.search(queries, 10)[1].tolist() == before.tolist()


def test_another_instance_sees_saved_changes_after_reload(backend: Backend):
    writer, reader = backend.open(), backend.open()
    rng = np.random.default_rng(13)
    with writer.edit() as st:
        st.upsert([1, 2, 3], unit(rng, 3))
    reader.reload()
    assert reader.ids().tolist() == [1, 2, 3]
    with reader.edit() as st:
        st.remove([2])
    writer.reload()
    assert writer.ids().tolist() == [1, 3]
    assert backend.open().ids().tolist() == [1, 3]


def test_an_edit_that_raises_changes_nothing(backend: Backend):
    store = backend.open()
    rng = np.random.default_rng(14)
    store.upsert([1, 2], unit(rng, 2))
    store.save()
    with pytest.raises(RuntimeError), store.edit() as st:
        st.remove([1])
        st.upsert([3], unit(rng, 1))
        raise RuntimeError("boom")
    assert store.ids().tolist() == [1, 2]
    assert backend.open().ids().tolist() == [1, 2]


def test_held_ids_in_one_call(backend: Backend):
    store = backend.open()
    store.upsert([4, 8, 15], unit(np.random.default_rng(15), 3))
    assert held_ids(store, [15, 16, 4, 4, 23]).tolist() == [4, 15]


# ------------------------------------------------------------------------- agreement


def agreement_data() -> tuple[np.ndarray, np.ndarray]:
    """240 vectors (ids 1..240; 201-203 copies of id 5) and 5 queries (the last is id 5's
    vector). Seed chosen so the compared ranks have no near-ties: pgvector keeps float16 where
    FAISS' flat index keeps float32, and the rounding moves a score by about 1e-4 at most, so
    two scores closer than that could swap."""
    rng = np.random.default_rng(17)
    v = rng.normal(size=(240, 32)).astype(np.float32)
    v[200:203] = v[4]
    q = rng.normal(size=(4, 32)).astype(np.float32)
    return v, np.vstack([q, v[4:5]])


def test_both_backends_agree_on_exact_search(pg_catalog: Catalog, tmp_path: Path):
    vecs, queries = agreement_data()
    ids = np.arange(1, 241)
    faiss = VectorStore.open(tmp_path / "agree", dim=32, model_key="agree")
    pg = PgVectorStore.open(pg_catalog.engine, dim=32, model_key="agree")
    for store in (faiss, pg):
        store.upsert(ids, vecs)
        assert store.index_type == "Flat"  # both exact at this size
    allowed = ids[ids % 3 == 0]
    truth = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float64) @ \
        (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).T.astype(np.float64)
    for kwargs in ({}, {"offset": 5}, {"allowed_ids": allowed}, {"allowed_ids": allowed,
                                                                  "offset": 4}):
        fs, fi = faiss.search(queries, 10, **kwargs)
        ps, pi = pg.search(queries, 10, **kwargs)
        for row, (f_ids, p_ids) in enumerate(zip(fi, pi, strict=True)):
            # The data really has no near-ties at these ranks (else the test proves nothing).
            distinct = np.unique(np.round(truth[row, f_ids - 1], 9))
            assert len(distinct) < 2 or np.diff(distinct).min() > 2e-4
            assert p_ids.tolist() == f_ids.tolist(), (kwargs, row)
        np.testing.assert_allclose(ps, fs, atol=1e-3)
    # The duplicates of id 5 tie exactly, in id order, on both.
    assert pg.search(queries[4], 4)[1].tolist() == [[5, 201, 202, 203]]
    assert faiss.search(queries[4], 4)[1].tolist() == [[5, 201, 202, 203]]


# ------------------------------------------------------------------------- pgvector only


def test_pgvector_index_follows_size(pg_catalog: Catalog, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(PgVectorStore, "FLAT_MAX", 40)
    store = PgVectorStore.open(pg_catalog.engine, dim=DIM, model_key="tiers")
    rng = np.random.default_rng(16)
    store.upsert(np.arange(1, 31), unit(rng, 30))
    assert store.index_type == "Flat"
    store.upsert(np.arange(31, 51), unit(rng, 20))
    assert store.index_type == "HNSW"
    with pg_catalog.engine.connect() as conn:
        defs = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"),
                            {"t": store.table}).scalars().all()
    assert any("hnsw" in d and "halfvec_cosine_ops" in d and "m='16'" in d for d in defs), defs
    assert store.stats()["m"] == 16
    store.remove(np.arange(1, 25))  # 26 left: above half the threshold, the index stays
    assert store.index_type == "HNSW"
    store.remove(np.arange(25, 40))  # 11 left
    assert store.index_type == "Flat"
    other = PgVectorStore.open(pg_catalog.engine, dim=DIM, model_key="tiers")
    assert other.index_type == "Flat"


def test_pgvector_filtered_scan_that_stops_short_is_answered_exactly(pg_catalog: Catalog):
    from daguerre.platform.vectors.pgvector import HnswParams

    store = PgVectorStore.open(pg_catalog.engine, dim=DIM, model_key="short-scan",
                               params=HnswParams(max_scan_tuples=1))
    rng = np.random.default_rng(17)
    vecs = unit(rng, 500)
    store.upsert(np.arange(1, 501), vecs)
    store.rebuild("HNSW")
    allowed = np.arange(1, 501, 50)  # 10 ids, far apart in the graph
    allowed = np.concatenate([allowed, np.arange(5000, 10000)])  # past FILTER_EXACT_MAX
    q = unit(rng, 1)[0]
    _, ids = store.search(q, 10, allowed_ids=allowed)
    held = set(range(1, 501, 50))
    assert ids[0].tolist() == exact(dict(zip(range(1, 501), vecs, strict=True)), q, 10, held)


def test_pgvector_sql_filter_in_the_same_statement(pg_catalog: Catalog):
    store = PgVectorStore.open(pg_catalog.engine, dim=DIM, model_key="sql-filter")
    rng = np.random.default_rng(18)
    vecs = unit(rng, 400)
    store.upsert(np.arange(1, 401), vecs)
    q = unit(rng, 1)[0]
    wide = select(Image.id).where(Image.width == 64 + 3)  # every 7th image, by catalog column
    allowed = {i for i in range(1, 401) if i % 7 == 3}
    table = dict(zip(range(1, 401), vecs, strict=True))
    for index, exact_max in (("Flat", 4096), ("HNSW", 4096), ("HNSW", 10)):
        store.rebuild(index)
        # 10: the 57 allowed rows are too many to fetch exactly, so the graph is walked with
        # the filter (an iterative scan); on 400 vectors that walk finds the exact answer.
        store.FILTER_EXACT_MAX, store.EXACT_SHARE = exact_max, 0.0  # type: ignore[misc]
        _, ids = store.search(q, 10, allowed_sql=wide)
        assert ids[0].tolist() == exact(table, q, 10, allowed)
        _, ids = store.search(q, 5, allowed_sql=wide, allowed_ids=[3, 10, 17, 24, 4, 11])
        assert ids[0].tolist() == exact(table, q, 5, {3, 10, 17, 24})


def test_pgvector_writes_join_the_callers_transaction(pg_catalog: Catalog):
    store = PgVectorStore.open(pg_catalog.engine, dim=DIM, model_key="tx")
    rng = np.random.default_rng(19)
    with pg_catalog.session() as s:
        store.upsert([1, 2], unit(rng, 2), connection=s)
        s.rollback()
    assert len(store) == 0
    with pg_catalog.session() as s:
        store.upsert([1, 2], unit(rng, 2), connection=s)
        assert store.search(unit(rng, 1), 5, connection=s)[1].shape == (1, 2)
        assert len(store) == 0  # not committed yet: other connections do not see it
    assert len(store) == 2
    with pg_catalog.engine.begin() as conn, store.edit(connection=conn) as st:
        st.remove([1])
    assert store.ids().tolist() == [2]


def test_pgvector_refuses_vectors_without_catalog_images_and_follows_deletes(
        pg_catalog: Catalog):
    store = PgVectorStore.open(pg_catalog.engine, dim=DIM, model_key="fk")
    rng = np.random.default_rng(20)
    with pytest.raises(StoreError, match=r"\[100000\] are not in the catalog"):
        store.upsert([5, 100000], unit(rng, 2))
    assert len(store) == 0  # the whole call was refused
    add_images(pg_catalog, [IMAGES + 1])
    store.upsert([5, IMAGES + 1], unit(rng, 2))
    with pg_catalog.engine.begin() as conn:
        conn.execute(text("DELETE FROM images WHERE id = :i"), {"i": IMAGES + 1})
    assert store.ids().tolist() == [5]


def test_pgvector_table_names_are_safe_for_any_model_key(pg_catalog: Catalog):
    key = "ViT-B-32__/weights/o'brien \"v2\"; DROP TABLE images"
    store = PgVectorStore.open(pg_catalog.engine, dim=4, model_key=key)
    assert re.fullmatch(r"vectors_[0-9a-f]{16}", store.table)
    store.upsert([1], np.ones((1, 4), np.float32))
    assert PgVectorStore.open_existing(pg_catalog.engine, key).ids().tolist() == [1]
    assert key in PgVectorStore.model_keys(pg_catalog.engine)
