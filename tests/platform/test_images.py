"""The images service, called directly: listing under filters, status and review state; one
image with tags and provenance; curation; which files may be served. Then the CLI, which must
print what the service returns (the API's tests check its own translation)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from daguerre.platform.catalog.models import (
    Image,
    ImageOrigin,
    ImageStatus,
    ImageTag,
    Job,
    Library,
    Lineage,
    Tag,
    TagSource,
)
from daguerre.platform.cli import main
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services import images as svc


@pytest.fixture()
def catalog(clip_env: dict, tmp_path: Path) -> tuple[Context, dict[str, int], Path]:
    """Six images in library "photos" (files on disk), one upload, one missing image; a tag, a
    job and a lineage row. Returns (ctx, name -> id, library root)."""
    root = tmp_path / "photos"
    (root / "2023").mkdir(parents=True)
    ctx = Context()
    ids: dict[str, int] = {}
    with ctx.catalog.session() as s:
        lib = Library(name="photos", root=str(root))
        tag = Tag(name="beach")
        s.add_all([lib, tag])
        s.flush()
        for i in range(6):
            rel = f"2023/{i}.png" if i < 3 else f"{i}.jpg"
            (root / rel).write_bytes(b"file %d" % i)
            img = Image(library_id=lib.id, path=rel, sha256=f"{i:064x}", size=6, mtime=0.0,
                        width=100 * (i + 1), height=80, format="PNG" if i < 3 else "JPEG",
                        captured_at=datetime(2023, 1 + i, 1), origin=ImageOrigin.LIBRARY,
                        rating=i if i % 2 else None)
            s.add(img)
            s.flush()
            ids[f"p{i}"] = img.id
        upload = Image(library_id=None, path="uploads/u.png", sha256="a" * 64, size=1,
                       mtime=0.0, width=10, height=10, format="PNG", origin=ImageOrigin.UPLOAD)
        gone = Image(library_id=lib.id, path="gone.png", sha256="b" * 64, size=1, mtime=0.0,
                     width=10, height=10, format="PNG", origin=ImageOrigin.LIBRARY,
                     status=ImageStatus.MISSING)
        job = Job(kind="restore", params={})
        s.add_all([upload, gone, job])
        s.flush()
        ids.update(upload=upload.id, gone=gone.id)
        s.add(ImageTag(image_id=ids["p1"], tag_id=tag.id, source=TagSource.USER))
        s.add(Lineage(image_id=upload.id, parent_id=ids["p0"], job_id=job.id,
                      operation="restore", params={"strength": 0.5}))
        ids["job"] = job.id
    yield ctx, ids, root
    ctx.close()


def test_list_filters_status_review_and_pages(catalog) -> None:  # noqa: ANN001
    ctx, ids, _root = catalog
    everything = svc.list_images(ctx, {})
    assert everything["total"] == 7 and everything["limit"] == 50 and everything["offset"] == 0
    assert [i["id"] for i in everything["items"]] == sorted(
        v for k, v in ids.items() if k not in ("gone", "job"))
    first = svc.list_images(ctx, {"limit": "2"})
    second = svc.list_images(ctx, {"limit": 2, "offset": "2"})
    assert [i["id"] for i in first["items"] + second["items"]] == \
        [i["id"] for i in everything["items"][:4]]

    def ids_of(params: dict) -> list[int]:
        return [i["id"] for i in svc.list_images(ctx, params)["items"]]

    assert ids_of({"folder": "2023", "min_width": "200"}) == [ids["p1"], ids["p2"]]
    assert ids_of({"min_rating": 3.0}) == [ids["p3"], ids["p5"]]
    assert ids_of({"tag": "beach"}) == [ids["p1"]]
    assert ids_of({"date_from": "2023-02-01", "date_to": "2023-03-01"}) == [ids["p1"], ids["p2"]]
    # A range that ends before it starts is empty: nothing, and no error.
    assert ids_of({"date_from": "2023-03-01", "date_to": "2023-02-01"}) == []
    assert ids_of({"status": "missing"}) == [ids["gone"]]
    assert ids_of({"origin": "upload", "format": "png"}) == [ids["upload"]]
    svc.curate(ctx, ids["p4"], {"review_state": "approved"})
    assert ids_of({"review_state": "approved"}) == [ids["p4"]]


@pytest.mark.parametrize(("params", "field", "error"), [
    ({"status": "gone"}, "status", BadInput), ({"review_state": ""}, "review_state", BadInput),
    ({"limit": 0}, "limit", BadInput), ({"limit": 501}, "limit", BadInput),
    ({"offset": -1}, "offset", BadInput), ({"date_to": ""}, "date_to", BadInput),
    ({"library": "nope"}, "library", NotFound), ({"tag": "nope"}, "tag", NotFound),
])
def test_list_refuses_bad_parameters_by_name(catalog, params, field, error) -> None:  # noqa: ANN001
    ctx, _ids, _root = catalog
    with pytest.raises(error) as exc:
        svc.list_images(ctx, params)
    assert exc.value.field == field


def test_one_image_has_its_tags_and_provenance(catalog) -> None:  # noqa: ANN001
    ctx, ids, _root = catalog
    tagged = svc.get_image(ctx, ids["p1"])
    assert tagged["tags"] == [{"name": "beach", "source": "user", "score": None}]
    assert tagged["captured_at"] == "2023-02-01T00:00:00+00:00"  # stored naive, meant as UTC
    assert (tagged["library"], tagged["path"], tagged["status"]) == ("photos", "2023/1.png",
                                                                     "active")
    made = svc.get_image(ctx, ids["upload"])
    assert made["lineage"] == [{"parent_id": ids["p0"], "job_id": ids["job"],
                                "operation": "restore", "params": {"strength": 0.5}}]
    assert svc.get_image(ctx, ids["p0"])["derived"] == [
        {"image_id": ids["upload"], "job_id": ids["job"], "operation": "restore"}]
    assert svc.get_image(ctx, ids["gone"])["status"] == "missing"  # any status can be shown
    with pytest.raises(NotFound) as exc:
        svc.get_image(ctx, 424242)
    assert exc.value.field == "image_id"


def test_one_image_lists_its_tags_as_the_tags_service_does(catalog) -> None:  # noqa: ANN001
    """`GET /images/{id}` and `GET /images/{id}/tags` (and the CLI) show one order: a person's
    tags first, then the model's by score, not alphabetically."""
    from daguerre.platform.services.tags import image_tags

    ctx, ids, _root = catalog
    with ctx.catalog.session() as s:
        for name, score in (("apple", 0.2), ("zebra", 0.9)):
            tag = Tag(name=name)
            s.add(tag)
            s.flush()
            s.add(ImageTag(image_id=ids["p1"], tag_id=tag.id, source=TagSource.MODEL,
                           score=score))
    tags = svc.get_image(ctx, ids["p1"])["tags"]
    assert [(t["name"], t["source"]) for t in tags] == [
        ("beach", "user"), ("zebra", "model"), ("apple", "model")]
    assert tags == image_tags(ctx, ids["p1"])


