"""search: change log, state, FTS5 (SQLite) or a tsvector GIN index (PostgreSQL), triggers keeping them in step

Everything here is named search_* and belongs to storage/fulltext.py (schema comparisons skip it).
The triggers fire on every write to `questions`, by any code path. On SQLite, a batch-mode table
rebuild of `questions` drops them: re-create them in that migration (tests/test_search.py checks).

Revision ID: 0002
Revises: 0001
"""

import os
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The title (first line, at most 120 characters), as storage.fulltext.title_of computes it.
TITLE = (
    "substr(substr({t}, 1, 120), 1, CASE WHEN instr(substr({t}, 1, 120), char(10)) > 0"
    " THEN instr(substr({t}, 1, 120), char(10)) - 1 ELSE 120 END)"
)
FTS_ADD = "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, " + TITLE.format(t="new.text") + ", new.text)"
FTS_DEL = (
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, "
    + TITLE.format(t="old.text")
    + ", old.text)"
)
LOG_NEW = "INSERT INTO search_changes(question_id) VALUES (new.id)"
LOG_OLD = "INSERT INTO search_changes(question_id) VALUES (old.id)"
# Columns whose change changes what the index holds or who may see it.
INDEXED = ("text", "status", "is_private", "channel", "team_id", "id")
SQLITE_TRIGGERS = {
    "search_questions_ai": f"AFTER INSERT ON questions BEGIN {FTS_ADD}; {LOG_NEW}; END",
    "search_questions_ad": f"AFTER DELETE ON questions BEGIN {FTS_DEL}; {LOG_OLD}; END",
    "search_questions_au_fts": "AFTER UPDATE OF text, id ON questions"
    f" WHEN old.text IS NOT new.text OR old.id IS NOT new.id BEGIN {FTS_DEL}; {FTS_ADD}; END",
    "search_questions_au_log": "AFTER UPDATE ON questions WHEN "
    + " OR ".join(f"old.{c} IS NOT new.{c}" for c in INDEXED)
    + f" BEGIN INSERT INTO search_changes(question_id) SELECT old.id WHERE old.id IS NOT new.id; {LOG_NEW}; END",
}
# Must stay identical to storage.fulltext.PG_TSV, or the planner will not use the index.
PG_TSV = (
    "(setweight(to_tsvector('english', left(split_part(text, E'\\n', 1), 120)), 'A') || to_tsvector('english', text))"
)
PG_FUNCTION = """CREATE FUNCTION search_log_question() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
    INSERT INTO search_changes(question_id) VALUES (OLD.id);
  END IF;
  IF TG_OP <> 'DELETE' THEN INSERT INTO search_changes(question_id) VALUES (NEW.id); END IF;
  RETURN NULL;
END $$"""
PG_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in INDEXED)


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        # xid: which transaction wrote the row, so a reader can tell what may still be in flight.
        op.execute(
            "CREATE TABLE search_changes (seq BIGSERIAL PRIMARY KEY, question_id BIGINT NOT NULL,"
            " changed_at TIMESTAMPTZ NOT NULL DEFAULT now(), xid xid8 NOT NULL DEFAULT pg_current_xact_id())"
        )
        op.execute("CREATE INDEX search_changes_xid ON search_changes (xid)")
        op.execute("CREATE INDEX search_changes_changed_at ON search_changes (changed_at)")
        op.execute(f"CREATE INDEX search_questions_tsv ON questions USING gin ({PG_TSV})")
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER search_questions_log AFTER INSERT OR DELETE ON questions"
            " FOR EACH ROW EXECUTE FUNCTION search_log_question()"
        )
        op.execute(
            f"CREATE TRIGGER search_questions_log_update AFTER UPDATE ON questions FOR EACH ROW WHEN ({PG_CHANGED})"
            " EXECUTE FUNCTION search_log_question()"
        )
    else:
        op.execute(
            "CREATE TABLE search_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, question_id INTEGER NOT NULL,"
            " changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        op.execute("CREATE INDEX search_changes_changed_at ON search_changes (changed_at)")
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='',"
            " tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO search_fts(rowid, title, body) SELECT id, " + TITLE.format(t="text") + ", text FROM questions"
        )
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute("CREATE TABLE search_state (key VARCHAR(32) PRIMARY KEY, value VARCHAR(64) NOT NULL)")
    # A fresh id per database: an index built from another database (or a restored copy) is never trusted.
    op.execute(
        f"INSERT INTO search_state (key, value) VALUES ('instance', '{os.urandom(16).hex()}'), ('pruned_through', '0')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER search_questions_log_update ON questions")
        op.execute("DROP TRIGGER search_questions_log ON questions")
        op.execute("DROP FUNCTION search_log_question()")
        op.execute("DROP INDEX search_questions_tsv")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE search_fts")
    op.execute("DROP TABLE search_state")
    op.execute("DROP TABLE search_changes")
