"""The query language: what people type parses into the terms they meant, and mistakes point at
the bad term."""

from __future__ import annotations

import numpy as np
import pytest

from daguerre.indexer.query import QueryError, Term, combine, parse_query


def terms(text: str) -> list[tuple[str, str, float]]:
    return [(t.kind, t.value, t.weight) for t in parse_query(text).terms]


def test_plain_text_is_one_term() -> None:
    assert terms("a dog on a beach") == [("text", "a dog on a beach", 1.0)]


def test_sum_and_difference_of_quoted_terms() -> None:
    assert terms('"a beach" + "sunset" - "people"') == [
        ("text", "a beach", 1.0), ("text", "sunset", 1.0), ("text", "people", -1.0)]


def test_bare_terms_split_only_at_spaced_operators() -> None:
    assert terms("black-and-white photo - people + snow") == [
        ("text", "black-and-white photo", 1.0), ("text", "people", -1.0), ("text", "snow", 1.0)]
    # What a shell leaves of `daguerre search "a beach" + "sunset"`.
    assert terms("a beach + sunset") == [("text", "a beach", 1.0), ("text", "sunset", 1.0)]


def test_weights() -> None:
    assert terms('"stripes":0.5 + "zebra" - "horse":2') == [
        ("text", "stripes", 0.5), ("text", "zebra", 1.0), ("text", "horse", -2.0)]
    assert terms("stripes:0.25") == [("text", "stripes", 0.25)]
    assert terms('"x" : 1e-1') == [("text", "x", 0.1)]


def test_image_terms() -> None:
    assert terms("#42 - #7:0.5") == [("id", "42", 1.0), ("id", "7", -0.5)]
    assert terms('photos/beach.JPG + "sunset"') == [("image", "photos/beach.JPG", 1.0),
                                                    ("text", "sunset", 1.0)]
    assert terms('"my photos/beach 1.png"') == [("image", "my photos/beach 1.png", 1.0)]
    # Words that merely end like a file name are still text when they contain spaces.
    assert terms("a photo of a.png") == [("text", "a photo of a.png", 1.0)]
    assert parse_query("#42").terms[0].image_id == 42


def test_positions_point_at_terms() -> None:
    q = parse_query('"a"  - "b"')
    assert [t.position for t in q.terms] == [0, 7]


@pytest.mark.parametrize(("text", "position", "reason"), [
    ("", 0, "empty"),
    ("   ", 0, "empty"),
    ('"a beach" + "sunset', 12, "unterminated"),
    ('"a" "b"', 4, "expected + or -"),
    ('"a" +', 4, "not followed by a term"),
    ('"a" + - "b"', 6, "two operators"),
    ('"a":0', 0, "non-zero"),
    ('"a":', 3, "followed by a number"),
    ('"a" + ""', 6, "empty term"),
    ("#abc", 0, "not an image id"),
    ('sunset "beach"', 7, "quoted term must follow"),
])
def test_errors_name_the_bad_term(text: str, position: int, reason: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(text)
    assert err.value.position == position
    assert reason in str(err.value)
    assert f"position {position + 1}" in str(err.value)


def test_combine_normalises_each_term_then_the_sum() -> None:
    a = np.array([[3.0, 0.0], [0.0, 0.5]], np.float32)  # different norms count the same
    v = combine([1.0, 1.0], a)
    np.testing.assert_allclose(v, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    v = combine([1.0, -1.0], a)
    np.testing.assert_allclose(v, [np.sqrt(0.5), -np.sqrt(0.5)], rtol=1e-6)
    assert np.linalg.norm(combine([0.5], a[:1])) == pytest.approx(1.0)


def test_combine_refuses_cancelling_terms() -> None:
    a = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    with pytest.raises(ValueError, match="cancel"):
        combine([1.0, -1.0], a)


def test_term_is_hashable_and_typed() -> None:
    t = Term("text", "x", 1.0, 0)
    assert {t: 1}[t] == 1
    with pytest.raises(ValueError):
        _ = t.image_id
