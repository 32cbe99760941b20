"""Storage: migrations match the models, unique keys make writes idempotent, deletes cascade."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import Session, SQLModel, select

from bot.capture import Message, Source, apply_delete, capture_question, record_reply
from bot.ratings import Reaction, Rules, record_reaction
from storage import queries
from storage.db import session_factory
from storage.fulltext import include_name
from storage.models import Answer, ProcessedEvent, Question, QuestionStatus, Vote, Workspace

WS = Workspace("T1", "E1")
RULES = Rules(weights={"+1": 1.0, "-1": -1.0}, accept_emoji="white_check_mark")


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        # Tables and indexes named search_* belong to the full-text index (storage/fulltext.py), not to the models.
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {"users", "channels", "questions", "answers", "followups", "votes", "processed_events"} <= tables


def test_every_row_carries_its_workspace() -> None:
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        assert "team_id" in table.c, table.name
        assert "enterprise_id" in table.c or table.name == "processed_events", table.name


def _msg(ts: str, author: str = "UASK", text: str = "How do I rotate the DB password?", **kw: str) -> Message:
    return Message(ws=WS, channel="C1", ts=ts, author=author, text=text, **kw)  # type: ignore[arg-type]


def test_question_capture_is_idempotent_and_scoped_by_workspace(engine: Engine, clock) -> None:  # type: ignore[no-untyped-def]
    db = session_factory(engine)
    with db() as s:
        assert capture_question(s, msg=_msg("1.1"), source=Source.IMPLICIT, now=clock()) is not None
        assert capture_question(s, msg=_msg("1.1"), source=Source.MENTION, now=clock()) is None
        other = Message(ws=Workspace("T2"), channel="C1", ts="1.1", author="U", text="x?")
        assert capture_question(s, msg=other, source=Source.IMPLICIT, now=clock()) is not None
        s.commit()
    with db() as s:
        rows = s.exec(select(Question)).all()
        assert sorted((q.team_id, q.source) for q in rows) == [("T1", "implicit"), ("T2", "implicit")]
        assert rows[0].created_at.tzinfo is not None


def test_claim_event_once(engine: Engine, clock) -> None:  # type: ignore[no-untyped-def]
    db = session_factory(engine)
    with db() as s:
        assert queries.claim_event(s, ws=WS, event_id="Ev1", event_type="message", now=clock())
        assert not queries.claim_event(s, ws=WS, event_id="Ev1", event_type="message", now=clock())
        s.commit()
        clock.advance(days=2)
        assert queries.forget_events_before(s, cutoff=clock() - timedelta(days=1)) == 1
        s.commit()
        assert s.exec(select(ProcessedEvent)).all() == []


def test_answers_votes_accept_and_cascading_delete(engine: Engine, clock) -> None:  # type: ignore[no-untyped-def]
    db = session_factory(engine)
    with db() as s:
        capture_question(s, msg=_msg("10.0"), source=Source.IMPLICIT, now=clock())
        assert record_reply(s, msg=_msg("11.0", author="UDANA", text="Use vault", thread_ts="10.0"), now=clock())
        assert record_reply(s, msg=_msg("12.0", text="thanks, trying", thread_ts="10.0"), now=clock()) == (
            "followup",
            1,
        )
        s.commit()
    with db() as s:
        q = s.exec(select(Question)).one()
        assert q.status == QuestionStatus.ANSWERED

        def react(voter: str, emoji: str, added: bool = True) -> object:
            r = Reaction(ws=WS, channel="C1", ts="11.0", voter=voter, emoji=emoji, added=added)
            return record_reaction(s, reaction=r, rules=RULES, now=clock())

        assert react("UBOB", "+1") == "voted"
        assert react("UBOB", "+1") is None  # one vote per person, answer and emoji
        assert react("UDANA", "+1") is None  # never on your own answer
        assert react("UBOB", "tada") is None  # not a voting emoji
        assert react("UBOB", "white_check_mark") is None  # only the asker accepts
        assert react("UASK", "white_check_mark") == "accepted"
        s.commit()
        assert s.exec(select(Question)).one().status == QuestionStatus.RESOLVED
        assert s.exec(select(Answer)).one().accepted
        assert react("UASK", "white_check_mark", added=False) == "unaccepted"
        s.commit()
        assert s.exec(select(Question)).one().status == QuestionStatus.ANSWERED
        assert apply_delete(s, ws=WS, channel_id="C1", ts="10.0", now=clock()) == "question"
        s.commit()
    with Session(engine) as s:
        assert s.exec(select(Answer)).all() == [] and s.exec(select(Vote)).all() == []
