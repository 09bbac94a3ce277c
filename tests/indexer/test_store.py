"""Tests of daguerre.indexer.store: ids, persistence, atomic saves, locking, filters, tiers."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

from daguerre.indexer import store as store_mod
from daguerre.indexer.store import StoreError, VectorStore, normalize_rows

DIM = 16
MODEL = "tiny-test-model"


def unit(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return normalize_rows(np.random.default_rng(seed).normal(size=(n, dim)))


def clustered(n: int, dim: int = 32, seed: int = 0, clusters: int = 20) -> np.ndarray:
    """Gaussian mixture in 8 dims mapped linearly into ``dim``: embedding-like structure."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, 8)) * 2.0
    z = centers[rng.integers(0, clusters, n)] + rng.normal(size=(n, 8))
    x = z @ rng.normal(size=(8, dim)) + 0.05 * rng.normal(size=(n, dim))
    return normalize_rows(x)


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    return VectorStore.open(tmp_path / "vs", dim=DIM, model_key=MODEL)


def test_empty_store(store: VectorStore) -> None:
    assert len(store) == 0
    assert store.ids().dtype == np.int64 and len(store.ids()) == 0
    scores, ids = store.search(unit(1)[0], 5)
    assert scores.shape == (1, 0) and ids.shape == (1, 0)
    assert store.index_type == "Flat"


def test_upsert_search_finds_itself(store: VectorStore) -> None:
    vecs = unit(50)
    ids = np.arange(100, 150)
    store.upsert(ids, vecs)
    assert len(store) == 50 and 120 in store and 7 not in store
    scores, found = store.search(vecs[20], 5)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    assert found[0, 0] == 120
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.diff(scores[0]) <= 0)
    # fewer vectors than k: no -1 padding
    scores, found = store.search(vecs[:3], 80)
    assert found.shape == (3, 50) and (found >= 0).all()


def test_upsert_replaces_and_normalises(store: VectorStore) -> None:
    vecs = unit(10)
    store.upsert(np.arange(10), vecs)
    store.upsert([3], 5.0 * vecs[7:8])  # not normalised by the caller: the store does it
    assert len(store) == 10
    _, found = store.search(vecs[7], 2)
    assert set(found[0]) == {3, 7}
    np.testing.assert_allclose(store.get([3])[0], vecs[7], atol=2e-3)
    assert np.linalg.norm(store.get([3])[0]) == pytest.approx(1.0, abs=2e-3)


def test_remove(store: VectorStore) -> None:
    vecs = unit(20)
    store.upsert(np.arange(20), vecs)
    assert store.remove([3, 4, 999]) == 2
    assert store.remove([3]) == 0
    assert 3 not in store and len(store) == 18
    _, found = store.search(vecs[3], 18)
    assert 3 not in found and 4 not in found
    with pytest.raises(KeyError, match="3"):
        store.get([3])


def test_get_roundtrip_float16(store: VectorStore) -> None:
    vecs = unit(30)
    store.upsert(np.arange(30)[::-1], vecs)
    got = store.get([29, 0, 15])
    assert got.dtype == np.float32 and got.shape == (3, DIM)
    np.testing.assert_allclose(got, vecs[[0, 29, 14]], atol=1e-3)
    np.testing.assert_array_equal(store.ids(), np.arange(30))


def test_persistence_across_open(tmp_path: Path) -> None:
    vecs = unit(40)
    s1 = VectorStore.open(tmp_path, dim=DIM, model_key=MODEL)
    s1.upsert(np.arange(40) * 3, vecs)
    s1.remove([0])
    s1.save()
    s2 = VectorStore.open(tmp_path, dim=DIM, model_key=MODEL)
    assert len(s2) == 39 and 0 not in s2 and 117 in s2
    np.testing.assert_allclose(s2.get([117]), vecs[39:40], atol=1e-3)
    assert s2.search(vecs[5], 1)[1][0, 0] == 15
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("gen-")] == ["gen-00000002"]


