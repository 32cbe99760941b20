"""Queries named by intent; keyword-only, so every call site reads as a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, true, union, update
from sqlalchemy import select as sql_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from storage.models import (
    Answer,
    Assignment,
    AssignmentStatus,
    Channel,
    Digest,
    DigestKind,
    DigestStatus,
    Enrolment,
    EnrolmentStatus,
    Expert,
    ExpertTopic,
    FollowUp,
    Nudge,
    NudgeStatus,
    ProcessedEvent,
    Question,
    QuestionStatus,
    QuestionTag,
    Tag,
    User,
    Vote,
    Workspace,
)

# A claimed DM not sent within this long (its sender died) may be claimed again.
DM_CLAIM = timedelta(minutes=2)


def insert_ignoring_duplicates(session: Session, model: type[SQLModel], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when a row was written (atomic under concurrency)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    stmt = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return session.execute(stmt).first() is not None


def claim_event(session: Session, *, ws: Workspace, event_id: str, event_type: str, now: datetime) -> bool:
    """Record that `event_id` was handled; False when it already was (a retry or a duplicate)."""
    values = {"team_id": ws.team_id, "event_id": event_id, "event_type": event_type, "received_at": now}
    return insert_ignoring_duplicates(session, ProcessedEvent, values)


def forget_events_before(session: Session, *, cutoff: datetime) -> int:
    """Slack retries for at most about an hour; older event ids need not be kept."""
    result = session.execute(delete(ProcessedEvent).where(col(ProcessedEvent.received_at) < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def channel(session: Session, *, ws: Workspace, channel_id: str) -> Channel | None:
    stmt = select(Channel).where(Channel.team_id == ws.team_id, Channel.slack_id == channel_id)
    return session.exec(stmt).first()


def watched_channels(session: Session, *, ws: Workspace) -> list[Channel]:
    stmt = select(Channel).where(Channel.team_id == ws.team_id, col(Channel.watched).is_(True))
    return list(session.exec(stmt.order_by(Channel.name)))


def save_channel(
    session: Session,
    *,
    ws: Workspace,
    channel_id: str,
    name: str,
    is_private: bool,
    watched: bool,
    now: datetime,
) -> Channel:
    row = channel(session, ws=ws, channel_id=channel_id)
    if row is None:
        row = Channel(team_id=ws.team_id, enterprise_id=ws.enterprise_id, slack_id=channel_id, updated_at=now)
    row.name, row.is_private, row.watched, row.updated_at = name, is_private, watched, now
    session.add(row)
    return row


def user(session: Session, *, ws: Workspace, user_id: str) -> User | None:
    return session.exec(select(User).where(User.team_id == ws.team_id, User.slack_id == user_id)).first()


def save_user(session: Session, *, ws: Workspace, user_id: str, now: datetime, **profile: Any) -> User:
    row = user(session, ws=ws, user_id=user_id)
    if row is None:
        row = User(team_id=ws.team_id, enterprise_id=ws.enterprise_id, slack_id=user_id, updated_at=now)
    for key, value in profile.items():
        setattr(row, key, value)
    row.updated_at = now
    session.add(row)
    return row


def question_at(session: Session, *, ws: Workspace, channel_id: str, ts: str) -> Question | None:
    stmt = select(Question).where(Question.team_id == ws.team_id, Question.channel == channel_id, Question.ts == ts)
    return session.exec(stmt).first()


def question_for_reply(session: Session, *, ws: Workspace, channel_id: str, thread_ts: str, ts: str) -> Question | None:
    """The latest question asked in this thread before the reply `ts`."""
    stmt = (
        select(Question)
        .where(Question.team_id == ws.team_id, Question.channel == channel_id, Question.thread_ts == thread_ts)
        .where(col(Question.ts) < ts)
        .order_by(col(Question.ts).desc())
    )
    return session.exec(stmt).first()


def add_question(session: Session, **values: Any) -> Question | None:
    """Insert a question; None when (workspace, channel, ts) was already captured (atomic under concurrency)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Question).values(**values).on_conflict_do_nothing().returning(Question)
    # The new row comes back with the INSERT itself: no second query on the question path.
    return session.scalars(stmt).first()


def answer_at(session: Session, *, ws: Workspace, channel_id: str, ts: str) -> Answer | None:
    stmt = select(Answer).where(Answer.team_id == ws.team_id, Answer.channel == channel_id, Answer.ts == ts)
    return session.exec(stmt).first()


def add_answer(session: Session, **values: Any) -> bool:
    return insert_ignoring_duplicates(session, Answer, values)


def followup_at(session: Session, *, ws: Workspace, channel_id: str, ts: str) -> FollowUp | None:
    stmt = select(FollowUp).where(FollowUp.team_id == ws.team_id, FollowUp.channel == channel_id, FollowUp.ts == ts)
    return session.exec(stmt).first()


def add_followup(session: Session, **values: Any) -> bool:
    return insert_ignoring_duplicates(session, FollowUp, values)


def answers_to(session: Session, *, question_id: int) -> list[Answer]:
    stmt = select(Answer).where(Answer.question_id == question_id).order_by(col(Answer.ts))
    return list(session.exec(stmt))


def count_answers(session: Session, *, question_id: int) -> int:
    stmt = select(func.count()).select_from(Answer).where(Answer.question_id == question_id)
    return int(session.exec(stmt).one())


def set_question_status(session: Session, *, question_id: int, status: QuestionStatus, now: datetime) -> None:
    stmt = update(Question).where(col(Question.id) == question_id).values(status=status, updated_at=now)
    session.execute(stmt)


