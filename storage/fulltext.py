"""Full-text candidates: one interface over SQLite FTS5, PostgreSQL, and a tantivy index kept in step with either."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, Engine, bindparam, func, inspect, select, text
from sqlmodel import Session, col

from storage.models import Answer, Question, Vote

TITLE_CHARS = 120  # questions have no title: their first line, cut here, plays its part
MAX_QUERY_CHARS, MAX_TERMS = 4000, 32
PREFIX = "search_"  # tables, indexes and triggers so named belong to this module (migration 0002)
_WORD = re.compile(r"[^\W_]+")  # letters and digits only: no engine's query syntax survives this
_STOP = """a about an and any anyone are as at be but by can could do does did for from get had has have how i if in
into is it its me my no not of on or our should so some someone that the their them then there these they this to was we
were what when where which who why will with would you your"""
STOPWORDS = frozenset(_STOP.split())
# Identical to the expression indexed by migration 0002, so PostgreSQL uses that index.
PG_TSV = (
    "(setweight(to_tsvector('english', left(split_part(text, E'\\n', 1), 120)), 'A') || to_tsvector('english', text))"
)
_SQL_TITLE = (
    "substr(substr(text, 1, 120), 1, CASE WHEN instr(substr(text, 1, 120), char(10)) > 0"
    " THEN instr(substr(text, 1, 120), char(10)) - 1 ELSE 120 END)"
)
_FTS_SCRATCH = (  # FTS5's own tokenizer turns the query words into index terms, fts5vocab gives their frequencies
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_q USING fts5(w, tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_q_terms USING fts5vocab(temp, search_q, instance)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocab USING fts5vocab(main, search_fts, row)",
)
Progress = Callable[[int], None]


def title_of(text: str) -> str:
    """The title of a question (the SQL of migration 0002 computes the same)."""
    return text[:TITLE_CHARS].split("\n", 1)[0]


def query_words(query_text: str) -> list[str]:
    """Every word of a query in order, repeats included, lowercased, without stopwords or any syntax."""
    return [w for w in _WORD.findall(query_text[:MAX_QUERY_CHARS].lower()) if w not in STOPWORDS and len(w) <= 40]


def query_terms(query_text: str, *, limit: int | None = MAX_TERMS) -> list[str]:
    """The distinct words of a query, lowercased, without stopwords or any syntax: safe for every engine."""
    return list(dict.fromkeys(query_words(query_text)))[:limit]


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic hook: schema comparisons leave out the search_* tables and indexes, and slack_sdk's own
    installation and state store tables (slack_*, made from its definitions by migration 0011)."""
    return not (type_ in ("table", "index") and (name or "").startswith((PREFIX, "slack_")))


class IndexedDoc(NamedTuple):
    """What the index knows of a question; the database row stays the source of truth."""

    question_id: int
    team_id: str
    text: str
    tags: tuple[str, ...] = ()
    is_private: bool = False
    channel: str = ""
    answered: bool = True


class Hit(NamedTuple):
    question_id: int
    score: float  # the engine's relevance (BM25 for FTS5 and tantivy): comparable within one result list only
    similarity: float = 0.0  # of the embeddings (-1..1), from an index that has them (`semantic`); else 0


class FullTextIndex(Protocol):
    """Candidates within one workspace: its public questions, plus those of `private_channels`."""

    kind: str
    semantic: bool  # its hits carry the similarity of the question's embedding to the query's

    def search(
        self,
        team_id: str,
        query_text: str,
        *,
        limit: int = 200,
        private_channels: Collection[str] = (),
        answered_only: bool = True,
        tags: Sequence[str] = (),
    ) -> list[Hit]: ...
    def upsert(self, docs: Iterable[IndexedDoc]) -> int: ...
    def delete(self, question_ids: Iterable[int]) -> int: ...
    def rebuild(self, progress: Progress | None = None) -> int: ...
    def is_stale(self) -> bool: ...
    def sync(self) -> int: ...
    def close(self) -> None: ...


def load_docs(
    conn: Connection, *, ids: Sequence[int] | None = None, after: int = 0, limit: int = 5000
) -> list[IndexedDoc]:
    """Questions as IndexedDocs: those in `ids`, or the next page of `limit` by id after `after`."""
    sql = "SELECT id, team_id, text, is_private, channel, status FROM questions WHERE "
    if ids is not None:
        stmt = text(sql + "id IN :ids").bindparams(bindparam("ids", expanding=True))
        rows = conn.execute(stmt, {"ids": list(ids)}).all() if ids else []
    else:
        rows = conn.execute(text(sql + "id > :a ORDER BY id LIMIT :n"), {"a": after, "n": limit}).all()
    tags = tags_of(conn, [r[0] for r in rows])
    return [IndexedDoc(r[0], r[1], r[2], tags.get(r[0], ()), bool(r[3]), r[4], r[5] != "open") for r in rows]


