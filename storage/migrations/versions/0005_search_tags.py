"""search: a question's tags changing (the asker's "Edit topics") is logged for the search index too

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTION = """CREATE FUNCTION search_log_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN INSERT INTO search_changes(question_id) VALUES (OLD.question_id);
  ELSE INSERT INTO search_changes(question_id) VALUES (NEW.question_id); END IF;
  RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER search_question_tags_log AFTER INSERT OR DELETE ON question_tags"
            " FOR EACH ROW EXECUTE FUNCTION search_log_tag()"
        )
        return
    for name, when, row in (("search_question_tags_ai", "INSERT", "new"), ("search_question_tags_ad", "DELETE", "old")):
        op.execute(
            f"CREATE TRIGGER {name} AFTER {when} ON question_tags"
            f" BEGIN INSERT INTO search_changes(question_id) VALUES ({row}.question_id); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER search_question_tags_log ON question_tags")
        op.execute("DROP FUNCTION search_log_tag()")
        return
    op.execute("DROP TRIGGER search_question_tags_ai")
    op.execute("DROP TRIGGER search_question_tags_ad")
