"""Full-text candidates: one interface over SQLite FTS5, PostgreSQL, and a tantivy index kept in step with either."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import tantivy
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


def query_terms(query_text: str, *, limit: int | None = MAX_TERMS) -> list[str]:
    """The distinct words of a query, lowercased, without stopwords or any syntax: safe for every engine."""
    words = _WORD.findall(query_text[:MAX_QUERY_CHARS].lower())
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) <= 40))[:limit]


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic hook: schema comparisons leave out the search_* tables and indexes."""
    return not (type_ in ("table", "index") and (name or "").startswith(PREFIX))


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


class FullTextIndex(Protocol):
    """Candidates within one workspace: its public questions, plus those of `private_channels`."""

    kind: str

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


def _state(conn: Connection) -> dict[str, int | str]:
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


FORMAT = 2  # bump when the document layout changes: older index directories are then rebuilt
_META = "peerbot-search.json"


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
    builder = builder.filter(tantivy.Filter.lowercase())
    return (builder.filter(tantivy.Filter.stemmer("english")) if stem else builder).build()


def _key(team_id: str, channel: str | None, answered: bool) -> str:
    """The prefix of a question's terms: workspace, channel when private, answered or open."""

    def safe(s: str) -> str:
        return s if s.isascii() and s.isalnum() else "x" + s.encode().hex()

    return f"{safe(team_id)}_{safe(channel) if channel else 'pub'}_{'a' if answered else 'o'}:"


