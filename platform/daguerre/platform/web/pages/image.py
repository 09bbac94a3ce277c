"""The image screen, ``/images/<id>``, and the compare screen, ``/images/<id>/compare``.

The image screen shows one image large and zoomable with everything known about it: the file
(size, dates, library and path), what its EXIF block says (:mod:`daguerre.platform.services.exif`),
its tags with their source and score, its rating and review state, its lineage (the parents it
was made from and the images made from it, each with the job and its parameters) and the images
most like it. Curating (rating, review, tags, boards) and the generator's actions need a curator:
the controls and keys are only given to one, and the server refuses anyone else all the same.

Similar images are the one slow part (the vector store, under the app's search lock), so the
browser asks ``GET /api/v1/search/similar/<id>`` for them after the page has shown.

The compare screen sets an image (after) against one of its parents (before): a slider and side
by side, zoom kept in step (``static/compare.js``). Everything here is read from the services;
this module only puts it into words.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, render_template, request

from daguerre.platform.errors import NotFound
from daguerre.platform.services import images as images_svc
from daguerre.platform.services.exif import describe, read_exif
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires

bp = Blueprint("image_page", __name__)

# What each key does on the image screen, shown by `?` (Lightroom's conventions, as on the grids).
VIEW_KEYS: tuple[tuple[str, str], ...] = (("← / →", "previous / next image in the list"),
                                          ("Esc", "back to the list (or back to fit when zoomed)"),
                                          ("?", "show the keys"))
CURATE_KEYS: tuple[tuple[str, str], ...] = (
    ("0–5", "rating (0 clears it)"), ("P", "approve (pick)"), ("X", "reject"),
    ("U", "back to unreviewed"), ("T", "add a tag"), ("B", "add to a board"))
# The generator's operations that start from one image, as links to the create screen.
CREATE_KINDS: tuple[tuple[str, str], ...] = (("translate", "Translate"), ("edit", "Edit"),
                                             ("inpaint", "Inpaint"), ("upscale", "Upscale"))
# Derived images shown with their parameters (each costs a lookup); more are counted, not shown.
MAX_DERIVED = 48


def file_size(size: int | None) -> str:
    """``2.4 MB``, ``812 KB``, ``93 bytes``: a file's size as people read it (powers of 1000)."""
    if size is None:
        return "unknown"
    if size < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}" if size < 100 else f"{size:.0f} {unit}"
    raise AssertionError("unreachable")


def tag_rows(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An image's tags, one row per name: ``{name, person, score}``. A name a person set and the
    model suggested too (a confirmed model tag) is one row with both (``static/image-view.js``
    groups the API's answers the same way)."""
    rows: dict[str, dict[str, Any]] = {}
    for t in tags:
        row = rows.setdefault(t["name"], {"name": t["name"], "person": False, "score": None})
        if t["source"] == "user":
            row["person"] = True
        else:
            row["score"] = t["score"]
    return list(rows.values())


def _parents(record: dict[str, Any]) -> list[int]:
    """The distinct ids of the images ``record`` was made from, in lineage order."""
    return list(dict.fromkeys(r["parent_id"] for r in record["lineage"]
                              if r["parent_id"] is not None))


def _exif(image_id: int) -> tuple[list[tuple[str, str]], str | None]:
    """(label, words) of the original's EXIF, and a note when there is nothing to show."""
    try:
        found = images_svc.original_file(get_context(), image_id)
    except NotFound:
        return [], "The file is not available, so its EXIF cannot be read."
    rows = describe(read_exif(found.path))
    return rows, None if rows else "The file carries no EXIF that could be read."


def _image_or_404(image_id: int) -> dict[str, Any]:
    try:
        return images_svc.get_image(get_context(), image_id)
    except NotFound:
        abort(404, f"There is no image #{image_id}.")


@bp.get("/images/<int:image_id>")
@requires("viewer")
def image(image_id: int) -> str:
    record = _image_or_404(image_id)
    exif_rows, exif_note = _exif(image_id)
    can_curate = caller_may("curator")
    return render_template(
        "image.html", api_prefix=PREFIX, image=record, tags=tag_rows(record["tags"]),
        parents=_parents(record), derived=images_svc.derived_details(get_context(), image_id, MAX_DERIVED),
        more_derived=max(0, len(record["derived"]) - MAX_DERIVED),
        exif=exif_rows, exif_note=exif_note, size=file_size(record["size"]),
        can_curate=can_curate, create_kinds=CREATE_KINDS,
        keys=VIEW_KEYS + (CURATE_KEYS if can_curate else ()))


@bp.get("/images/<int:image_id>/compare")
@requires("viewer")
def compare(image_id: int) -> tuple[str, int] | str:
    record = _image_or_404(image_id)
    parents = _parents(record)
    if not parents:
        return render_template("compare.html", api_prefix=PREFIX, image=record, parents=[],
                               parent=None), 404
    raw = request.args.get("parent")
    if raw is None:
        parent = parents[0]
    elif raw.isascii() and raw.isdigit() and int(raw) in parents:
        parent = int(raw)
    else:
        abort(404, f"Image #{image_id} was not made from image {raw!r}: its parents are "
                   + ", ".join(f"#{p}" for p in parents) + ".")
    made = next(r for r in record["lineage"] if r["parent_id"] == parent)
    return render_template("compare.html", api_prefix=PREFIX, image=record, parents=parents,
                           parent=parent, made=made)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