def test_model_and_dim_mismatch(tmp_path: Path, store: VectorStore) -> None:
    store.upsert([1], unit(1))
    store.save()
    with pytest.raises(StoreError, match="other-model"):
        VectorStore.open(store.directory, dim=DIM, model_key="other-model")
    with pytest.raises(StoreError, match=r"dim 16.*dim 8|dim 8.*dim 16"):
        VectorStore.open(store.directory, dim=8, model_key=MODEL)
    with pytest.raises(StoreError, match=r"16.*9"):
        store.upsert([2], unit(1, dim=9))
    with pytest.raises(StoreError, match=r"16"):
        store.search(unit(1, dim=9), 3)


def test_crash_mid_save_keeps_previous_store(
    tmp_path: Path, store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = unit(10)
    store.upsert(np.arange(10), old)
    store.save()
    store.upsert(np.arange(10, 20), unit(10, seed=1))
    store.remove([0])

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated power loss")

    # crash once the new generation's files are written, before anything is renamed
    monkeypatch.setattr(store_mod.os, "replace", crash)
    with pytest.raises(StoreError, match="power loss"):
        store.save()
    monkeypatch.undo()

    # what a killed process leaves behind: a half-written temporary generation
    leftover = store.directory / ".tmp-gen-00000099-deadbeef"
    leftover.mkdir()
    (leftover / "embeddings.npy").write_bytes(b"\x93NUMPY trunc")
    reopened = VectorStore.open(store.directory, dim=DIM, model_key=MODEL)
    np.testing.assert_array_equal(reopened.ids(), np.arange(10))
    np.testing.assert_allclose(reopened.get(np.arange(10)), old, atol=1e-3)
    assert not any(p.name.startswith(".tmp-") for p in store.directory.iterdir())


def test_crash_while_writing_index(store: VectorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.upsert(np.arange(5), unit(5))
    store.save()
    store.upsert([5], unit(1, seed=3))
    faiss = store_mod._faiss()

    def half_write(index: object, path: str) -> None:
        Path(path).write_bytes(b"IxM2 partial")
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", half_write)
    with pytest.raises(StoreError, match="disk full"):
        store.save()
    monkeypatch.undo()
    reopened = VectorStore.open(store.directory, dim=DIM, model_key=MODEL)
    assert len(reopened) == 5


def test_corrupt_files_give_store_error(store: VectorStore) -> None:
    store.upsert(np.arange(5), unit(5))
    store.save()
    gen = next(p for p in store.directory.iterdir() if p.name.startswith("gen-"))
    emb = gen / "embeddings.npy"
    emb.write_bytes(emb.read_bytes()[:40])
    with pytest.raises(StoreError, match=r"embeddings\.npy.*truncated"):
        VectorStore.open(store.directory, dim=DIM, model_key=MODEL)
    os.remove(emb)
    with pytest.raises(StoreError, match=r"embeddings\.npy.*missing"):
        VectorStore.open(store.directory, dim=DIM, model_key=MODEL)
    (store.directory / "CURRENT").write_text("{not json")
    with pytest.raises(StoreError, match="CURRENT.*corrupt"):
        VectorStore.open(store.directory, dim=DIM, model_key=MODEL)


def test_corrupt_index_gives_store_error(store: VectorStore) -> None:
    store.upsert(np.arange(5), unit(5))
    store.save()
    gen = next(p for p in store.directory.iterdir() if p.name.startswith("gen-"))
    idx = gen / "index.faiss"
    idx.write_bytes(b"\0" * idx.stat().st_size)  # same size, garbage content
    with pytest.raises(StoreError, match=r"index\.faiss"):
        VectorStore.open(store.directory, dim=DIM, model_key=MODEL)


def _writer(directory: str, start: int, count: int) -> None:
    s = VectorStore.open(directory, dim=DIM, model_key=MODEL)
    for i in range(start, start + count, 5):
        with s.edit():
            s.upsert(np.arange(i, i + 5), unit(5, seed=i))


def test_concurrent_writers(tmp_path: Path) -> None:
    directory = str(tmp_path / "shared")
    VectorStore.open(directory, dim=DIM, model_key=MODEL)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(directory, s, 40)) for s in (0, 1000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = VectorStore.open(directory, dim=DIM, model_key=MODEL)
    expected = np.concatenate([np.arange(0, 40), np.arange(1000, 1040)])
    np.testing.assert_array_equal(s.ids(), expected)


def test_edit_discards_on_exception_and_reload(tmp_path: Path) -> None:
    a = VectorStore.open(tmp_path, dim=DIM, model_key=MODEL)
    b = VectorStore.open(tmp_path, dim=DIM, model_key=MODEL)
    with a.edit():
        a.upsert([1, 2], unit(2))
    with pytest.raises(RuntimeError), a.edit():
        a.upsert([3], unit(1))
        raise RuntimeError("boom")
    assert 3 not in a and len(a) == 2
    assert b.reload() is True and len(b) == 2
    assert b.reload() is False


def test_allowed_ids_fill_the_page(store: VectorStore) -> None:
    vecs = unit(300)
    store.upsert(np.arange(300), vecs)
    query = vecs[0]
    _, top = store.search(query, 300)
    allowed = top[0, 200:]  # the 100 worst matches only
    scores, found = store.search(query, 10, allowed_ids=allowed)
    assert found.shape == (1, 10)
    assert set(found[0]) <= set(allowed)
    np.testing.assert_array_equal(found[0], top[0, 200:210])
    _, few = store.search(query, 10, allowed_ids=np.array([5, 7, 123456]))
    assert sorted(few[0]) == [5, 7]


def test_offset_paging_is_stable(store: VectorStore) -> None:
    vecs = unit(60)
    vecs[10:20] = vecs[0]  # exact ties: ordered by id
    store.upsert(np.arange(60), vecs)
    _, everything = store.search(vecs[0], 60)
    pages = [store.search(vecs[0], 7, offset=o)[1][0] for o in range(0, 60, 7)]
    joined = np.concatenate(pages)
    np.testing.assert_array_equal(joined, everything[0])
    assert len(set(joined)) == 60
    tied = [i for i in everything[0] if i == 0 or 10 <= i < 20]
    assert tied == sorted(tied)
    assert store.search(vecs[0], 5, offset=58)[1].shape == (1, 2)


class SmallTierStore(VectorStore):
    FLAT_MAX = 1_000
    TUNE_QUERIES = 100
    FILTER_EXACT_MAX = 100  # so filters go through the IVF selector path


def test_tier_switch_rebuild_and_recall(tmp_path: Path) -> None:
    everything = clustered(4_100, dim=32)
    data, queries = everything[:4_000], everything[4_000:]
    s = SmallTierStore.open(tmp_path, dim=32, model_key=MODEL)
    s.upsert(np.arange(800), data[:800])
    assert s.index_type == "Flat"
    s.upsert(np.arange(800, 4_000), data[800:])
    assert s.index_type.startswith("IVF") and s.index_type.endswith(",SQ8")
    # incremental changes go into the approximate index without a rebuild
    s.remove(np.arange(0, 50))
    s.upsert([5], data[5:6])
    assert 5 in s and 6 not in s
    assert s.search(data[5], 1)[1][0, 0] == 5

    s.rebuild()
    assert len(s) == 3_951 and s.index_type.startswith("IVF")
    exact = np.argsort(-(queries @ data.T), axis=1)
    held = set(s.ids().tolist())
    _, approx = s.search(queries, 10)
    hits = 0
    for q in range(100):
        truth = [i for i in exact[q] if i in held][:10]
        hits += len(set(truth) & set(approx[q]))
    assert hits / 1000 >= 0.95

    # a filter over the approximate index still fills the page
    allowed = np.arange(3_000, 4_000)
    _, filtered = s.search(queries[:5], 10, allowed_ids=allowed)
    assert filtered.shape == (5, 10) and np.isin(filtered, allowed).all()
    sparse = np.arange(50, 4_000, 19)  # ~1 id per IVF list probed: needs escalation
    _, filtered = s.search(queries[:5], 10, allowed_ids=sparse)
    assert filtered.shape == (5, 10) and np.isin(filtered, sparse).all()
    exact_sparse = [[i for i in exact[q] if i in set(sparse)][:10] for q in range(5)]
    assert sum(len(set(a) & set(b)) for a, b in zip(exact_sparse, filtered, strict=True)) >= 45

    tiny = np.arange(3_000, 3_020)  # at most FILTER_EXACT_MAX: an exact scan of raw vectors
    _, filtered = s.search(queries[:5], 10, allowed_ids=tiny)
    truth = tiny[np.argsort(-(queries[:5] @ data[tiny].T), axis=1)[:, :10]]
    np.testing.assert_array_equal(filtered, truth)

    s.save()
    again = SmallTierStore.open(tmp_path, dim=32, model_key=MODEL)
    assert again.index_type == s.index_type and again.nprobe == s.nprobe
    s.rebuild("Flat")
    assert s.index_type == "Flat" and len(s) == 3_951
    with pytest.raises(StoreError, match="unsupported index type"):
        s.rebuild("HNSW32")


def _filtered_recall(s: VectorStore, data: np.ndarray, queries: np.ndarray,
                     allowed: np.ndarray) -> float:
    """Recall@10 of ``s`` through the filter ``allowed`` against exact search over it."""
    truth = allowed[np.argsort(-(queries @ data[allowed].T), axis=1)[:, :10]]
    _, found = s.search(queries, 10, allowed_ids=allowed)
    return sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True)) / truth.size


