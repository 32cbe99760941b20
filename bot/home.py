"""What a person's App Home shows, gathered from the database (rendering is handlers/blocks.home_view)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from bot import assignments, digest, onboarding
from storage import queries
from storage.models import Assignment, Enrolment, Nudge, Question, Workspace

PAGE = 5  # questions per page of "Your questions"


@dataclass
class Home:
    user: str
    page: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)
    more_questions: bool = False
    waiting: list[tuple[Assignment, Question]] = field(default_factory=list)
    is_expert: bool = False
    topics: list[tuple[str, float]] = field(default_factory=list)  # topic, credibility
    answers: int = 0
    votes: float = 0.0
    helped: int = 0
    enrolment: Enrolment | None = None
    steps: list[Nudge] = field(default_factory=list)
    progress: onboarding.Progress | None = None
    admin: bool = False
    report: digest.GapReport | None = None


def gather(session: Session, *, ws: Workspace, user: str, admin: bool, now: datetime, page: int = 1) -> Home:
    page = max(page, 1)
    home = Home(user=user, page=page, admin=admin)
    home.counts = queries.question_counts_by(session, ws=ws, author=user)
    found = queries.questions_by(session, ws=ws, author=user, offset=(page - 1) * PAGE, limit=PAGE + 1)
    home.questions, home.more_questions = found[:PAGE], len(found) > PAGE
    for a in queries.open_assignments_of(session, ws=ws, expert=user, limit=10):
        q = session.get(Question, a.question_id)
        if q is not None:
            home.waiting.append((a, q))
    row = queries.expert(session, ws=ws, user_id=user)
    if row is not None and not row.deleted:
        home.is_expert = True
        topics = queries.expert_topics(session, expert_ids=[row.id or 0]).get(row.id or 0, [])
        scores = assignments.topic_credibilities(session, ws=ws, topics=topics)
        home.topics = [(t, scores.get((user, t), 0.5)) for t in topics]
    home.answers, home.votes = queries.answer_totals(session, ws=ws, author=user)
    home.helped = queries.helped_count(session, ws=ws, author=user)
    enrolment = queries.enrolment(session, ws=ws, user_id=user)
    if enrolment is not None:
        home.enrolment = enrolment
        home.steps = queries.nudges_of(session, enrolment_id=enrolment.id or 0)
        home.progress = onboarding.progress(session, row=enrolment)
    if admin:
        home.report = digest.gap_report(session, ws=ws, start=now - timedelta(days=7), end=now + timedelta(seconds=1))
    return home
