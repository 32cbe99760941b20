"""Search with embeddings: vectors follow the index, hits carry similarities, the semantic model orders; the real model
when its package is installed."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from test_search import NOW, add_question

from bot import semantic
from bot.search import DEFAULT, SEMANTIC_FEATURES, rank
from storage.fulltext import DatabaseIndex, open_index
from storage.fulltext_tantivy import TantivyIndex

# A stand-in model: each word counts towards a meaning; what shares a meaning is alike whatever the words.
MEANINGS = {"password": 0, "credential": 0, "secret": 0, "vpn": 1, "tunnel": 1, "pizza": 2, "lunch": 2}


class Meanings:
    name = "meanings-1"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += texts
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for row, t in enumerate(texts):
            out[row, 3] = 0.1  # nothing known: alike only a little
            for word in re.findall(r"\w+", t.lower()):
                if word in MEANINGS:
                    out[row, MEANINGS[word]] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def model() -> Meanings:
    return Meanings()


@pytest.fixture
def index(engine: Engine, tmp_path: Path, model: Meanings) -> Iterator[TantivyIndex]:
    idx = open_index(engine, kind="tantivy", path=tmp_path / "index", max_lag=0.0, embedder=model)
    assert isinstance(idx, TantivyIndex)
    yield idx
    idx.close()


def test_hits_carry_similarities_and_the_semantic_model_orders(engine: Engine, index: TantivyIndex) -> None:
    with Session(engine) as s:
        vpn = add_question(s, "How do I rotate the staging VPN tunnel key?")
        cred = add_question(s, "How do I rotate the staging credential?")
        s.commit()
    hits = {h.question_id: h for h in index.search("T1", "rotate the staging password")}
    assert hits[cred].similarity > 0.9 > 0.2 > hits[vpn].similarity
    assert index.semantic and DEFAULT.model(index) is DEFAULT.semantic
    with Session(engine) as s:
        found = rank(s, index, team_id="T1", text="rotate the staging VPN password key", now=NOW)
        meant = rank(s, index, team_id="T1", text="rotate the staging password secret", now=NOW)
    assert len(found[0].features) == len(SEMANTIC_FEATURES)
    assert [x.question_id for x in meant] == [cred, vpn]
    assert 0.0 <= meant[1].confidence < meant[0].confidence <= 1.0


def test_vectors_follow_the_index_and_outlive_a_rebuild(engine: Engine, index: TantivyIndex, model: Meanings) -> None:
    with Session(engine) as s:
        first = add_question(s, "Where is the VPN tunnel config?")
        second = add_question(s, "Who orders the team lunch?")
        s.commit()
    index.sync()
    assert len(model.embedded) == 2
    assert index.rebuild() == 2 and len(model.embedded) == 2  # the same texts: nothing embedded again
    with engine.begin() as conn:
        conn.execute(text("UPDATE questions SET text = 'Who orders the pizza?' WHERE id = :i"), {"i": second})
    index.sync()
    assert model.embedded[2:] == ["Who orders the pizza?"]
    hits = index.search("T1", "who orders pizza")
    assert [h.question_id for h in hits] == [second] and hits[0].similarity > 0.9
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM questions WHERE id = :i"), {"i": first})
    index.sync()
    assert index.search("T1", "vpn tunnel config") == []
    index.rebuild()
    assert index._vectors is not None and index._vectors.similarities(np.ones(4), [first, second]).keys() == {second}


def test_the_database_index_stays_lexical(engine: Engine) -> None:
    db = DatabaseIndex(engine)
    assert not db.semantic and DEFAULT.model(db) is DEFAULT.database


def test_loading_without_the_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "available", lambda: False)
    with pytest.raises(ImportError, match=r"peerbot\[semantic\]"):
        semantic.load()


def test_the_real_model_tells_paraphrases_apart(engine: Engine, tmp_path: Path) -> None:
    pytest.importorskip(semantic.PACKAGE, reason="the optional model package (peerbot[semantic]) is not installed")
    model = semantic.load(threads=1)
    a, b, c = model.encode(
        [
            "How do I reset my VPN password?",
            "I forgot the password for the VPN, how can I change it?",
            "Which room is the all-hands meeting in?",
        ]
    )
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-3
    assert float(a @ b) > float(a @ c) + 0.2
    idx = open_index(engine, kind="tantivy", path=tmp_path / "index", max_lag=0.0, embedder=model)
    try:
        with Session(engine) as s:
            same = add_question(s, "I forgot the password for the VPN, how can I change it?")
            add_question(s, "Where is the password policy for the VPN documented?")
            s.commit()
        with Session(engine) as s:
            found = rank(s, idx, team_id="T1", text="How do I reset my VPN password?", now=NOW)
        assert found[0].question_id == same
    finally:
        idx.close()
