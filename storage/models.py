"""SQLModel tables: every row carries its workspace, unique keys make writes idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes and gives them back aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts_col(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=False, **kw))


@dataclass(frozen=True)
class Workspace:
    """Which Slack workspace a row belongs to; enterprise_id is "" outside Enterprise Grid."""

    team_id: str
    enterprise_id: str = ""

    @classmethod
    def of(cls, row: Any) -> Workspace:
        """The workspace a stored row belongs to (every table carries team_id and enterprise_id)."""
        return cls(row.team_id, row.enterprise_id)


class QuestionStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    RESOLVED = "resolved"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("team_id", "slack_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    enterprise_id: str = Field(default="", max_length=32)
    slack_id: str = Field(max_length=32)
    name: str = Field(default="", max_length=200)
    real_name: str = Field(default="", max_length=200)
    tz: str = Field(default="UTC", max_length=64)
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False
    # The App Home: when it was last published, and whether something about the person changed since.
    home_published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    home_stale: bool = Field(default=False, index=True)
    updated_at: datetime = _ts_col()


class Channel(SQLModel, table=True):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("team_id", "slack_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    enterprise_id: str = Field(default="", max_length=32)
    slack_id: str = Field(max_length=32)
    name: str = Field(default="", max_length=200)
    is_private: bool = False
    watched: bool = False
    default_tags: str = Field(default="", max_length=500)
    updated_at: datetime = _ts_col()


class Question(SQLModel, table=True):
    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("team_id", "channel", "ts"),
        # Finding the question a thread reply belongs to: without it SQLite walks the whole channel.
        Index("ix_questions_thread", "team_id", "channel", "thread_ts", "ts"),
        # A channel's week, for its digest.
        Index("ix_questions_channel_created", "team_id", "channel", "created_at"),
        # Open questions of a window, for the experts' digests.
        Index("ix_questions_open_created", "team_id", "status", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    # Where answers go: the message's own ts, or the root of the thread it was asked in.
    thread_ts: str = Field(max_length=32)
    author: str = Field(max_length=32, index=True)
    text: str
    status: str = Field(default=QuestionStatus.OPEN, max_length=16)
    source: str = Field(default="implicit", max_length=16)
    is_private: bool = False
    # Routing: which round of experts was asked, and when to look again (None: nothing to do).
    route_round: int = 0
    route_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))
    escalated: bool = False
    # Knowledge reuse: the question this one repeats, and the answer that solved it.
    duplicate_of: int | None = None
    reused_answer_id: int | None = Field(default=None, index=True)
    suggested_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Set once the capture's follow-up (👀, suggestions or routing, the asker's note) is done; until then
    # route_at holds a deadline after which the routing sweep finishes it (the request may have died).
    followed_up_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = _ts_col()
    updated_at: datetime = _ts_col()


class Answer(SQLModel, table=True):
    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("team_id", "channel", "ts"),
        Index("ix_answers_channel_created", "team_id", "channel", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    question_id: int = Field(
        sa_column=Column(Integer, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    author: str = Field(max_length=32, index=True)
    text: str
    via: str = Field(default="thread", max_length=16)
    accepted: bool = False
    # Freshness: an old answer's author is asked whether it is still right; "needs update" hides it.
    needs_update: bool = False
    checked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = _ts_col()
    updated_at: datetime = _ts_col()


class FollowUp(SQLModel, table=True):
    """The asker's own replies in their question's thread: context, not answers."""

    __tablename__ = "followups"
    __table_args__ = (UniqueConstraint("team_id", "channel", "ts"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    question_id: int = Field(
        sa_column=Column(Integer, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    author: str = Field(max_length=32)
    text: str
    created_at: datetime = _ts_col()
    updated_at: datetime = _ts_col()


class Vote(SQLModel, table=True):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("answer_id", "voter", "emoji"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    answer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("answers.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    voter: str = Field(max_length=32, index=True)
    emoji: str = Field(max_length=64)
    weight: float = 0.0
    created_at: datetime = _ts_col()


class ProcessedEvent(SQLModel, table=True):
    """Slack event ids already handled, so a retried delivery changes nothing twice."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    received_at: datetime = _ts_col(index=True)


