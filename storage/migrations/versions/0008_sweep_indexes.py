"""indexes that keep the sweeps from reading whole tables: unsent DMs and nudges, open questions by time

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_nudges_unsent", "nudges", ["status", "dm_ts"])
    op.create_index("ix_assignments_unsent", "assignments", ["status", "dm_ts"])
    op.create_index("ix_questions_open_created", "questions", ["team_id", "status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_questions_open_created", table_name="questions")
    op.drop_index("ix_assignments_unsent", table_name="assignments")
    op.drop_index("ix_nudges_unsent", table_name="nudges")
