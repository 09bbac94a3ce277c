"""Export: a selection of images, or a board (a collection), as one zip that streams.

What the zip holds, for each image, under a name unique in the archive (``<id>-<basename>``):

* the file as stored, byte for byte: a library's original, or a generated PNG (which carries
  its generation metadata in its own text chunks). JPEG, PNG and the other compressed formats
  are *stored* (deflating them again gains nothing and costs CPU); the rest are deflated;
* an XMP sidecar ``<id>-<basename>.xmp`` (the ``file.ext.xmp`` convention darktable and
  digiKam read) with ``xmp:Rating`` and the image's tags as ``dc:subject`` keywords. A
  rejected image is rated ``-1``, the XMP convention for "rejected" those programs share; the
  review state and the catalog id are also kept in Daguerre's own namespace;

and once, ``metadata.json``: per image its id, file names in the zip, path, library, size,
dimensions, format, capture time, sha256, tags with source and score, rating, review state,
origin, lineage (parents with operation, job id and the operation's parameters) and the
generating job (kind and parameters).

Everything that can be refused is checked before the first byte (ids, a board, that each file
is there and inside its library): an error is a clean HTTP error or CLI message, never a
broken zip. Then the archive is produced as it is read: ``zipfile`` writes into a sink that is
drained after every block of at most ``CHUNK`` bytes, so memory stays flat whatever the size
of the export (the zip is written without seeking, with data descriptors, as streaming needs).
A file that vanishes or changes while the zip streams ends the stream with an error.
"""

from __future__ import annotations

import json
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from daguerre.platform.catalog.models import (
    CollectionImage,
    Image,
    ImageStatus,
    ImageTag,
    Job,
    Lineage,
    ReviewState,
    iso,
)
from daguerre.platform.catalog.queries import image_base
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.files import resolve_inside
from daguerre.platform.services.collections import find_collection
from daguerre.platform.services.images import image_record
from daguerre.platform.services.tags import MAX_IMAGE_IDS, check_image_ids, require_images

# One export holds at most this many images (the selection's limit; a bigger board is
# exported in parts by selection).
MAX_EXPORT_IMAGES = MAX_IMAGE_IDS
# The most bytes of a file read (and so buffered) at a time.
CHUNK = 1 << 20
# Formats already compressed: stored as they are.
STORED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF"})
XMP_NS = "urn:daguerre:xmp:1.0/"
# In-query id lists are cut in slices this long (SQLite's limit on bound values).
_SLICE = 900


@dataclass
class ZipExport:
    """A streaming zip: iterate it for its bytes. ``filename`` is the name a download
    suggests, ``count`` the number of images in it."""

    filename: str
    count: int
    chunks: Iterator[bytes] = field(repr=False)

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def __next__(self) -> bytes:
        return next(self.chunks)


@dataclass(frozen=True)
class _Entry:
    """One image to write: its file and the names it takes in the zip."""

    path: Path
    arcname: str
    fmt: str
    xmp: bytes


# ----------------------------------------------------------------------------- checks


def export_zip(ctx: Context, ids: Any = None, board: Any = None) -> ZipExport:
    """The zip of the active images ``ids``, or of board ``board`` (a collection's id or
    name; its active images). Exactly one of them; every check is made here, before the
    returned stream produces a byte."""
    if (ids is None) == (board is None):
        raise BadInput("give either ids (a selection) or board, not both nor neither",
                       field="ids" if ids is not None else "body")
    today = datetime.now(UTC).date().isoformat()
    with ctx.catalog.session() as s:
        if board is not None:
            collection = find_collection(s, board, field="board")
            image_ids = list(s.scalars(
                select(CollectionImage.image_id).join(Image, Image.id == CollectionImage.image_id)
                .where(CollectionImage.collection_id == collection.id,
                       Image.status == ImageStatus.ACTIVE).order_by(CollectionImage.image_id)))
            if len(image_ids) > MAX_EXPORT_IMAGES:
                raise BadInput(f"board {collection.name!r} has {len(image_ids)} images; an export "
                               f"holds at most {MAX_EXPORT_IMAGES}: export a selection of it",
                               field="board", value=board)
            filename = f"{_safe(collection.name) or 'board'}.zip"
            about: dict[str, Any] | None = {"id": collection.id, "name": collection.name}
        else:
            image_ids = check_image_ids(ids, field="ids")
            require_images(s, image_ids, field="ids", active=True)
            filename = f"daguerre-export-{today}.zip"
            about = None
        records, entries = _plan(ctx, s, image_ids)
    metadata = {"exported_at": datetime.now(UTC).isoformat(), "board": about,
                "count": len(records), "images": records}
    body = json.dumps(metadata, indent=2, ensure_ascii=False).encode()
    return ZipExport(filename, len(records), _stream(body, entries))


