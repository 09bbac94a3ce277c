"""Tags: the one set of tag rules under the CLI, the API and the dashboard, and zero-shot
classification into model tags.

A tag on an image has a source: ``user`` (a person set it) or ``model`` (zero-shot
classification, with its probability as the score and the model key). The behaviour, the same
from every edge:

* **Names** (:func:`check_name`, also used for collection names): at most ``MAX_NAME_CHARS``
  characters as given; surrounding whitespace is trimmed and runs of whitespace become one
  space; the result must be non-empty and free of control characters.
* **Adding** a tag is always a person's tag (source ``user``); adding it again changes nothing.
* **Removing** a tag removes it *whoever set it*, user or model: a person who says a picture does
  not show something is right over the model. (A later ``classify`` run may suggest it again.)
* **Counts** are of *active* images only: an image that went missing, was deleted or was
  resolved as a duplicate keeps its tags, but no longer counts.
* **Classifying** again replaces the model tags of the images it classified and never touches
  user tags, so a person's curation survives any number of re-runs and model changes.
  Classification reads the vectors already in the store: only the label prompts are encoded.

Shapes (the CLI's ``--json`` prints them, the API returns them): a tag listing is a list of
:func:`list_tags` entries ``{id, name, images, user, model}``; an image's tags are a list of
``{name, source, score}`` (:func:`tag_entries`), a person's tags first, then the model's by score.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, distinct, func, select
from sqlalchemy.orm import Session

from daguerre.platform.catalog.filters import choice, integer, page_of
from daguerre.platform.catalog.models import Image, ImageStatus, ImageTag, Library, Tag, TagSource
from daguerre.platform.catalog.queries import find_library, find_tag_id, get_image, image_path
from daguerre.platform.constants import MAX_ID, MAX_NAME_CHARS, TAG_SOURCES
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services.progress import ProgressFn

BATCH = 4096
# One request or command changes at most this many images (a whole folder's worth; a larger
# selection goes in several calls).
MAX_IMAGE_IDS = 10_000
# The API's page of tags when the caller names no limit.
TAG_PAGE = 200



# ----------------------------------------------------------------------------- checks


def check_name(name: Any, *, field: str = "name") -> str:
    """``name`` trimmed with its whitespace runs collapsed; BadInput naming ``field`` when it is
    not a string, longer than MAX_NAME_CHARS, blank or holds a control character."""
    if name is None:
        raise BadInput(f"{field} is required", field=field)
    if not isinstance(name, str):
        raise BadInput(f"{field} must be a string, got {type(name).__name__}", field=field,
                       value=name)
    # The length is of the name as given, so the limit the OpenAPI document states is exact.
    if len(name) > MAX_NAME_CHARS:
        raise BadInput(f"{field} must be at most {MAX_NAME_CHARS} characters, got {len(name)}",
                       field=field, value=name)
    clean = " ".join(name.split())
    if not clean:
        raise BadInput(f"{field} must not be empty", field=field, value=name)
    # Category C* covers control, format, surrogate and unassigned code points; only the first
    # kind is refused, so emoji joiners and the like stay allowed.
    if any(unicodedata.category(c) == "Cc" for c in clean):
        raise BadInput(f"{field} must not contain control characters", field=field, value=name)
    return clean


def check_image_ids(image_ids: Any, *, field: str = "image_ids") -> list[int]:
    """The distinct ids of a list of image ids, in order; BadInput naming ``field`` when it is
    not a non-empty list of whole numbers within the id range, or is over MAX_IMAGE_IDS."""
    if isinstance(image_ids, str | bytes) or not isinstance(image_ids, Sequence):
        raise BadInput(f"{field} must be a list of image ids", field=field, value=image_ids)
    if not image_ids:
        raise BadInput(f"{field} must name at least one image", field=field, value=[])
    if len(image_ids) > MAX_IMAGE_IDS:
        raise BadInput(f"{field} may name at most {MAX_IMAGE_IDS} images, got "
                       f"{len(image_ids)}", field=field)
    # An integral float (12.0) is the id 12, as JSON Schema's "integer" says; text is not.
    ids = [integer(i, field, minimum=0, maximum=MAX_ID, typed=True) for i in image_ids]
    return list(dict.fromkeys(ids))


def require_images(session: Session, image_ids: Sequence[int], *, field: str = "image_ids",
                   active: bool = False) -> None:
    """NotFound naming the first id in ``image_ids`` with no image (of any status; with
    ``active``, no active image)."""
    query = select(Image.id).where(Image.id.in_(list(image_ids)))
    if active:
        query = query.where(Image.status == ImageStatus.ACTIVE)
    found = set(session.scalars(query))
    what = "active image" if active else "image"
    for i in image_ids:
        if i not in found:
            raise NotFound(f"no {what} with id {i}", field=field, value=i)


# ----------------------------------------------------------------------------- shapes


def tag_entries(rows: Iterable[ImageTag]) -> list[dict[str, Any]]:
    """An image's tags as ``{name, source, score}``: a person's tags first (by name), then the
    model's, highest score first."""
    out = [{"name": t.tag.name, "source": TagSource(t.source).value,
            "score": None if t.score is None else round(float(t.score), 6)} for t in rows]
    return sorted(out, key=lambda t: (t["source"] != TagSource.USER.value,
                                      -(t["score"] or 0.0), t["name"]))


