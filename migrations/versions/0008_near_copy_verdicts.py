"""near-copy verdicts

``near_copy_verdicts``: the near-duplicate tier's pixel-check outcomes by the two contents'
SHA-256s, the thumbnail size and the check's version, so a duplicates run checks each candidate
pair once rather than on every run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "near_copy_verdicts",
        sa.Column("keeper_sha256", sa.String(length=64), nullable=False),
        sa.Column("copy_sha256", sa.String(length=64), nullable=False),
        sa.Column("thumbnail_size", sa.Integer(), nullable=False),
        sa.Column("check_version", sa.Integer(), nullable=False),
        sa.Column("same", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("keeper_sha256", "copy_sha256", "thumbnail_size",
                                "check_version", name="pk_near_copy_verdicts"),
    )


def downgrade() -> None:
    op.drop_table("near_copy_verdicts")
