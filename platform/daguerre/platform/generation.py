"""Generation and restoration for the job system: inputs from the catalog, outputs into it.

What a job gets is catalog ids, never a path a client chose: :func:`resolve_targets` turns the
CLI's targets (image files, ``#ID``, folders, ``--library``/``--tag``) into ids, and refuses any
path that is not inside a library root (or the data directory's ``outputs/``). Masks are stored
content-addressed under ``<data>/masks`` and named by their SHA-256 (:func:`store_mask`).

Each output is written as a PNG under ``<data>/outputs/job-<id>/`` with the AUTOMATIC1111
``parameters`` chunk and the JSON provenance chunk, then recorded as an ``Image`` (origin
``generated``) with ``Lineage`` rows (parents, job, operation, full parameters), then embedded with
the configured CLIP model so it is searchable like any photo. Output names are derived from the job
id, and rows are looked up by that path before being created, so a job that runs again after a
crash overwrites its own outputs rather than duplicating them. Originals are only ever read.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import random
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from daguerre.platform.catalog.models import (
    Image,
    ImageEmbedding,
    ImageOrigin,
    ImageStatus,
    ImageTag,
    Job,
    Library,
    Lineage,
    Tag,
    utcnow,
)
from daguerre.platform.context import Context
from daguerre.platform.errors import NotFound, UserError
from daguerre.platform.indexing import scan_library

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]

OPERATIONS = ("generate", "translate", "inpaint", "edit", "upscale")
MAX_TARGETS = 100_000
_SHA = frozenset("0123456789abcdef")


class GenerationCanceled(Exception):
    """The job was canceled between diffusion steps (or between images); nothing was written for
    the image in progress."""


class RestoreAborted(UserError):
    """A restore that cannot go on for any image (``--require-diffusion`` without weights)."""


# -- inputs -----------------------------------------------------------------------------------
def _inside(path: Path, root: Path) -> bool:
    return os.path.commonpath([str(path), str(root)]) == str(root)


def _library_roots(ctx: Context) -> list[tuple[int, Path]]:
    with ctx.catalog.session() as s:
        rows = s.execute(select(Library.id, Library.root)).all()
    return [(lib_id, Path(root).resolve()) for lib_id, root in rows]


SkipFn = Callable[[str, str], None]
"""``on_skip(path, reason)`` for a file in a folder target that could not be added to the catalog."""


def resolve_targets(ctx: Context, targets: Iterable[str] = (), *, library: str | int | None = None,
                    tag: str | None = None, on_skip: SkipFn | None = None) -> list[int]:
    """Catalog ids of the images that ``targets`` and the ``library``/``tag`` selection name.

    A target is ``#ID``, an image file or a folder. Files and folders must lie inside a library
    root (symbolic links are resolved first) or under the data directory's ``outputs/``; anything
    else is refused, so a client can never make a worker read an arbitrary file. Library files the
    catalog does not know yet are added to it first (decoded and thumbnailed, embedded at the next
    index: see :func:`~daguerre.platform.indexing.catalog_files`), so restoring a scan never waits
    for CLIP weights or a full index. Raises UserError naming the target that is wrong; in a
    folder, an unreadable file is reported to ``on_skip`` and the others go on.
    """
    ids: list[int] = []
    roots = None
    for target in targets:
        text = str(target).strip()
        if text.startswith("#"):
            ids.append(_image_id(ctx, text))
            continue
        if roots is None:
            roots = _library_roots(ctx)
        ids.extend(_path_target(ctx, text, roots, on_skip or (lambda path, reason: None)))
    if library is not None or tag is not None:
        ids.extend(_selection(ctx, library, tag))
    out = list(dict.fromkeys(ids))
    if not out:
        raise UserError("no images to work on: name image files, folders, #IDs, --library or --tag")
    if len(out) > MAX_TARGETS:
        raise UserError(f"too many images ({len(out)}); at most {MAX_TARGETS} per job")
    return out


def _image_id(ctx: Context, text: str) -> int:
    digits = text[1:]
    if not digits.isdigit():
        raise UserError(f"target {text!r}: expected #ID with a numeric catalog id")
    image_id = int(digits)
    with ctx.catalog.session() as s:
        img = s.get(Image, image_id)
        if img is None or img.status != ImageStatus.ACTIVE:
            raise NotFound(f"target {text}: no active image with id {image_id}")
    return image_id


def _path_target(ctx: Context, text: str, roots: list[tuple[int, Path]], on_skip: SkipFn) -> list[int]:
    raw = Path(text).expanduser()
    if not raw.exists():
        raise UserError(f"target {text!r}: no such file or folder")
    path = raw.resolve()
    where: tuple[int | None, Path] | None = None
    for lib_id, root in roots:
        if _inside(path, root) and (where is None or len(str(root)) > len(str(where[1]))):
            where = (lib_id, root)
    outputs = ctx.settings.outputs_dir.resolve()
    if where is None and _inside(path, outputs):
        where = (None, ctx.settings.home.resolve())
    if where is None:
        raise UserError(
            f"target {text!r} is outside every library: only images in a library (or outputs "
            "under the data directory) can be used; add its folder with `daguerre library add`")
    lib_id, base = where
    rel = path.relative_to(base).as_posix()
    with ctx.catalog.session() as s:
        query = select(Image.path, Image.id, Image.status)
        query = query.where(Image.library_id.is_(None) if lib_id is None
                            else Image.library_id == lib_id)
        if path.is_dir():
            if rel != ".":
                query = query.where(Image.path.startswith(rel.rstrip("/") + "/", autoescape=True))
        else:
            query = query.where(Image.path == rel)
        rows = s.execute(query).all()
    # Retired images (deleted, resolved duplicates) are not brought back by naming their folder.
    known = {p: (i if st == ImageStatus.ACTIVE else None)
             for p, i, st in rows if st != ImageStatus.MISSING}
    if path.is_dir():
        new: list[str] = []
        if lib_id is not None:
            scanned, refused = scan_library(path, boundary=base)
            for file_rel, reason in refused:
                on_skip(str(path / file_rel), reason)
            prefix = "" if rel == "." else rel.rstrip("/") + "/"
            new = [prefix + f.rel for f in scanned if prefix + f.rel not in known]
        found = {p: i for p, i in known.items() if i is not None}
        if len(found) + len(new) > MAX_TARGETS:
            raise UserError(f"target {text!r} holds {len(found) + len(new)} images; at most "
                            f"{MAX_TARGETS} per job")
        if new:
            added = _catalog(ctx, lib_id, new, text)
            for file_rel, reason in added.failures:
                on_skip(str(base / file_rel), reason)
            found.update(added.ids)
        if not found:
            raise UserError(f"target {text!r}: no images in this folder")
        return [found[p] for p in sorted(found)]
    if rel in known:
        if known[rel] is None:
            raise UserError(f"target {text!r} was retired in the catalog (deleted or a resolved "
                            "duplicate)")
        return [known[rel]]
    if lib_id is None:
        raise UserError(f"target {text!r} is not in the catalog")
    from daguerre.indexer.decode import IMAGE_SUFFIXES

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"target {text!r} is not an image file (suffix {path.suffix or 'none'!r})")
    added = _catalog(ctx, lib_id, [rel], text)
    if added.failures:
        raise UserError(f"target {text!r}: {added.failures[0][1]}")
    return list(added.ids.values())


def _catalog(ctx: Context, lib_id: int, rels: list[str], text: str) -> Any:
    from daguerre.platform.indexing import IndexingError, catalog_files

    try:
        return catalog_files(ctx, lib_id, rels)
    except IndexingError as exc:
        raise UserError(f"target {text!r}: {exc}") from None


def _selection(ctx: Context, library: str | int | None, tag: str | None) -> list[int]:
    with ctx.catalog.session() as s:
        query = select(Image.id).where(Image.status == ImageStatus.ACTIVE)
        if library is not None:
            lib = None
            if isinstance(library, int) or str(library).isdigit():
                lib = s.get(Library, int(library))
            if lib is None:
                lib = s.scalar(select(Library).where(Library.name == str(library)))
            if lib is None:
                raise NotFound(f"--library: no library named {library!r}")
            query = query.where(Image.library_id == lib.id)
        if tag is not None:
            tag_id = s.scalar(select(Tag.id).where(Tag.name == tag))
            if tag_id is None:
                raise NotFound(f"--tag: no tag named {tag!r}")
            query = query.where(Image.id.in_(select(ImageTag.image_id)
                                             .where(ImageTag.tag_id == tag_id)))
        found = list(s.scalars(query.order_by(Image.id)))
    if not found:
        raise UserError("the --library/--tag selection matches no active images")
    return found


def source_path(ctx: Context, image_id: int) -> Path:
    """The file of catalog image ``image_id``; refused unless it resolves inside its library
    root (or the data directory for generated and uploaded images)."""
    with ctx.catalog.session() as s:
        img = s.get(Image, image_id)
        if img is None:
            raise NotFound(f"no image with id {image_id}")
        if img.status != ImageStatus.ACTIVE:
            raise UserError(f"image {image_id} is {img.status.value}, not active")
        lib = s.get(Library, img.library_id) if img.library_id is not None else None
        base = Path(lib.root if lib is not None else ctx.settings.home).resolve()
        path = (base / img.path).resolve()
    if not _inside(path, base):
        raise UserError(f"image {image_id}: its file resolves outside {base}; refused")
    return path


def load_source(ctx: Context, image_id: int) -> Any:
    """The full-resolution RGB PIL image of catalog image ``image_id`` (EXIF orientation applied).
    Raises UserError with the reason for a missing, corrupt or oversized file."""
    import warnings

    from PIL import Image as PILImage
    from PIL import ImageOps

    from daguerre.indexer.decode import to_rgb

    path = source_path(ctx, image_id)
    limit = ctx.settings.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            PILImage.MAX_IMAGE_PIXELS = limit
            with PILImage.open(path) as im:
                if limit and im.width * im.height > limit:
                    raise UserError(f"image {image_id} ({path.name}): {im.width}x{im.height} "
                                    f"pixels is over the limit of {limit}")
                im.load()
                # 16-bit scans and transparent PNGs: Pillow's convert("RGB") would make them
                # black (or clip them); to_rgb converts them as the indexer did for search.
                return to_rgb(ImageOps.exif_transpose(im))
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"image {image_id}: file {path} is missing") from None
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise UserError(f"image {image_id} ({path.name}): decompression bomb refused: {exc}"
                        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UserError(f"image {image_id} ({path.name}): corrupt or unreadable image: "
                        f"{exc or type(exc).__name__}") from None


# -- masks ------------------------------------------------------------------------------------
def masks_dir(ctx: Context) -> Path:
    return ctx.settings.home / "masks"


def store_mask(ctx: Context, data: bytes, name: str = "mask") -> str:
    """Keep a user's mask (any image format; white = damaged/repaint) as a grayscale PNG named by
    its SHA-256; returns that hash, which is what job parameters carry."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            limit = ctx.settings.max_image_pixels
            if limit and im.width * im.height > limit:
                raise UserError(f"{name}: {im.width}x{im.height} pixels is over the limit")
            gray = im.convert("L")
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not an image"
        raise UserError(f"{name}: not a readable image ({exc or type(exc).__name__})") from None
    buf = io.BytesIO()
    gray.save(buf, format="PNG")
    png = buf.getvalue()
    key = hashlib.sha256(png).hexdigest()
    path = masks_dir(ctx) / f"{key}.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(png)
        os.replace(tmp, path)
    return key


