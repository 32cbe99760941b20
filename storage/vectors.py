"""Embeddings of the indexed questions, beside the tantivy index: computed once per text, compared at search time."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

EMBED_CHARS = 2000  # the model reads ~256 word pieces: past this, text changes nothing
BATCH = 64
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors (digest BLOB PRIMARY KEY, vec BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS questions (question_id INTEGER PRIMARY KEY, digest BLOB NOT NULL)",
)


class Embedder(Protocol):
    """A sentence-embedding model: unit vectors, so that a dot product is the cosine similarity."""

    name: str  # names the model and its version: vectors made by another are made again

    def encode(self, texts: Sequence[str]) -> Any: ...  # a float array, one row per text


class VectorStore:
    """question id -> the embedding of its text, in a SQLite file of its own (one per index directory).

    Vectors are kept by a digest of the model's name and the text, so a rebuild or an edit that leaves the text as
    it was costs no embedding; float16 halves the space (a ranking cannot tell).
    """

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        for ddl in _SCHEMA:
            self._db.execute(ddl)

    def _digest(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.embedder.name}\n{text[:EMBED_CHARS]}".encode()).digest()[:16]

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors (float32) of `texts`, one row each."""
        rows = self.embedder.encode([t[:EMBED_CHARS] for t in texts])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    def upsert(self, docs: Iterable[tuple[int, str]]) -> int:
        """Record each question's text, embedding those texts not seen before (in batches); how many were embedded."""
        pairs = [(question_id, self._digest(text), text) for question_id, text in docs]
        if not pairs:
            return 0
        with self._lock:
            known = self._known([d for _, d, _ in pairs])
        fresh = list({d: t for _, d, t in pairs if d not in known}.items())
        for start in range(0, len(fresh), BATCH):
            batch = fresh[start : start + BATCH]
            vectors = self.embed([t for _, t in batch]).astype(np.float16)
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(d, v.tobytes()) for (d, _), v in zip(batch, vectors, strict=True)],
                )
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO questions VALUES (?, ?)", [(q, d) for q, d, _ in pairs])
        return len(fresh)

    def _known(self, digests: list[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            sql = f"SELECT digest FROM vectors WHERE digest IN ({','.join('?' * len(chunk))})"
            found.update(bytes(r[0]) for r in self._db.execute(sql, chunk))
        return found

    def delete(self, question_ids: Iterable[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM questions WHERE question_id = ?", [(q,) for q in question_ids])

    def clear(self) -> None:
        """Forget which question has which text (a rebuild records them again); the vectors stay, for reuse."""
        with self._lock:
            self._db.execute("DELETE FROM questions")

    def prune(self) -> int:
        """Drop vectors no question has any more."""
        with self._lock:
            cur = self._db.execute("DELETE FROM vectors WHERE digest NOT IN (SELECT digest FROM questions)")
            return cur.rowcount

    def similarities(self, query: Any, question_ids: Sequence[int]) -> dict[int, float]:
        """The cosine similarity of each question that has a vector to the `query` vector."""
        if not question_ids:
            return {}
        sql = "SELECT q.question_id, v.vec FROM questions q JOIN vectors v ON v.digest = q.digest"
        sql += f" WHERE q.question_id IN ({','.join('?' * len(question_ids))})"
        with self._lock:
            rows = self._db.execute(sql, list(question_ids)).fetchall()
        if not rows:
            return {}
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), -1)
        scores = matrix.astype(np.float32) @ np.asarray(query, dtype=np.float32)
        return {int(r[0]): float(s) for r, s in zip(rows, scores, strict=True)}

    def close(self) -> None:
        with self._lock:
            self._db.close()
