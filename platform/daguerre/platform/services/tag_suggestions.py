"""Personal tags learned from a few examples: "tag a few, find the rest".

A person tags a handful of images with a word of their own ("grandma's house"); :func:`learn`
trains a classifier for that tag on the stored embeddings (:mod:`daguerre.indexer.fewshot`),
:func:`suggest` proposes the untagged images it finds, best first, and :func:`confirm` and
:func:`refuse` record the person's answers. The rules, the same from the CLI, the API and the
dashboard:

* **Examples.** Positives are the active images a person tagged TAG (source ``user``; the
  model's zero-shot tags are guesses, not examples), at least
  :data:`~daguerre.indexer.fewshot.MIN_POSITIVES`. Negatives are the images a person refused
  as suggestions for TAG, plus a sample of the other active images (:data:`NEGATIVE_SAMPLE`,
  drawn with the tag's id as the seed, so the same examples train the same classifier). Images
  without a vector for the model are left out.
* **A classifier belongs to its embedding model**: one ``tag_classifiers`` row per tag and
  model key, holding the fitted weights as data, the training set's sizes, the date and
  ``examples_digest`` (a hash of the sorted example ids). When the configured model changes,
  :func:`suggest` says that the tag must be learned again.
* **Suggestions are not tags.** They are ``tag_suggestions`` rows (``source: suggested`` in the
  records): :func:`suggest` scores the active images that do not carry TAG (from either source)
  and were not refused, and replaces the tag's pending suggestions with those it returns.
* **Confirming** makes a person's tag (as ``daguerre tags add`` does) and drops the suggestion;
  **refusing** keeps the row as ``refused`` (a negative from now on) and removes a model tag
  TAG from the image (a person is right over the model); refusing an image a person tagged TAG
  is a conflict (remove the tag instead).
* **Retraining.** After a confirm or refuse batch, when the tag has a classifier for the
  configured model and its examples changed, a ``learn_tag`` job is queued (one at a time per
  tag); the job retrains only if the examples still differ from the stored classifier's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daguerre.indexer.fewshot import (
    MIN_POSITIVES,
    FewShotError,
    LinearClassifier,
    cross_validate,
    examples_digest,
    fit,
)
from daguerre.platform.catalog.db import database_now
from daguerre.platform.catalog.filters import integer
from daguerre.platform.catalog.models import (
    Image,
    ImageStatus,
    ImageTag,
    Job,
    JobStatus,
    Library,
    SuggestionState,
    Tag,
    TagClassifier,
    TagSource,
    TagSuggestion,
    iso,
)
from daguerre.platform.catalog.queries import find_tag_id
from daguerre.platform.constants import MAX_PAGE
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict
from daguerre.platform.services.tags import (
    add_user_tag,
    check_image_ids,
    check_name,
    require_images,
)

if TYPE_CHECKING:
    from daguerre.platform.services.jobs import Jobs

# The job kind that retrains a tag's classifier (registered in jobs/kinds.py).
LEARN_KIND = "learn_tag"
# Untagged images drawn as negatives: enough to cover a library's variety, few enough that a
# training takes about a second on a CPU whatever the library's size.
NEGATIVE_SAMPLE = 1000
DEFAULT_MIN_PROBABILITY = 0.5
DEFAULT_LIMIT = 50
MAX_LIMIT = MAX_PAGE
# Vectors scored per step (bounded memory on a large library).
BATCH = 4096
SUGGESTED = "suggested"


# ----------------------------------------------------------------------------- checks


def check_probability(value: Any, field: str = "min_probability") -> float:
    """``value`` (a number, or its text from a query string) within [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadInput(f"{field} must be a number between 0 and 1, got {value!r}", field=field,
                       value=value)
    try:
        number = float(value)
    except ValueError:
        raise BadInput(f"{field} must be a number between 0 and 1, got {value!r}", field=field,
                       value=value) from None
    if not 0.0 <= number <= 1.0:  # NaN fails this too
        raise BadInput(f"{field} must be between 0 and 1, got {value!r}", field=field,
                       value=value)
    return number


def _model_key(ctx: Context) -> str | None:
    """The configured model's key without loading the model (None when only loading it can
    tell: its weights file is missing)."""
    from daguerre.indexer.models import model_key

    try:
        return model_key(ctx.clip_spec)
    except OSError:
        return None


# ----------------------------------------------------------------------------- examples


def _examples(s: Session, tag_id: int) -> tuple[list[int], list[int]]:
    """(positive ids, refused ids) of a tag: active images a person tagged, and active images a
    person refused, each sorted."""
    positives = list(s.scalars(
        select(ImageTag.image_id).join(Image, Image.id == ImageTag.image_id)
        .where(ImageTag.tag_id == tag_id, ImageTag.source == TagSource.USER,
               Image.status == ImageStatus.ACTIVE).order_by(ImageTag.image_id)))
    refused = list(s.scalars(
        select(TagSuggestion.image_id).join(Image, Image.id == TagSuggestion.image_id)
        .where(TagSuggestion.tag_id == tag_id, TagSuggestion.state == SuggestionState.REFUSED,
               Image.status == ImageStatus.ACTIVE).order_by(TagSuggestion.image_id)))
    return positives, refused


def _digest(positives: Sequence[int], refused: Sequence[int]) -> str:
    return examples_digest(positives, refused)


def _active_held(s: Session, store: Any) -> np.ndarray:
    """Ids of the active images with a vector in ``store`` (``ctx.store()``: any backend; its
    ``ids()`` are ascending), ascending."""
    active = np.fromiter(s.scalars(select(Image.id).where(Image.status == ImageStatus.ACTIVE)
                                   .order_by(Image.id)), dtype=np.int64)
    return active[np.isin(active, store.ids(), assume_unique=True)]


def _carrying(s: Session, tag_id: int) -> np.ndarray:
    """Ids of the images that carry the tag, from either source."""
    return np.fromiter(s.scalars(select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)),
                       dtype=np.int64)


