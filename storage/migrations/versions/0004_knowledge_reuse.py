"""knowledge reuse: duplicates, suggestions, answer freshness

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs, not a batch rebuild: rebuilding `questions` on SQLite would drop the search triggers.
    op.add_column("questions", sa.Column("duplicate_of", sa.Integer(), nullable=True))
    op.add_column("questions", sa.Column("reused_answer_id", sa.Integer(), nullable=True))
    op.add_column("questions", sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_questions_reused_answer_id"), "questions", ["reused_answer_id"], unique=False)
    op.add_column("answers", sa.Column("needs_update", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("answers", sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_column("checked_at")
        batch_op.drop_column("needs_update")
    op.drop_index(op.f("ix_questions_reused_answer_id"), table_name="questions")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("suggested_at")
        batch_op.drop_column("reused_answer_id")
        batch_op.drop_column("duplicate_of")
