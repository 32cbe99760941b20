"""Reactions on captured answers become votes; the asker's ✅ accepts an answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from storage import queries
from storage.models import Answer, Question, QuestionStatus, Workspace


class Outcome(StrEnum):
    VOTED = "voted"
    UNVOTED = "unvoted"
    ACCEPTED = "accepted"
    UNACCEPTED = "unaccepted"


@dataclass(frozen=True)
class Rules:
    """Which reactions count, and how much: PEERBOT_VOTE_EMOJI and PEERBOT_ACCEPT_EMOJI."""

    weights: Mapping[str, float]
    accept_emoji: str

    def accept_weight(self) -> float:
        return self.weights.get(self.accept_emoji, 1.0)


@dataclass(frozen=True)
class Reaction:
    ws: Workspace
    channel: str
    ts: str
    voter: str
    emoji: str
    added: bool


def record_reaction(session: Session, *, reaction: Reaction, rules: Rules, now: datetime) -> Outcome | None:
    """Apply one reaction; None when it changes nothing (not an answer, own answer, not a vote, repeat)."""
    answer = queries.answer_at(session, ws=reaction.ws, channel_id=reaction.channel, ts=reaction.ts)
    if answer is None or answer.id is None or answer.author == reaction.voter:
        return None
    question = session.get(Question, answer.question_id)
    if question is None:
        return None
    if reaction.emoji == rules.accept_emoji and reaction.voter == question.author:
        return _accept(session, answer=answer, question=question, reaction=reaction, rules=rules, now=now)
    weight = rules.weights.get(reaction.emoji)
    if weight is None:
        return None
    return _vote(session, answer=answer, reaction=reaction, weight=weight, now=now)


def _vote(session: Session, *, answer: Answer, reaction: Reaction, weight: float, now: datetime) -> Outcome | None:
    assert answer.id is not None
    if not reaction.added:
        removed = queries.remove_vote(session, answer_id=answer.id, voter=reaction.voter, emoji=reaction.emoji)
        return Outcome.UNVOTED if removed else None
    added = queries.add_vote(
        session,
        team_id=reaction.ws.team_id,
        enterprise_id=reaction.ws.enterprise_id,
        answer_id=answer.id,
        voter=reaction.voter,
        emoji=reaction.emoji,
        weight=weight,
        created_at=now,
    )
    return Outcome.VOTED if added else None


def _accept(
    session: Session, *, answer: Answer, question: Question, reaction: Reaction, rules: Rules, now: datetime
) -> Outcome | None:
    assert question.id is not None
    if _vote(session, answer=answer, reaction=reaction, weight=rules.accept_weight(), now=now) is None:
        return None
    others = queries.answers_to(session, question_id=question.id)
    if reaction.added:
        for other in others:
            other.accepted = other.id == answer.id
            session.add(other)
        status = QuestionStatus.RESOLVED
    else:
        answer.accepted = False
        session.add(answer)
        status = (
            QuestionStatus.RESOLVED
            if any(a.accepted and a.id != answer.id for a in others)
            else QuestionStatus.ANSWERED
        )
    queries.set_question_status(session, question_id=question.id, status=status, now=now)
    return Outcome.ACCEPTED if reaction.added else Outcome.UNACCEPTED
