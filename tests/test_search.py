"""Search: the index follows every write, rebuilds, replicas catch up; privacy, usefulness, threshold, bad queries."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlmodel import Session, col

from bot.search import Ranking, best_answer, rank, search, suggest
from storage.db import make_engine
from storage.fulltext import (
    PG_TSV,
    AnswerRow,
    DatabaseIndex,
    FullTextIndex,
    open_index,
    prune_changes,
    query_terms,
    title_of,
    triggers_missing,
)
from storage.fulltext_tantivy import TantivyIndex
from storage.models import Answer, Question, Vote

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
_SEQ = itertools.count(1)
BAD_QUERIES = [
    "",
    "   ",
    "?!?!...",
    '"',
    '"unbalanced quote',
    "*",
    "rotate*",
    "NEAR(password rotate)",
    "NEAR",
    "-",
    "- -password",
    "password -rotate",
    "AND OR NOT",
    "'; DROP TABLE questions; --",
    "title:password",
    "a:b:c",
    "(",
    ")",
    "[1 TO 5]",
    "\\",
    "%_%",
    "x" * 40_000,
    "password " * 5_000,
    "🔑🔐 how do I rotate 🙏",
    "🎉",
    "パスワードを変更する方法",
    "\x00 nul",
]


@pytest.fixture(params=["database", "tantivy"])
def index(request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> Iterator[FullTextIndex]:
    idx = (
        open_index(engine, kind=request.param, path=tmp_path / "index", max_lag=0.0)
        if request.param == "tantivy"
        else open_index(engine, kind="database")
    )
    yield idx
    idx.close()


def add_question(
    s: Session,
    text: str,
    *,
    channel: str = "CPUB",
    private: bool = False,
    team: str = "T1",
    answers: int = 1,
    status: str = "answered",
    score: float = 0.0,
    accepted: bool = False,
    when: datetime = NOW - timedelta(days=30),
) -> int:
    q = Question(
        team_id=team,
        channel=channel,
        ts=f"{when.timestamp():.0f}.{next(_SEQ):06d}",
        thread_ts="1",
        author="UASK",
        text=text,
        status=status,
        is_private=private,
        created_at=when,
        updated_at=when,
    )
    s.add(q)
    s.flush()
    assert q.id is not None
    for i in range(answers):
        a = Answer(
            team_id=team,
            question_id=q.id,
            channel=channel,
            ts=f"{q.id}.{i}",
            author=f"UEXP{i}",
            text=f"Answer {i}: use vault to rotate it.",
            accepted=accepted,
            created_at=when,
            updated_at=when,
        )
        s.add(a)
        s.flush()
        if score:
            s.add(Vote(team_id=team, answer_id=a.id, voter="UVOTER", emoji="+1", weight=score, created_at=when))
    s.commit()
    return q.id


def ids(index: FullTextIndex, query: str, **kw: object) -> list[int]:
    index.sync()
    return [h.question_id for h in index.search("T1", query, **kw)]  # type: ignore[arg-type]


def test_the_index_follows_inserts_edits_and_deletes_by_any_code_path(engine: Engine, index: FullTextIndex) -> None:
    with Session(engine) as s:
        qid = add_question(s, "How do I rotate the staging database password?")
        other = add_question(s, "Where is the VPN config for Berlin?")
    assert ids(index, "rotate password") == [qid]
    with engine.begin() as conn:  # a plain SQL edit, not through the ORM
        conn.execute(
            text("UPDATE questions SET text = 'How do I renew the TLS certificate?' WHERE id = :i"), {"i": qid}
        )
    assert ids(index, "rotate password") == [] and ids(index, "certificate") == [qid]
    with Session(engine) as s:
        s.execute(update(Question).where(col(Question.id) == other).values(status="open"))
        s.commit()
    assert ids(index, "vpn berlin") == [] and ids(index, "vpn berlin", answered_only=False) == [other]
    with Session(engine) as s:
        s.execute(delete(Question).where(col(Question.id) == qid))
        s.commit()
    assert ids(index, "certificate") == []
    assert index.rebuild() == 1 and ids(index, "vpn berlin", answered_only=False) == [other]


def test_stemming_and_title_weight(engine: Engine, index: FullTextIndex) -> None:
    with Session(engine) as s:
        body = add_question(s, "Deploys are slow\nSomething about rotating passwords in the pipeline")
        title = add_question(s, "Rotating passwords for the pipeline\nIt is slow")
    assert ids(index, "rotate password") == [title, body]


def test_a_word_asked_twice_weighs_more(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        billing = add_question(s, "Who owns the billing export?")
        cron = add_question(s, "Who owns the cron export?")
    idx = open_index(engine, kind="tantivy", path=tmp_path / "index", max_lag=3600.0)
    assert isinstance(idx, TantivyIndex)
    idx.sync()  # one state for both searches (a later sync may rewrite recent documents, shifting BM25 statistics)
    assert [h.question_id for h in idx.search("T1", "billing? cron? billing!")] == [billing, cron]
    assert [h.question_id for h in idx.search("T1", "cron? billing? cron!")] == [cron, billing]
    idx.close()


def test_a_word_repeated_many_times_does_not_drown_the_rest(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        billing = add_question(s, "Who owns the billing export and the invoice archive?")
        variable = add_question(s, "What does x stand for in the cron job?")
    asked = "Who owns the billing export and the invoice archive?\nx = x + x * x - x / x + x ^ x, x == x, x != x, x"
    found = {}
    for saturate in (True, False):  # each repeat weighs less than the last (1 + ln n), not n times as much
        idx = open_index(engine, kind="tantivy", path=tmp_path / str(saturate), max_lag=3600.0, saturate=saturate)
        found[saturate] = [h.question_id for h in idx.search("T1", asked)]
        idx.close()
    assert found[True] == [billing, variable] and found[False] == [variable, billing]


def test_bad_queries_never_raise(engine: Engine, index: FullTextIndex) -> None:
    with Session(engine) as s:
        qid = add_question(s, 'How do I rotate the database password? NEAR the end, use "vault" -force *')
    for query in BAD_QUERIES:
        found = ids(index, query, private_channels=[query[:50]], tags=[query[:50]])
        assert found in ([], [qid]), query
        with Session(engine) as s:
            assert (
                suggest(
                    s,
                    index,
                    ws_team_id="T1",
                    text=query,
                    tags=[query],
                    channel="C1",
                    channel_is_private=False,
                    member_channels={query},
                    now=NOW,
                )
                is not None
            )
    assert ids(index, "'; DROP TABLE questions; --  password") == [qid]
    assert query_terms('NEAR("a" -b*) OR c:d') == ["near", "b", "c", "d"]


def test_privacy_public_thread_sees_public_only_private_needs_membership(engine: Engine, index: FullTextIndex) -> None:
    with Session(engine) as s:
        public = add_question(s, "How do I rotate the database password?")
        secret = add_question(s, "How do I rotate the database password in project X?", channel="CSECRET", private=True)
        other = add_question(s, "How do I rotate the database password, team Y?", channel="COTHER", private=True)
        add_question(s, "How do I rotate the database password elsewhere?", team="T2")
    index.sync()

    def offered(**kw: object) -> set[int]:
        with Session(engine) as s:
            found = suggest(
                s,
                index,
                ws_team_id="T1",
                text="rotate the database password",
                now=NOW,
                ranking=Ranking(threshold=0.0),
                **kw,
            )  # type: ignore[arg-type]
        return {x.question_id for x in found}

    assert offered(channel="CPUB", channel_is_private=False, member_channels={"CSECRET", "COTHER"}) == {public}
    assert offered(channel="CSECRET", channel_is_private=True, member_channels={"CSECRET", "COTHER"}) == {
        public,
        secret,
    }
    assert offered(channel="CSECRET", channel_is_private=True, member_channels=set()) == {public}
    with Session(engine) as s:
        mine = search(s, index, ws_team_id="T1", text="rotate database password", member_channels={"COTHER"}, now=NOW)
    assert {x.question_id for x in mine} == {public, other}


def test_only_useful_answers_are_suggested(engine: Engine, index: FullTextIndex) -> None:
    same = "How do I rotate the staging database password?"
    with Session(engine) as s:
        add_question(s, same, answers=0, status="open")
        add_question(s, same, score=-2.0)
        good = add_question(s, same, score=3.0)
        accepted = add_question(s, same, score=-1.0, accepted=True, status="resolved")
    with Session(engine) as s:
        found = rank(s, index, team_id="T1", text=same, now=NOW)
    assert [x.question_id for x in found] == [accepted, good]  # at equal relevance, accepted first
    assert found[0].accepted and found[0].answer_author == "UEXP0" and found[1].rating == 3.0


def test_threshold_returns_nothing_for_unrelated_questions(engine: Engine, index: FullTextIndex) -> None:
    with Session(engine) as s:
        qid = add_question(s, "How do I rotate the staging database password?\nVault says permission denied.")
        add_question(s, "Where is the VPN config for the Berlin office?")
    kw = {"channel": "C1", "channel_is_private": False, "member_channels": None, "now": NOW}
    with Session(engine) as s:
        same = suggest(s, index, ws_team_id="T1", text="How can I rotate the staging database password?", **kw)  # type: ignore[arg-type]
        unrelated = suggest(s, index, ws_team_id="T1", text="Which pizza place delivers to the office password?", **kw)  # type: ignore[arg-type]
    assert [x.question_id for x in same] == [qid] and same[0].confidence >= Ranking().threshold
    assert unrelated == []


def test_best_answer_prefers_accepted_then_rating() -> None:
    t = NOW
    a = AnswerRow(1, 1, "U1", "x", False, 2.0, t)
    b = AnswerRow(2, 1, "U2", "y", True, -1.0, t)
    c = AnswerRow(3, 1, "U3", "z", False, -1.0, t)
    assert (
        best_answer([a, b, c]) == b
        and best_answer([a, c]) == a
        and best_answer([c]) is None
        and best_answer([]) is None
    )
    assert title_of("first line\nsecond") == "first line" and title_of("x" * 300) == "x" * 120


def test_triggers_survive_every_migration(engine: Engine) -> None:
    with engine.connect() as conn:
        assert not triggers_missing(conn)
    assert not DatabaseIndex(engine).is_stale()


def _tantivy(engine: Engine, path: Path) -> TantivyIndex:
    idx = open_index(engine, kind="tantivy", path=path, max_lag=0.0)
    assert isinstance(idx, TantivyIndex)
    return idx


def test_a_replica_sees_another_replicas_question_within_a_sync(engine: Engine, tmp_path: Path) -> None:
    a, b = _tantivy(engine, tmp_path / "a"), _tantivy(engine, tmp_path / "b")
    other = _another_engine(engine)
    try:
        with Session(other) as s:  # another replica: its own engine and connections
            qid = add_question(s, "How do I rotate the staging database password?")
        assert [h.question_id for h in b.search("T1", "rotate password")] == [qid]  # max_lag=0: searching syncs
        assert a.sync() == 1 and [h.question_id for h in a.search("T1", "rotate password")] == [qid]
        with other.begin() as conn:
            conn.execute(text("DELETE FROM questions WHERE id = :i"), {"i": qid})
        assert b.sync() == 1 and b.search("T1", "rotate password") == []
    finally:
        a.close(), b.close(), other.dispose()


def _search_path(engine: Engine) -> str:
    """PostgreSQL tests run in a schema of their own: another engine must look there too."""
    if engine.dialect.name != "postgresql":
        return ""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar())


def _another_engine(engine: Engine) -> Engine:
    sp = _search_path(engine)
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, **({"connect_args": {"options": f"-csearch_path={sp}"}} if sp else {}))


def test_a_second_process_writes_and_this_one_sees_it(engine: Engine, tmp_path: Path) -> None:
    idx = _tantivy(engine, tmp_path / "index")
    search_path = _search_path(engine)
    script = (
        "import sys, json; from sqlalchemy import text; from storage.db import make_engine\n"
        "url, sp = sys.argv[1], sys.argv[2]\n"
        "e = make_engine(url, **({'connect_args': {'options': f'-csearch_path={sp}'}} if sp else {}))\n"
        "with e.begin() as c:\n"
        '    c.execute(text("INSERT INTO questions (team_id, enterprise_id, channel, ts, thread_ts, author, text,'
        " status, source, is_private, created_at, updated_at) VALUES ('T1', '', 'C9', '9.9', '9.9', 'U9',"
        " 'Who owns the billing cron job?', 'answered', 'implicit', false, '2026-01-01', '2026-01-01')\"))\n"
        "    print(json.dumps(c.execute(text('SELECT max(id) FROM questions')).scalar()))\n"
    )
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-c", script, url, search_path], capture_output=True, text=True, check=True)
    qid = json.loads(done.stdout)
    assert [h.question_id for h in idx.search("T1", "billing cron")] == [qid]
    idx.close()


def test_rebuild_at_start_when_missing_stale_or_from_another_database(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        qid = add_question(s, "How do I rotate the staging database password?")
    path = tmp_path / "index"
    _tantivy(engine, path).close()
    meta = path / "peerbot-search.json"
    for spoil in ("missing", "other database", "pruned", "format"):
        if spoil == "missing":
            meta.unlink()
        elif spoil == "other database":
            meta.write_text(json.dumps({**json.loads(meta.read_text()), "instance": "elsewhere"}))
        elif spoil == "format":
            meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": 0}))
        else:
            with Session(engine) as s:  # a change this index never read, then forgotten by the log
                add_question(s, "Where is the VPN config?")
            with engine.begin() as conn:
                conn.execute(text("UPDATE search_changes SET changed_at = '2000-01-01'"))
            assert prune_changes(engine, keep_seconds=60) >= 2
        idx = _tantivy(engine, path)
        assert not idx.is_stale() and [h.question_id for h in idx.search("T1", "rotate password")] == [qid], spoil
        idx.close()
    shutil.rmtree(path)
    idx = _tantivy(engine, path)
    assert [h.question_id for h in idx.search("T1", "rotate password")] == [qid]
    idx.close()


def test_postgres_uses_its_full_text_index(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = " ".join(
            r[0]
            for r in conn.execute(
                text(f"EXPLAIN SELECT id FROM questions WHERE {PG_TSV} @@ to_tsquery('english', 'x')")
            )
        )
    assert "search_questions_tsv" in plan


def test_retagging_a_question_reaches_the_tantivy_index(engine: Engine, tmp_path: Path) -> None:
    from storage import queries
    from storage.models import Workspace

    idx = _tantivy(engine, tmp_path / "tags")
    with Session(engine) as s:
        qid = add_question(s, "How do I rotate the staging database password?")
    assert idx.sync() >= 1
    assert idx.sync() == 0
    with Session(engine) as s:  # the asker's "Edit topics": only question_tags changes
        queries.set_question_tags(s, ws=Workspace("T1"), question_id=qid, tags=["postgres", "vault"])
        s.commit()
    assert idx.sync() == 1  # the change log carried it, so the index re-reads the question and its tags
