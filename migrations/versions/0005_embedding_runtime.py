"""embedding runtime: record which CLIP runtime and precision made each vector

``image_embeddings.runtime`` (torch | onnx) and ``precision`` (fp32 | int8 | fp16 | bf16).
Runtimes share a model's vector store only after the agreement check (docs/clip-runtime.md);
the columns say which one made each vector. Every vector before this revision was made by
torch, so ``runtime`` is backfilled; the precision (fp32 on a CPU, half on a GPU) was not
recorded and stays NULL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image_embeddings") as batch:
        batch.add_column(sa.Column("runtime", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("precision", sa.String(length=20), nullable=True))
    op.execute("UPDATE image_embeddings SET runtime = 'torch'")


def downgrade() -> None:
    with op.batch_alter_table("image_embeddings") as batch:
        batch.drop_column("precision")
        batch.drop_column("runtime")
