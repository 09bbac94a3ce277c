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
MAX_PATH_CHARS = 4096

# Paging of listings (API and CLI).
MAX_PAGE = 500
MAX_OFFSET = 1_000_000
