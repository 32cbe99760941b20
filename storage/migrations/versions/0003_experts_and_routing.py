"""experts and routing

Revision ID: 0003
Revises: 0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("work_start", sa.Integer(), nullable=False),
        sa.Column("work_end", sa.Integer(), nullable=False),
        sa.Column("work_days", sa.String(length=20), nullable=False),
        sa.Column("on_leave_until", sa.Date(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("last_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id"),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("alias_of", sa.String(length=40), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "name"),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("expert", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suggested_by", sa.String(length=32), nullable=False),
        sa.Column("dm_channel", sa.String(length=32), nullable=False),
        sa.Column("dm_ts", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "expert"),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignments_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_expert"), ["expert"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_question_id"), ["question_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_status"), ["status"], unique=False)

    op.create_table(
        "expert_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["expert_id"], ["experts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("expert_id", "tag"),
    )
    with op.batch_alter_table("expert_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_topics_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_topics_tag"), ["tag"], unique=False)

    op.create_table(
        "question_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "tag"),
    )
    with op.batch_alter_table("question_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_tags_question_id"), ["question_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_question_tags_tag"), ["tag"], unique=False)

    # Plain ALTERs, not a batch rebuild: rebuilding `questions` on SQLite would drop the search triggers.
    op.add_column("questions", sa.Column("route_round", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("questions", sa.Column("route_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("questions", sa.Column("escalated", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(op.f("ix_questions_route_at"), "questions", ["route_at"], unique=False)
    op.drop_index("ix_questions_thread_ts", table_name="questions")
    op.create_index("ix_questions_thread", "questions", ["team_id", "channel", "thread_ts", "ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_questions_thread", table_name="questions")
    op.create_index("ix_questions_thread_ts", "questions", ["thread_ts"], unique=False)
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questions_route_at"))
        batch_op.drop_column("escalated")
        batch_op.drop_column("route_at")
        batch_op.drop_column("route_round")

    with op.batch_alter_table("question_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_question_tags_tag"))
        batch_op.drop_index(batch_op.f("ix_question_tags_question_id"))

    op.drop_table("question_tags")
    with op.batch_alter_table("expert_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_topics_tag"))
        batch_op.drop_index(batch_op.f("ix_expert_topics_expert_id"))

    op.drop_table("expert_topics")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_status"))
        batch_op.drop_index(batch_op.f("ix_assignments_question_id"))
        batch_op.drop_index(batch_op.f("ix_assignments_expert"))
        batch_op.drop_index(batch_op.f("ix_assignments_due_at"))

    op.drop_table("assignments")
    op.drop_table("tags")
    op.drop_table("experts")
