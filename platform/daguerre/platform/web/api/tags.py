"""``/api/v1/tags`` and ``/api/v1/images/<id>/tags``: list tags, add or remove a person's tag.

Tags set here have source ``user``; model tags (from zero-shot classification) are listed with the
image but never changed through these endpoints, so a person's curation and a model's guesses stay
apart.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select

from daguerre.platform.catalog.models import ImageTag, Tag, TagSource
from daguerre.platform.web import get_context
from daguerre.platform.web.api.images import load_image
from daguerre.platform.web.api.serialize import tag_dict
from daguerre.platform.web.errors import ApiError
from daguerre.platform.web.params import Params, json_body

bp = Blueprint("tags", __name__)

SOURCES = tuple(s.value for s in TagSource)


def clean_tag_name(name: str | None, field: str = "name") -> str:
    name = " ".join((name or "").split())  # collapse runs of whitespace, trim the ends
    if not name:
        raise ApiError(f"{field} must not be empty", field=field)
    if len(name) > 200:
        raise ApiError(f"{field} must be at most 200 characters, got {len(name)}", field=field)
    if any(ord(c) < 32 for c in name):
        raise ApiError(f"{field} must not contain control characters", field=field)
    return name


@bp.get("/tags")
def list_tags() -> Response:
    params = Params.from_args()
    source = params.choice("source", SOURCES)
    limit, offset = params.page(default_limit=200)
    with get_context().catalog.session() as s:
        counts = select(ImageTag.tag_id, func.count(func.distinct(ImageTag.image_id)).label("n"))
        if source is not None:
            counts = counts.where(ImageTag.source == TagSource(source))
        counts = counts.group_by(ImageTag.tag_id).subquery()
        query = (select(Tag, func.coalesce(counts.c.n, 0))
                 .outerjoin(counts, counts.c.tag_id == Tag.id))
        if source is not None:
            query = query.where(counts.c.n > 0)
        rows = s.execute(query.order_by(Tag.name).limit(limit).offset(offset)).all()
        items = [{"id": tag.id, "name": tag.name, "images": int(n)} for tag, n in rows]
    return jsonify({"items": items, "limit": limit, "offset": offset})


def _image_tags(session, image_id: int) -> list[dict]:  # noqa: ANN001
    rows = session.scalars(select(ImageTag).join(Tag).where(ImageTag.image_id == image_id)
                           .order_by(Tag.name, ImageTag.source)).all()
    return [tag_dict(t) for t in rows]


@bp.get("/images/<int:image_id>/tags")
def image_tags(image_id: int) -> Response:
    with get_context().catalog.session() as s:
        load_image(s, image_id)
        return jsonify({"items": _image_tags(s, image_id)})


@bp.post("/images/<int:image_id>/tags")
def add_tag(image_id: int) -> tuple[Response, int]:
    params = Params(json_body(), from_json=True)
    name = clean_tag_name(params.string("name", required=True, max_len=1000))
    with get_context().catalog.session() as s:
        load_image(s, image_id)
        tag = s.scalar(select(Tag).where(Tag.name == name))
        if tag is None:
            tag = Tag(name=name)
            s.add(tag)
            s.flush()
        created = s.get(ImageTag, (image_id, tag.id, TagSource.USER)) is None
        if created:
            s.add(ImageTag(image_id=image_id, tag_id=tag.id, source=TagSource.USER))
            s.flush()
        items = _image_tags(s, image_id)
    return jsonify({"items": items}), 201 if created else 200


@bp.delete("/images/<int:image_id>/tags/<path:name>")
def remove_tag(image_id: int, name: str) -> Response:
    name = clean_tag_name(name)
    with get_context().catalog.session() as s:
        load_image(s, image_id)
        tag = s.scalar(select(Tag).where(Tag.name == name))
        link = s.get(ImageTag, (image_id, tag.id, TagSource.USER)) if tag is not None else None
        if link is None:
            raise ApiError(f"image {image_id} has no user tag {name!r}", field="name", status=404)
        s.delete(link)
        s.flush()
        return jsonify({"items": _image_tags(s, image_id)})


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