def check_mask_key(ctx: Context, key: str, name: str = "params.mask") -> None:
    if len(key) != 64 or not set(key) <= _SHA:
        raise UserError(f"{name} must be the SHA-256 of a stored mask (64 hex digits), "
                        f"got {key[:80]!r}")
    if not (masks_dir(ctx) / f"{key}.png").is_file():
        raise NotFound(f"{name}: no stored mask {key}")


def load_mask(ctx: Context, key: str) -> Any:
    from PIL import Image as PILImage

    check_mask_key(ctx, key)
    with PILImage.open(masks_dir(ctx) / f"{key}.png") as im:
        return im.convert("L")


# -- outputs ----------------------------------------------------------------------------------
EMBED_RETRY_SECONDS = 300.0
_EMBED_FAILURE = "_daguerre_embed_failure"


@dataclass
class Embedder:
    """The CLIP encoder and store for outputs, or the reason they are unavailable."""

    encoder: Any = None
    store: Any = None
    note: str | None = None

    @classmethod
    def load(cls, ctx: Context) -> Embedder:
        """The encoder, or the reason it is unavailable. A failure is remembered on the context
        for :data:`EMBED_RETRY_SECONDS`, so a worker without CLIP weights does not retry the
        load (or a download) for every output."""
        import time

        failed = getattr(ctx, _EMBED_FAILURE, None)
        if failed is not None and time.monotonic() - failed[0] < EMBED_RETRY_SECONDS:
            return cls(note=failed[1])
        try:
            from daguerre.indexer.models import ModelError
        except ImportError as exc:  # pragma: no cover - the indexer is part of the package
            return cls(note=f"outputs were not embedded: {exc}")
        try:
            encoder = ctx.encoder()
            return cls(encoder, ctx.store(encoder))
        except (ModelError, ImportError, OSError) as exc:
            note = (f"outputs were not embedded (not searchable until an `embed` job runs with "
                    f"CLIP weights): {exc}")
            setattr(ctx, _EMBED_FAILURE, (time.monotonic(), note))
            return cls(note=note)