def test_filters_keep_the_recall_of_unfiltered_search(tmp_path: Path) -> None:
    # The 10 best of a tenth of the ids lie as far out as the 100 best of all of them, in lists
    # the unfiltered nprobe never probes: the store tunes nprobe through filters of each share
    # too, at build, and a filtered search uses it. (Few, long lists, so that the probes needed
    # to fill the page alone do not hide the difference, as they do for small stores.)
    everything = clustered(12_200, dim=32, seed=3, clusters=1_000)
    data, queries = everything[:12_000], everything[12_000:]
    s = SmallTierStore.open(tmp_path, dim=32, model_key=MODEL)
    s.upsert(np.arange(12_000), data)
    s.rebuild("IVF64,SQ8")
    tuned = s.stats()["filtered_nprobe"]
    assert tuned and all(p >= s.nprobe for p in tuned.values())
    rng = np.random.default_rng(5)
    shares = {share: np.sort(rng.choice(12_000, int(12_000 * share), replace=False))
              for share in (0.5, 0.2, 0.1, 0.05)}
    recall = {share: _filtered_recall(s, data, queries, allowed)
              for share, allowed in shares.items()}
    assert min(recall.values()) >= 0.97, recall

    s.save()
    again = SmallTierStore.open(tmp_path, dim=32, model_key=MODEL)
    assert again.stats()["filtered_nprobe"] == tuned  # kept across a reopen
    # For contrast, the same index searched through a 10 % filter with the unfiltered nprobe
    # (as before filters were tuned) misses what the tuned one finds.
    again._filtered_nprobe_at = {}
    assert _filtered_recall(again, data, queries, shares[0.1]) <= recall[0.1] - 0.02


def test_open_existing_reads_model_and_dimension_from_the_store(tmp_path) -> None:  # noqa: ANN001
    """A caller that loads no model (removing a library from every model's store) still opens
    each store as it was made, and an empty folder is no store."""
    assert VectorStore.open_existing(tmp_path / "nothing") is None
    (tmp_path / "empty").mkdir()
    assert VectorStore.open_existing(tmp_path / "empty") is None
    made = VectorStore.open(tmp_path / "m", dim=8, model_key="tiny@abc")
    with made.edit() as st:
        st.upsert(np.arange(1, 4, dtype=np.int64), np.eye(3, 8, dtype=np.float32))
    again = VectorStore.open_existing(tmp_path / "m")
    assert (again.dim, again.model_key, len(again)) == (8, "tiny@abc", 3)
