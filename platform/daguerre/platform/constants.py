"""Limits and enumerations with one source each, read by the services, the CLI's choices and the
OpenAPI document alike (none of them writes a list or a limit again).

Enumerations come from the catalog's enums; what the generator defines (seed range, sampler
names, default strengths) is read from the generator, which owns it. Importing this module is
cheap: no torch, no Flask.
"""

from __future__ import annotations

from daguerre.generator.request import MAX_SEED as MAX_SEED
from daguerre.generator.schedulers import SCHEDULERS as _SCHEDULERS
from daguerre.platform.catalog.models import (
    ImageOrigin,
    ImageStatus,
    JobStatus,
    ReviewState,
    TagSource,
)

# Catalog ids are 64-bit: a larger one cannot exist (and PostgreSQL refuses it in a query).
MAX_ID = 2**63 - 1

JOB_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
IMAGE_STATUSES: tuple[str, ...] = tuple(s.value for s in ImageStatus)
IMAGE_ORIGINS: tuple[str, ...] = tuple(o.value for o in ImageOrigin)
REVIEW_STATES: tuple[str, ...] = tuple(s.value for s in ReviewState)
TAG_SOURCES: tuple[str, ...] = tuple(s.value for s in TagSource)
SCHEDULERS: tuple[str, ...] = tuple(_SCHEDULERS)

# Names people give things (libraries, tags, collections).
MAX_NAME_CHARS = 200
# A name is trimmed and its whitespace runs collapsed (Python's str.split), must keep something,
# and may hold no other control character. The same rule as one regular expression, for the
# OpenAPI document: Python's whitespace is spelt out, because a schema's ``\s`` (ECMA-262) is
# another set (it lacks U+0085 and U+001C-U+001F, and has U+FEFF).
NAME_WHITESPACE = ("\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680"
                   "\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000")
NAME_CONTROLS = "\\u0000-\\u0008\\u000e-\\u001b\\u007f-\\u0084\\u0086-\\u009f"
NAME_PATTERN = f"^[^{NAME_CONTROLS}]*[^{NAME_WHITESPACE}{NAME_CONTROLS}][^{NAME_CONTROLS}]*$"
MAX_PATH_CHARS = 4096

# Paging of listings (API and CLI).
MAX_PAGE = 500
MAX_OFFSET = 1_000_000
