"""Reusing what colleagues answered: a suggestion that solved a question, credit, and answer freshness."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from bot.search import Suggestion
from storage.models import Answer, Question, QuestionStatus


def mark_solved(session: Session, *, question: Question, original: Question, answer: Answer, now: datetime) -> int:
    """The asker says a suggested Q&A solved it: a duplicate, resolved, no routing. Returns how many it helped."""
    question.status, question.duplicate_of, question.reused_answer_id = QuestionStatus.RESOLVED, original.id, answer.id
    question.route_at, question.updated_at = None, now
    session.add(question)
    session.flush()
    return helped(session, answer_id=answer.id or 0)


def helped(session: Session, *, answer_id: int) -> int:
    """How many later questions this answer solved."""
    stmt = select(func.count()).select_from(Question).where(Question.reused_answer_id == answer_id)
    return int(session.exec(stmt).one())


def due_for_check(
    session: Session, suggestions: list[Suggestion], *, now: datetime, max_age: timedelta
) -> list[Answer]:
    """Suggested answers older than `max_age` whose author has not confirmed them within `max_age`."""
    due = []
    for s in suggestions:
        answer = session.get(Answer, s.answer_id)
        if answer is None or now - answer.created_at < max_age:
            continue
        if answer.checked_at is None or now - answer.checked_at >= max_age:
            answer.checked_at = now  # asked now: not again for every suggestion until it is answered
            session.add(answer)
            due.append(answer)
    return due


def confirm(session: Session, *, answer_id: int, still_right: bool, now: datetime) -> Answer | None:
    """The author's verdict on an old answer: "needs update" hides it from suggestions until it is re-answered."""
    answer = session.get(Answer, answer_id)
    if answer is None:
        return None
    answer.needs_update, answer.checked_at = not still_right, now
    session.add(answer)
    return answer
