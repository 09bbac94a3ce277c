"""The search query language: a weighted sum of text and image terms.

Syntax (what ``daguerre search --help`` documents)::

    query  := [sign] term (sign term)*
    sign   := "+" | "-"
    term   := atom [":" weight]
    atom   := "quoted text" | 'quoted text' | bare text | #ID | path/to/image.jpg

* ``"a beach" + "sunset" - "people"`` adds the first two and subtracts the third.
* ``"stripes":0.5`` scales a term (any non-zero number; ``-"x"`` is ``"x":-1``).
* Bare text runs up to the next ``+`` or ``-`` that follows a space, so ``black-and-white``
  stays one term and ``sunset - people`` is two.
* ``#123`` is the indexed image with id 123; a term that names an image file (ends in
  ``.jpg``, ``.png``, ... and has no spaces, or contains a ``/``) is embedded from that file.

The parser is pure: it turns text into :class:`Query` terms, and :func:`combine` sums their
vectors (each L2-normalised, as rclip does) into one unit query vector. Every error is a
:class:`QueryError` naming the bad term and its position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")

TermKind = Literal["text", "image", "id"]

_WEIGHT_RE = re.compile(r"\s*:\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_BARE_WEIGHT_RE = re.compile(r"^(.*?)\s*:\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*$", re.S)
_ID_RE = re.compile(r"^#(\d+)$")


class QueryError(ValueError):
    """A malformed query. ``position`` is the 0-based offset of the bad term in the query."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query, self.position, self.reason = query, position, message
        snippet = query[position:position + 24]
        where = f"at position {position + 1}" + (f" ({snippet!r})" if snippet.strip() else "")
        super().__init__(f"bad query {where}: {message}")


@dataclass(frozen=True)
class Term:
    """One term: ``value`` is the text, the image path, or the image id (as a string)."""

    kind: TermKind
    value: str
    weight: float
    position: int

    @property
    def image_id(self) -> int:
        if self.kind != "id":
            raise ValueError(f"term {self.value!r} is not an image id")
        return int(self.value)


@dataclass(frozen=True)
class Query:
    text: str
    terms: tuple[Term, ...]

    @property
    def texts(self) -> list[str]:
        return [t.value for t in self.terms if t.kind == "text"]


def looks_like_image_path(text: str) -> bool:
    """Whether a term names an image file rather than describing one."""
    lower = text.lower()
    if not lower.endswith(IMAGE_SUFFIXES):
        return False
    return not any(c.isspace() for c in text) or "/" in text or "\\" in text


def _classify(value: str, query: str, position: int) -> tuple[TermKind, str]:
    m = _ID_RE.match(value)
    if m:
        return "id", str(int(m.group(1)))
    if value.startswith("#"):
        raise QueryError(f"{value!r} is not an image id (write #123)", query, position)
    if looks_like_image_path(value):
        return "image", value
    return "text", value


def _parse_weight(raw: str, query: str, position: int) -> float:
    weight = float(raw)
    if not math.isfinite(weight) or weight == 0:
        raise QueryError(f"weight must be a finite non-zero number, got {raw}", query, position)
    return weight


def parse_query(text: str) -> Query:
    """Parse ``text`` into terms. Raises :class:`QueryError` for a malformed query."""
    if not isinstance(text, str):
        raise TypeError(f"query must be a string, got {type(text).__name__}")
    n = len(text)
    i = 0
    terms: list[Term] = []

    def skip_space(j: int) -> int:
        while j < n and text[j].isspace():
            j += 1
        return j

    i = skip_space(i)
    if i == n:
        raise QueryError("the query is empty", text, 0)
    while i < n:
        sign = 1.0
        sign_at = i
        if text[i] in "+-":
            sign = -1.0 if text[i] == "-" else 1.0
            i = skip_space(i + 1)
            if i == n:
                raise QueryError(f"{text[sign_at]!r} is not followed by a term", text, sign_at)
            if text[i] in "+-":
                raise QueryError("two operators in a row", text, i)
        elif terms:
            raise QueryError("expected + or - between terms", text, i)
        start = i
        if text[i] in "\"'":
            quote = text[i]
            close = text.find(quote, i + 1)
            if close < 0:
                raise QueryError(f"unterminated {quote} quote", text, start)
            value = text[i + 1:close]
            i = close + 1
            weight = 1.0
            m = _WEIGHT_RE.match(text, i)
            if m:
                weight = _parse_weight(m.group(1), text, start)
                i = m.end()
            elif i < n and text[i] == ":":
                raise QueryError("a ':' after a term must be followed by a number", text, i)
        else:
            # Bare text ends at a + or - that follows whitespace (or at the end).
            j = i
            while j < n:
                if text[j] in "+-" and text[j - 1].isspace():
                    break
                if text[j] in "\"'" and (j == i or text[j - 1].isspace()):
                    raise QueryError("a quoted term must follow + or -", text, j)
                j += 1
            raw = text[i:j].rstrip()
            i = j
            weight = 1.0
            m = _BARE_WEIGHT_RE.match(raw)
            if m and m.group(1).strip():
                raw = m.group(1)
                weight = _parse_weight(m.group(2), text, start)
            elif raw.endswith(":"):
                raise QueryError("a ':' after a term must be followed by a number", text, start)
            value = raw
        value = value.strip()
        if not value:
            raise QueryError("empty term", text, start)
        kind, value = _classify(value, text, start)
        terms.append(Term(kind, value, sign * weight, start))
        i = skip_space(i)
    return Query(text, tuple(terms))


def combine(weights: Sequence[float], vectors: np.ndarray) -> np.ndarray:
    """The unit query vector ``normalise(sum(w_i * normalise(v_i)))``.

    Raises ValueError when the terms cancel out (e.g. ``"cat" - "cat"``).
    """
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or len(v) != len(weights) or len(v) == 0:
        raise ValueError(f"need one vector per weight, got {len(weights)} weights and vectors of "
                         f"shape {v.shape}")
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    out = (np.asarray(weights, dtype=np.float32)[:, None] * v).sum(axis=0)
    norm = float(np.linalg.norm(out))
    if norm < 1e-6:
        raise ValueError("the query's terms cancel each other out")
    return (out / norm).astype(np.float32)