def test_curate_changes_only_rating_and_review_state(catalog) -> None:  # noqa: ANN001
    ctx, ids, _root = catalog
    now = svc.curate(ctx, ids["p0"], {"rating": 4.0, "review_state": "rejected"})
    assert (now["rating"], now["review_state"]) == (4, "rejected")
    assert now == svc.get_image(ctx, ids["p0"])  # the same shape as showing it
    assert svc.curate(ctx, ids["p0"], {"rating": None})["rating"] is None
    before = svc.get_image(ctx, ids["p0"])
    for changes, field in [({"rating": 6}, "rating"), ({"rating": "5"}, "rating"),
                           ({"rating": True}, "rating"), ({"review_state": "maybe"},
                                                          "review_state"),
                           ({"path": "/etc/passwd"}, "path"), ({}, "body")]:
        with pytest.raises(BadInput) as exc:
            svc.curate(ctx, ids["p0"], changes)
        assert exc.value.field == field
    assert svc.get_image(ctx, ids["p0"]) == before
    with pytest.raises(NotFound):  # a missing image before bad changes
        svc.curate(ctx, 424242, {"rating": 99})


def test_review_queue_is_unreviewed_generated_images_newest_first(catalog) -> None:  # noqa: ANN001
    ctx, ids, _root = catalog
    made: list[int] = []
    with ctx.catalog.session() as s:
        for i, (state, status) in enumerate([("unreviewed", ImageStatus.ACTIVE)] * 5 + [
                ("approved", ImageStatus.ACTIVE), ("unreviewed", ImageStatus.DELETED)]):
            img = Image(library_id=None, path=f"generated/q{i}.png", sha256=f"{i:063x}f",
                        size=1, mtime=0.0, width=8, height=8, format="PNG",
                        origin=ImageOrigin.GENERATED, review_state=state, status=status)
            s.add(img)
            s.flush()
            s.add(Lineage(image_id=img.id, parent_id=ids["p1"], operation="restore"))
            made.append(img.id)
    waiting = made[:5][::-1]  # newest first; approved and deleted ones are not waiting

    first = svc.review_queue(ctx, {"limit": 3})
    assert [r["id"] for r in first["items"]] == waiting[:3]
    assert first["total"] == 5 and first["next_before"] == waiting[2]
    assert first["items"][0]["made_by"] == [{"operation": "restore", "parent_id": ids["p1"],
                                             "job_id": None}]
    # Library images and uploads, even unreviewed, are never in the queue.
    assert all(r["origin"] == "generated" for r in first["items"])
    # Keyset paging: approving a card on page one does not shift page two.
    svc.curate(ctx, waiting[0], {"review_state": "approved"})
    second = svc.review_queue(ctx, {"limit": "3", "before": str(first["next_before"])})
    assert [r["id"] for r in second["items"]] == waiting[3:]
    assert second["next_before"] is None and second["total"] == 4
    for params, field in (({"limit": 0}, "limit"), ({"before": "x"}, "before"),
                          ({"before": -1}, "before")):
        with pytest.raises(BadInput) as err:
            svc.review_queue(ctx, params)
        assert err.value.field == field