def _tags_of(session: Session, image_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    rows = session.scalars(select(ImageTag).join(Tag).where(
        ImageTag.image_id.in_(list(image_ids)))).all()
    by_image: dict[int, list[ImageTag]] = {i: [] for i in image_ids}
    for row in rows:
        by_image[row.image_id].append(row)
    return {i: tag_entries(r) for i, r in by_image.items()}


@dataclass
class TagChange:
    """What adding or removing a tag did: the tag's stored name, how many of the named images
    gained (or lost) it, and each named image's tags afterwards."""

    tag: str
    changed: int
    images: dict[int, list[dict[str, Any]]]

    def as_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "changed": self.changed,
                "images": [{"id": i, "tags": t} for i, t in self.images.items()]}


# ----------------------------------------------------------------------------- a person's tags


def _tag_ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    """Ids of tags by name, creating the missing ones."""
    ids = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(list(names)))).all())
    for name in names:
        if name not in ids:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            ids[name] = tag.id
    return ids


def add_tag(ctx: Context, name: Any, image_ids: Any) -> TagChange:
    """Tag the images ``image_ids`` with ``name`` as a person's tag. An image that has the tag
    from the model gets the person's tag too (the two sources are kept apart)."""
    name = check_name(name)
    ids = check_image_ids(image_ids, field="image_id")
    with ctx.catalog.session() as s:
        require_images(s, ids, field="image_id")
        new = add_user_tag(s, name, ids)
        return TagChange(name, new, _tags_of(s, ids))


def add_user_tag(session: Session, name: str, ids: Sequence[int]) -> int:
    """The rule of :func:`add_tag` inside a caller's session, for a checked ``name`` and
    existing images ``ids`` (bulk curation adds several tags in one transaction): how many
    images gained the person's tag."""
    tag_id = _tag_ids(session, [name])[name]
    have = set(session.scalars(select(ImageTag.image_id).where(
        ImageTag.tag_id == tag_id, ImageTag.source == TagSource.USER,
        ImageTag.image_id.in_(list(ids)))))
    new = [i for i in ids if i not in have]
    session.add_all(ImageTag(image_id=i, tag_id=tag_id, source=TagSource.USER) for i in new)
    session.flush()
    return len(new)


def remove_tag(ctx: Context, name: Any, image_ids: Any) -> TagChange:
    """Remove tag ``name`` from the images ``image_ids``, whoever set it (user or model).
    NotFound (field ``name``) when none of them carries it."""
    name = check_name(name)
    ids = check_image_ids(image_ids, field="image_id")
    with ctx.catalog.session() as s:
        require_images(s, ids, field="image_id")
        removed = remove_any_tag(s, name, ids)
        return TagChange(name, removed, _tags_of(s, ids))


