"""questions: when the capture's follow-up was done, so the sweep can finish one a dying request left

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER: rebuilding `questions` on SQLite would drop its search triggers.
    op.add_column("questions", sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True))
    # Questions already stored were followed up when they were asked (no search column changes: no reindex).
    op.execute("UPDATE questions SET followed_up_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("followed_up_at")