class TantivyIndex:
    """A tantivy index in its own directory (one per replica), kept in step from the database's change log.

    Filters are part of the terms (each prefixed by workspace, privacy scope and answered state), so a query stays
    a pure disjunction that block-max WAND prunes; a filter clause would make tantivy score every match (2-3x
    slower at 1M), and JSON-field paths lose BM25's length norms (MRR 0.21 instead of 0.30 on the duplicates).
    """

    kind = "tantivy"

    def __init__(
        self,
        engine: Engine,
        path: Path,
        *,
        max_lag: float = 2.0,
        title_boost: float = 1.0,  # these four: tuned on the dev half of the duplicates (bench/search_eval.py)
        tag_boost: float = 2.0,
        pair_boost: float = 1.0,
        asked_title_boost: float = 2.0,
        heap_bytes: int = 64_000_000,
    ) -> None:
        self.engine, self.path, self.max_lag = engine, path, max_lag
        self.title_boost, self.tag_boost, self.pair_boost = title_boost, tag_boost, pair_boost
        self.asked_title_boost, self.heap_bytes = asked_title_boost, heap_bytes
        self._pg = engine.dialect.name == "postgresql"
        self._lock = threading.RLock()
        self._words, self._tags = _analyzer(stem=True), _analyzer(stem=False)
        self._stop = STOPWORDS | set(self._words.analyze(" ".join(STOPWORDS)))
        builder = tantivy.SchemaBuilder().add_integer_field("id", indexed=True, fast=True)
        for name in ("title", "body", "tags", "pairs"):  # analysed here, prefixed, then split on spaces by tantivy
            option = "freq" if name == "body" else "basic"  # titles, pairs and tags rarely repeat a term
            builder = builder.add_text_field(name, tokenizer_name="whitespace", index_option=option)
        self._schema = builder.build()
        self._writer: tantivy.IndexWriter | None = None
        self._window: dict[int, int] = {}  # PostgreSQL: applied changes whose transaction's peers may still commit
        self._synced = 0.0
        self._meta: dict[str, Any] = {}
        try:
            self._meta = json.loads((path / _META).read_text())
            if self._meta.get("format") != FORMAT:
                raise ValueError("index format changed")
            self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        except (OSError, ValueError):  # missing, unreadable or older: start afresh
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            self._meta = {}
            self._index = tantivy.Index(self._schema, path=str(path), reuse=False)
        self._index.config_reader(reload_policy="manual")
        if self.is_stale():
            self.rebuild()
        else:
            self.sync()

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
        if time.monotonic() - self._synced >= self.max_lag and self._lock.acquire(blocking=False):
            try:  # "within seconds": catch up on what other replicas wrote; never wait for a sync under way
                self.sync()
            finally:
                self._lock.release()
        words = list(dict.fromkeys(self._words.analyze(" ".join(query_terms(query_text)))))
        in_title = set(self._words.analyze(" ".join(query_terms(title_of(query_text)))))
        pairs = list(dict.fromkeys(self._pairs(query_text[:MAX_QUERY_CHARS])))[: 2 * MAX_TERMS]
        tag_words = list(dict.fromkeys(self._tags.analyze(" ".join(tags))))[:MAX_TERMS]
        should, term, boost = tantivy.Occur.Should, tantivy.Query.term_query, tantivy.Query.boost_query
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []

        def add(field: str, value: str, weight: float) -> None:
            clauses.append((should, boost(term(self._schema, field, value), weight)))

        for channel in (None, *sorted(set(private_channels))):
            for answered in (True,) if answered_only else (True, False):
                key = _key(team_id, channel, answered)
                for w in words:  # the words of the asker's first line count more: long questions ramble
                    weight = self.asked_title_boost if w in in_title else 1.0
                    add("title", key + w, weight * self.title_boost)
                    add("body", key + w, weight)
                for pair in pairs:  # adjacent words ("halting problem"): what makes two questions the same
                    add("pairs", key + pair, self.pair_boost)
                for w in tag_words:
                    add("tags", key + w, self.tag_boost)
        if not clauses:
            return []
        searcher = self._index.searcher()
        hits = searcher.search(tantivy.Query.boolean_query(clauses), limit, count=False).hits
        ids = searcher.fast_field_values("id", [address for _, address in hits])
        return [Hit(int(i), float(s)) for (s, _), i in zip(hits, ids, strict=True) if i is not None]

    def upsert(self, docs: Iterable[IndexedDoc]) -> int:
        docs = list(docs)
        with self._lock:
            self._apply(docs, {d.question_id for d in docs})
        return len(docs)

    def delete(self, question_ids: Iterable[int]) -> int:
        ids = set(question_ids)
        with self._lock:
            self._apply([], ids)
        return len(ids)

    def _apply(self, docs: list[IndexedDoc], replaced: set[int]) -> None:
        writer = self._writer_()
        for question_id in replaced:
            writer.delete_documents_by_term("id", question_id)
        for doc in docs:
            writer.add_document(self._doc(doc))
        writer.commit()
        self._index.reload()

    def _doc(self, d: IndexedDoc) -> tantivy.Document:
        key = _key(d.team_id, d.channel if d.is_private else None, d.answered)
        words = self._words.analyze(d.text)
        fields = {
            "title": self._words.analyze(title_of(d.text)),
            "body": words,
            "tags": self._tags.analyze(" ".join(d.tags)),
            "pairs": self._pairs(words=words),
        }
        return tantivy.Document(id=d.question_id, **{k: " ".join(key + w for w in v) for k, v in fields.items()})

    def _pairs(self, text: str = "", *, words: list[str] | None = None) -> list[str]:
        kept = [w for w in (self._words.analyze(text) if words is None else words) if w not in self._stop]
        return [f"{a}_{b}" for a, b in pairwise(kept)]

    def _writer_(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=self.heap_bytes, num_threads=1)
        return self._writer

    def _xmin(self, conn: Connection) -> int:
        """PostgreSQL: every transaction below this id has ended, so nothing older can still appear."""
        return (
            int(conn.exec_driver_sql("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").scalar_one())
            if self._pg
            else 0
        )

    def sync(self) -> int:
        """Apply the change log since the last sync: changed questions are re-read, missing ones deleted."""
        with self._lock:
            seq = int(self._meta["seq"])
            with self.engine.connect() as conn:
                xmin = self._xmin(conn)
                if self._pg:  # a smaller seq may commit after a larger one: re-read what was in flight
                    sql = "SELECT seq, question_id, xid::text FROM search_changes"
                    sql += " WHERE seq > :s OR xid >= CAST(:x AS xid8)"
                else:  # SQLite has one writer at a time: changes commit in seq order
                    sql = "SELECT seq, question_id, '0' FROM search_changes WHERE seq > :s"
                rows = conn.execute(text(sql), {"s": seq, "x": str(self._meta.get("xmin", 0))}).all()
                fresh = [(int(s), int(q), int(x)) for s, q, x in rows if s > seq or s not in self._window]
                ids = sorted({q for _, q, _ in fresh})
                docs = load_docs(conn, ids=ids) if ids else []
            self._window = {s: x for s, x in [*self._window.items(), *((s, x) for s, _, x in fresh)] if x >= xmin}
            self._meta["xmin"], self._synced = xmin, time.monotonic()
            if fresh:
                self._apply(docs, set(ids))
                self._save(seq=max(seq, *(s for s, _, _ in fresh)))
            return len(ids)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Re-read every question, in pages; searches see the old index until the new one is committed."""
        with self._lock:
            with self.engine.connect() as conn:
                state, xmin = _state(conn), self._xmin(conn)
            writer = self._writer_()
            writer.delete_all_documents()
            done = last = 0
            while True:
                with self.engine.connect() as conn:
                    docs = load_docs(conn, after=last)
                if not docs:
                    break
                for doc in docs:
                    writer.add_document(self._doc(doc))
                done, last = done + len(docs), docs[-1].question_id
                if progress:
                    progress(done)
            writer.commit()
            self._index.reload()
            self._window, self._synced = {}, time.monotonic()
            self._save(instance=state.get("instance"), seq=state["max_seq"], xmin=xmin)
            return done

    def _save(self, **values: Any) -> None:
        self._meta.update(values, format=FORMAT)
        tmp = self.path / (_META + ".tmp")
        tmp.write_text(json.dumps(self._meta))
        os.replace(tmp, self.path / _META)

    def is_stale(self) -> bool:
        """Stale: built from another database, or missed changes the log no longer holds, or the triggers are gone."""
        with self.engine.connect() as conn:
            state, lost = _state(conn), triggers_missing(conn)
        seq = self._meta.get("seq", -1)
        return (
            lost
            or self._meta.get("instance") != state.get("instance")
            or not state["pruned_through"] <= seq <= state["max_seq"]
        )

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None


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
        return TantivyIndex(engine, Path(path), **options)
    if kind in ("auto", "database", "fts5", "postgres"):
        return DatabaseIndex(engine, **options)
    raise ValueError(f"unknown search index kind {kind!r}: use auto, tantivy or database")
