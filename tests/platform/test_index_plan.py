"""The index plan's rules, with plain values: no database, no files, no model.

Each case is what a person does to a library folder between two runs of `daguerre index`, and
what the next run must decide for it.
"""

from __future__ import annotations

from daguerre.platform.catalog.models import ImageStatus
from daguerre.platform.services.index_plan import (
    CatalogRow,
    IndexPlan,
    Move,
    ScannedFile,
    ToEmbed,
    plan_index,
)

ACTIVE, MISSING = ImageStatus.ACTIVE, ImageStatus.MISSING


def disk(rel: str, size: int = 100, mtime: float = 1000.0) -> ScannedFile:
    return ScannedFile(rel, f"/lib/{rel}", size, mtime)


def row(image_id: int, path: str, size: int = 100, mtime: float = 1000.0,
        sha: str | None = None, status: ImageStatus = ACTIVE) -> CatalogRow:
    return CatalogRow(image_id, path, size, mtime, sha or f"sha-{path}", status)


class Hashes:
    """The files' contents by path; records which files the plan hashed."""

    def __init__(self, **by_rel: str) -> None:
        self.by_rel = {k.replace("__", "/"): v for k, v in by_rel.items()}
        self.asked: list[str] = []

    def __call__(self, f: ScannedFile) -> str | None:
        self.asked.append(f.rel)
        return self.by_rel.get(f.rel)


def plan(scanned: list[ScannedFile], rows: list[CatalogRow], *, vectors: set[int] | None = None,
         hashes: Hashes | None = None) -> IndexPlan:
    """A plan where every row has its vector (catalog and store) unless ``vectors`` says."""
    ids = {r.id for r in rows} if vectors is None else vectors
    return plan_index(scanned, rows, embedded=ids, stored=ids, hash_file=hashes or Hashes())


def test_new_file_is_embedded_as_a_new_image():
    p = plan([disk("a.jpg")], [])
    assert p.embed == [ToEmbed(disk("a.jpg"))]
    assert (p.unchanged, p.moves, p.missing, p.touched) == (0, [], [], [])


def test_unchanged_file_is_skipped_without_hashing():
    hashes = Hashes()
    p = plan([disk("a.jpg")], [row(1, "a.jpg")], hashes=hashes)
    assert p.unchanged == 1 and p.embed == [] and p.touched == []
    assert hashes.asked == []


def test_same_content_with_a_new_mtime_only_refreshes_the_row():
    f = disk("a.jpg", mtime=2000.0)
    p = plan([f], [row(1, "a.jpg", sha="abc")], hashes=Hashes(**{"a.jpg": "abc"}))
    assert p.touched == [(1, f)] and p.embed == [] and p.unchanged == 1


def test_changed_content_is_re_embedded_under_the_same_id():
    same_size = disk("a.jpg", mtime=2000.0)
    p = plan([same_size], [row(1, "a.jpg", sha="old")], hashes=Hashes(**{"a.jpg": "new"}))
    assert p.embed == [ToEmbed(same_size, 1)] and p.touched == []

    # a new size is a change without reading the file
    hashes = Hashes()
    bigger = disk("a.jpg", size=200, mtime=2000.0)
    p = plan([bigger], [row(1, "a.jpg")], hashes=hashes)
    assert p.embed == [ToEmbed(bigger, 1)] and hashes.asked == []


def test_moved_file_keeps_its_id_and_is_not_re_embedded():
    new = disk("2024/a.jpg")
    p = plan([new], [row(7, "a.jpg", sha="abc")], hashes=Hashes(**{"2024__a.jpg": "abc"}))
    assert p.moves == [Move(row(7, "a.jpg", sha="abc"), new)]
    assert p.embed == [] and p.missing == [] and p.drop_vectors == []


def test_moved_file_whose_vector_was_never_saved_is_embedded_under_its_id():
    new = disk("b/a.jpg")
    p = plan([new], [row(7, "a.jpg", sha="abc")], vectors=set(),
             hashes=Hashes(**{"b__a.jpg": "abc"}))
    assert [m.row.id for m in p.moves] == [7]
    assert p.embed == [ToEmbed(new, 7, moved=True)]


def test_new_file_of_another_content_with_a_vanished_files_size_is_not_a_move():
    new = disk("b.jpg")
    p = plan([new], [row(7, "a.jpg", sha="abc")], hashes=Hashes(**{"b.jpg": "xyz"}))
    assert p.moves == [] and p.embed == [ToEmbed(new)]
    assert p.missing == [7] and p.drop_vectors == [7]


def test_only_candidate_moves_are_hashed():
    hashes = Hashes()
    plan([disk("new.jpg", size=5)], [row(7, "gone.jpg", size=100)], hashes=hashes)
    assert hashes.asked == []  # no vanished row of that size: cannot be a move


def test_vanished_file_is_missing_and_its_vector_leaves_the_store():
    p = plan([], [row(1, "a.jpg"), row(2, "b.jpg", status=MISSING)], vectors={1})
    assert p.missing == [1]  # already missing: not counted again
    assert p.drop_vectors == [1]


def test_retired_rows_are_not_brought_back():
    deleted = row(1, "a.jpg", status=ImageStatus.DELETED)
    duplicate = row(2, "b.jpg", sha="bbb", status=ImageStatus.DUPLICATE)
    touched_b = disk("b.jpg", mtime=2000.0)
    p = plan([disk("a.jpg"), touched_b], [deleted, duplicate], vectors=set(),
             hashes=Hashes(**{"b.jpg": "bbb"}))
    assert p.embed == [] and p.unchanged == 2
    assert p.touched == [(2, touched_b)]

    # a retired image's file moved: it takes the new path but is not embedded again
    moved = disk("c/a.jpg")
    p = plan([moved], [row(1, "a.jpg", sha="aaa", status=ImageStatus.DELETED)],
             vectors=set(), hashes=Hashes(**{"c__a.jpg": "aaa"}))
    assert [m.file for m in p.moves] == [moved] and p.embed == [] and p.missing == []


def test_rows_whose_vector_is_missing_are_re_embedded():
    f = disk("a.jpg")
    in_catalog_only = plan_index([f], [row(1, "a.jpg")], embedded={1}, stored=set(),
                                 hash_file=Hashes())
    in_store_only = plan_index([f], [row(1, "a.jpg")], embedded=set(), stored={1},
                               hash_file=Hashes())
    assert in_catalog_only.embed == in_store_only.embed == [ToEmbed(f, 1)]


def test_a_missing_file_that_came_back_is_re_embedded():
    f = disk("a.jpg")
    p = plan([f], [row(1, "a.jpg", status=MISSING)])
    assert p.embed == [ToEmbed(f, 1)] and p.unchanged == 0


def test_unreadable_changed_file_is_re_embedded_rather_than_trusted():
    f = disk("a.jpg", mtime=2000.0)
    p = plan([f], [row(1, "a.jpg", sha="abc")], hashes=Hashes())  # hash_file gives None
    assert p.embed == [ToEmbed(f, 1)] and p.touched == []