def add_vote(session: Session, **values: Any) -> bool:
    return insert_ignoring_duplicates(session, Vote, values)


def remove_vote(session: Session, *, answer_id: int, voter: str, emoji: str) -> bool:
    stmt = delete(Vote).where(col(Vote.answer_id) == answer_id, col(Vote.voter) == voter, col(Vote.emoji) == emoji)
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def votes_on(session: Session, *, answer_id: int) -> list[Vote]:
    return list(session.exec(select(Vote).where(Vote.answer_id == answer_id).order_by(col(Vote.id))))


def score_of(session: Session, *, answer_id: int) -> float:
    stmt = select(func.coalesce(func.sum(Vote.weight), 0.0)).where(Vote.answer_id == answer_id)
    return float(session.exec(stmt).one())


def questions(session: Session, *, ws: Workspace, limit: int = 100) -> list[Question]:
    stmt = select(Question).where(Question.team_id == ws.team_id).order_by(col(Question.ts)).limit(limit)
    return list(session.exec(stmt))


# --- Topics, experts and assignments ---


def vocabulary(session: Session, *, ws: Workspace) -> dict[str, list[str]]:
    """{canonical tag: [aliases]} of a workspace."""
    terms: dict[str, list[str]] = {}
    rows = list(session.exec(select(Tag).where(Tag.team_id == ws.team_id).order_by(col(Tag.name))))
    for row in rows:
        if not row.alias_of:
            terms.setdefault(row.name, [])
    for row in rows:
        if row.alias_of:
            terms.setdefault(row.alias_of, []).append(row.name)
    return terms


def add_tag(session: Session, *, ws: Workspace, name: str, alias_of: str = "") -> bool:
    values = {"team_id": ws.team_id, "enterprise_id": ws.enterprise_id, "name": name, "alias_of": alias_of}
    return insert_ignoring_duplicates(session, Tag, values)


def set_question_tags(
    session: Session, *, ws: Workspace, question_id: int, tags: list[str], replace: bool = True
) -> None:
    if replace:
        session.execute(delete(QuestionTag).where(col(QuestionTag.question_id) == question_id))
    for tag in tags:
        values = {"team_id": ws.team_id, "enterprise_id": ws.enterprise_id, "question_id": question_id, "tag": tag}
        insert_ignoring_duplicates(session, QuestionTag, values)


def question_tags(session: Session, *, question_id: int) -> list[str]:
    stmt = select(QuestionTag.tag).where(QuestionTag.question_id == question_id).order_by(col(QuestionTag.id))
    return list(session.exec(stmt))


def expert(session: Session, *, ws: Workspace, user_id: str) -> Expert | None:
    return session.exec(select(Expert).where(Expert.team_id == ws.team_id, Expert.user_id == user_id)).first()


def experts(session: Session, *, ws: Workspace) -> list[Expert]:
    return list(session.exec(select(Expert).where(Expert.team_id == ws.team_id).order_by(col(Expert.user_id))))


def expert_topics(session: Session, *, expert_ids: list[int]) -> dict[int, list[str]]:
    topics: dict[int, list[str]] = {i: [] for i in expert_ids}
    if expert_ids:
        stmt = select(ExpertTopic).where(col(ExpertTopic.expert_id).in_(expert_ids)).order_by(col(ExpertTopic.tag))
        for row in session.exec(stmt):
            topics[row.expert_id].append(row.tag)
    return topics


def experts_in_topics(session: Session, *, ws: Workspace, topics: list[str]) -> list[Expert]:
    stmt = (
        select(Expert)
        .join(ExpertTopic, col(ExpertTopic.expert_id) == col(Expert.id))
        .where(Expert.team_id == ws.team_id, col(ExpertTopic.tag).in_(topics))
        .distinct()
    )
    return list(session.exec(stmt))


def add_expert_topic(session: Session, *, ws: Workspace, expert_id: int, tag: str) -> bool:
    values = {"team_id": ws.team_id, "enterprise_id": ws.enterprise_id, "expert_id": expert_id, "tag": tag}
    return insert_ignoring_duplicates(session, ExpertTopic, values)


def remove_expert_topics(session: Session, *, expert_id: int, tags: list[str]) -> int:
    stmt = delete(ExpertTopic).where(col(ExpertTopic.expert_id) == expert_id, col(ExpertTopic.tag).in_(tags))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def open_assignment_counts(session: Session, *, ws: Workspace, users: list[str]) -> dict[str, int]:
    stmt = (
        select(Assignment.expert, func.count())
        .where(Assignment.team_id == ws.team_id, col(Assignment.expert).in_(users))
        .where(col(Assignment.status).in_([AssignmentStatus.PENDING, AssignmentStatus.SNOOZED]))
        .group_by(col(Assignment.expert))
    )
    return {user: int(n) for user, n in session.exec(stmt)}


def assignments_for(session: Session, *, question_id: int) -> list[Assignment]:
    stmt = select(Assignment).where(Assignment.question_id == question_id).order_by(col(Assignment.id))
    return list(session.exec(stmt))


def thread_people(session: Session, *, question_id: int) -> set[str]:
    answered = select(Answer.author).where(Answer.question_id == question_id)
    followed = select(FollowUp.author).where(FollowUp.question_id == question_id)
    return set(session.exec(answered)) | set(session.exec(followed))


