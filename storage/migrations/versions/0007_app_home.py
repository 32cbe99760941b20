"""the App Home: when each person's Home tab was published, and whether it needs refreshing

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("home_published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("home_stale", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(op.f("ix_users_home_stale"), "users", ["home_stale"])


def downgrade() -> None:
    op.drop_index(op.f("ix_users_home_stale"), table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("home_stale")
        batch_op.drop_column("home_published_at")