@dataclass
class OutputWriter:
    """Writes one job's outputs: PNG file, Image row, Lineage rows, vector."""

    ctx: Context
    job_id: int
    operation: str
    embedder: Embedder = field(default_factory=Embedder)

    def relpath(self, key: str) -> str:
        return f"outputs/job-{self.job_id}/{key}.png"

    def write(self, image: Any, key: str, parents: list[int], params: dict[str, Any]) -> dict:
        """Save ``image`` (with the metadata the generator attached) and record it."""
        from daguerre.generator import metadata
        from daguerre.indexer.decode import decode_file
        from daguerre.platform.indexing import _write_thumbnail, decode_options

        settings = self.ctx.settings
        rel = self.relpath(key)
        path = settings.home / rel
        metadata.save_png(image, path)
        enc = self.embedder.encoder
        # Outputs are PNGs: no draft; the thumbnail and hash come from the same decode.
        options = decode_options(settings, enc, draft=False)
        d = decode_file(path, options)
        thumb = _write_thumbnail(settings.home, d.sha256, d.thumbnail)
        raw = image.info.get(metadata.PROVENANCE_KEY)
        provenance = raw if isinstance(raw, dict) else {}
        lineage_params = {"job": params, "provenance": provenance}
        with self.ctx.catalog.session() as s:
            img = s.scalar(select(Image).where(Image.library_id.is_(None), Image.path == rel))
            if img is None:
                img = Image(library_id=None, path=rel, origin=ImageOrigin.GENERATED)
                s.add(img)
            img.sha256, img.size, img.mtime = d.sha256, d.size, d.mtime
            img.width, img.height, img.format = d.width, d.height, d.format
            img.phash, img.thumbnail, img.status = d.phash, thumb, ImageStatus.ACTIVE
            img.captured_at = None
            s.flush()
            image_id = img.id
            # A re-run after a crash replaces the lineage it wrote before, never adds to it.
            s.execute(delete(Lineage).where(Lineage.image_id == image_id,
                                            Lineage.job_id == self.job_id))
            for parent in parents or [None]:
                s.add(Lineage(image_id=image_id, parent_id=parent, job_id=self.job_id,
                              operation=self.operation, params=lineage_params))
        embedded = False
        if enc is not None:
            import numpy as np

            vector = enc.encode_pixels([d.pixels])
            with self.embedder.store.edit() as st:  # the vector first, then the row saying so
                st.upsert(np.asarray([image_id], np.int64), vector)
            with self.ctx.catalog.session() as s:
                row = s.get(ImageEmbedding, (image_id, enc.key))
                if row is None:
                    s.add(ImageEmbedding(image_id=image_id, model_key=enc.key, sha256=d.sha256))
                else:
                    row.sha256, row.created_at = d.sha256, utcnow()
            embedded = True
        return {"image_id": image_id, "path": str(path), "parents": list(parents),
                "sha256": d.sha256, "width": d.width, "height": d.height,
                "seed": (provenance.get("parameters") or {}).get("seed"), "embedded": embedded}