def test_files_are_served_only_from_inside_their_base(catalog, tmp_path) -> None:  # noqa: ANN001
    ctx, ids, root = catalog
    found = svc.original_file(ctx, ids["p3"])
    assert found.path == (root / "3.jpg").resolve() and found.mimetype == "image/jpeg"
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    os.symlink(secret, root / "2023" / "escape.png")
    with ctx.catalog.session() as s:
        link = Image(library_id=1, path="2023/escape.png", sha256="c" * 64, size=1, mtime=0.0,
                     width=1, height=1, format="PNG", origin=ImageOrigin.LIBRARY,
                     thumbnail="../" * 8 + str(secret).lstrip("/"))
        dotdot = Image(library_id=1, path="../secret.png", sha256="d" * 64, size=1,
                       mtime=0.0, width=1, height=1, format="PNG", origin=ImageOrigin.LIBRARY)
        s.add_all([link, dotdot])
        s.flush()
        link_id, dotdot_id = link.id, dotdot.id
    for image_id in (link_id, dotdot_id, ids["upload"]):  # the upload's file does not exist
        with pytest.raises(NotFound) as exc:
            svc.original_file(ctx, image_id)
        assert exc.value.field == "image_id"
    with pytest.raises(NotFound, match="no thumbnail"):
        svc.thumbnail_file(ctx, link_id)
    with pytest.raises(NotFound, match="no thumbnail"):
        svc.thumbnail_file(ctx, ids["p0"])  # never indexed: no thumbnail recorded


def test_cli_prints_what_the_service_returns(catalog) -> None:  # noqa: ANN001
    ctx, ids, _root = catalog
    runner = CliRunner()
    shown = runner.invoke(main, ["images", "show", str(ids["p1"]), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == svc.get_image(ctx, ids["p1"])
    listed = runner.invoke(main, ["images", "list", "--folder", "2023", "--limit", "2",
                                  "--json"])
    assert json.loads(listed.output) == svc.list_images(ctx, {"folder": "2023", "limit": 2})
    text = runner.invoke(main, ["images", "list", "--tag", "beach"]).output
    assert "photos:2023/1.png" in text and "1 of 1 image(s)" in text
    rated = runner.invoke(main, ["images", "rate", str(ids["p2"]), "5"])
    assert rated.output.strip() == f"#{ids['p2']}: rated 5"
    assert svc.get_image(ctx, ids["p2"])["rating"] == 5
    missing = runner.invoke(main, ["images", "list", "--library", "nope"])
    assert missing.exit_code == 2 and "no library 'nope'" in missing.output
