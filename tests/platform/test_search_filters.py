"""Filters, paging, cut-off and the text-embedding cache, against a hand-made catalog whose
vectors are placed so every score is known in advance."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from daguerre.platform.catalog.filters import SearchFilters, check_filters, parse_date
from daguerre.platform.catalog.models import (
    Image,
    ImageOrigin,
    ImageStatus,
    ImageTag,
    Library,
    ReviewState,
    Tag,
    TagSource,
)
from daguerre.platform.cli import main
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services import search as svc
from daguerre.platform.services.text_cache import text_cache

N = 40


def _score(i: int) -> float:
    """Image i's cosine with the query vector e0: strictly decreasing in i, except that 20 and
    21 tie (ties are broken by id)."""
    return 0.95 - 0.02 * (i if i <= 20 else i - 1)


def _attrs(i: int) -> dict:
    return {
        "library": "alpha" if i % 2 == 0 else "beta",
        "path": f"{'trips' if i % 4 < 2 else 'home'}/{i:03d}.jpg",
        "captured_at": datetime(2020 + i % 4, 6, 1, 12, 0) if i % 5 else None,
        "rating": i % 6 if i % 3 else None,
        "origin": ImageOrigin.GENERATED if i % 7 == 0 else ImageOrigin.LIBRARY,
        "format": "PNG" if i % 3 == 0 else "JPEG",
        "width": 100 + 10 * i,
        "height": 800 - 10 * i,
        "tag": "beach" if i % 4 == 1 else None,
        "review": (ReviewState.APPROVED if i % 5 == 2 else
                   ReviewState.REJECTED if i % 5 == 3 else ReviewState.UNREVIEWED),
        "status": ImageStatus.MISSING if i == 3 else (
            ImageStatus.DUPLICATE if i == 5 else ImageStatus.ACTIVE),
    }


@pytest.fixture()
def catalog(clip_env: dict, tmp_path: Path) -> tuple[Context, dict[int, int], np.ndarray]:
    """A context over N images with known attributes; returns (ctx, index -> id, query)."""
    ctx = Context()
    enc = ctx.encoder()
    dim = enc.dim
    ids: dict[int, int] = {}
    with ctx.catalog.session() as s:
        libs = {}
        for name in ("alpha", "beta"):
            root = tmp_path / name
            root.mkdir()
            libs[name] = Library(name=name, root=str(root))
            s.add(libs[name])
        tag = Tag(name="beach")
        s.add(tag)
        s.flush()
        for i in range(N):
            a = _attrs(i)
            img = Image(library_id=libs[a["library"]].id, path=a["path"], sha256=f"{i:064x}",
                        size=1000 + i, mtime=float(i), width=a["width"], height=a["height"],
                        format=a["format"], captured_at=a["captured_at"], rating=a["rating"],
                        origin=a["origin"], status=a["status"], review_state=a["review"])
            s.add(img)
            s.flush()
            ids[i] = img.id
            if a["tag"]:
                s.add(ImageTag(image_id=img.id, tag_id=tag.id, source=TagSource.MODEL,
                               score=0.9))
    query = np.zeros(dim, np.float32)
    query[0] = 1.0
    vecs = np.zeros((N, dim), np.float32)
    for i in range(N):
        c = _score(i)
        vecs[i, 0] = c
        vecs[i, 1 + i % (dim - 1)] = np.sqrt(1 - c * c)
    with ctx.store().edit() as st:
        st.upsert(np.array([ids[i] for i in range(N)], np.int64), vecs)
    yield ctx, ids, query
    ctx.close()


def _active(i: int) -> bool:
    return _attrs(i)["status"] == ImageStatus.ACTIVE


def _expected(pred) -> list[int]:  # noqa: ANN001
    """Indices passing ``pred``, in ranking order (score desc, then id)."""
    return [i for i in range(N) if _active(i) and pred(_attrs(i))]


def _idx(ids: dict[int, int], hits: list) -> list[int]:
    back = {v: k for k, v in ids.items()}
    return [back[h.id] for h in hits]


def test_unfiltered_ranking_skips_inactive_images_and_breaks_ties_by_id(catalog) -> None:  # noqa: ANN001
    ctx, ids, q = catalog
    hits = svc.rank(ctx, q, 25)
    assert _idx(ids, hits) == _expected(lambda a: True)[:25]
    assert 3 not in _idx(ids, hits) and 5 not in _idx(ids, hits)  # missing, duplicate
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0].score == pytest.approx(_score(0), abs=1e-3)
    assert _idx(ids, hits).index(20) + 1 == _idx(ids, hits).index(21)


def test_paging_is_stable_and_complete(catalog) -> None:  # noqa: ANN001
    ctx, ids, q = catalog
    everything = _idx(ids, svc.rank(ctx, q, N))
    pages = [_idx(ids, svc.rank(ctx, q, 7, offset=off)) for off in range(0, N, 7)]
    assert [i for p in pages for i in p] == everything
    assert everything == _expected(lambda a: True)
    assert svc.rank(ctx, q, 5, offset=len(everything)) == []


@pytest.mark.parametrize(("filters", "pred"), [
    (SearchFilters(library="beta"), lambda a: a["library"] == "beta"),
    (SearchFilters(folder="home"), lambda a: a["path"].startswith("home/")),
    (SearchFilters(folder="/home/"), lambda a: a["path"].startswith("home/")),
    (SearchFilters(date_from=datetime(2022, 1, 1)),
     lambda a: a["captured_at"] is not None and a["captured_at"].year >= 2022),
    (SearchFilters(date_to=datetime(2021, 12, 31, 23, 59)),
     lambda a: a["captured_at"] is not None and a["captured_at"].year <= 2021),
    (SearchFilters(tag="beach"), lambda a: a["tag"] == "beach"),
    (SearchFilters(min_rating=4), lambda a: (a["rating"] or -1) >= 4),
    (SearchFilters(review_state="approved"), lambda a: a["review"] == ReviewState.APPROVED),
    (SearchFilters(review_state="unreviewed"), lambda a: a["review"] == ReviewState.UNREVIEWED),
    (SearchFilters(origin="generated"), lambda a: a["origin"] == ImageOrigin.GENERATED),
    (SearchFilters(format="png"), lambda a: a["format"] == "PNG"),
    (SearchFilters(min_width=400), lambda a: a["width"] >= 400),
    (SearchFilters(min_height=600), lambda a: a["height"] >= 600),
    (SearchFilters(library="alpha", folder="trips", min_rating=1),
     lambda a: a["library"] == "alpha" and a["path"].startswith("trips/")
     and (a["rating"] or -1) >= 1),
])
def test_each_filter_selects_exactly_its_images_in_ranking_order(catalog, filters, pred
                                                                  ) -> None:  # noqa: ANN001
    ctx, ids, q = catalog
    want = _expected(pred)
    assert want, "the catalog must hold matching images"
    assert _idx(ids, svc.rank(ctx, q, N, filters=filters)) == want


def test_filtered_page_is_full_when_matches_sit_below_the_top_hits(catalog) -> None:  # noqa: ANN001
    ctx, ids, q = catalog
    # Wide images are the worst-scoring ones: none is in the unfiltered top 25.
    wide = SearchFilters(min_width=400)
    want = _expected(lambda a: a["width"] >= 400)
    assert not set(want) & set(_idx(ids, svc.rank(ctx, q, 25)))
    page = _idx(ids, svc.rank(ctx, q, 5, filters=wide))
    assert page == want[:5]
    assert _idx(ids, svc.rank(ctx, q, 5, filters=wide, offset=5)) == want[5:10]


def test_min_score_cuts_the_tail(catalog) -> None:  # noqa: ANN001
    ctx, ids, q = catalog
    hits = svc.rank(ctx, q, N, min_score=0.5)
    want = [i for i in _expected(lambda a: True) if _score(i) >= 0.5 - 1e-6]
    assert _idx(ids, hits) == want
    assert all(h.score >= 0.5 for h in hits)
    assert svc.rank(ctx, q, N, min_score=0.99) == []


def test_unknown_library_or_tag_and_bad_values_are_named(catalog) -> None:  # noqa: ANN001
    ctx, _ids, q = catalog
    with pytest.raises(NotFound, match="no library 'nope'") as exc:
        svc.rank(ctx, q, 5, filters=SearchFilters(library="nope"))
    assert exc.value.field == "library"
    with pytest.raises(NotFound, match="no tag 'sunset'") as exc:
        svc.rank(ctx, q, 5, filters=SearchFilters(tag="sunset"))
    assert exc.value.field == "tag"
    with pytest.raises(BadInput, match="origin must be one of") as exc:
        svc.rank(ctx, q, 5, filters=SearchFilters(origin="scanned"))
    assert exc.value.field == "origin"
    with pytest.raises(BadInput, match="limit") as exc:
        svc.rank(ctx, q, 0)
    assert exc.value.field == "limit"


@pytest.mark.parametrize(("values", "field"), [
    # Empty is "any" for a name, never for a date or a number.
    ({"date_to": ""}, "date_to"), ({"min_rating": ""}, "min_rating"), ({"origin": ""}, "origin"),
    ({"date_from": "last tuesday"}, "date_from"), ({"min_rating": 6}, "min_rating"),
    ({"min_rating": 2.5}, "min_rating"), ({"min_rating": True}, "min_rating"),
    ({"min_width": -1}, "min_width"), ({"min_height": "tall"}, "min_height"),
    ({"library": 5}, "library"), ({"tag": "x" * 201}, "tag"), ({"folder": "a\x00b"}, "folder"),
    ({"review_state": "maybe"}, "review_state"),
])
def test_check_filters_refuses_and_names_the_field(values, field) -> None:  # noqa: ANN001
    with pytest.raises(BadInput) as exc:
        check_filters(values)
    assert exc.value.field == field


def test_check_filters_normalises_what_it_accepts() -> None:
    f = check_filters({"min_rating": 3.0, "min_width": "640", "folder": "/2023/summer/",
                       "format": "jpg", "library": "", "tag": "  ", "date_to": "2024-07-31",
                       "date_from": "2024-07-01T18:30+02:00", "unrelated": "ignored"})
    assert f == SearchFilters(min_rating=3, min_width=640, folder="2023/summer", format="JPEG",
                              date_from=datetime(2024, 7, 1, 18, 30),
                              date_to=datetime(2024, 7, 31, 23, 59, 59, 999999))
    assert f.as_params()["date_to"] == "2024-07-31T23:59:59.999999"
    assert not check_filters({"library": None, "folder": ""})
    # A JSON body's numbers must be numbers; a query string's are text.
    with pytest.raises(BadInput):
        check_filters({"min_rating": "3"}, typed=True)
    assert check_filters({"min_rating": "3"}).min_rating == 3


def test_search_options_check_paging_score_and_filters_together() -> None:
    got = svc.options({"limit": "5", "min_score": "0.25", "min_rating": "2"}, default_limit=20)
    assert got == {"limit": 5, "offset": 0, "min_score": 0.25,
                   "filters": SearchFilters(min_rating=2)}
    assert svc.options({}, default_limit=20)["limit"] == 20
    for values, typed, field in [({"min_score": ""}, False, "min_score"),
                                 ({"min_score": "nan"}, False, "min_score"),
                                 ({"min_score": "0.5"}, True, "min_score"),
                                 ({"limit": "501"}, False, "limit"),
                                 ({"date_to": ""}, False, "date_to")]:
        with pytest.raises(BadInput) as exc:
            svc.options(values, default_limit=20, typed=typed)
        assert exc.value.field == field


def test_a_label_names_the_option_in_the_message_but_not_the_field() -> None:
    with pytest.raises(BadInput, match="--after must be a date") as exc:
        check_filters({"date_from": "yesterday"}, labels={"date_from": "--after"})
    assert exc.value.field == "date_from"
    with pytest.raises(BadInput, match="--after must be a date"):
        parse_date("last tuesday", "date_from", label="--after")
    assert parse_date("2024-07-31", "date_to", end=True) == datetime(2024, 7, 31, 23, 59, 59,
                                                                      999999)


def test_cli_filters_paging_and_json(catalog) -> None:  # noqa: ANN001
    ctx, ids, _q = catalog
    runner = CliRunner()
    # Image 0 is the query (as #ID), so the ranking is by similarity to image 0.
    base = ["search", f"#{ids[0]}", "--json"]
    full = json.loads(runner.invoke(main, [*base, "--limit", "40"]).output)
    assert ids[0] not in [h["id"] for h in full]  # the query image is left out
    assert [h["score"] for h in full] == sorted((h["score"] for h in full), reverse=True)
    assert {"id", "path", "score"} <= set(full[0])
    first = json.loads(runner.invoke(main, [*base, "--limit", "4"]).output)
    second = json.loads(runner.invoke(main, [*base, "--limit", "4", "--offset", "4"]).output)
    assert [h["id"] for h in first + second] == [h["id"] for h in full[:8]]

    result = runner.invoke(main, [*base, "--library", "beta", "--folder", "home",
                                  "--min-height", "500", "--limit", "3"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    back = {v: k for k, v in ids.items()}
    assert len(got) == 3
    for h in got:
        a = _attrs(back[h["id"]])
        assert a["library"] == "beta" and a["path"].startswith("home/") and a["height"] >= 500
        assert h["path"].endswith(a["path"])

    result = runner.invoke(main, [*base, "--after", "2022-01-01", "--before", "2022-12-31",
                                  "--tag", "beach", "--min-score", "0.3"])
    assert result.exit_code == 0, result.output
    for h in json.loads(result.output):
        a = _attrs(back[h["id"]])
        assert a["captured_at"].year == 2022 and a["tag"] == "beach" and h["score"] >= 0.3

    result = runner.invoke(main, ["similar", str(ids[0]), "--json", "--origin", "generated"])
    assert result.exit_code == 0, result.output
    assert [back[h["id"]] for h in json.loads(result.output)] == [
        i for i in _expected(lambda a: a["origin"] == ImageOrigin.GENERATED) if i != 0]


def test_cli_errors_are_one_line_and_name_the_problem(catalog) -> None:  # noqa: ANN001
    runner = CliRunner()
    result = runner.invoke(main, ["search", '"a beach" + "sunset'])
    assert result.exit_code == 2
    assert "position 13" in result.output and "unterminated" in result.output
    result = runner.invoke(main, ["search", "x", "--after", "yesterday"])
    assert result.exit_code == 2 and "--after must be a date" in result.output
    result = runner.invoke(main, ["search", "x", "--library", "nope"])
    assert result.exit_code == 2 and "no library 'nope'" in result.output
    result = runner.invoke(main, ["search", "#999999"])
    assert result.exit_code == 2 and "no image with id 999999" in result.output
    result = runner.invoke(main, ["search"])
    assert result.exit_code == 2 and "give a QUERY" in result.output
    # The API's rule: a range that ends before it starts matches nothing (it is not an error).
    result = runner.invoke(main, ["search", "x", "--after", "2024-02-01", "--before", "2024-01-01",
                                  "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_search_help_documents_the_syntax() -> None:
    out = CliRunner().invoke(main, ["search", "--help"]).output
    for piece in ('"a beach" + "sunset" - "people"', '"stripes":0.5', "#ID", "--min-score",
                  "--offset", "--folder", "--min-rating"):
        assert piece in out


def test_repeated_queries_do_not_run_the_text_encoder_again(clip_env: dict,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    calls: list[list[str]] = []
    first = Context()
    # Whichever runtime the settings chose (torch, or ONNX Runtime on a CPU) is counted.
    encoder_class = type(first.encoder())
    original = encoder_class.encode_text

    def counting(self, texts):  # noqa: ANN001, ANN202
        if texts != ["a photo"]:  # the encoder's own dimension probe
            calls.append(list(texts))
        return original(self, texts)

    monkeypatch.setattr(encoder_class, "encode_text", counting)
    v1, _ = svc.query_vector(first, '"a red circle" + "sunset":0.5')
    assert calls == [["a red circle", "sunset"]]
    svc.query_vector(first, "sunset - a red circle")  # same texts, other arithmetic
    assert len(calls) == 1
    first.close()

    # A new context (the next CLI invocation) with the in-memory cache gone: read from disk.
    text_cache(first).clear_memory()
    second = Context()
    v2, _ = svc.query_vector(second, '"a red circle" + "sunset":0.5')
    assert len(calls) == 1
    np.testing.assert_array_equal(v1, v2)
    files = list((Path(clip_env["DAGUERRE_HOME"]) / "cache" / "text-embeddings").rglob("*.npy"))
    assert len(files) == 2
    svc.query_vector(second, '"a blue square"')
    assert calls[1:] == [["a blue square"]]
    second.close()
