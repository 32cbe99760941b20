"""Routing state: which experts are asked about a question, when they are due, and what happens next."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta

from sqlmodel import Session

from bot import credibility, routing
from storage import queries
from storage.models import Assignment, AssignmentStatus, Question, QuestionStatus, Workspace
from storage.models import Expert as ExpertRow

OPEN = (AssignmentStatus.PENDING, AssignmentStatus.SNOOZED)
SNOOZE = timedelta(hours=1)


@dataclass(frozen=True)
class RoutingRules:
    """PEERBOT_EXPERTS_PER_ROUND, PEERBOT_ROUNDS, PEERBOT_ANSWER_HOURS, PEERBOT_FALLBACK_CHANNEL."""

    per_round: int = 2
    rounds: int = 2
    answer_hours: float = 2.0
    fallback_channel: str = ""


@dataclass
class Routed:
    """What a routing step decided; the caller sends the DMs and messages after committing."""

    asked: list[Assignment] = field(default_factory=list)
    wait_until: datetime | None = None
    fallback: bool = False
    nobody: bool = False


def profile(row: ExpertRow, topics: list[str], *, load: int, credibility: dict[str, float]) -> routing.Expert:
    days = frozenset(int(d) for d in row.work_days.split(",") if d.strip().isdigit())
    return routing.Expert(
        user_id=row.user_id,
        topics=frozenset(topics),
        credibility=credibility,
        open_assignments=load,
        capacity=row.capacity,
        tz=row.tz,
        work_start=time(row.work_start % 24),
        work_end=time(row.work_end % 24),
        work_days=days,
        on_leave_until=row.on_leave_until,
        paused=row.paused,
        deleted=row.deleted,
        last_asked_at=row.last_asked_at,
    )


def topic_credibilities(session: Session, *, ws: Workspace, topics: list[str]) -> dict[tuple[str, str], float]:
    """(person, topic) → credibility from the votes in `topics`, by the formula in bot/credibility.py."""
    rows = queries.vote_records(session, ws=ws, topics=topics)
    tags = queries.tags_of_questions(session, question_ids=sorted({q for *_, q in rows}))
    wanted = set(topics)
    records = [
        credibility.VoteRecord(voter, author, weight, at.date(), tuple(t for t in tags.get(q, []) if t in wanted))
        for voter, author, weight, at, q in rows
    ]
    return credibility.credibility(records)


def candidates(session: Session, *, ws: Workspace, topics: list[str]) -> dict[str, tuple[ExpertRow, routing.Expert]]:
    """Every expert in any of `topics`, with their load and per-topic credibility from votes."""
    rows = queries.experts_in_topics(session, ws=ws, topics=topics)
    users = [r.user_id for r in rows]
    loads = queries.open_assignment_counts(session, ws=ws, users=users)
    scores = topic_credibilities(session, ws=ws, topics=topics) if users else {}
    topic_map = queries.expert_topics(session, expert_ids=[r.id for r in rows if r.id is not None])
    out: dict[str, tuple[ExpertRow, routing.Expert]] = {}
    for row in rows:
        cred = {t: scores.get((row.user_id, t), credibility.smoothed(0, 0)) for t in topics}
        out[row.user_id] = (
            row,
            profile(row, topic_map.get(row.id or 0, []), load=loads.get(row.user_id, 0), credibility=cred),
        )
    return out


def route(
    session: Session,
    *,
    question: Question,
    rules: RoutingRules,
    now: datetime,
    topics: list[str] | None = None,
    members: Collection[str] = (),
) -> Routed:
    """Ask the next round of experts, or decide to wait for working hours, or fall back to a channel.

    `topics` may be passed when the caller just computed them (a new capture), saving a query.
    """
    assert question.id is not None
    ws = Workspace.of(question)
    if question.route_at is not None:  # written only when it changes: most questions never wait
        question.route_at = None
        session.add(question)
    if question.status != QuestionStatus.OPEN or question.escalated:
        return Routed()
    if question.route_round >= rules.rounds:
        return _fall_back(session, question, rules)
    topics = queries.question_tags(session, question_id=question.id) if topics is None else topics
    pool = candidates(session, ws=ws, topics=topics) if topics else {}
    if question.is_private:  # a private channel's question is only ever shown to its members
        pool = {user: found for user, found in pool.items() if user in members}
    if not pool:
        return _fall_back(session, question, rules) if question.route_round else Routed(nobody=True)
    experts = [p for _, p in pool.values()]
    asked_before = {a.expert for a in queries.assignments_for(session, question_id=question.id)}
    exclude = {question.author} | asked_before | queries.thread_people(session, question_id=question.id)
    history = _history(session, ws=ws, users=list(pool), text=question.text, topics=topics, now=now)
    ranked = routing.rank(topics, experts, now=now, exclude=exclude, k=rules.per_round, history_scores=history)
    if not ranked:
        wait = routing.next_start(experts, topics, now=now, exclude=exclude, history_scores=history)
        if wait is not None and wait > now:
            question.route_at = wait
            return Routed(wait_until=wait)
        return _fall_back(session, question, rules) if question.route_round else Routed(nobody=True)
    question.route_round += 1
    routed = Routed()
    # Rows are updated in id order, so two questions routed at once to the same experts cannot deadlock.
    for pick in sorted(ranked, key=lambda p: pool[p.user_id][0].id or 0):
        row, expert = pool[pick.user_id]
        routed.asked.append(_ask(session, question, ws, row, expert, rules, now, suggested_by=""))
    return routed


def _history(
    session: Session, *, ws: Workspace, users: list[str], text: str, topics: list[str], now: datetime
) -> dict[str, float]:
    """What the candidates answered lately, as the routing evaluation measures it (bench/routing_eval.py)."""
    answered = queries.recent_answers_by(session, ws=ws, users=users)
    if not answered:
        return {}
    records = [routing.HistoryRecord(user, q_text, at, tuple(tags)) for user, q_text, at, tags in answered]
    return routing.HistoryIndex(records).scores(text, topics, now=now)


def _ask(
    session: Session,
    question: Question,
    ws: Workspace,
    row: ExpertRow,
    expert: routing.Expert,
    rules: RoutingRules,
    now: datetime,
    *,
    suggested_by: str,
) -> Assignment:
    assignment = Assignment(
        team_id=ws.team_id,
        enterprise_id=ws.enterprise_id,
        question_id=question.id or 0,
        expert=row.user_id,
        round=max(question.route_round, 1),
        suggested_by=suggested_by,
        asked_at=now,
        due_at=add_working_hours(expert, now, rules.answer_hours),
    )
    row.last_asked_at = now
    session.add(row)
    session.add(assignment)
    session.flush()
    return assignment


def _fall_back(session: Session, question: Question, rules: RoutingRules) -> Routed:
    question.escalated = True
    session.add(question)
    return Routed(fallback=bool(rules.fallback_channel), nobody=not rules.fallback_channel)


def add_working_hours(expert: routing.Expert, start: datetime, hours: float) -> datetime:
    """`hours` of the expert's working time after `start` (their calendar, their time zone)."""
    left, at, step = timedelta(hours=hours), start, timedelta(minutes=15)
    # Only the calendar matters here: not their load, pause or leave (leave is checked when asking).
    calendar = replace(expert, open_assignments=0, paused=False, deleted=False, on_leave_until=None)
    for _ in range(4 * 24 * 31):  # a month of quarter hours at most: someone who never works times out then
        if left <= timedelta(0):
            break
        if routing.is_available(calendar, at):
            left -= step
        at += step
    return at