# -- running ----------------------------------------------------------------------------------
@contextlib.contextmanager
def generator_errors() -> Iterator[None]:
    """Generator exceptions as the job system understands them: Canceled stops the job as
    canceled; every other GeneratorError is a user-facing failure whose message names the
    argument or model."""
    from daguerre.generator.errors import Canceled, GeneratorError

    try:
        yield
    except Canceled as exc:
        raise GenerationCanceled(str(exc)) from None
    except GeneratorError as exc:
        raise UserError(str(exc)) from None


def operation_device(ctx: Context) -> str | None:
    device = ctx.settings.device
    return None if device == "auto" else device


def random_seed() -> int:
    from daguerre.generator.request import MAX_SEED

    return random.randint(0, MAX_SEED)


def build_request(task: str, params: dict[str, Any], image: Any = None, mask: Any = None) -> Any:
    """The GenerationRequest for a job's parameters (the names are the request's own)."""
    from daguerre.generator import GenerationRequest

    names = {f.name for f in fields(GenerationRequest)} - {"image", "mask", "extra"}
    kwargs = {k: v for k, v in params.items() if k in names and v is not None}
    if task == "edit" and "instruction" in params:
        kwargs["prompt"] = params["instruction"]
    return GenerationRequest(image=image, mask=mask, **kwargs)


