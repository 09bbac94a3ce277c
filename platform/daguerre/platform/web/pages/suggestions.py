"""The suggestions screens: ``/suggestions``, the tags people set with the state of each one's
few-shot classifier, and ``/tags/<name>/suggestions``, the images a tag's classifier finds that
do not carry the tag yet, best first, as the shared photo grid with each card's probability.

Anyone signed in may look; a curator confirms (``P``) and refuses (``X``) on the focused card or
the selection, with the bulk buttons, and trains the classifier with "Learn"
(``static/suggestions.js``, through ``/api/v1/tags/<name>/...``; the server refuses anyone else
all the same). The rules (examples, what is suggested, retraining) live in
:mod:`daguerre.platform.services.tag_suggestions`; this module only renders them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, render_template, request

from daguerre.platform.error_map import kind_of
from daguerre.platform.errors import BadInput, Conflict, DaguerreError, NotFound, Unavailable
from daguerre.platform.services import tag_suggestions as service
from daguerre.platform.services import tags as tags_svc
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires

bp = Blueprint("suggestions_page", __name__)

# What each key does here, shown by `?` and beside the buttons.
KEYS: tuple[tuple[str, str], ...] = (
    ("P", "confirm: the image gets the tag"), ("X", "refuse: it does not show the tag"),
    ("Click", "select one"), ("Shift + click", "select a range"),
    ("Ctrl/⌘ + click", "add to the selection"), ("Ctrl/⌘ + A", "select all shown"),
    ("Esc", "clear the selection"), ("← / →", "previous / next image"),
    ("Enter", "open the focused image"), ("?", "show the keys"),
)


@bp.get("/suggestions")
@requires("viewer")
def index() -> str:
    ctx = get_context()
    tags = tags_svc.list_tags(ctx, source="user")
    learned = set(service.tag_names_with_classifiers(ctx))
    return render_template("suggestions.html", api_prefix=PREFIX, tag=None, tags=tags,
                           learned=learned, min_examples=service.MIN_POSITIVES, keys=KEYS,
                           can_curate=caller_may("curator"))


@bp.get("/tags/<path:name>/suggestions")
@requires("viewer")
def suggestions(name: str) -> str:
    ctx = get_context()
    problem: dict[str, Any] | None = None
    found: dict[str, Any] | None = None
    try:
        found = service.suggest(ctx, name, min_probability=request.args.get("min_probability"),
                                limit=request.args.get("limit"))
    except NotFound:
        abort(404)
    except BadInput as exc:
        abort(400, str(exc))
    except Conflict as exc:  # not learned yet, or for another model: the page says so
        problem = {"message": str(exc), "learn": True}
    except DaguerreError as exc:
        problem = {"message": str(exc), "learn": False}
    except Exception as exc:  # a missing model or a broken store: say so, not a 500
        if kind_of(exc) is not Unavailable:
            raise
        problem = {"message": str(exc), "learn": False}
    tag = found["tag"] if found else " ".join(name.split())
    return render_template(
        "suggestions.html", api_prefix=PREFIX, tag=tag, found=found, problem=problem,
        min_examples=service.MIN_POSITIVES, keys=KEYS, can_curate=caller_may("curator"),
        min_probability=found["min_probability"] if found else service.DEFAULT_MIN_PROBABILITY,
        limit=found["limit"] if found else service.DEFAULT_LIMIT, max_limit=service.MAX_LIMIT)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
