"""timeline index: active images by "when" (capture time, else catalog time), then id

The timeline pages by keyset on ``(coalesce(captured_at, created_at), id)`` among active
images (services/timeline.py); this expression index serves that order and the cursor's range,
so a page deep in a 100,000-image catalog costs what the first one does. An expression index
rather than a stored column: nothing that writes images has to keep it in step.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_images_timeline", "images",
                    ["status", sa.text("coalesce(captured_at, created_at)"), "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_images_timeline", table_name="images")