def _refuse_unreachable_download(task: str, cache: Any = None) -> None:
    """Fail at once, saying why, when ``task``'s model would have to be downloaded and the hub
    cannot be reached (rather than after huggingface_hub's retries, about a minute)."""
    from daguerre.generator.errors import ModelUnavailable
    from daguerre.generator.models import (
        default_cache,
        is_local_model,
        read_model_index,
        resolve_model,
    )
    from daguerre.platform.hub import unreachable

    model = resolve_model(task)
    held = (cache if cache is not None else default_cache()).loaded()
    if is_local_model(model) or model in held:
        return  # a directory's loading says what is wrong with it; a held model needs nothing
    try:
        read_model_index(model, task, offline=True)
        return  # cached
    except ModelUnavailable:
        blocked = unreachable()
    if blocked:
        raise ModelUnavailable(model, task, f"it is not in the local Hugging Face cache, and "
                                            f"{blocked}")


def run_operation(ctx: Context, job_id: int, task: str, params: dict[str, Any], *,
                  progress: ProgressFn, should_cancel: CancelFn, cache: Any = None) -> dict:
    """Run one diffusion operation for job ``job_id`` and record its outputs."""
    from daguerre.generator import get_operation

    if task not in OPERATIONS:
        raise ValueError(f"unknown operation {task!r}")
    parent = params.get("image_id")
    image = load_source(ctx, parent) if parent is not None else None
    mask = _mask_for(ctx, params, image)
    request = build_request(task, params, image, mask)
    writer = OutputWriter(ctx, job_id, task, Embedder())
    keys = [f"{task}-{i}" for i in range(request.batch_size)]
    progress(0, request.steps, "loading the model")
    with generator_errors():
        _refuse_unreachable_download(task, cache)
        op = get_operation(task, device=operation_device(ctx), cache=cache)
        images = op.run(request, on_step=lambda step, total: progress(
            step, total, f"step {step}/{total}"), should_cancel=should_cancel)
    # Nothing is written before every image of the batch exists: a cancel leaves no output.
    writer.embedder = Embedder.load(ctx)
    progress(request.steps, request.steps, "saving")
    outputs = [writer.write(im, key, [parent] if parent is not None else [], params)
               for im, key in zip(images, keys, strict=True)]
    result: dict[str, Any] = {"operation": task, "model": op.model, "outputs": outputs,
                              "image_ids": [o["image_id"] for o in outputs]}
    if writer.embedder.note:
        result["notes"] = [writer.embedder.note]
    return result