def tags_of(conn: Connection, question_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The questions' tags (migration 0003's question_tags; none before it)."""
    if not question_ids or not inspect(conn).has_table("question_tags"):
        return {}
    stmt = text("SELECT question_id, tag FROM question_tags WHERE question_id IN :ids ORDER BY id")
    found: dict[int, tuple[str, ...]] = {}
    for question_id, tag in conn.execute(
        stmt.bindparams(bindparam("ids", expanding=True)), {"ids": list(question_ids)}
    ):
        found[question_id] = (*found.get(question_id, ()), tag)
    return found


def triggers_missing(conn: Connection) -> bool:
    """True when a table rebuild lost the triggers of migration 0002 (the index would drift)."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'search_%' AND tgrelid = 'questions'::regclass"
        return int(conn.execute(text(sql)).scalar_one()) < 2
    sql = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'questions' AND name LIKE 'search_%'"
    )
    return int(conn.execute(text(sql)).scalar_one()) < 4


def prune_changes(engine: Engine, *, keep_seconds: float = 7 * 86400) -> int:
    """Forget change-log rows older than `keep_seconds`; an index that had not read them rebuilds when opened."""
    pg = engine.dialect.name == "postgresql"
    cutoff = "now() - make_interval(secs => :k)" if pg else "datetime('now', '-' || :k || ' seconds')"
    with engine.begin() as conn:
        top = conn.execute(
            text(f"SELECT max(seq) FROM search_changes WHERE changed_at < {cutoff}"), {"k": keep_seconds}
        )
        seq = top.scalar()
        if seq is None:
            return 0
        gone = conn.execute(text("DELETE FROM search_changes WHERE seq <= :s"), {"s": seq}).rowcount
        conn.execute(text("UPDATE search_state SET value = :v WHERE key = 'pruned_through'"), {"v": str(seq)})
        return int(gone)