def remove_any_tag(session: Session, name: str, ids: Sequence[int], *, field: str = "name"
                   ) -> int:
    """The rule of :func:`remove_tag` inside a caller's session, for a checked ``name`` and
    existing images ``ids``: how many images lost the tag. NotFound naming ``field`` when
    none of them carries it."""
    tag_id = find_tag_id(session, name, field=field)
    carrying = set(session.scalars(select(ImageTag.image_id).where(
        ImageTag.tag_id == tag_id, ImageTag.image_id.in_(list(ids)))))
    if not carrying:
        which = f"image {ids[0]} has" if len(ids) == 1 else "none of these images has"
        raise NotFound(f"{which} no tag {name!r}", field=field, value=name)
    session.execute(delete(ImageTag).where(ImageTag.tag_id == tag_id,
                                           ImageTag.image_id.in_(list(ids))))
    return len(carrying)


def list_tags(ctx: Context, *, source: str | None = None) -> list[dict[str, Any]]:
    """Every tag carried by at least one active image (with ``source``, by at least one active
    image from that source), by name: ``{id, name, images, user, model}``, where ``images``
    counts active images with the tag from either source and ``user``/``model`` those from
    each."""
    return _tag_rows(ctx, source, None, 0)


def tag_page(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """A page of :func:`list_tags`: ``{items, limit, offset}``. ``params`` holds ``source``,
    ``limit`` (default TAG_PAGE) and ``offset``, as values or their text (a query string)."""
    limit, offset = page_of(params, default_limit=TAG_PAGE)
    items = _tag_rows(ctx, params.get("source"), limit, offset)
    return {"items": items, "limit": limit, "offset": offset}


def _tag_rows(ctx: Context, source: str | None, limit: int | None, offset: int
              ) -> list[dict[str, Any]]:
    if source is not None:
        source = choice(source, "source", TAG_SOURCES)

    def count(which: TagSource | None) -> Any:
        # An image may carry a tag from both sources: the total counts it once.
        image = ImageTag.image_id if which is None else case(
            (ImageTag.source == which, ImageTag.image_id))
        return func.count(distinct(image))

    query = (select(Tag.id, Tag.name, count(None), count(TagSource.USER), count(TagSource.MODEL))
             .join(ImageTag, ImageTag.tag_id == Tag.id)
             .join(Image, Image.id == ImageTag.image_id)
             .where(Image.status == ImageStatus.ACTIVE)
             .group_by(Tag.id, Tag.name).order_by(Tag.name, Tag.id).offset(offset))
    if source is not None:
        query = query.having(count(TagSource(source)) > 0)
    if limit is not None:
        query = query.limit(limit)
    with ctx.catalog.session() as s:
        rows = s.execute(query).all()
    return [{"id": i, "name": n, "images": int(total), "user": int(user), "model": int(model)}
            for i, n, total, user, model in rows]


def image_tags(ctx: Context, image_id: Any) -> list[dict[str, Any]]:
    """The tags of image ``image_id`` (any status), in :func:`tag_entries` order."""
    with ctx.catalog.session() as s:
        get_image(s, image_id)
        return _tags_of(s, [image_id])[image_id]


# ----------------------------------------------------------------------------- classification


@dataclass
class ClassifySummary:
    labels: int
    classified: int = 0
    tagged: int = 0  # model tags written
    skipped: int = 0  # active images without a vector for this model
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, with_results: bool = True) -> dict[str, Any]:
        out = {"labels": self.labels, "classified": self.classified, "tagged": self.tagged,
               "skipped": self.skipped}
        if with_results:
            out["results"] = self.results
        return out


def _image_ids(ctx: Context, library: str | int | None, image_ids: Sequence[int] | None
               ) -> list[int]:
    with ctx.catalog.session() as s:
        q = select(Image.id).where(Image.status == ImageStatus.ACTIVE)
        if library is not None:
            q = q.where(Image.library_id == find_library(s, library).id)
        if image_ids is not None:
            q = q.where(Image.id.in_(check_image_ids(image_ids)))
        return list(s.scalars(q.order_by(Image.id)))