# The recipe options a job may set: (type, minimum, maximum, choices). The API's schema is built
# from this table, so what the document allows is exactly what the check accepts.
RECIPE_OPTIONS: dict[str, tuple[type, float | None, float | None, tuple | None]] = {
    "detect": (bool, None, None, None),
    "inpaint": (bool, None, None, None),
    "levels": (bool, None, None, None),
    "denoise": (bool, None, None, None),
    "inpaint_method": (str, None, None, ("telea", "ns")),
    "inpaint_radius": (int, 1, 50, None),
    "mask_grow": (int, 0, 32, None),
    "inpaint_prompt": (str, None, 1000, None),
    "inpaint_negative_prompt": (str, None, 1000, None),
    "inpaint_steps": (int, 1, 200, None),
    "inpaint_guidance": (float, 0.0, 50.0, None),
    "max_crops": (int, 0, 1000, None),
    "white_balance": (str, None, None, ("levels", "gray_world", "none")),
    "levels_max_cast": (float, 0.0, 1.0, None),
    "denoise_method": (str, None, None, ("nlm", "bilateral")),
    "denoise_strength": (float, 0.0, 20.0, None),
    "upscale": (int, None, None, (1, 2, 4)),
    "upscale_prompt": (str, None, 1000, None),
    "upscale_steps": (int, 1, 200, None),
    "upscale_guidance": (float, 0.0, 50.0, None),
    "upscale_noise_level": (int, 0, 350, None),
    "seed": (int, 0, 2**32 - 1, None),
}


def make_recipe(options: dict[str, Any] | None) -> Any:
    """A checked Recipe from a job's ``recipe`` parameter; UserError names the bad field."""
    from daguerre.generator.errors import InvalidArgument
    from daguerre.generator.restoration.recipe import Recipe

    options = dict(options or {})
    unknown = sorted(set(options) - set(RECIPE_OPTIONS))
    if unknown:
        raise UserError(f"params.recipe.{unknown[0]}: unknown recipe option "
                        f"(known: {', '.join(RECIPE_OPTIONS)})")
    for key, value in options.items():
        want, lo, hi, choices = RECIPE_OPTIONS[key]
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            options[key] = value = float(value)
        if isinstance(value, bool) != (want is bool) or not isinstance(value, want):
            raise UserError(f"params.recipe.{key} must be {want.__name__}, got {value!r}")
        if choices is not None and value not in choices:
            raise UserError(f"params.recipe.{key} must be one of "
                            f"{', '.join(map(str, choices))}, got {value!r}")
        size = len(value) if isinstance(value, str) else value
        if (lo is not None and size < lo) or (hi is not None and size > hi):
            raise UserError(f"params.recipe.{key} must be between {lo} and {hi}, got {value!r}")
    recipe = Recipe(**options)
    try:
        recipe.check()
    except InvalidArgument as exc:
        raise UserError(f"params.recipe.{exc}") from None
    return recipe


MAX_BOXES = 1000
MAX_COORD = 100_000