def classifier_record(row: TagClassifier, name: str) -> dict[str, Any]:
    """A stored classifier as the CLI and the API show it (its weights left out)."""
    return {"tag": name, "model_key": row.model_key, "positives": row.positives,
            "negatives": row.negatives, "examples_digest": row.examples_digest,
            "trained_at": iso(row.trained_at), "metrics": dict(row.metrics or {})}


# ----------------------------------------------------------------------------- learn


def learn(ctx: Context, tag: Any, *, only_if_changed: bool = False) -> dict[str, Any]:
    """Train TAG's classifier for the configured embedding model and store it.

    Returns :func:`classifier_record` plus ``retrained`` (False when ``only_if_changed`` and
    the stored classifier was trained on the same examples: nothing was done). NotFound for an
    unknown tag; Conflict when fewer than MIN_POSITIVES of its images are tagged by a person
    and embedded, or no image is left to learn against."""
    name = check_name(tag, field="tag")
    store = ctx.store()
    key = store.model_key
    with ctx.catalog.session() as s:
        tag_id = find_tag_id(s, name)
        positives, refused = _examples(s, tag_id)
        digest = _digest(positives, refused)
        row = s.scalar(select(TagClassifier).where(TagClassifier.tag_id == tag_id,
                                                   TagClassifier.model_key == key))
        if only_if_changed and row is not None and row.examples_digest == digest:
            return {**classifier_record(row, name), "retrained": False}
        held = _active_held(s, store)
        carrying = _carrying(s, tag_id)
    pos = np.asarray(positives, dtype=np.int64)
    pos = pos[np.isin(pos, held)]
    if len(pos) < MIN_POSITIVES:
        more = MIN_POSITIVES - len(pos)
        raise Conflict(f"tag {name!r} has {len(pos)} embedded image(s) a person tagged; "
                       f"learning needs at least {MIN_POSITIVES}: tag {more} more "
                       f"(`daguerre tags add {name!r} IDS...`)", field="tag", value=name)
    refused_held = np.asarray(refused, dtype=np.int64)
    refused_held = refused_held[np.isin(refused_held, held)]
    # The rest: neither an example nor carrying the tag from the model (likely a positive).
    rest = held[~np.isin(held, np.concatenate([pos, refused_held, carrying]))]
    rng = np.random.default_rng(tag_id)
    sample = np.sort(rng.choice(rest, min(NEGATIVE_SAMPLE, len(rest)), replace=False))
    neg = np.concatenate([refused_held, sample])
    if not len(neg):
        raise Conflict(f"tag {name!r}: every embedded image is an example of it; learning "
                       "needs other images to tell it apart from", field="tag", value=name)
    started = time.perf_counter()
    try:
        clf = fit(store.get(pos), store.get(neg))
        held_out = cross_validate(store.get(pos), store.get(neg))
    except FewShotError as exc:  # the checks above leave none; kept for a store gone odd
        raise Conflict(f"tag {name!r}: {exc}", field="tag", value=name) from None
    metrics = {"method": clf.method, "c": clf.c, "refused": int(len(refused_held)),
               "sampled": int(len(sample)), "seconds": round(time.perf_counter() - started, 3),
               "held_out": held_out}
    with ctx.catalog.session() as s:
        row = s.scalar(select(TagClassifier).where(TagClassifier.tag_id == tag_id,
                                                   TagClassifier.model_key == key))
        if row is None:
            row = TagClassifier(tag_id=tag_id, model_key=key)
            s.add(row)
        row.positives, row.negatives = int(len(pos)), int(len(neg))
        row.examples_digest, row.params, row.metrics = digest, clf.to_params(), metrics
        row.trained_at = database_now(s)
        s.flush()
        return {**classifier_record(row, name), "retrained": True}


