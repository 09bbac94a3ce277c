"""``POST /api/v1/export`` and ``GET /api/v1/collections/<id>/export``: a selection or a board
as a zip download that streams.

The selection comes as JSON (``{"ids": [...]}`` or ``{"board": id}``) from a script, or as an
HTML form post (``ids`` comma-separated, or ``board``, with ``csrf_token``) from the dashboard,
which downloads by submitting a hidden form (a fetch cannot hand a stream to the browser's
download manager). Everything is checked by :func:`daguerre.platform.services.export.export_zip`
before the response starts, so an error is an ordinary JSON error, never a broken zip.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from daguerre.platform.catalog.filters import integer
from daguerre.platform.constants import MAX_ID
from daguerre.platform.errors import BadInput
from daguerre.platform.services.export import MAX_EXPORT_IMAGES, ZipExport, export_zip
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires
from daguerre.platform.web.errors import WrongContentType
from daguerre.platform.web.params import json_body

bp = Blueprint("export", __name__)

FORM_TYPE = "application/x-www-form-urlencoded"
FORM_FIELDS = frozenset({"ids", "board", "csrf_token"})
# The longest id the form's pattern admits (18 digits are always below MAX_ID).
ID_DIGITS = len(str(MAX_ID)) - 1


def _form_id(text: str, field: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > ID_DIGITS:
        raise BadInput(f"{field} must hold image ids (whole numbers), got {text!r}",
                       field=field, value=text)
    return int(text)


def _selection() -> dict[str, Any]:
    """``{"ids": [...]}`` or ``{"board": ...}`` from a JSON body or a form post."""
    if request.is_json:
        body = json_body()
        unknown = sorted(set(body) - {"ids", "board"})
        if unknown:
            raise BadInput(f"{unknown[0]}: unknown field (give ids or board)", field=unknown[0])
        if "ids" in body and "board" in body:
            raise BadInput("give either ids (a selection) or board, not both", field="board")
        board = body.get("board")
        if "board" in body:
            # A JSON number: 3 or 3.0 (JSON Schema's integer includes it), never the text "3".
            board = integer(board, "board", minimum=0, maximum=MAX_ID, typed=True)
        if "ids" in body and body["ids"] is None:
            raise BadInput("ids must be a list of image ids", field="ids", value=None)
        return {"ids": body.get("ids"), "board": board}
    if request.mimetype != FORM_TYPE:
        raise WrongContentType("send JSON ({\"ids\": [...]} or {\"board\": id}) or a form "
                               "(ids=1,2,3 or board=ID)", field="body")
    form = request.form
    unknown = sorted(set(form) - FORM_FIELDS)
    if unknown:
        raise BadInput(f"{unknown[0]}: unknown field (give ids or board)", field=unknown[0])
    ids = board = None
    if "ids" in form:
        parts = form["ids"].split(",")
        if len(parts) > MAX_EXPORT_IMAGES:
            raise BadInput(f"ids may name at most {MAX_EXPORT_IMAGES} images, got {len(parts)}",
                           field="ids")
        ids = [_form_id(p, "ids") for p in parts]
    if "board" in form:
        board = _form_id(form["board"], "board")
    return {"ids": ids, "board": board}


def _download(found: ZipExport) -> Response:
    resp = Response(iter(found), mimetype="application/zip", direct_passthrough=True)
    # An ASCII fallback name, and the exact one (RFC 6266) for a board named in any script.
    plain = found.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(found.filename, safe='')}")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.post("/export")
@requires("viewer")
def export_selection() -> Response:
    """A zip of the selection (``ids``) or of a board (``board``)."""
    return _download(export_zip(get_context(), **_selection()))


@bp.get("/collections/<int:collection_id>/export")
@requires("viewer")
def export_board(collection_id: int) -> Response:
    """A zip of the board's active images, named after the board."""
    return _download(export_zip(get_context(), board=collection_id))


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
