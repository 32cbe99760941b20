"""The tantivy search index: its own files, kept in step with the database through the search_changes log."""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tantivy
from sqlalchemy import Connection, Engine, text

from storage.fulltext import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    STOPWORDS,
    Hit,
    IndexedDoc,
    Progress,
    index_state,
    load_docs,
    query_terms,
    query_words,
    title_of,
    triggers_missing,
)

if TYPE_CHECKING:
    from storage.vectors import Embedder, VectorStore

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
        title_boost: float = 0.5,  # these four: tuned on the dev half of the duplicates (bench/search_eval.py)
        tag_boost: float = 4.0,
        pair_boost: float = 1.0,
        asked_title_boost: float = 2.0,
        saturate: bool = True,  # a repeated word weighs 1 + ln n; False: n times (plain BM25 over the words asked)
        heap_bytes: int = 64_000_000,
        embedder: Embedder | None = None,  # hits then carry the similarity of embeddings (kept beside the index)
    ) -> None:
        self.engine, self.path, self.max_lag = engine, path, max_lag
        self.title_boost, self.tag_boost, self.pair_boost = title_boost, tag_boost, pair_boost
        self.asked_title_boost, self.saturate, self.heap_bytes = asked_title_boost, saturate, heap_bytes
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
        self.semantic = embedder is not None
        self._vectors: VectorStore | None = None
        if embedder is not None:  # beside the directory, so that vectors outlive a rebuild from scratch
            from storage.vectors import VectorStore

            self._vectors = VectorStore(path.with_name(path.name + ".vectors.sqlite"), embedder)
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
        counts = Counter(self._words.analyze(" ".join(query_words(query_text))))
        words = sorted(counts, key=counts.__getitem__, reverse=True)[:MAX_TERMS]  # ties: in the order asked
        in_title = set(self._words.analyze(" ".join(query_terms(title_of(query_text)))))
        pairs = list(dict.fromkeys(self._pairs(query_text[:MAX_QUERY_CHARS])))[: 2 * MAX_TERMS]
        tag_words = list(dict.fromkeys(self._tags.analyze(" ".join(tags))))[:MAX_TERMS]
        should, term, boost = tantivy.Occur.Should, tantivy.Query.term_query, tantivy.Query.boost_query
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []

        def add(field: str, value: str, weight: float) -> None:
            clauses.append((should, boost(term(self._schema, field, value), weight)))

        def asked(w: str) -> float:  # a word asked again weighs more, but less each time (math variables, code)
            n = counts[w]
            return (1.0 + math.log(n) if self.saturate else n) * (self.asked_title_boost if w in in_title else 1.0)

        weights = {w: asked(w) for w in words}  # more in the asker's first line
        for channel in (None, *sorted(set(private_channels))):
            for answered in (True,) if answered_only else (True, False):
                key = _key(team_id, channel, answered)
                for w, weight in weights.items():
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
        found = [Hit(int(i), float(s)) for (s, _), i in zip(hits, ids, strict=True) if i is not None]
        if self._vectors is None or not found:
            return found
        alike = self._vectors.similarities(self._vectors.embed([query_text])[0], [h.question_id for h in found])
        return [h._replace(similarity=alike.get(h.question_id, 0.0)) for h in found]

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
        if self._vectors is not None:  # first, so that whatever a search finds has its vector
            self._vectors.delete(replaced - {d.question_id for d in docs})
            self._vectors.upsert((d.question_id, d.text) for d in docs)
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
                state, xmin = index_state(conn), self._xmin(conn)
            writer = self._writer_()
            writer.delete_all_documents()
            if self._vectors is not None:
                self._vectors.clear()
            done = last = 0
            while True:
                with self.engine.connect() as conn:
                    docs = load_docs(conn, after=last)
                if not docs:
                    break
                if self._vectors is not None:
                    self._vectors.upsert((d.question_id, d.text) for d in docs)
                for doc in docs:
                    writer.add_document(self._doc(doc))
                done, last = done + len(docs), docs[-1].question_id
                if progress:
                    progress(done)
            writer.commit()
            self._index.reload()
            if self._vectors is not None:
                self._vectors.prune()
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
            state, lost = index_state(conn), triggers_missing(conn)
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
            if self._vectors is not None:
                self._vectors.close()