def learn_job(ctx: Context, handle: Any) -> dict[str, Any]:
    """The ``learn_tag`` job kind: retrain TAG's classifier if its examples changed."""
    handle.progress(0, 1, f"learning {handle.params['tag']!r}")
    out = learn(ctx, handle.params["tag"], only_if_changed=not handle.params.get("force"))
    handle.progress(1, 1, "trained" if out["retrained"] else "examples unchanged")
    return out


# ----------------------------------------------------------------------------- suggest


def _stored_classifier(s: Session, tag_id: int, name: str, key: str
                       ) -> tuple[TagClassifier, LinearClassifier]:
    row = s.scalar(select(TagClassifier).where(TagClassifier.tag_id == tag_id,
                                               TagClassifier.model_key == key))
    if row is None:
        others = list(s.scalars(select(TagClassifier.model_key)
                                .where(TagClassifier.tag_id == tag_id)))
        why = (f"its classifier was trained for the embedding model {others[0]}, and the "
               f"configured model is {key}" if others else "it has no classifier yet")
        raise Conflict(f"tag {name!r}: {why}; run `daguerre tags learn {name!r}` first",
                       field="tag", value=name)
    try:
        return row, LinearClassifier.from_params(row.params)
    except FewShotError as exc:
        raise Conflict(f"tag {name!r}: its stored classifier is unusable ({exc}); run "
                       f"`daguerre tags learn {name!r}` again", field="tag", value=name) from None


def _records(s: Session, found: list[tuple[int, float]], name: str) -> list[dict[str, Any]]:
    rows = {img.id: (img, lib) for img, lib in s.execute(
        select(Image, Library).outerjoin(Library, Image.library_id == Library.id)
        .where(Image.id.in_([i for i, _ in found])))}
    return [{"id": i, "tag": name, "source": SUGGESTED, "probability": round(p, 6),
             "library": lib.name if lib is not None else None, "path": img.path,
             "rating": img.rating, "review_state": str(img.review_state.value)}
            for i, p in found for img, lib in [rows[i]]]


