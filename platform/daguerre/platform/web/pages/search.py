"""The search screen, ``/search``: by a query in the query syntax (``?q=``), by an example image
(``?image=<sha256>`` of an uploaded example) or by an indexed image (``?like=<id>``, "More like
this" on every card), under the filter panel, by relevance or by capture date (``?sort=``),
stopping where relevance drops or not (``?cutoff=auto``, "Stop at relevance"), a page at a
time (``?offset=``; ``static/pager.js`` loads the next page as the person scrolls when it is
there, and the "More results" link works without it).

Everything here is read from the services: the ranking and the date order
(:mod:`daguerre.platform.services.search`), the stored examples
(:mod:`daguerre.platform.services.search_examples`), the filters (``catalog/filters.py``). A query
that does not parse is shown with its fault marked where the parser found it; a search that
cannot run (no model weights, a store that cannot be opened) says so instead of failing.

An example image is posted to ``POST /search/image`` (the drop zone, a paste, or the file input:
``static/search.js``), stored content-addressed, and answered with a redirect to
``/search?image=<sha256>``, so the result is a URL like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from daguerre.platform.catalog.filters import FILTER_NAMES
from daguerre.platform.error_map import kind_of
from daguerre.platform.errors import BadInput, DaguerreError, Unavailable
from daguerre.platform.services import images as images_svc
from daguerre.platform.services import search as search_svc
from daguerre.platform.services import search_examples as examples
from daguerre.platform.web import get_context, state
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires
from daguerre.platform.web.errors import status_of
from daguerre.platform.web.pages._filter_panel import drop_boards, panel_context

bp = Blueprint("search_page", __name__)

PAGE_SIZE = 30
MAX_QUERY_CHARS = 2000  # as the API's GET /search
# The query syntax, shown in "How to write a query": (what you write, what it means); each
# example is a link that runs it.
SYNTAX: tuple[tuple[str, str], ...] = (
    ("a dog on a beach", "one text term (quotes are optional for a single term)"),
    ('"a beach" + "sunset"', "both concepts"),
    ('"a beach" - "people"', "a beach, away from people"),
    ('"zebra" + "stripes":0.5', "a term weighted 0.5 (any non-zero number; the default is 1)"),
    ("#1", "the indexed image with id 1 (left out of its own results)"),
    ('#1 - "snow" + "autumn"', "image and text terms mix freely"),
)
# Values of the query string a result page carries to its next page, besides the filters.
CARRIED = ("q", "like", "image", "sort", "cutoff", "limit", "min_score")
# What the form of an example image carries to its result page, besides the filters.
UPLOAD_CARRIED = ("sort", "cutoff")


def _args() -> dict[str, str]:
    """The query string without empty values (an unset filter in the panel's form is sent as
    ``name=``, which means "any")."""
    return {k: v for k, v in request.args.items() if v.strip() != ""}


def _url(args: Mapping[str, Any], **changes: Any) -> str:
    from urllib.parse import urlencode

    keep = {k: v for k, v in args.items() if k in CARRIED or k in FILTER_NAMES}
    keep.update({k: v for k, v in changes.items() if v is not None})
    return "/search" + ("?" + urlencode(keep) if keep else "")


def _marked(query: str, position: int) -> dict[str, Any]:
    """The query cut around its fault: before, the bad part (up to the next space; one
    character at least, a space past the end), after; and the spaces that put a caret under it."""
    end = position
    while end < len(query) and not query[end].isspace():
        end += 1
    end = max(end, position + 1)
    return {"before": query[:position], "bad": query[position:end] or " ",
            # A tab stays a tab, so the caret lines up under it as the query is shown.
            "after": query[end:], "pad": "".join(c if c == "\t" else " " for c in query[:position])}


def _problem(exc: BaseException) -> dict[str, Any] | None:
    """What to tell the person about an error a search raised (None: a bug, re-raised)."""
    kind = kind_of(exc)
    if kind is None:
        return None
    status = status_of(exc) or 400
    out: dict[str, Any] = {"message": str(exc), "status": status,
                           "unavailable": issubclass(kind, Unavailable)}
    if isinstance(exc, search_svc.BadQuery):
        out["marked"] = _marked(str(exc.value), exc.position)
    return out


def _example_source(like: str | None) -> dict[str, Any] | None:
    """The image record of ``?like=`` (NotFound / BadInput naming ``like``)."""
    if like is None:
        return None
    try:
        image_id = int(like)
    except ValueError:
        raise BadInput(f"like must be an image id, got {like[:80]!r}", field="like",
                       value=like) from None
    return images_svc.get_image(get_context(), image_id)


def _fetcher(args: Mapping[str, str], opts: dict[str, Any]
             ) -> Callable[[int, int], list[search_svc.Hit]] | None:
    """``fetch(limit, offset)``: the ranked search the query string asks for (None: none)."""
    ctx = get_context()
    common = {"filters": opts["filters"], "min_score": opts["min_score"]}
    if "like" in args:
        image_id = int(args["like"])
        return lambda limit, offset: search_svc.similar(ctx, image_id, limit, offset=offset,
                                                        **common)
    if "image" in args:
        key = examples.check_key(args["image"])
        return lambda limit, offset: examples.search_example(ctx, key, limit, offset=offset,
                                                             **common)
    if "q" in args:
        q = args["q"]
        if len(q) > MAX_QUERY_CHARS:
            raise BadInput(f"q is {len(q)} characters: the limit is {MAX_QUERY_CHARS}",
                           field="q", value=q[:80])
        # files=False: a query may not make the server read a file of its choosing.
        return lambda limit, offset: search_svc.search(ctx, q, limit=limit, offset=offset,
                                                       files=False, **common)
    return None


def _page(args: dict[str, str], *, upload_error: dict[str, Any] | None = None
          ) -> tuple[str, int]:
    ctx = get_context()
    view: dict[str, Any] = {
        "q": args.get("q", ""), "sort": args.get("sort", "relevance"),
        "cutoff": args.get("cutoff"), "stop": None,
        "like": args.get("like"), "image": args.get("image"), "hits": [], "more_url": None,
        "problem": None, "source": None, "searched": False, "offset": 0, "limit": PAGE_SIZE,
        "upload_error": upload_error,
    }
    status = upload_error["status"] if upload_error else 200
    try:
        view["panel"] = panel_context(ctx, args)
        opts = search_svc.options(args, default_limit=PAGE_SIZE)
        order = search_svc.order_options(args)
        view["limit"], view["offset"] = opts["limit"], opts["offset"]
        view["source"] = _example_source(args.get("like"))
        fetch = _fetcher(args, opts)
        if fetch is not None:
            with state().search_lock:
                found = search_svc.results(fetch, limit=opts["limit"], offset=opts["offset"],
                                           **order)
            view["searched"] = True
            view["hits"] = [h.as_dict() for h in found.hits]
            view["stop"] = found.cutoff.as_dict() if found.cutoff else None
            more = found.more
            if more:
                view["more_url"] = _url(args, offset=opts["offset"] + opts["limit"])
    except Exception as exc:  # noqa: BLE001 - the errors a person can act on are shown
        problem = _problem(exc)
        if problem is None:
            raise
        view["problem"] = problem
        view.setdefault("panel", {"values": {}, "active": 0, "libraries": [], "tags": [],
                                  "origins": (), "review_states": (), "formats": ()})
        status = problem["status"]
    view["chunk_url"] = _url(args, offset=view["offset"])
    view["keep"] = {k: args.get(k) for k in ("q", "sort", "cutoff", "like", "image", "limit",
                                             "min_score")}
    view["upload_keep"] = {k: v for k, v in args.items()
                           if k in FILTER_NAMES or k in UPLOAD_CARRIED}
    first = {k: v for k, v in args.items() if k != "offset"}
    view["sort_urls"] = {s: _url(first, sort=s) for s in search_svc.SORTS}
    # "Stop at relevance": off (no cut-off) or auto; a number in the URL works too.
    view["cutoff_urls"] = {"off": _url({k: v for k, v in first.items() if k != "cutoff"}),
                           "auto": _url(first, cutoff=search_svc.CUTOFF_AUTO)}
    can_curate = caller_may("curator")
    html = render_template("search.html", api_prefix=PREFIX, can_curate=can_curate,
                           drop_boards=drop_boards(ctx, can_curate),
                           syntax=SYNTAX, max_upload=ctx.settings.max_upload_bytes,
                           date_pool=search_svc.DATE_POOL, **view)
    return html, status


@bp.get("/search")
@requires("viewer")
def search() -> ResponseReturnValue:
    return _page(_args())


def _upload_refused(exc: DaguerreError | RequestEntityTooLarge) -> tuple[str, int]:
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"image refused: the file is over the upload limit of {limit} bytes"
        problem = {"message": message, "status": 413}
    else:
        problem = {"message": str(exc), "status": status_of(exc) or 400}
    return _page({}, upload_error=problem)


@bp.post("/search/image")
@requires("viewer")
def search_image() -> ResponseReturnValue:
    """Store an example image (file field ``image``) and show what looks like it."""
    try:
        upload = request.files.get("image")
        if upload is None or (not upload.filename and not upload.content_length):
            raise BadInput("choose an image file to search by", field="image")
        key = examples.store_example(get_context(), upload.read(), upload.filename or "upload")
    except (DaguerreError, RequestEntityTooLarge) as exc:
        return _upload_refused(exc)
    keep = {k: v for k, v in request.form.items()
            if (k in FILTER_NAMES or k in UPLOAD_CARRIED) and v.strip() != ""}
    # 303: the browser follows with a GET, so reloading the result does not post again.
    return redirect(_url({"image": key, **keep}), 303)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    # The body is read (for the CSRF check) before the view runs: answer here with the page.
    return _upload_refused(exc)


@bp.get("/search/image/<key>")
@requires("viewer")
def example_preview(key: str) -> ResponseReturnValue:
    """The JPEG preview of a stored example image (shown above its results)."""
    try:
        path = examples.example_preview(get_context(), key)
    except DaguerreError as exc:
        return str(exc), status_of(exc) or 404, {"Content-Type": "text/plain; charset=utf-8"}
    return send_file(path, mimetype="image/jpeg", max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
