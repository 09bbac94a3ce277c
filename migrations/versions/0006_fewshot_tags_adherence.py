"""few-shot tags and prompt adherence

``tag_suggestions``: what a tag's classifier proposes (pending) and what people refused (refused:
negatives for the next training); confirmed suggestions become ``image_tags`` rows.
``tag_classifiers``: one fitted classifier per tag and embedding model, with its training set's
size, date and digest. ``images.adherence``: a generated image's CLIP score against its prompt.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-15 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("adherence", sa.Float(), nullable=True))
    op.create_table(
        "tag_suggestions",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.Enum("pending", "refused", name="suggestion_state",
                                   native_enum=False, length=16), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("model_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE",
                                name="fk_tag_suggestions_image_id_images"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE",
                                name="fk_tag_suggestions_tag_id_tags"),
        sa.PrimaryKeyConstraint("image_id", "tag_id", name="pk_tag_suggestions"),
    )
    op.create_index("ix_tag_suggestions_tag_id", "tag_suggestions", ["tag_id"], unique=False)
    op.create_table(
        "tag_classifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("model_key", sa.String(length=200), nullable=False),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.Column("examples_digest", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE",
                                name="fk_tag_classifiers_tag_id_tags"),
        sa.PrimaryKeyConstraint("id", name="pk_tag_classifiers"),
        sa.UniqueConstraint("tag_id", "model_key", name="uq_tag_classifiers_tag_model"),
    )


def downgrade() -> None:
    op.drop_table("tag_classifiers")
    op.drop_index("ix_tag_suggestions_tag_id", table_name="tag_suggestions")
    op.drop_table("tag_suggestions")
    with op.batch_alter_table("images") as batch:
        batch.drop_column("adherence")