def suggest(ctx: Context, tag: Any, *, min_probability: Any = DEFAULT_MIN_PROBABILITY,
            limit: Any = DEFAULT_LIMIT) -> dict[str, Any]:
    """Active images that do not carry TAG and were not refused for it, scored by TAG's
    classifier, best first: at most ``limit`` with probability at least ``min_probability``
    (values or their text; None: the default). They become the tag's pending suggestions (replacing the previous
    ones). Returns ``{tag, classifier, min_probability, limit, items}``, each item
    ``{id, tag, source: "suggested", probability, library, path, rating, review_state}``.

    NotFound for an unknown tag; Conflict when it has no classifier for the configured model."""
    name = check_name(tag, field="tag")
    min_probability = check_probability(
        DEFAULT_MIN_PROBABILITY if min_probability is None else min_probability)
    limit = integer(DEFAULT_LIMIT if limit is None else limit, "limit", minimum=1,
                    maximum=MAX_LIMIT)
    store = ctx.store()
    key = store.model_key
    with ctx.catalog.session() as s:
        tag_id = find_tag_id(s, name)
        row, clf = _stored_classifier(s, tag_id, name, key)
        info = classifier_record(row, name)
        refused = np.fromiter(s.scalars(select(TagSuggestion.image_id).where(
            TagSuggestion.tag_id == tag_id, TagSuggestion.state == SuggestionState.REFUSED)),
            dtype=np.int64)
        candidates = _active_held(s, store)
        candidates = candidates[~np.isin(candidates, np.concatenate([refused,
                                                                     _carrying(s, tag_id)]))]
    if store.dim != clf.dim:
        raise Conflict(f"tag {name!r}: its classifier has dimension {clf.dim}, the vectors of "
                       f"{key} {store.dim}; run `daguerre tags learn {name!r}` again",
                       field="tag", value=name)
    found: list[tuple[int, float]] = []
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start:start + BATCH]
        probs = clf.predict_proba(store.get(batch))
        keep = probs >= min_probability
        found.extend(zip(batch[keep].tolist(), probs[keep].tolist(), strict=True))
        # Only the best `limit` can be returned: trim as we go (bounded memory).
        if len(found) > 4 * limit:
            found = sorted(found, key=lambda f: (-f[1], f[0]))[:limit]
    found = sorted(found, key=lambda f: (-f[1], f[0]))[:limit]
    with ctx.catalog.session() as s:
        now = database_now(s)
        shown = {i: p for i, p in found}
        pending = {r.image_id: r for r in s.scalars(select(TagSuggestion).where(
            TagSuggestion.tag_id == tag_id, TagSuggestion.state == SuggestionState.PENDING))}
        for image_id, r in pending.items():
            if image_id not in shown:
                s.delete(r)
        for image_id, p in found:
            r = pending.get(image_id)
            if r is None:
                s.add(TagSuggestion(image_id=image_id, tag_id=tag_id, created_at=now,
                                    state=SuggestionState.PENDING, probability=p, model_key=key))
            else:
                r.probability, r.model_key = p, key
        s.flush()
        items = _records(s, found, name)
    return {"tag": name, "classifier": info, "min_probability": min_probability, "limit": limit,
            "items": items}


# ----------------------------------------------------------------------------- answers


def _retrain(ctx: Context, name: str, jobs: Jobs | None) -> dict[str, Any] | None:
    """Queue a ``learn_tag`` job when TAG has a classifier for the configured model whose
    examples are no longer the tag's, and none is queued for it yet; the job, else None."""
    from daguerre.platform.services.jobs import Jobs

    key = _model_key(ctx)
    with ctx.catalog.session() as s:
        tag_id = find_tag_id(s, name)
        query = select(TagClassifier).where(TagClassifier.tag_id == tag_id)
        if key is not None:
            query = query.where(TagClassifier.model_key == key)
        rows = list(s.scalars(query))
        if not rows:
            return None
        positives, refused = _examples(s, tag_id)
        if len(positives) < MIN_POSITIVES or all(
                r.examples_digest == _digest(positives, refused) for r in rows):
            return None
        queued = s.scalars(select(Job).where(Job.kind == LEARN_KIND,
                                             Job.status == JobStatus.QUEUED))
        if any((j.params or {}).get("tag") == name for j in queued):
            return None
    return (jobs or Jobs(ctx)).create(LEARN_KIND, {"tag": name})