class Tag(SQLModel, table=True):
    """The tag vocabulary of a workspace; aliases point at their canonical tag."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("team_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    name: str = Field(max_length=40)
    alias_of: str = Field(default="", max_length=40)  # "" for a canonical tag
    uses: int = 0


class QuestionTag(SQLModel, table=True):
    __tablename__ = "question_tags"
    __table_args__ = (UniqueConstraint("question_id", "tag"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    question_id: int = Field(
        sa_column=Column(Integer, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    tag: str = Field(max_length=40, index=True)


class Expert(SQLModel, table=True):
    """A person who answers questions in their topics, on their own terms."""

    __tablename__ = "experts"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    user_id: str = Field(max_length=32)
    capacity: int = 3
    tz: str = Field(default="UTC", max_length=64)
    work_start: int = 9  # hour of day, in the expert's time zone
    work_end: int = 17
    work_days: str = Field(default="0,1,2,3,4", max_length=20)  # Monday = 0
    on_leave_until: date | None = None
    paused: bool = False
    deleted: bool = False
    digest_opt_out: bool = False  # no weekly DM of open questions in their topics
    last_asked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = _ts_col()


class ExpertTopic(SQLModel, table=True):
    __tablename__ = "expert_topics"
    __table_args__ = (UniqueConstraint("expert_id", "tag"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    expert_id: int = Field(
        sa_column=Column(Integer, ForeignKey("experts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    tag: str = Field(max_length=40, index=True)


class AssignmentStatus(StrEnum):
    PENDING = "pending"  # asked (or about to be: dm_ts empty means the DM is still to be sent)
    ANSWERED = "answered"
    PASSED = "passed"
    SNOOZED = "snoozed"
    EXPIRED = "expired"  # nobody answered in time; the next round was asked
    CANCELLED = "cancelled"  # the question was answered, accepted or resolved otherwise
    FAILED = "failed"  # the DM could not be delivered (cannot_dm_bot, account_inactive, …)


class Assignment(SQLModel, table=True):
    """One expert asked about one question: the routing state, swept by the scheduler."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("question_id", "expert"),
        Index("ix_assignments_unsent", "status", "dm_ts"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    question_id: int = Field(
        sa_column=Column(Integer, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    expert: str = Field(max_length=32, index=True)
    round: int = 1
    status: str = Field(default=AssignmentStatus.PENDING, max_length=16, index=True)
    suggested_by: str = Field(default="", max_length=32)
    dm_channel: str = Field(default="", max_length=32)
    dm_ts: str = Field(default="", max_length=32)
    # Whoever sends the DM claims it first, so a request and the sweep never both send it.
    dm_claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reason: str = Field(default="", max_length=500)
    asked_at: datetime = _ts_col()
    due_at: datetime = _ts_col(index=True)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class EnrolmentStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"  # every step delivered
    STOPPED = "stopped"  # the hire (or an admin) stopped the journey


class Enrolment(SQLModel, table=True):
    """A new hire on an onboarding journey: one per person, so enrolling twice changes nothing."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    user_id: str = Field(max_length=32)
    journey: str = Field(max_length=64)
    start_date: date
    tz: str = Field(default="UTC", max_length=64)
    status: str = Field(default=EnrolmentStatus.ACTIVE, max_length=16)
    topics: str = Field(default="", max_length=500)  # chosen by the hire, comma-separated
    buddy: str = Field(default="", max_length=32)
    enrolled_by: str = Field(default="", max_length=32)  # who or what: a user id, "team_join", "channel"
    created_at: datetime = _ts_col()
    updated_at: datetime = _ts_col()


class NudgeStatus(StrEnum):
    PENDING = "pending"  # not yet due, or due and waiting for the hire's working hours
    SENT = "sent"  # claimed for delivery; dm_ts empty until Slack accepted it
    DONE = "done"  # the hire pressed Done
    SKIPPED = "skipped"  # the journey was stopped first
    FAILED = "failed"  # the hire cannot receive DMs


class Nudge(SQLModel, table=True):
    """One step of a hire's journey: when it is due and when (and where) it was delivered."""

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "step"),
        Index("ix_nudges_due", "status", "due_at"),
        Index("ix_nudges_unsent", "status", "dm_ts"),  # claimed but not yet delivered: none, nearly always
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    enrolment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("enrolments.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    step: str = Field(max_length=40)
    position: int = 0
    status: str = Field(default=NudgeStatus.PENDING, max_length=16)
    due_at: datetime = _ts_col()
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    caught_up: bool = False  # delivered inside one catch-up message with others
    snoozes: int = 0
    dm_channel: str = Field(default="", max_length=32)
    dm_ts: str = Field(default="", max_length=32)
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class DigestKind(StrEnum):
    CHANNEL = "channel"  # weekly, in a watched channel
    EXPERT = "expert"  # weekly DM: open questions in the expert's topics
    ADMIN = "admin"  # weekly DM: the knowledge-gap report


class DigestStatus(StrEnum):
    PENDING = "pending"  # claimed; ts empty until Slack accepted it (a failure is retried next sweep)
    SENT = "sent"
    EMPTY = "empty"  # nothing to say: not sent


class Digest(SQLModel, table=True):
    """One digest for one target and one week: the unique key makes sending it twice impossible."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("team_id", "kind", "target", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    kind: str = Field(max_length=16)
    target: str = Field(max_length=32)  # a channel id, or the user id a DM goes to
    period: str = Field(max_length=16)  # the ISO week, e.g. 2026-W10
    status: str = Field(default=DigestStatus.PENDING, max_length=16)
    attempts: int = 0
    error: str = Field(default="", max_length=200)
    channel: str = Field(default="", max_length=32)
    ts: str = Field(default="", max_length=32)
    created_at: datetime = _ts_col()
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