def check_boxes(boxes: Any, name: str = "params.mask_boxes") -> None:
    """Each box is ``[x0, y0, x1, y1]`` in the input image's pixels (white = repaint)."""
    for i, box in enumerate(boxes):
        if (not isinstance(box, list) or len(box) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in box)):
            raise UserError(f"{name}[{i}] must be [x0, y0, x1, y1] (4 integers), got {box!r}")
        if not all(0 <= v <= MAX_COORD for v in box):
            raise UserError(f"{name}[{i}] coordinates must be between 0 and {MAX_COORD}")


def boxes_mask(size: tuple[int, int], boxes: list[list[int]]) -> Any:
    """A mask of ``size`` that is white inside the boxes (clipped to the image)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    mask = PILImage.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for x0, y0, x1, y1 in boxes:
        if x1 > x0 and y1 > y0:
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=255)
    return mask


def _mask_for(ctx: Context, params: dict[str, Any], image: Any) -> Any:
    if params.get("mask"):
        return load_mask(ctx, params["mask"])
    if params.get("mask_boxes") and image is not None:
        return boxes_mask(image.size, params["mask_boxes"])
    return None


def _restore_pipelines(ctx: Context, recipe: Any, require: bool, cache: Any
                       ) -> tuple[dict[str, Any], list[str]]:
    """Diffusion operations for the recipe's inpaint/upscale steps whose weights are present
    locally. Restore never downloads multi-gigabyte weights in the middle of a batch: a model
    that is neither a local directory nor in the Hugging Face cache means the weights-free
    method, said once in the job's notes (or DiffusionRequired with ``require``)."""
    from daguerre.generator import get_operation
    from daguerre.generator.errors import DiffusionRequired, ModelUnavailable
    from daguerre.generator.models import read_model_index, resolve_model

    pipelines: dict[str, Any] = {}
    notes: list[str] = []
    for step, wanted, fallback in (("inpaint", recipe.inpaint, f"OpenCV {recipe.inpaint_method}"),
                                   ("upscale", recipe.upscale > 1, "Lanczos")):
        if not wanted:
            continue
        model = resolve_model(step)
        try:
            read_model_index(model, step, offline=True)
        except (ModelUnavailable, ImportError) as exc:
            if require:
                raise RestoreAborted(str(DiffusionRequired(
                    f"--require-diffusion: the {step} step's diffusion model {model!r} is not "
                    f"available ({exc}). Set DAGUERRE_{step.upper()}_MODEL to a local directory "
                    "or run `daguerre models pull --task " + step + "`"))) from None
            notes.append(f"{step}: diffusion model {model!r} is not available locally; used "
                         f"the weights-free method ({fallback})")
            continue
        pipelines[step] = get_operation(step, model, device=operation_device(ctx), cache=cache,
                                        offline=True)
    return pipelines, notes