def confirm(ctx: Context, tag: Any, image_ids: Any, *, jobs: Jobs | None = None
            ) -> dict[str, Any]:
    """Make TAG a person's tag on ``image_ids`` and drop their suggestions (pending or
    refused). Returns ``{tag, confirmed, image_ids, retrain}``: how many images gained the tag,
    and the retraining job queued (None when none was needed). ``jobs`` sends it (the
    web app's sender; default the broker)."""
    name = check_name(tag, field="tag")
    ids = check_image_ids(image_ids)
    with ctx.catalog.session() as s:
        tag_id = find_tag_id(s, name)
        require_images(s, ids)
        added = add_user_tag(s, name, ids)
        s.execute(delete(TagSuggestion).where(TagSuggestion.tag_id == tag_id,
                                              TagSuggestion.image_id.in_(ids)))
    return {"tag": name, "confirmed": added, "image_ids": ids,
            "retrain": _retrain(ctx, name, jobs)}


def refuse(ctx: Context, tag: Any, image_ids: Any, *, jobs: Jobs | None = None
           ) -> dict[str, Any]:
    """Record that ``image_ids`` do not show TAG: their suggestions become ``refused`` (the
    next training's negatives) and a model tag TAG on them is removed. Conflict when a person
    tagged one of them TAG. Returns ``{tag, refused, image_ids, retrain}`` (``refused``: how
    many were not refused yet)."""
    name = check_name(tag, field="tag")
    ids = check_image_ids(image_ids)
    with ctx.catalog.session() as s:
        tag_id = find_tag_id(s, name)
        require_images(s, ids)
        tagged = s.scalar(select(ImageTag.image_id).where(
            ImageTag.tag_id == tag_id, ImageTag.source == TagSource.USER,
            ImageTag.image_id.in_(ids)).order_by(ImageTag.image_id).limit(1))
        if tagged is not None:
            raise Conflict(f"image {tagged} is tagged {name!r} by a person: remove the tag "
                           f"instead of refusing it (`daguerre tags remove`)", field="image_ids",
                           value=tagged)
        now = database_now(s)
        rows = {r.image_id: r for r in s.scalars(select(TagSuggestion).where(
            TagSuggestion.tag_id == tag_id, TagSuggestion.image_id.in_(ids)))}
        new = 0
        for image_id in ids:
            r = rows.get(image_id)
            if r is None:
                s.add(TagSuggestion(image_id=image_id, tag_id=tag_id, created_at=now,
                                    state=SuggestionState.REFUSED, decided_at=now))
                new += 1
            elif r.state != SuggestionState.REFUSED:
                r.state, r.decided_at = SuggestionState.REFUSED, now
                new += 1
        s.execute(delete(ImageTag).where(ImageTag.tag_id == tag_id,
                                         ImageTag.source == TagSource.MODEL,
                                         ImageTag.image_id.in_(ids)))
    return {"tag": name, "refused": new, "image_ids": ids, "retrain": _retrain(ctx, name, jobs)}


def tag_names_with_classifiers(ctx: Context) -> list[str]:
    """Names of the tags that have a classifier for some model, by name (the dashboard links
    each to its suggestions)."""
    with ctx.catalog.session() as s:
        return list(s.scalars(select(Tag.name).join(TagClassifier, TagClassifier.tag_id == Tag.id)
                              .distinct().order_by(Tag.name)))