def classify(
    ctx: Context,
    library: str | int | None = None,
    *,
    labels: Sequence[str] | None = None,
    templates: Sequence[str] | None = None,
    top: int = 3,
    min_prob: float = 0.1,
    image_ids: Sequence[int] | None = None,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ClassifySummary:
    """Classify the active images of ``library`` (default: every library) zero-shot and store
    up to ``top`` labels per image with probability at least ``min_prob`` as model tags.

    ``labels`` default to the built-in photo set; ``templates`` to CLIP-style photo prompts.
    Each label must be a valid tag name (:func:`check_name`).
    """
    from daguerre.indexer.classify import (
        DEFAULT_TEMPLATES,
        LabelError,
        ZeroShotClassifier,
        builtin_labels,
    )

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise BadInput(f"top must be a whole number of at least 1, got {top!r}", field="top",
                       value=top)
    if not 0.0 <= float(min_prob) <= 1.0:
        raise BadInput(f"min_prob must be between 0 and 1, got {min_prob}", field="threshold",
                       value=min_prob)
    labels = list(labels) if labels is not None else builtin_labels()
    labels = list(dict.fromkeys(check_name(label, field="labels") for label in labels))
    if not labels:
        raise BadInput("labels is empty: give at least one label", field="labels", value=[])
    from daguerre.platform.vectors.backend import held_ids

    progress = progress or (lambda done, total, msg: None)
    should_cancel = should_cancel or (lambda: False)
    encoder = ctx.encoder()
    store = ctx.store(encoder)
    try:
        clf = ZeroShotClassifier(encoder, labels, templates or DEFAULT_TEMPLATES)
    except LabelError as exc:
        raise BadInput(str(exc), field="templates") from None

    ids = _image_ids(ctx, library, image_ids)
    held = held_ids(store, ids)
    summary = ClassifySummary(labels=len(labels), skipped=len(ids) - len(held))
    total = len(held)
    progress(0, total, f"{total} images, {len(labels)} labels")
    with ctx.catalog.session() as s:
        tag_ids = _tag_ids(s, labels)
        paths = {}
        for img, lib in s.execute(select(Image, Library).outerjoin(
                Library, Image.library_id == Library.id).where(Image.id.in_(held.tolist()))):
            paths[img.id] = image_path(ctx.settings.home, img, lib)
    for start in range(0, total, BATCH):
        batch = held[start:start + BATCH]
        predictions = clf.predict(store.get(batch), top=top, min_prob=float(min_prob))
        with ctx.catalog.session() as s:
            s.execute(delete(ImageTag).where(ImageTag.image_id.in_(batch.tolist()),
                                             ImageTag.source == TagSource.MODEL))
            for image_id, preds in zip(batch.tolist(), predictions, strict=True):
                for p in preds:
                    s.add(ImageTag(image_id=image_id, tag_id=tag_ids[p.label],
                                   source=TagSource.MODEL, score=p.probability,
                                   model_key=encoder.key))
                summary.tagged += len(preds)
                summary.results.append({
                    "id": image_id, "path": paths.get(image_id),
                    "labels": [{"label": p.label, "score": round(p.probability, 6)}
                               for p in preds]})
        summary.classified += len(batch)
        progress(summary.classified, total, "classifying")
        if should_cancel():
            break
    return summary


def classify_job(ctx: Context, handle: Any) -> dict[str, Any]:
    """The ``classify`` job kind: parameters labels, library, image_ids, threshold, templates,
    top."""
    p = handle.params
    threshold = p.get("threshold")
    summary = classify(ctx, p.get("library"), labels=p.get("labels"),
                       templates=p.get("templates"), top=int(p.get("top") or 3),
                       image_ids=p.get("image_ids"),
                       min_prob=0.1 if threshold is None else float(threshold),
                       progress=handle.progress, should_cancel=handle.should_cancel)
    return summary.as_dict(with_results=False)
