"""Tags: zero-shot classification into model tags, and tags people set.

A tag on an image has a source: ``user`` (a person set it) or ``model`` (zero-shot classification,
with its probability as the score and the model key). Classifying again replaces the model tags
of the images it classified and never touches user tags, so a person's curation survives any
number of re-runs and model changes.

Classification reads the vectors already in the store: nothing is decoded or re-encoded, and only
the label prompts go through the text encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from daguerre.platform.catalog.models import Image, ImageStatus, ImageTag, Library, Tag, TagSource
from daguerre.platform.context import Context
from daguerre.platform.errors import NotFound, UserError
from daguerre.platform.search import find_library, image_path

BATCH = 4096
MAX_TAG_CHARS = 200

ProgressFn = Callable[[int, int, str], None]


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


def check_tag_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"tag must be a non-empty name, got {name!r}")
    name = " ".join(name.split())
    if len(name) > MAX_TAG_CHARS:
        raise UserError(f"tag must be at most {MAX_TAG_CHARS} characters, got {len(name)}")
    return name


def _tag_ids(session: Any, names: Sequence[str]) -> dict[str, int]:
    """Ids of tags by name, creating the missing ones."""
    ids = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(list(names)))).all())
    for name in names:
        if name not in ids:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            ids[name] = tag.id
    return ids


def _image_ids(ctx: Context, library: str | int | None, image_ids: Sequence[int] | None
               ) -> list[int]:
    with ctx.catalog.session() as s:
        q = select(Image.id).where(Image.status == ImageStatus.ACTIVE)
        if library is not None:
            q = q.where(Image.library_id == find_library(s, library).id)
        if image_ids is not None:
            q = q.where(Image.id.in_(list(image_ids)))
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
    """
    from daguerre.indexer.classify import (
        DEFAULT_TEMPLATES,
        LabelError,
        ZeroShotClassifier,
        builtin_labels,
    )

    if not isinstance(top, int) or top < 1:
        raise UserError(f"top must be a whole number of at least 1, got {top!r}")
    if not 0.0 <= float(min_prob) <= 1.0:
        raise UserError(f"min_prob must be between 0 and 1, got {min_prob}")
    labels = list(labels) if labels is not None else builtin_labels()
    labels = [check_tag_name(label) for label in labels]
    if not labels:
        raise UserError("labels is empty: give at least one label")
    progress = progress or (lambda done, total, msg: None)
    should_cancel = should_cancel or (lambda: False)
    encoder = ctx.encoder()
    store = ctx.store(encoder)
    try:
        clf = ZeroShotClassifier(encoder, labels, templates or DEFAULT_TEMPLATES)
    except LabelError as exc:
        raise UserError(str(exc)) from None

    ids = _image_ids(ctx, library, image_ids)
    held = np.asarray([i for i in ids if i in store], dtype=np.int64)
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


# ----------------------------------------------------------------------------- user tags


def _check_images(session: Any, image_ids: Sequence[int]) -> list[int]:
    ids = sorted(set(int(i) for i in image_ids))
    if not ids:
        raise UserError("give at least one image id")
    found = set(session.scalars(select(Image.id).where(Image.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no image with id {missing[0]}")
    return ids


def add_tag(ctx: Context, name: str, image_ids: Sequence[int]) -> int:
    """Tag images as a person; returns how many images newly got the tag."""
    name = check_tag_name(name)
    with ctx.catalog.session() as s:
        ids = _check_images(s, image_ids)
        tag_id = _tag_ids(s, [name])[name]
        have = set(s.scalars(select(ImageTag.image_id).where(
            ImageTag.tag_id == tag_id, ImageTag.source == TagSource.USER,
            ImageTag.image_id.in_(ids))))
        for image_id in ids:
            if image_id not in have:
                s.add(ImageTag(image_id=image_id, tag_id=tag_id, source=TagSource.USER))
        return len(ids) - len(have)


def remove_tag(ctx: Context, name: str, image_ids: Sequence[int]) -> int:
    """Remove a tag from images, whoever set it (a person says the image does not show it);
    returns how many tag rows were removed."""
    name = check_tag_name(name)
    with ctx.catalog.session() as s:
        ids = _check_images(s, image_ids)
        tag_id = s.scalar(select(Tag.id).where(Tag.name == name))
        if tag_id is None:
            raise NotFound(f"no tag {name!r} (see `daguerre tags list`)")
        result = s.execute(delete(ImageTag).where(ImageTag.tag_id == tag_id,
                                                  ImageTag.image_id.in_(ids)))
        return int(result.rowcount or 0)


def list_tags(ctx: Context) -> list[dict[str, Any]]:
    """Every tag in use with how many active images carry it, by source."""
    with ctx.catalog.session() as s:
        rows = s.execute(
            select(Tag.name, ImageTag.source, func.count(ImageTag.image_id))
            .join(ImageTag, ImageTag.tag_id == Tag.id)
            .join(Image, Image.id == ImageTag.image_id)
            .where(Image.status == ImageStatus.ACTIVE)
            .group_by(Tag.name, ImageTag.source)).all()
    out: dict[str, dict[str, Any]] = {}
    for name, source, count in rows:
        entry = out.setdefault(name, {"tag": name, "user": 0, "model": 0})
        entry[TagSource(source).value] = int(count)
    return sorted(out.values(), key=lambda e: (-(e["user"] + e["model"]), e["tag"]))


def image_tags(ctx: Context, image_id: int) -> list[dict[str, Any]]:
    """Tags of one image: user tags first, then model tags by score."""
    with ctx.catalog.session() as s:
        if s.get(Image, image_id) is None:
            raise NotFound(f"no image with id {image_id}")
        rows = s.execute(select(Tag.name, ImageTag.source, ImageTag.score)
                         .join(ImageTag, ImageTag.tag_id == Tag.id)
                         .where(ImageTag.image_id == image_id)).all()
    tags = [{"tag": n, "source": TagSource(src).value,
             "score": None if sc is None else round(float(sc), 6)} for n, src, sc in rows]
    return sorted(tags, key=lambda t: (t["source"] != "user", -(t["score"] or 0.0), t["tag"]))
