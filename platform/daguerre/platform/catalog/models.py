"""The catalog's tables (SQLAlchemy 2.x declarative models).

No torch, no Flask here: the catalog is imported by the CLI, the web process and the workers alike.
Every change to these classes needs an Alembic revision in ``migrations/versions`` (a test runs
``alembic check`` to catch drift).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """A stored time as an ISO 8601 string with its offset (``None`` stays ``None``)."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; every stored time is UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class ImageStatus(enum.StrEnum):
    ACTIVE = "active"
    MISSING = "missing"  # the file vanished from its library; its vector left the store
    DELETED = "deleted"
    DUPLICATE = "duplicate"  # resolved into a keeper by `daguerre duplicates resolve`


class ImageOrigin(enum.StrEnum):
    LIBRARY = "library"
    UPLOAD = "upload"
    GENERATED = "generated"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}


class TagSource(enum.StrEnum):
    USER = "user"
    MODEL = "model"


class ReviewState(enum.StrEnum):
    UNREVIEWED = "unreviewed"
    APPROVED = "approved"
    REJECTED = "rejected"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (native_enum=False) so adding a member needs no ALTER TYPE.
    return Enum(cls, name=name, native_enum=False, length=16,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Library(Base):
    """A read-only root folder of photos. Originals under it are never modified."""

    __tablename__ = "libraries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    root: Mapped[str] = mapped_column(String(4096), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_indexed_at: Mapped[datetime | None]
    # Who is indexing it now, under a lease its heartbeat renews (see indexing_lease.py).
    index_owner: Mapped[str | None] = mapped_column(String(255))
    index_lease_until: Mapped[datetime | None]

    images: Mapped[list[Image]] = relationship(back_populates="library")


class Image(Base):
    """One image file: in a library, uploaded, or generated. ``path`` is relative to the library
    root for library images and relative to the data directory otherwise."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("library_id", "path", name="uq_images_library_path"),
        Index("ix_images_sha256", "sha256"),
        Index("ix_images_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(4096))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    captured_at: Mapped[datetime | None]
    phash: Mapped[str | None] = mapped_column(String(16))  # 64-bit DCT hash, hex
    thumbnail: Mapped[str | None] = mapped_column(String(4096))  # relative to the data directory
    status: Mapped[ImageStatus] = mapped_column(_enum(ImageStatus, "image_status"),
                                                default=ImageStatus.ACTIVE)
    origin: Mapped[ImageOrigin] = mapped_column(_enum(ImageOrigin, "image_origin"),
                                                default=ImageOrigin.LIBRARY)
    rating: Mapped[int | None] = mapped_column(Integer)  # 0..5
    review_state: Mapped[ReviewState] = mapped_column(_enum(ReviewState, "review_state"),
                                                      default=ReviewState.UNREVIEWED)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    # A generated image's prompt adherence: the cosine between its prompt and the image under
    # the indexing model (the "CLIP score"). NULL for images no prompt made.
    adherence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    library: Mapped[Library | None] = relationship(back_populates="images")
    embeddings: Mapped[list[ImageEmbedding]] = relationship(
        back_populates="image", cascade="all, delete-orphan")
    tags: Mapped[list[ImageTag]] = relationship(back_populates="image",
                                                cascade="all, delete-orphan")


def image_when() -> Any:
    """When an image was taken, as the timeline orders it: its capture time (EXIF), or, for an
    image that has none, when the catalog first recorded it. The timeline's index is built on
    this very expression, so a query must use it (not an equivalent) to be served by the index."""
    return func.coalesce(Image.captured_at, Image.created_at)


# The timeline (services/timeline.py): active images, newest "when" first, keyset on (when, id).
# An expression index, so no column has to be kept in step by every writer of images.
Index("ix_images_timeline", Image.status, image_when(), Image.id)


class ImageEmbedding(Base):
    """Which model embedded which image, from which content (the vector lives in that model's
    store under the image id)."""

    __tablename__ = "image_embeddings"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          primary_key=True)
    model_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What made the vector: runtime (torch | onnx) and precision (fp32 | int8 | fp16 | bf16).
    # Runtimes share one store only after passing the agreement check (docs/clip-runtime.md);
    # NULL: recorded before runtimes were (torch, by migration 0005's backfill of runtime).
    runtime: Mapped[str | None] = mapped_column(String(20), nullable=True)
    precision: Mapped[str | None] = mapped_column(String(20), nullable=True)

    image: Mapped[Image] = relationship(back_populates="embeddings")


class IndexFailure(Base):
    """A file that could not be indexed, with the reason. Replaced on every scan of its library."""

    __tablename__ = "index_failures"
    __table_args__ = (UniqueConstraint("library_id", "path", name="uq_index_failures_library_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(4096))
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ImageTag(Base):
    """A tag on an image, set by a person (``user``) or a model (``model``, with its score)."""

    __tablename__ = "image_tags"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"),
                                        primary_key=True)
    source: Mapped[TagSource] = mapped_column(_enum(TagSource, "tag_source"), primary_key=True)
    score: Mapped[float | None] = mapped_column(Float)
    model_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    image: Mapped[Image] = relationship(back_populates="tags")
    tag: Mapped[Tag] = relationship()


class SuggestionState(enum.StrEnum):
    PENDING = "pending"  # proposed by a tag's classifier, waiting for a person
    REFUSED = "refused"  # a person said no: a negative example from now on


class TagSuggestion(Base):
    """A tag a classifier proposes for an image (``source: suggested`` in the API). It is not a
    tag until a person confirms it, which moves it to ``image_tags``; a refusal stays here as a
    negative example for the next training. Kept apart from ``image_tags`` so that nothing that
    reads tags (filters, export, duplicates) can mistake a guess for a tag."""

    __tablename__ = "tag_suggestions"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"),
                                        primary_key=True, index=True)
    state: Mapped[SuggestionState] = mapped_column(_enum(SuggestionState, "suggestion_state"),
                                                   default=SuggestionState.PENDING)
    probability: Mapped[float | None] = mapped_column(Float)
    model_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class TagClassifier(Base):
    """A tag's few-shot classifier for one embedding model: the fitted parameters as data, the
    training set's size and date, and a digest of its examples (retrain only when they change)."""

    __tablename__ = "tag_classifiers"
    __table_args__ = (UniqueConstraint("tag_id", "model_key", name="uq_tag_classifiers_tag_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    model_key: Mapped[str] = mapped_column(String(200))
    positives: Mapped[int] = mapped_column(Integer)
    negatives: Mapped[int] = mapped_column(Integer)
    examples_digest: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)


class NearCopyVerdict(Base):
    """Whether two contents are one picture, as the near-duplicate tier's pixel check found on
    their thumbnails (:mod:`daguerre.indexer.near_copy`). Kept so that the check runs once per
    pair, not on every duplicates run (the dashboard's page and each resolve run one). Keyed by
    content, whose pixels never change, and by all the verdict depends on besides: the thumbnail
    size and the check's version; a row of another size or version is never read."""

    __tablename__ = "near_copy_verdicts"

    keeper_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    copy_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    thumbnail_size: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    same: Mapped[bool] = mapped_column(Boolean)


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollectionImage(Base):
    __tablename__ = "collection_images"

    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"),
                                               primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """The truth about a unit of asynchronous work. Celery carries only ``id``."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"),
                                              default=JobStatus.QUEUED)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retried_from: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Lineage(Base):
    """Which job made which image from which parents, with the operation's full parameters."""

    __tablename__ = "lineage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    operation: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # The user the token acts for (it carries that user's role). NULL only on rows made before
    # users existed (migration 0003): those are refused until re-created for a user.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Worker(Base):
    """A job worker process as it recorded itself (see ``services/workers.py``): where it runs,
    what it consumes and when it was last seen (its heartbeat). ``name`` is the worker's
    identity, ``<node name>:<pid>``, as ``jobs/tasks.py`` builds it; the job it runs now is the
    running job whose lease it holds (``Job.worker``), read, not written per job."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    device: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]


class UserRole(enum.StrEnum):
    """What a person may do, least first (services/users.py ranks them)."""

    VIEWER = "viewer"  # browse, search, export
    CURATOR = "curator"  # and rate, review, tag, collections, run jobs
    ADMIN = "admin"  # and libraries, users, tokens


class User(Base):
    """A person who signs in to the dashboard; API tokens act for one. Only an argon2id hash of
    the password is stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInFailure(Base):
    """One failed sign-in, by ``key`` (``user:NAME`` or ``addr:IP``). Kept in the catalog so
    every web process counts the same failures (services/users.py rate-limits on them)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_failed_at", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