def run_restore(ctx: Context, job_id: int, params: dict[str, Any], *, progress: ProgressFn,
                should_cancel: CancelFn, cache: Any = None) -> dict:
    """Restore each image of ``params["image_ids"]``; one bad image fails alone."""
    from daguerre.generator import restore
    from daguerre.generator.errors import Canceled, DiffusionRequired, GeneratorError

    recipe = make_recipe(params.get("recipe"))
    require = bool(params.get("require_diffusion"))
    ids = list(params["image_ids"])
    mask = load_mask(ctx, params["mask"]) if params.get("mask") else None
    pipelines, notes = _restore_pipelines(ctx, recipe, require, cache)
    writer = OutputWriter(ctx, job_id, "restore", Embedder.load(ctx))
    if writer.embedder.note:
        notes.append(writer.embedder.note)
    outputs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    total = len(ids)
    progress(0, total, f"{total} images to restore")
    # What this job (re-delivered after its worker died) or a job it retries (stopped by its
    # time limit, canceled, killed) already restored is taken as it is, not made again.
    done_before = _restored_before(ctx, _retry_chain(ctx, job_id))
    for done, image_id in enumerate(ids):
        if should_cancel():
            raise GenerationCanceled(f"restore canceled after {done} of {total} images")
        key = f"restore-{image_id}"
        if image_id in done_before:
            out_id, out_path, by_job = done_before[image_id]
            outputs.append({"image_id": out_id, "parents": [image_id],
                            "path": str(ctx.settings.home / out_path), "resumed": True,
                            **({"from_job": by_job} if by_job != job_id else {})})
            progress(done + 1, total, f"#{image_id}: already restored")
            continue
        try:
            source = load_source(ctx, image_id)
            try:
                result = restore(
                    source, recipe=recipe, pipelines=pipelines, require_diffusion=require,
                    mask=mask if mask is not None else _mask_for(ctx, params, source),
                    should_cancel=should_cancel,
                    on_step=lambda _d, _n, step, i=image_id, k=done: progress(
                        k, total, f"#{i}: {step}"))
            except Canceled as exc:
                raise GenerationCanceled(str(exc)) from None
            except DiffusionRequired as exc:  # every image would need it: the whole job fails
                raise RestoreAborted(str(exc)) from None
            for note in result.report.notes:
                step = note.split(":", 1)[0]
                if step in pipelines:  # weights failed to load: stop trying for this batch
                    pipelines.pop(step)
                    notes.append(note)
            outputs.append(writer.write(result.image, key, [image_id], params))
        except (GenerationCanceled, RestoreAborted):
            raise
        except UserError as exc:
            failed.append({"image_id": image_id, "reason": str(exc)})
        except GeneratorError as exc:
            failed.append({"image_id": image_id, "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
            log.error("restore of image %s failed:\n%s", image_id,
                      "".join(traceback.format_exception(exc)))
            failed.append({"image_id": image_id, "reason": f"{type(exc).__name__}: {exc}"})
        progress(done + 1, total, f"#{image_id}: done")
    if failed and not outputs:
        first = failed[0]
        raise UserError(f"no image could be restored; image {first['image_id']}: "
                        f"{first['reason']}" + (f" (and {len(failed) - 1} more)"
                                                if len(failed) > 1 else ""))
    result_dict: dict[str, Any] = {
        "operation": "restore", "recipe": recipe.to_dict(), "outputs": outputs,
        "image_ids": [o["image_id"] for o in outputs], "failed": failed,
        "diffusion_steps": sorted(pipelines),
    }
    if notes:
        result_dict["notes"] = list(dict.fromkeys(notes))
    return result_dict


def _retry_chain(ctx: Context, job_id: int) -> list[int]:
    """``job_id`` and every job it retries, transitively (a retry has the same parameters)."""
    chain = [job_id]
    with ctx.catalog.session() as s:
        while True:
            earlier = s.scalar(select(Job.retried_from).where(Job.id == chain[-1]))
            if earlier is None or earlier in chain:
                return chain
            chain.append(earlier)


def _restored_before(ctx: Context, jobs: list[int]) -> dict[int, tuple[int, str, int]]:
    """{source id: (output id, output path, job)} of the live restore outputs of ``jobs``. A
    lineage row is written after its PNG and image row, so each one names a finished output."""
    with ctx.catalog.session() as s:
        rows = s.execute(
            select(Lineage.parent_id, Image.id, Image.path, Lineage.job_id)
            .join(Image, Image.id == Lineage.image_id)
            .where(Lineage.job_id.in_(jobs), Lineage.operation == "restore",
                   Lineage.parent_id.is_not(None), Image.status == ImageStatus.ACTIVE)
            .order_by(Lineage.id)).all()
    return {parent: (out, path, job) for parent, out, path, job in rows}


def new_seed_if_missing(params: dict[str, Any]) -> None:
    """Fix a random seed at job creation, so a re-run after a crash or a retry makes the same
    image (the seed is in the job's parameters and every output's provenance)."""
    if params.get("seed") is None:
        params["seed"] = random_seed()
