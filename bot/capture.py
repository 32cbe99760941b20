"""Capturing questions, answers and follow-ups from channel messages, and following edits and deletes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlmodel import Session, col

from bot.text import ts_to_datetime
from storage import queries
from storage.models import Answer, Channel, FollowUp, Question, QuestionStatus, Workspace

MAX_TEXT = 40_000  # Slack's own limit on a message; anything longer is cut, not refused


class Source(StrEnum):
    IMPLICIT = "implicit"
    COMMAND = "command"
    SHORTCUT = "shortcut"
    REACTION = "reaction"
    MENTION = "mention"


class Kind(StrEnum):
    QUESTION = "question"
    ANSWER = "answer"
    FOLLOWUP = "followup"


@dataclass(frozen=True)
class Message:
    """A channel message as the domain sees it (never the raw Slack payload)."""

    ws: Workspace
    channel: str
    ts: str
    author: str
    text: str
    thread_ts: str | None = None
    is_private: bool = False


def is_watched(session: Session, *, ws: Workspace, channel_id: str, configured: frozenset[str]) -> bool:
    if channel_id in configured:
        return True
    row = queries.channel(session, ws=ws, channel_id=channel_id)
    return bool(row and row.watched)


def watched_channel(
    session: Session, *, ws: Workspace, channel_id: str, configured: frozenset[str]
) -> tuple[bool, Channel | None]:
    """Whether the channel is watched (as is_watched says), and its row: read once, for the tags too."""
    row = queries.channel(session, ws=ws, channel_id=channel_id)
    return channel_id in configured or bool(row and row.watched), row


def capture_question(session: Session, *, msg: Message, source: Source, now: datetime) -> Question | None:
    """Store `msg` as a question; None when it was captured before (by any route)."""
    return queries.add_question(
        session,
        team_id=msg.ws.team_id,
        enterprise_id=msg.ws.enterprise_id,
        channel=msg.channel,
        ts=msg.ts,
        thread_ts=msg.thread_ts or msg.ts,
        author=msg.author,
        text=msg.text[:MAX_TEXT],
        status=QuestionStatus.OPEN,
        source=source,
        is_private=msg.is_private,
        created_at=ts_to_datetime(msg.ts),
        updated_at=now,
    )


def record_reply(session: Session, *, msg: Message, now: datetime, via: str = "thread") -> tuple[Kind, int] | None:
    """A reply in a captured question's thread: the asker's own is a follow-up, anyone else's an answer.

    Returns what it recorded and the question's id; None when the thread is not a captured question's.
    """
    if not msg.thread_ts:
        return None
    question = queries.question_for_reply(
        session, ws=msg.ws, channel_id=msg.channel, thread_ts=msg.thread_ts, ts=msg.ts
    )
    if question is None or question.id is None:
        return None
    values = {
        "team_id": msg.ws.team_id,
        "enterprise_id": msg.ws.enterprise_id,
        "question_id": question.id,
        "channel": msg.channel,
        "ts": msg.ts,
        "author": msg.author,
        "text": msg.text[:MAX_TEXT],
        "created_at": ts_to_datetime(msg.ts),
        "updated_at": now,
    }
    if msg.author == question.author:
        return (Kind.FOLLOWUP, question.id) if queries.add_followup(session, **values) else None
    if not queries.add_answer(session, **values, via=via):
        return None
    if question.status == QuestionStatus.OPEN:
        queries.set_question_status(session, question_id=question.id, status=QuestionStatus.ANSWERED, now=now)
    return Kind.ANSWER, question.id


def _stored(session: Session, ws: Workspace, channel_id: str, ts: str) -> Question | Answer | FollowUp | None:
    return (
        queries.question_at(session, ws=ws, channel_id=channel_id, ts=ts)
        or queries.answer_at(session, ws=ws, channel_id=channel_id, ts=ts)
        or queries.followup_at(session, ws=ws, channel_id=channel_id, ts=ts)
    )


def apply_edit(session: Session, *, ws: Workspace, channel_id: str, ts: str, text: str, now: datetime) -> Kind | None:
    """An edit in Slack updates the stored text of whatever we captured at that ts."""
    row = _stored(session, ws, channel_id, ts)
    if row is None or row.text == text[:MAX_TEXT]:
        return None
    row.text, row.updated_at = text[:MAX_TEXT], now
    if isinstance(row, Answer):
        row.needs_update = False  # the author updated it: it may be suggested again
    session.add(row)
    return _kind(row)


def apply_delete(session: Session, *, ws: Workspace, channel_id: str, ts: str, now: datetime) -> Kind | None:
    """A delete in Slack removes what we captured; a question takes its answers and votes with it."""
    row = _stored(session, ws, channel_id, ts)
    if row is None:
        return None
    kind = _kind(row)
    session.execute(delete(type(row)).where(col(type(row).id) == row.id))
    if isinstance(row, Answer):
        _reopen_if_unanswered(session, question_id=row.question_id, now=now)
    return kind


def _reopen_if_unanswered(session: Session, *, question_id: int, now: datetime) -> None:
    question = session.get(Question, question_id)
    if question is None:
        return
    remaining = queries.answers_to(session, question_id=question_id)
    if not remaining:
        status = QuestionStatus.OPEN
    elif question.status == QuestionStatus.RESOLVED and not any(a.accepted for a in remaining):
        status = QuestionStatus.ANSWERED
    else:
        return
    queries.set_question_status(session, question_id=question_id, status=status, now=now)


def _kind(row: Question | Answer | FollowUp) -> Kind:
    if isinstance(row, Question):
        return Kind.QUESTION
    return Kind.ANSWER if isinstance(row, Answer) else Kind.FOLLOWUP