def index_state(conn: Connection) -> dict[str, int | str]:
    """The database's identity and change-log bounds, which an index's own files are checked against."""
    found: dict[str, int | str] = {
        str(k): str(v) for k, v in conn.exec_driver_sql("SELECT key, value FROM search_state")
    }
    found["pruned_through"] = int(found.get("pruned_through", 0))
    top = int(conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM search_changes").scalar_one())
    found["max_seq"] = max(top, found["pruned_through"])  # the log may have been pruned empty
    return found


class DatabaseIndex:
    """FTS5 (SQLite) or PostgreSQL full-text over `questions`: triggers keep it in step, there is nothing to sync."""

    def __init__(self, engine: Engine, *, budget: int = 20_000, max_terms: int = 8, title_weight: float = 2.0) -> None:
        self.engine, self.budget, self.max_terms, self.title_weight = engine, budget, max_terms, title_weight
        self.kind = "postgres" if engine.dialect.name == "postgresql" else "fts5"
        self.semantic = False

    def search(
        self,
        team_id: str,
        query_text: str,
        *,
        limit: int = 200,
        private_channels: Collection[str] = (),
        answered_only: bool = True,
        tags: Sequence[str] = (),
    ) -> list[Hit]:
        words = query_terms(" ".join([query_text, *tags]))
        where = "q.team_id = :team AND (NOT q.is_private OR q.channel IN :chs)"
        where += " AND q.status <> 'open'" if answered_only else ""
        channels = [c.replace("\x00", "") for c in private_channels] or [""]  # PostgreSQL refuses NUL
        params: dict[str, Any] = {"team": team_id, "chs": channels, "n": limit}
        with self.engine.connect() as conn:
            if self.kind == "postgres":
                params["m"] = " | ".join(words)
                sql = f"SELECT q.id, ts_rank({PG_TSV}, query, 1) AS r FROM questions q, to_tsquery('english', :m) query"
                sql += f" WHERE {PG_TSV} @@ query AND {where} ORDER BY r DESC LIMIT :n"
            else:
                words = self._rarest(conn, words) if words else []
                params["m"] = " OR ".join(f'"{w}"' for w in words)
                sql = f"SELECT q.id, -bm25(search_fts, {float(self.title_weight)}, 1.0) AS r FROM search_fts"
                sql += f" JOIN questions q ON q.id = search_fts.rowid WHERE search_fts MATCH :m AND {where}"
                sql += " ORDER BY r DESC LIMIT :n"
            if not words:
                return []
            rows = conn.execute(text(sql).bindparams(bindparam("chs", expanding=True)), params)
            return [Hit(int(i), float(s)) for i, s in rows]

    def _rarest(self, conn: Connection, words: list[str]) -> list[str]:
        """The rarest words (ranking every match of common words costs ~0.5 s at 1M), within a budget of postings."""
        for ddl in _FTS_SCRATCH:
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("DELETE FROM temp.search_q")
        conn.execute(
            text("INSERT INTO temp.search_q(rowid, w) VALUES (:i, :w)"), [{"i": i, "w": w} for i, w in enumerate(words)]
        )
        sql = "SELECT t.doc, max(coalesce(v.doc, 0)) FROM temp.search_q_terms t"
        sql += " LEFT JOIN temp.search_vocab v ON v.term = t.term GROUP BY t.doc"
        df = sorted((n, i) for i, n in conn.exec_driver_sql(sql) if n)
        conn.commit()
        chosen: list[str] = []
        total = 0
        for n, i in df:
            if len(chosen) >= self.max_terms or (len(chosen) >= 2 and total + n > self.budget):
                break
            chosen.append(words[i])
            total += n
        return chosen

    def upsert(self, docs: Iterable[IndexedDoc]) -> int:
        return 0  # the triggers of migration 0002 did it, whatever code path wrote the row

    def delete(self, question_ids: Iterable[int]) -> int:
        return 0

    def rebuild(self, progress: Progress | None = None) -> int:
        with self.engine.begin() as conn:
            if self.kind == "postgres":
                conn.exec_driver_sql("REINDEX INDEX search_questions_tsv")
            else:
                conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('delete-all')")
                conn.exec_driver_sql(
                    f"INSERT INTO search_fts(rowid, title, body) SELECT id, {_SQL_TITLE}, text FROM questions"
                )
            done = int(conn.exec_driver_sql("SELECT count(*) FROM questions").scalar_one())
        if progress:
            progress(done)
        return done

    def is_stale(self) -> bool:
        with self.engine.connect() as conn:
            return triggers_missing(conn)

    def sync(self) -> int:
        return 0

    def close(self) -> None:
        return None


class QuestionRow(NamedTuple):
    question_id: int
    team_id: str
    channel: str
    ts: str
    is_private: bool
    status: str
    text: str  # the first 1,000 characters
    created_at: datetime
    tags: tuple[str, ...] = ()


class AnswerRow(NamedTuple):
    answer_id: int
    question_id: int
    author: str
    snippet: str  # the first 300 characters
    accepted: bool
    score: float  # the sum of its votes' weights
    created_at: datetime


def candidate_rows(session: Session, *, question_ids: Sequence[int]) -> tuple[list[QuestionRow], list[AnswerRow]]:
    """The questions behind search hits, from the database (the source of truth), with their answers' scores."""
    if not question_ids:
        return [], []
    ids = list(question_ids)
    q = select(
        *(col(c) for c in (Question.id, Question.team_id, Question.channel, Question.ts, Question.is_private)),
        col(Question.status),
        func.substr(col(Question.text), 1, 1000),
        col(Question.created_at),
    ).where(col(Question.id).in_(ids))
    score = func.coalesce(func.sum(col(Vote.weight)), 0.0)
    a = (
        select(
            *(col(c) for c in (Answer.id, Answer.question_id, Answer.author)),
            func.substr(col(Answer.text), 1, 300),
            col(Answer.accepted),
            score,
            col(Answer.created_at),
        )
        .outerjoin(Vote, col(Vote.answer_id) == col(Answer.id))
        .where(col(Answer.question_id).in_(ids), col(Answer.needs_update).is_(False))
        .group_by(col(Answer.id))
    )
    tags = tags_of(session.connection(), ids)
    questions = [QuestionRow._make((*r, tags.get(r[0], ()))) for r in session.execute(q)]
    return questions, [AnswerRow(*r) for r in session.execute(a)]


def open_index(engine: Engine, *, kind: str = "auto", path: str | Path | None = None, **options: Any) -> FullTextIndex:
    """The index for `engine`: "tantivy" (own files at `path`, kept in step from the database; the fast one),
    "database" (FTS5 or PostgreSQL, kept in step by triggers), or "auto": tantivy when a `path` is given."""
    if kind == "tantivy" or (kind == "auto" and path is not None):
        if path is None:
            raise ValueError("the tantivy index needs a directory (path=...)")
        from storage.fulltext_tantivy import TantivyIndex  # only where the tantivy engine is chosen

        return TantivyIndex(engine, Path(path), **options)
    if kind in ("auto", "database", "fts5", "postgres"):
        return DatabaseIndex(engine, **options)
    raise ValueError(f"unknown search index kind {kind!r}: use auto, tantivy or database")