def close(session: Session, *, question_id: int, now: datetime, answered_by: str | None) -> list[Assignment]:
    """The question was answered (by `answered_by`) or settled: close every open assignment, return them."""
    closed = []
    for a in queries.assignments_for(session, question_id=question_id):
        if a.status in OPEN:
            a.status = AssignmentStatus.ANSWERED if a.expert == answered_by else AssignmentStatus.CANCELLED
            a.closed_at = now
            session.add(a)
            closed.append(a)
    question = session.get(Question, question_id)
    if question is not None and question.route_at is not None:
        question.route_at = None
        session.add(question)
    return closed


def suggest(
    session: Session, *, question_id: int, by: str, person: str, rules: RoutingRules, now: datetime
) -> int | None:
    """`by` suggests `person` for a question: they are asked next and learn its topics; None if asked before."""
    question = session.get(Question, question_id)
    if question is None or any(a.expert == person for a in queries.assignments_for(session, question_id=question_id)):
        return None
    ws = Workspace.of(question)
    row = queries.expert(session, ws=ws, user_id=person)
    if row is None:
        row = ExpertRow(team_id=ws.team_id, enterprise_id=ws.enterprise_id, user_id=person, updated_at=now)
        session.add(row)
        session.flush()
    topics = queries.question_tags(session, question_id=question_id)
    for tag in topics:  # the tag graph learns who knows what from colleagues' suggestions
        queries.add_expert_topic(session, ws=ws, expert_id=row.id or 0, tag=tag)
    expert = profile(row, topics, load=0, credibility={})
    return _ask(session, question, ws, row, expert, rules, now, suggested_by=by).id
