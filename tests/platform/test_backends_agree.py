"""Search, similar, filtered search, classify and duplicates answer the same whether the vectors
live in FAISS files (SQLite catalog) or in the catalog's pgvector (PostgreSQL): the same
library of generated shapes, indexed by the trained shapes CLIP into each, compared by path.

The store-level suite (test_vector_backends.py) runs every store operation on both backends;
this one checks the platform's services over them, where pgvector answers a filtered search as
one SQL query and writes vectors in the catalog's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from daguerre.platform.catalog.models import Image, ImageEmbedding
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.services import search as search_svc
from daguerre.platform.services.curation import curate_many
from daguerre.platform.services.duplicates import find_duplicates
from daguerre.platform.services.indexing import index_library
from daguerre.platform.services.libraries import add_library
from daguerre.platform.services.tags import classify
from daguerre.platform.vectors.backend import backend_of
from tests.support.trained_clip import COLORS, SHAPES, ShapeSpec, trained_clip, write_shapes

QUERIES = ["a red circle", "a blue square", "a green triangle", "a yellow star"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agree") / "shapes"
    backgrounds = ["gray", "black", "white"]
    specs = [ShapeSpec(c, s, backgrounds[k % 3]) for c in COLORS for s in SHAPES for k in range(3)]
    write_shapes(root, specs, seed=303)
    # An exact copy, so the duplicate tiers have something to find.
    first = sorted(root.iterdir())[0]
    (root / f"copy-{first.name}").write_bytes(first.read_bytes())
    return root


def _context(home: Path, database_url: str, backend: str) -> Context:
    cfg, weights = trained_clip()
    return Context(load_settings(env={
        "DAGUERRE_HOME": str(home), "DAGUERRE_DATABASE_URL": database_url,
        "DAGUERRE_CLIP_MODEL": str(cfg), "DAGUERRE_CLIP_WEIGHTS": str(weights),
        "DAGUERRE_DEVICE": "cpu", "DAGUERRE_CLIP_RUNTIME": "torch",
        "DAGUERRE_DECODE_WORKERS": "1", "DAGUERRE_VECTOR_STORE": backend}))


@pytest.fixture(scope="module")
def both(library: Path, tmp_path_factory: pytest.TempPathFactory,
         pgvector_server: object) -> Iterator[dict[str, Context]]:
    from tests.conftest import pgvector_database

    base = tmp_path_factory.mktemp("backends")
    with pgvector_database(pgvector_server) as pg_url:
        contexts = {"faiss": _context(base / "faiss", "", "faiss"),
                    "pgvector": _context(base / "pgvector", pg_url, "pgvector")}
        try:
            for ctx in contexts.values():
                add_library(ctx, str(library), "shapes")
                summary = index_library(ctx, "shapes")
                assert summary.failed == 0 and summary.added == len(list(library.iterdir()))
                # The same images rated on both sides, by path: something to filter on.
                with ctx.catalog.session() as s:
                    ids = [i for i, p in s.execute(select(Image.id, Image.path)) if "red" in p]
                curate_many(ctx, ids, {"rating": 5})
            yield contexts
        finally:
            for ctx in contexts.values():
                ctx.close()


def _by_path(ctx: Context, hits: list) -> list[tuple[str, float]]:
    return [(h.path, round(h.score, 3)) for h in hits]


def _agree(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> None:
    assert [p for p, _ in a] == [p for p, _ in b]
    for (_, sa), (_, sb) in zip(a, b, strict=True):
        assert abs(sa - sb) <= 2e-3


def test_the_backends_are_what_they_say(both: dict[str, Context]) -> None:
    for name, ctx in both.items():
        assert backend_of(ctx.store()) == name
        with ctx.catalog.session() as s:  # one row per vector, every image embedded once
            rows = s.scalar(select(func.count()).select_from(ImageEmbedding))
            images = s.scalar(select(func.count()).select_from(Image))
        assert rows == images == len(ctx.store())


def test_text_search_agrees(both: dict[str, Context]) -> None:
    for query in QUERIES:
        faiss, pg = (_by_path(c, search_svc.search(c, query, limit=10)) for c in both.values())
        _agree(faiss, pg)
        colour, shape = query.split()[1:]
        assert all(colour in p and shape in p for p, _ in faiss[:3]), faiss


def test_filtered_search_and_paging_agree(both: dict[str, Context]) -> None:
    for query in QUERIES:
        pages = []
        for ctx in both.values():
            hits = search_svc.search(ctx, query, limit=5, offset=5,
                                     filters={"min_rating": 5})
            pages.append(_by_path(ctx, hits))
        _agree(*pages)
        assert len(pages[0]) == 5 and all("red" in p for p, _ in pages[0])


def test_similar_agrees(both: dict[str, Context]) -> None:
    results = []
    for ctx in both.values():
        with ctx.catalog.session() as s:
            image_id = s.scalar(select(Image.id).where(Image.path.like("%blue%square%"))
                                .order_by(Image.path).limit(1))
        results.append(_by_path(ctx, search_svc.similar(ctx, image_id, limit=8)))
    _agree(*results)


def test_classify_and_duplicates_agree(both: dict[str, Context]) -> None:
    tags, groups = [], []
    for ctx in both.values():
        summary = classify(ctx, "shapes", labels=["circle", "square", "star"], top=1,
                           min_prob=0.0)
        tags.append(sorted((r["path"], tuple(t["label"] for t in r["labels"]))
                           for r in summary.results))
        groups.append(sorted((g.tier, tuple(sorted(m.path for m in g.members)))
                             for g in find_duplicates(ctx, tiers=("exact", "similar"))))
    assert tags[0] == tags[1] and len(tags[0]) == summary.classified > 0
    assert groups[0] == groups[1] and any(tier == "exact" for tier, _ in groups[0])


def test_api_search_agrees(both: dict[str, Context]) -> None:
    """The JSON API over each backend: the same filtered page, by path and score."""
    from daguerre.platform.web import create_app
    from tests.platform.api_fixtures import make_user

    pages = []
    for name, ctx in both.items():
        s = ctx.settings
        app = create_app({"TESTING": True, "home": str(s.home), "database_url": s.database_url,
                          "clip_model": s.clip_model, "clip_weights": s.clip_weights,
                          "device": "cpu", "clip_runtime": "torch", "vector_store": name,
                          "decode_workers": 1})
        try:
            token = make_user(app, f"reader-{name}", "viewer")
            resp = app.test_client().get(
                "/api/v1/search", query_string={"q": "a red star", "limit": 6, "min_rating": 5},
                headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200, resp.get_data(as_text=True)
            pages.append([(h["path"], round(h["score"], 3)) for h in resp.get_json()["items"]])
        finally:
            app.extensions["daguerre"].ctx.close()
    _agree(*pages)
    assert len(pages[0]) == 6 and all("red" in p for p, _ in pages[0])