def _plan(ctx: Context, s: Session, image_ids: list[int]
          ) -> tuple[list[dict[str, Any]], list[_Entry]]:
    """metadata.json's records and the files to write, in ``image_ids`` order; NotFound for an
    image whose file is not there (or leads out of its library)."""
    images: dict[int, Image] = {}
    lineage: dict[int, list[Lineage]] = {i: [] for i in image_ids}
    for part in _slices(image_ids):
        for img in s.scalars(select(Image).where(Image.id.in_(part)).options(
                selectinload(Image.tags).selectinload(ImageTag.tag),
                selectinload(Image.library))):
            images[img.id] = img
        for row in s.scalars(select(Lineage).where(Lineage.image_id.in_(part))
                             .order_by(Lineage.id)):
            lineage[row.image_id].append(row)
    job_ids = sorted({r.job_id for rows in lineage.values() for r in rows if r.job_id})
    jobs: dict[int, Job] = {}
    for part in _slices(job_ids):
        jobs.update((j.id, j) for j in s.scalars(select(Job).where(Job.id.in_(part))))

    records, entries = [], []
    for image_id in image_ids:
        img = images[image_id]
        path = resolve_inside(image_base(ctx.settings.home, img.library), img.path)
        if path is None:
            raise NotFound(f"the file of image {image_id} is not available inside its "
                           f"{'library' if img.library is not None else 'data directory'}",
                           field="ids", value=image_id)
        arcname = f"{img.id}-{_safe(Path(img.path).name) or 'image'}"
        record = image_record(img, img.library, img.tags)
        rows = lineage[image_id]
        made_by = jobs.get(rows[0].job_id) if rows and rows[0].job_id else None
        records.append({
            "id": img.id, "file": arcname, "sidecar": arcname + ".xmp",
            **{k: record[k] for k in ("library", "path", "size", "width", "height", "format",
                                     "captured_at", "sha256", "origin", "rating",
                                     "review_state", "tags")},
            "lineage": [{"parent_id": r.parent_id, "operation": r.operation, "job_id": r.job_id,
                         "params": r.params or {}} for r in rows],
            "job": None if made_by is None else {
                "id": made_by.id, "kind": made_by.kind, "params": made_by.params or {},
                "finished_at": iso(made_by.finished_at)},
        })
        entries.append(_Entry(path, arcname, (img.format or "").upper(),
                              xmp_sidecar(img.id, img.rating, ReviewState(img.review_state),
                                          [t["name"] for t in record["tags"]])))
    return records, entries


def _slices(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _SLICE):
        yield ids[start:start + _SLICE]


def _safe(name: str) -> str:
    """``name`` fit for a file name in a zip or a download: no folder separator, no control
    character (a library's file may be called anything its file system allows)."""
    return "".join("_" if c in "/\\" or unicodedata.category(c) in ("Cc", "Cs") else c
                   for c in name).strip()


# ----------------------------------------------------------------------------- XMP


def _xml(text: str) -> str:
    """``text`` escaped for XML content and attributes, without the code points XML 1.0 cannot
    hold at all (lone surrogates, U+FFFE/U+FFFF; check_name already refuses C0 controls)."""
    kept = "".join(c for c in text if c in "\t\n\r" or (
        "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"))
    return (kept.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def xmp_sidecar(image_id: int, rating: int | None, review: ReviewState,
                keywords: list[str]) -> bytes:
    """An XMP packet with ``xmp:Rating`` (-1 when rejected; none when unrated and not
    rejected) and ``keywords`` as the ``dc:subject`` bag."""
    value = -1 if review == ReviewState.REJECTED else rating
    rating_attr = "" if value is None else f'\n    xmp:Rating="{value}"'
    items = "".join(f"\n      <rdf:li>{_xml(k)}</rdf:li>" for k in dict.fromkeys(keywords))
    subject = (f"\n   <dc:subject>\n    <rdf:Bag>{items}\n    </rdf:Bag>\n   </dc:subject>"
               if items else "")
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        f'    xmlns:daguerre="{XMP_NS}"{rating_attr}\n'
        f'    daguerre:ImageId="{image_id}"\n'
        f'    daguerre:ReviewState="{_xml(review.value)}">{subject}\n'
        '  </rdf:Description>\n'
        ' </rdf:RDF>\n'
        '</x:xmpmeta>\n'
        '<?xpacket end="w"?>\n')
    return packet.encode("utf-8")


# ----------------------------------------------------------------------------- the stream


class _Sink:
    """A write-only, unseekable file for ``zipfile``: what it is given waits here until the
    stream takes it (:meth:`drain`)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the stream drains the parts."""

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _member(name: str, date_time: tuple[int, ...]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time)  # type: ignore[arg-type]
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # rw-r--r-- once unpacked
    return info


def _stream(metadata: bytes, entries: list[_Entry]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True,  # type: ignore[arg-type]
                         strict_timestamps=False) as zf:
        zf.writestr(_member("metadata.json", datetime.now(UTC).timetuple()[:6]), metadata)
        yield sink.drain()
        for entry in entries:
            # from_file records the size, so zipfile knows before writing whether the entry
            # needs ZIP64 (it cannot go back and fix a header in a stream).
            info = zipfile.ZipInfo.from_file(entry.path, entry.arcname, strict_timestamps=False)
            info.compress_type = (zipfile.ZIP_STORED if entry.fmt in STORED_FORMATS
                                  else zipfile.ZIP_DEFLATED)
            with open(entry.path, "rb") as src, zf.open(info, "w") as dest:
                while block := src.read(CHUNK):
                    dest.write(block)
                    if out := sink.drain():
                        yield out
            zf.writestr(_member(entry.arcname + ".xmp", info.date_time), entry.xmp)
            if out := sink.drain():
                yield out
    if out := sink.drain():  # the central directory, written on close
        yield out