def due_assignments(session: Session, *, now: datetime, limit: int = 200) -> list[Assignment]:
    """Asked and unanswered past their deadline, or snoozed until now."""
    stmt = (
        select(Assignment)
        .where(col(Assignment.status).in_([AssignmentStatus.PENDING, AssignmentStatus.SNOOZED]))
        .where(col(Assignment.due_at) <= now, Assignment.dm_ts != "")
        .order_by(col(Assignment.due_at))
        .limit(limit)
    )
    return list(session.exec(stmt))


def unsent_assignments(session: Session, *, now: datetime, limit: int = 200) -> list[Assignment]:
    """Assignments whose DM is still to be sent (a crash or a Slack failure came in between), not being sent now."""
    stmt = (
        select(Assignment)
        .where(Assignment.status == AssignmentStatus.PENDING, Assignment.dm_ts == "")
        .where(or_(col(Assignment.dm_claimed_at).is_(None), col(Assignment.dm_claimed_at) < now - DM_CLAIM))
        .order_by(col(Assignment.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def claim_dm(session: Session, *, assignment_id: int, now: datetime) -> bool:
    """Take the sending of an assignment's DM; False when it is sent, closed, or being sent by someone else."""
    stmt = (
        update(Assignment)
        .where(col(Assignment.id) == assignment_id, col(Assignment.status) == AssignmentStatus.PENDING)
        .where(col(Assignment.dm_ts) == "")
        .where(or_(col(Assignment.dm_claimed_at).is_(None), col(Assignment.dm_claimed_at) < now - DM_CLAIM))
        .values(dm_claimed_at=now)
    )
    return int(session.execute(stmt).rowcount) == 1  # type: ignore[attr-defined]


def questions_to_route(session: Session, *, now: datetime, limit: int = 200) -> list[Question]:
    stmt = (
        select(Question)
        .where(col(Question.route_at).is_not(None), col(Question.route_at) <= now)
        .order_by(col(Question.route_at))
        .limit(limit)
    )
    return list(session.exec(stmt))


def assignments_to(session: Session, *, ws: Workspace, expert: str, limit: int = 20) -> list[Assignment]:
    stmt = (
        select(Assignment)
        .where(Assignment.team_id == ws.team_id, Assignment.expert == expert)
        .order_by(col(Assignment.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def recent_answers_by(
    session: Session, *, ws: Workspace, users: list[str], limit: int = 500
) -> list[tuple[str, str, datetime, list[str]]]:
    """(answerer, question text, when, question tags) of the latest answers by these people."""
    if not users:
        return []
    stmt = (
        select(Answer.author, Question.text, Answer.created_at, Question.id)
        .join(Question, col(Question.id) == col(Answer.question_id))
        .where(Answer.team_id == ws.team_id, col(Answer.author).in_(users))
        .order_by(col(Answer.created_at).desc())
        .limit(limit)
    )
    rows = list(session.exec(stmt))
    tags: dict[int, list[str]] = {}
    ids = list({qid for *_, qid in rows if qid is not None})
    if ids:
        for qid, tag in session.exec(
            select(QuestionTag.question_id, QuestionTag.tag).where(col(QuestionTag.question_id).in_(ids))
        ):
            tags.setdefault(qid, []).append(tag)
    return [(author, text, at, tags.get(qid or 0, [])) for author, text, at, qid in rows]


# --- Onboarding ---


def enrolment(session: Session, *, ws: Workspace, user_id: str) -> Enrolment | None:
    stmt = select(Enrolment).where(Enrolment.team_id == ws.team_id, Enrolment.user_id == user_id)
    return session.exec(stmt).first()


def add_enrolment(
    session: Session, *, ws: Workspace, user_id: str, journey: str, start: date, tz: str, by: str, now: datetime
) -> Enrolment | None:
    """A new enrolment, or None when the person already has one (enrolling twice changes nothing)."""
    values = {
        "team_id": ws.team_id, "enterprise_id": ws.enterprise_id, "user_id": user_id, "journey": journey,
        "start_date": start, "tz": tz, "status": EnrolmentStatus.ACTIVE, "topics": "", "buddy": "",
        "enrolled_by": by, "created_at": now, "updated_at": now,
    }  # fmt: skip
    if not insert_ignoring_duplicates(session, Enrolment, values):
        return None
    return enrolment(session, ws=ws, user_id=user_id)


def nudges_of(session: Session, *, enrolment_id: int) -> list[Nudge]:
    stmt = select(Nudge).where(Nudge.enrolment_id == enrolment_id).order_by(col(Nudge.position))
    return list(session.exec(stmt))


def due_nudges(session: Session, *, now: datetime, limit: int = 500) -> list[Nudge]:
    """Pending steps whose time has come (the index on status, due_at answers this without a scan)."""
    stmt = (
        select(Nudge)
        .where(Nudge.status == NudgeStatus.PENDING, col(Nudge.due_at) <= now)
        .order_by(col(Nudge.due_at), col(Nudge.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def unsent_nudges(session: Session, *, limit: int = 500) -> list[Nudge]:
    """Steps claimed for delivery whose DM Slack has not yet accepted (a failure or a crash came between)."""
    stmt = select(Nudge).where(Nudge.status == NudgeStatus.SENT, Nudge.dm_ts == "").order_by(col(Nudge.id)).limit(limit)
    return list(session.exec(stmt))


def set_nudges(session: Session, *, ids: list[int], **values: Any) -> None:
    if ids:
        session.execute(update(Nudge).where(col(Nudge.id).in_(ids)).values(**values))


def tag_names_by_use(session: Session, *, ws: Workspace, limit: int = 100) -> list[str]:
    """Canonical tags, the most used first: the choices offered to a new hire."""
    stmt = (
        select(Tag.name)
        .where(Tag.team_id == ws.team_id, Tag.alias_of == "")
        .order_by(col(Tag.uses).desc(), col(Tag.name))
        .limit(limit)
    )
    return list(session.exec(stmt))


def top_public_qas(
    session: Session, *, ws: Workspace, topics: list[str], limit: int = 3
) -> list[tuple[Question, Answer, float]]:
    """The best-rated answers to public questions, in `topics` (any topic when empty)."""
    score = func.coalesce(func.sum(Vote.weight), 0.0).label("score")
    stmt = (
        select(Question, Answer, score)
        .join(Answer, col(Answer.question_id) == col(Question.id))
        .outerjoin(Vote, col(Vote.answer_id) == col(Answer.id))
        .where(Question.team_id == ws.team_id, col(Question.is_private).is_(False), col(Answer.needs_update).is_(False))
        .group_by(col(Question.id), col(Answer.id))
        .order_by(score.desc(), col(Answer.accepted).desc(), col(Answer.id).desc())
        .limit(limit * 4)
    )
    if topics:
        tagged = select(QuestionTag.question_id).where(col(QuestionTag.tag).in_(topics))
        stmt = stmt.where(col(Question.id).in_(tagged))
    out: list[tuple[Question, Answer, float]] = []
    for q, a, s in session.exec(stmt):
        if all(q.id != seen.id for seen, _, _ in out):  # one answer per question: its best
            out.append((q, a, float(s)))
    return out[:limit]


def channels_for_topics(session: Session, *, ws: Workspace, topics: list[str], limit: int = 3) -> list[str]:
    """Watched public channels where most questions in `topics` were asked (all watched ones without topics)."""
    stmt = select(Channel.slack_id).where(
        Channel.team_id == ws.team_id, col(Channel.watched).is_(True), col(Channel.is_private).is_(False)
    )
    public = list(session.exec(stmt))
    if not topics or not public:
        return public[:limit]
    counted = (  # driven by the tags: the cost follows the questions in these topics, not the whole channel
        select(Question.channel, func.count())
        .select_from(QuestionTag)
        .join(Question, col(Question.id) == col(QuestionTag.question_id))
        .where(QuestionTag.team_id == ws.team_id, col(QuestionTag.tag).in_(topics))
        .group_by(col(Question.channel))
        .order_by(func.count().desc())
    )
    ranked = [c for c, _ in session.exec(counted) if c in public]
    return (ranked + [c for c in public if c not in ranked])[:limit]


# --- Digests ---


def digest(session: Session, *, ws: Workspace, kind: str, target: str, period: str) -> Digest | None:
    stmt = select(Digest).where(
        Digest.team_id == ws.team_id, Digest.kind == kind, Digest.target == target, Digest.period == period
    )
    return session.exec(stmt).first()


def settled_digest_targets(session: Session, *, kind: str, period: str) -> set[tuple[str, str]]:
    """(team, target) pairs whose digest for `period` was sent, or found to have nothing to say."""
    stmt = select(Digest.team_id, Digest.target).where(
        Digest.kind == kind, Digest.period == period, col(Digest.status).in_([DigestStatus.SENT, DigestStatus.EMPTY])
    )
    return {(team, target) for team, target in session.exec(stmt)}


def all_watched_channels(session: Session) -> list[Channel]:
    stmt = select(Channel).where(col(Channel.watched).is_(True)).order_by(col(Channel.team_id), col(Channel.slack_id))
    return list(session.exec(stmt))


def channel_workspaces(session: Session, channel_id: str) -> list[tuple[Workspace, str]]:
    """The workspaces (and the name there) a channel id was seen in: its rows, else its questions.

    Slack's channel ids are unique, but a Slack Connect channel is in several workspaces.
    """
    rows = session.exec(select(Channel).where(Channel.slack_id == channel_id).order_by(col(Channel.team_id)))
    found = [(Workspace.of(c), c.name) for c in rows]
    if found:
        return found
    stmt = select(Question.team_id, Question.enterprise_id).where(Question.channel == channel_id).distinct().limit(10)
    return [(Workspace(team, enterprise), channel_id) for team, enterprise in session.exec(stmt)]


def org_teams(session: Session, *, enterprise_id: str, besides: str) -> list[str]:
    """The other workspaces of an Enterprise Grid organisation that Peerbot holds questions or channels of.

    It reads the whole questions table: callers keep the answer for a while (handlers.suggestions).
    """
    teams = set(session.exec(select(Channel.team_id).where(Channel.enterprise_id == enterprise_id).distinct()))
    teams |= set(session.exec(select(Question.team_id).where(Question.enterprise_id == enterprise_id).distinct()))
    return sorted(teams - {besides})


def all_experts(session: Session) -> list[Expert]:
    return list(session.exec(select(Expert).order_by(col(Expert.team_id), col(Expert.user_id))))


def channel_answers(
    session: Session, *, ws: Workspace, channel_id: str, start: datetime, end: datetime
) -> list[tuple[Answer, Question, float]]:
    """Answers given in a channel in [start, end), with their question and vote score."""
    score = func.coalesce(func.sum(Vote.weight), 0.0).label("score")
    stmt = (
        select(Answer, Question, score)
        .join(Question, col(Question.id) == col(Answer.question_id))
        .outerjoin(Vote, col(Vote.answer_id) == col(Answer.id))
        .where(Answer.team_id == ws.team_id, Answer.channel == channel_id)
        .where(col(Answer.created_at) >= start, col(Answer.created_at) < end)
        .group_by(col(Answer.id), col(Question.id))
        .order_by(col(Answer.created_at))
        .limit(2000)
    )
    return [(a, q, float(s)) for a, q, s in session.exec(stmt)]


def answered_before(session: Session, *, question_ids: list[int], before: datetime) -> set[int]:
    if not question_ids:
        return set()
    stmt = select(Answer.question_id).where(col(Answer.question_id).in_(question_ids), col(Answer.created_at) < before)
    return set(session.exec(stmt))


def channel_questions(
    session: Session, *, ws: Workspace, channel_id: str, start: datetime, end: datetime, limit: int = 2000
) -> list[Question]:
    stmt = (
        select(Question)
        .where(Question.team_id == ws.team_id, Question.channel == channel_id)
        .where(col(Question.created_at) >= start, col(Question.created_at) < end)
        .order_by(col(Question.created_at))
        .limit(limit)
    )
    return list(session.exec(stmt))


def open_channel_questions(
    session: Session, *, ws: Workspace, channel_id: str, start: datetime, end: datetime, limit: int = 5
) -> list[Question]:
    """A channel's newest questions still waiting for an answer (not resolved as duplicates), asked in [start, end)."""
    stmt = (
        select(Question)
        .where(Question.team_id == ws.team_id, Question.channel == channel_id, Question.status == QuestionStatus.OPEN)
        .where(col(Question.duplicate_of).is_(None))
        .where(col(Question.created_at) >= start, col(Question.created_at) < end)
        .order_by(col(Question.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def channel_tag_counts(
    session: Session, *, ws: Workspace, channel_id: str, start: datetime, end: datetime
) -> dict[str, int]:
    """How many of a channel's questions asked in [start, end) carry each tag (counted in SQL)."""
    stmt = (
        select(QuestionTag.tag, func.count())
        .join(Question, col(Question.id) == col(QuestionTag.question_id))
        .where(Question.team_id == ws.team_id, Question.channel == channel_id)
        .where(col(Question.created_at) >= start, col(Question.created_at) < end)
        .group_by(col(QuestionTag.tag))
    )
    return {tag: int(n) for tag, n in session.exec(stmt)}


def tags_of_questions(session: Session, *, question_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(question_ids), 500):
        chunk = question_ids[start : start + 500]
        stmt = select(QuestionTag.question_id, QuestionTag.tag).where(col(QuestionTag.question_id).in_(chunk))
        for qid, tag in session.exec(stmt):
            out.setdefault(qid, []).append(tag)
    return out


def open_questions_in_topics(
    session: Session, *, ws: Workspace, topics: list[str], since: datetime, limit: int = 50
) -> list[Question]:
    """Open questions asked since `since` with any of `topics`, newest first."""
    if not topics:
        return []
    # Walk the open questions of the window (ix_questions_open_created), checking each one's tags.
    tagged = (
        select(QuestionTag.id)
        .where(col(QuestionTag.question_id) == col(Question.id), col(QuestionTag.tag).in_(topics))
        .exists()
    )
    stmt = (
        select(Question)
        .where(Question.team_id == ws.team_id, Question.status == QuestionStatus.OPEN)
        .where(col(Question.created_at) >= since, tagged)
        .order_by(col(Question.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def public_questions_between(
    session: Session, *, ws: Workspace, start: datetime, end: datetime, limit: int = 50_000
) -> list[Question]:
    stmt = (
        select(Question)
        .where(Question.team_id == ws.team_id, col(Question.is_private).is_(False))
        .where(col(Question.created_at) >= start, col(Question.created_at) < end)
        .limit(limit)
    )
    return list(session.exec(stmt))


def first_answer_times(session: Session, *, question_ids: list[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for start in range(0, len(question_ids), 500):
        chunk = question_ids[start : start + 500]
        stmt = (
            select(Answer.question_id, func.min(Answer.created_at))
            .where(col(Answer.question_id).in_(chunk))
            .group_by(col(Answer.question_id))
        )
        out.update({qid: when for qid, when in session.exec(stmt)})
    return out


def expert_tags(session: Session, *, ws: Workspace) -> set[str]:
    stmt = (
        select(ExpertTopic.tag)
        .join(Expert, col(Expert.id) == col(ExpertTopic.expert_id))
        .where(ExpertTopic.team_id == ws.team_id, col(Expert.deleted).is_(False))
        .distinct()
    )
    return set(session.exec(stmt))


def vote_records(session: Session, *, ws: Workspace, topics: list[str]) -> list[tuple[str, str, float, datetime, int]]:
    """(voter, answer author, weight, when, question id) of every vote cast by anyone who voted in `topics`.

    All their votes, not only those in `topics`: whether a voter only ever votes for one person, and
    whether two people vote for each other, are questions about everything they did.
    """
    if not topics:
        return []
    in_topics = (
        select(Vote.voter)
        .join(Answer, col(Answer.id) == col(Vote.answer_id))
        .join(QuestionTag, col(QuestionTag.question_id) == col(Answer.question_id))
        .where(Answer.team_id == ws.team_id, col(QuestionTag.tag).in_(topics))
        .distinct()
    )
    stmt = (
        sql_select(col(Vote.voter), col(Answer.author), col(Vote.weight), col(Vote.created_at), col(Answer.question_id))
        .join(Answer, col(Answer.id) == col(Vote.answer_id))
        .where(col(Answer.team_id) == ws.team_id, col(Vote.voter).in_(in_topics))
    )
    return [(v, a, float(w), at, q) for v, a, w, at, q in session.execute(stmt)]


# --- App Home ---


def mark_homes_stale(session: Session, *, ws: Workspace, users: list[str]) -> None:
    """Something about these people changed: their Home tab (if they ever opened it) is refreshed by the sweep."""
    users = [u for u in users if u]
    if users:
        session.execute(
            update(User)
            .where(col(User.team_id) == ws.team_id, col(User.slack_id).in_(users))
            .where(col(User.home_published_at).is_not(None), col(User.home_stale).is_(False))
            .values(home_stale=True)
        )


def stale_homes(session: Session, *, limit: int = 100) -> list[User]:
    stmt = select(User).where(col(User.home_stale).is_(True)).order_by(col(User.id)).limit(limit)
    return list(session.exec(stmt))


def questions_by(session: Session, *, ws: Workspace, author: str, offset: int = 0, limit: int = 5) -> list[Question]:
    stmt = (
        select(Question)
        .where(Question.team_id == ws.team_id, Question.author == author)
        .order_by(col(Question.created_at).desc(), col(Question.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(stmt))


def question_counts_by(session: Session, *, ws: Workspace, author: str) -> dict[str, int]:
    stmt = (
        select(Question.status, func.count())
        .where(Question.team_id == ws.team_id, Question.author == author)
        .group_by(col(Question.status))
    )
    return {status: int(n) for status, n in session.exec(stmt)}


def open_assignments_of(session: Session, *, ws: Workspace, expert: str, limit: int = 50) -> list[Assignment]:
    stmt = (
        select(Assignment)
        .where(Assignment.team_id == ws.team_id, Assignment.expert == expert)
        .where(col(Assignment.status).in_([AssignmentStatus.PENDING, AssignmentStatus.SNOOZED]))
        .order_by(col(Assignment.asked_at))
        .limit(limit)
    )
    return list(session.exec(stmt))


def helped_count(session: Session, *, ws: Workspace, author: str) -> int:
    """How many later questions someone's answers solved (offered as suggestions and accepted)."""
    mine = select(Answer.id).where(Answer.team_id == ws.team_id, Answer.author == author)
    stmt = select(func.count()).select_from(Question).where(col(Question.reused_answer_id).in_(mine))
    return int(session.exec(stmt).one())


def answer_totals(session: Session, *, ws: Workspace, author: str) -> tuple[int, float]:
    """(answers given, net vote weight received) by one person."""
    given = select(func.count()).select_from(Answer).where(Answer.team_id == ws.team_id, Answer.author == author)
    votes = (
        select(func.coalesce(func.sum(Vote.weight), 0.0))
        .join(Answer, col(Answer.id) == col(Vote.answer_id))
        .where(Answer.team_id == ws.team_id, Answer.author == author)
    )
    return int(session.exec(given).one()), float(session.exec(votes).one())


# --- Workspace statistics: grouped in SQL over one window, public channels only ---


def question_channels(session: Session, *, ws: Workspace) -> list[str]:
    """Every channel a question was captured in: lets the window queries range-scan (team, channel, created_at)."""
    stmt = select(Question.channel).where(Question.team_id == ws.team_id).distinct()
    return list(session.exec(stmt))


def answer_channels(session: Session, *, ws: Workspace) -> list[str]:
    stmt = select(Answer.channel).where(Answer.team_id == ws.team_id).distinct()
    return list(session.exec(stmt))


def _public_window(ws: Workspace, start: datetime, end: datetime, channels: list[str] | None) -> list[Any]:
    """Public questions of `ws` asked in [start, end), in `channels` when given (all of them: same rows, faster)."""
    where = [
        Question.team_id == ws.team_id,
        col(Question.is_private).is_(False),
        col(Question.created_at) >= start,
        col(Question.created_at) < end,
    ]
    return [*where, col(Question.channel).in_(channels)] if channels is not None else where


def _week_buckets(starts: list[datetime]) -> Any:
    """The index of the week a question's created_at falls in (`starts` ascending)."""
    whens = [(col(Question.created_at) >= start, index) for index, start in reversed(list(enumerate(starts)))]
    return case(*whens, else_=-1)


def public_weekly_counts(
    session: Session, *, ws: Workspace, starts: list[datetime], end: datetime, channels: list[str] | None = None
) -> dict[int, tuple[int, int, int, int]]:
    """Per week index: (questions, distinct askers, answered or resolved, resolved by an earlier answer)."""
    if not starts:
        return {}
    reused = or_(col(Question.reused_answer_id).is_not(None), col(Question.duplicate_of).is_not(None))
    inner = (
        select(
            _week_buckets(starts).label("week"),
            col(Question.author).label("author"),
            case((col(Question.status) != QuestionStatus.OPEN, 1), else_=0).label("answered"),
            case((reused, 1), else_=0).label("reused"),
        )
        .where(*_public_window(ws, starts[0], end, channels))
        .subquery()
    )
    counts = (func.count(), func.count(inner.c.author.distinct()), func.sum(inner.c.answered), func.sum(inner.c.reused))
    stmt = sql_select(inner.c.week, *counts).group_by(inner.c.week)
    return {int(w): (int(n), int(p), int(a or 0), int(r or 0)) for w, n, p, a, r in session.execute(stmt)}


def public_window_totals(
    session: Session, *, ws: Workspace, start: datetime, end: datetime, channels: list[str] | None = None
) -> tuple[int, int, int, int]:
    """(questions, distinct askers, answered or resolved, resolved by an earlier answer) in [start, end)."""
    reused = or_(col(Question.reused_answer_id).is_not(None), col(Question.duplicate_of).is_not(None))
    stmt = select(
        func.count(),
        func.count(col(Question.author).distinct()),
        func.sum(case((col(Question.status) != QuestionStatus.OPEN, 1), else_=0)),
        func.sum(case((reused, 1), else_=0)),
    ).where(*_public_window(ws, start, end, channels))
    n, people, answered, solved = session.execute(stmt).one()
    return int(n), int(people), int(answered or 0), int(solved or 0)


def public_first_answers(
    session: Session, *, ws: Workspace, start: datetime, end: datetime, channels: list[str] | None = None
) -> Iterator[tuple[str, datetime, datetime]]:
    """(asker, asked at, first answer at) per answered public question asked in [start, end), streamed."""
    stmt = (
        select(Question.author, Question.created_at, func.min(Answer.created_at))
        .join(Answer, col(Answer.question_id) == col(Question.id))
        .where(*_public_window(ws, start, end, channels))
        .group_by(col(Question.id), col(Question.author), col(Question.created_at))
        .execution_options(yield_per=5000)
    )
    for author, asked, first in session.execute(stmt):
        yield str(author), asked, first


def public_topic_counts(
    session: Session,
    *,
    ws: Workspace,
    start: datetime,
    end: datetime,
    min_askers: int,
    limit: int = 100,
    channels: list[str] | None = None,
) -> list[tuple[str, int, int]]:
    """(topic, questions, distinct askers) in [start, end), only topics at least `min_askers` people asked in."""
    askers = func.count(col(Question.author).distinct())
    asked = func.count(col(Question.id).distinct())
    stmt = (
        select(QuestionTag.tag, asked, askers)
        .join(Question, col(Question.id) == col(QuestionTag.question_id))
        .where(*_public_window(ws, start, end, channels))
        .group_by(col(QuestionTag.tag))
        .having(askers >= min_askers)
        .order_by(asked.desc(), col(QuestionTag.tag))
        .limit(limit)
    )
    return [(str(t), int(n), int(p)) for t, n, p in session.execute(stmt)]


def public_top_helpers(
    session: Session,
    *,
    ws: Workspace,
    start: datetime,
    end: datetime,
    min_askers: int,
    limit: int = 5,
    channels: list[str] | None = None,
) -> list[tuple[str, int, int, int]]:
    """(person, thanks, answers, distinct askers) for answers given in [start, end) to public questions.

    Thanks are votes with a positive weight (the asker's accept is one); only people who answered at least
    `min_askers` different askers, with at least one thanks, most thanked first.
    """
    thanks = func.count(col(Vote.id))
    answers = func.count(col(Answer.id).distinct())
    askers = func.count(col(Question.author).distinct())
    stmt = (
        select(Answer.author, thanks, answers, askers)
        .join(Question, col(Question.id) == col(Answer.question_id))
        .outerjoin(Vote, and_(col(Vote.answer_id) == col(Answer.id), col(Vote.weight) > 0))
        .where(Answer.team_id == ws.team_id, col(Question.is_private).is_(False))
        .where(col(Answer.created_at) >= start, col(Answer.created_at) < end, col(Answer.author) != Question.author)
        .where(col(Answer.channel).in_(channels) if channels is not None else true())
        .group_by(col(Answer.author))
        .having(askers >= min_askers, thanks > 0)
        .order_by(thanks.desc(), answers.desc(), col(Answer.author))
        .limit(limit)
    )
    return [(str(who), int(t), int(n), int(p)) for who, t, n, p in session.execute(stmt)]


def teams_with_data(session: Session) -> list[str]:
    """Every workspace the database holds questions, channels or experts for, sorted."""
    seen = union(select(Question.team_id), select(Channel.team_id), select(Expert.team_id))
    return sorted(str(row[0]) for row in session.execute(seen))


# --- A person's data, forgotten on request ---


def _of_teams(column: Any, teams: list[str] | None) -> list[Any]:
    """The conditions keeping rows of `teams` (on `column`, a team_id); None means every workspace."""
    return [] if teams is None else [col(column).in_(teams)]


def person_footprint(session: Session, *, user_id: str, teams: list[str] | None) -> dict[str, int]:
    """How many rows hold this person's messages, votes and records, by kind."""
    open_states = [AssignmentStatus.PENDING, AssignmentStatus.SNOOZED]
    counts = {
        "questions": select(func.count()).select_from(Question).where(Question.author == user_id)
        .where(*_of_teams(Question.team_id, teams)),
        "answers": select(func.count()).select_from(Answer).where(Answer.author == user_id)
        .where(*_of_teams(Answer.team_id, teams)),
        "followups": select(func.count()).select_from(FollowUp).where(FollowUp.author == user_id)
        .where(*_of_teams(FollowUp.team_id, teams)),
        "votes": select(func.count()).select_from(Vote).where(Vote.voter == user_id)
        .where(*_of_teams(Vote.team_id, teams)),
        "users": select(func.count()).select_from(User).where(User.slack_id == user_id)
        .where(*_of_teams(User.team_id, teams)),
        "experts": select(func.count()).select_from(Expert).where(Expert.user_id == user_id)
        .where(*_of_teams(Expert.team_id, teams)),
        "expert_topics": select(func.count()).select_from(ExpertTopic)
        .join(Expert, col(Expert.id) == col(ExpertTopic.expert_id))
        .where(Expert.user_id == user_id, *_of_teams(Expert.team_id, teams)),
        "enrolments": select(func.count()).select_from(Enrolment).where(Enrolment.user_id == user_id)
        .where(*_of_teams(Enrolment.team_id, teams)),
        "nudges": select(func.count()).select_from(Nudge).join(Enrolment, col(Enrolment.id) == col(Nudge.enrolment_id))
        .where(Enrolment.user_id == user_id, *_of_teams(Enrolment.team_id, teams)),
        "open_assignments": select(func.count()).select_from(Assignment).where(Assignment.expert == user_id)
        .where(col(Assignment.status).in_(open_states), *_of_teams(Assignment.team_id, teams)),
        "past_assignments": select(func.count()).select_from(Assignment).where(Assignment.expert == user_id)
        .where(col(Assignment.status).not_in(open_states), *_of_teams(Assignment.team_id, teams)),
        "digests": select(func.count()).select_from(Digest).where(Digest.target == user_id)
        .where(col(Digest.kind) != DigestKind.CHANNEL, *_of_teams(Digest.team_id, teams)),
        "mentions": select(func.count()).select_from(Enrolment)
        .where(or_(col(Enrolment.buddy) == user_id, col(Enrolment.enrolled_by) == user_id))
        .where(Enrolment.user_id != user_id, *_of_teams(Enrolment.team_id, teams)),
        "suggestions": select(func.count()).select_from(Assignment).where(Assignment.suggested_by == user_id)
        .where(*_of_teams(Assignment.team_id, teams)),
    }  # fmt: skip
    return {kind: int(session.exec(stmt).one()) for kind, stmt in counts.items()}


def redact_messages_by(
    session: Session, *, user_id: str, teams: list[str] | None, pseudonym: str, placeholder: str, now: datetime
) -> dict[str, int]:
    """Replace the text and the author of this person's questions, answers and follow-ups; the rows stay."""
    done: dict[str, int] = {}
    for kind, model in (("questions", Question), ("answers", Answer), ("followups", FollowUp)):
        stmt = (
            update(model)
            .where(col(model.author) == user_id, *_of_teams(model.team_id, teams))
            .values(text=placeholder, author=pseudonym, updated_at=now)
        )
        done[kind] = int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
    return done


def delete_votes_by(session: Session, *, voter: str, teams: list[str] | None) -> int:
    """Delete the votes (and acceptance marks) this person cast; the scores of those answers drop."""
    stmt = delete(Vote).where(col(Vote.voter) == voter, *_of_teams(Vote.team_id, teams))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def delete_person_records(session: Session, *, user_id: str, teams: list[str] | None) -> dict[str, int]:
    """Delete the rows that are about this person: profile, expert entry, enrolment, open requests, DM digests."""
    expert_ids = select(Expert.id).where(Expert.user_id == user_id, *_of_teams(Expert.team_id, teams))
    enrolment_ids = select(Enrolment.id).where(Enrolment.user_id == user_id, *_of_teams(Enrolment.team_id, teams))
    open_states = [AssignmentStatus.PENDING, AssignmentStatus.SNOOZED]
    statements = {
        "expert_topics": delete(ExpertTopic).where(col(ExpertTopic.expert_id).in_(expert_ids)),
        "experts": delete(Expert).where(col(Expert.id).in_(expert_ids)),
        "nudges": delete(Nudge).where(col(Nudge.enrolment_id).in_(enrolment_ids)),
        "enrolments": delete(Enrolment).where(col(Enrolment.id).in_(enrolment_ids)),
        "open_assignments": delete(Assignment).where(
            col(Assignment.expert) == user_id, col(Assignment.status).in_(open_states),
            *_of_teams(Assignment.team_id, teams),
        ),
        "digests": delete(Digest).where(
            col(Digest.target) == user_id, col(Digest.kind) != DigestKind.CHANNEL, *_of_teams(Digest.team_id, teams)
        ),
        "users": delete(User).where(col(User.slack_id) == user_id, *_of_teams(User.team_id, teams)),
    }  # fmt: skip
    return {kind: int(session.execute(stmt).rowcount) for kind, stmt in statements.items()}  # type: ignore[attr-defined]


def pseudonymise_references(
    session: Session, *, user_id: str, teams: list[str] | None, pseudonym: str
) -> dict[str, int]:
    """Where other rows name this person: past requests, enrolled-by get the pseudonym; buddy, suggested-by cleared."""
    statements = {
        "past_assignments": update(Assignment)
        .where(col(Assignment.expert) == user_id, *_of_teams(Assignment.team_id, teams))
        .values(expert=pseudonym),
        "suggestions": update(Assignment)
        .where(col(Assignment.suggested_by) == user_id, *_of_teams(Assignment.team_id, teams))
        .values(suggested_by=""),
        "buddies": update(Enrolment)
        .where(col(Enrolment.buddy) == user_id, *_of_teams(Enrolment.team_id, teams))
        .values(buddy=""),
        "enrolled_by": update(Enrolment)
        .where(col(Enrolment.enrolled_by) == user_id, *_of_teams(Enrolment.team_id, teams))
        .values(enrolled_by=pseudonym),
    }  # fmt: skip
    return {kind: int(session.execute(stmt).rowcount) for kind, stmt in statements.items()}  # type: ignore[attr-defined]
