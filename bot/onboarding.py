"""Onboarding: enrolling new hires, when their steps are due, what each nudge says, and who their buddy is."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

from bot import assignments
from bot.journeys import (
    PLACEHOLDERS,
    WORK_END,
    Journey,
    Step,
    due_at,
    local_today,
    next_working_start,
    working_day,
    zone,
)
from bot.text import archive_link, escape, truncate
from storage import queries
from storage.models import Answer, Enrolment, EnrolmentStatus, Nudge, NudgeStatus, Question, Workspace


def start_date_for(now: datetime, tz: str) -> date:
    """Today in the hire's zone while there is still working time left today, else their next working day."""
    local = now.astimezone(zone(tz))
    today = working_day(local.date(), 0)
    if today == local.date() and local.time() < WORK_END:
        return today
    return working_day(local.date() + timedelta(days=1), 0)


def enrol(
    session: Session,
    *,
    ws: Workspace,
    user_id: str,
    journey: Journey,
    tz: str,
    by: str,
    now: datetime,
    start: date | None = None,
) -> Enrolment | None:
    """Put a hire on a journey with every step scheduled; None when they already are on one."""
    start = start or start_date_for(now, tz)
    row = queries.add_enrolment(session, ws=ws, user_id=user_id, journey=journey.name, start=start, tz=tz, by=by,
                                now=now)  # fmt: skip
    if row is None or row.id is None:
        return None
    for position, step in enumerate(journey.steps):
        session.add(
            Nudge(
                team_id=ws.team_id, enterprise_id=ws.enterprise_id, enrolment_id=row.id, step=step.id,
                position=position, due_at=due_at(step, start=start, tz=tz),
            )
        )  # fmt: skip
    session.flush()
    return row


def defer_to_working_hours(nudges: list[Nudge], tz: str, now: datetime) -> datetime | None:
    """Outside the hire's working hours (a weekend, the night): when to try again; None when now is fine."""
    later = next_working_start(now, tz)
    if later == now:
        return None
    for n in nudges:
        n.due_at = later
    return later


@dataclass(frozen=True)
class Progress:
    total: int
    delivered: int
    done: int
    status: str
    next_due: datetime | None


def progress(session: Session, *, row: Enrolment) -> Progress:
    nudges = queries.nudges_of(session, enrolment_id=row.id or 0)
    delivered = [n for n in nudges if n.status in (NudgeStatus.SENT, NudgeStatus.DONE) and n.sent_at]
    pending = [n.due_at for n in nudges if n.status == NudgeStatus.PENDING]
    done = [n for n in nudges if n.status == NudgeStatus.DONE]
    return Progress(len(nudges), len(delivered), len(done), row.status, min(pending) if pending else None)


def finish_if_complete(session: Session, *, row: Enrolment, now: datetime) -> None:
    """A journey with nothing left to deliver is done."""
    nudges = queries.nudges_of(session, enrolment_id=row.id or 0)
    if row.status == EnrolmentStatus.ACTIVE and not any(n.status == NudgeStatus.PENDING for n in nudges):
        row.status, row.updated_at = EnrolmentStatus.DONE, now
        session.add(row)


def stop(session: Session, *, row: Enrolment, now: datetime) -> int:
    """Stop a journey: its steps still to come are skipped. Returns how many were."""
    pending = [n.id for n in queries.nudges_of(session, enrolment_id=row.id or 0) if n.status == NudgeStatus.PENDING]
    queries.set_nudges(session, ids=[i for i in pending if i is not None], status=NudgeStatus.SKIPPED)
    row.status, row.updated_at = EnrolmentStatus.STOPPED, now
    session.add(row)
    return len(pending)


def snooze(nudges: list[Nudge], tz: str, now: datetime) -> datetime:
    """Deliver these steps again on the hire's next working day, at the same local time."""
    local = now.astimezone(zone(tz))
    tomorrow = working_day(local.date() + timedelta(days=1), 0)
    again = next_working_start(datetime.combine(tomorrow, local.time(), tzinfo=zone(tz)), tz)
    for n in nudges:
        n.status, n.due_at, n.dm_ts, n.snoozes = NudgeStatus.PENDING, again, "", n.snoozes + 1
    return again


def choose_buddy(session: Session, *, ws: Workspace, topics: list[str], hire: str, now: datetime) -> str:
    """The expert in the hire's topics with room for one more: most topics shared, most credible, least loaded."""
    if not topics:
        return ""
    best: tuple[float, float, int, str] | None = None
    for user, (_, expert) in assignments.candidates(session, ws=ws, topics=topics).items():
        today = local_today(now, expert.tz)
        away = expert.on_leave_until is not None and expert.on_leave_until >= today
        if user == hire or expert.deleted or expert.paused or away or expert.open_assignments >= expert.capacity:
            continue
        shared = [t for t in topics if t in expert.topics]
        credibility = sum(expert.credibility.get(t, 0.5) for t in shared) / max(len(shared), 1)
        key = (-float(len(shared)), -credibility, expert.open_assignments, user)
        best = key if best is None or key < best else best
    return best[3] if best else ""


def set_topics(session: Session, *, row: Enrolment, topics: list[str], now: datetime) -> str:
    """Record the hire's topics and pick their buddy from the experts in them; returns the buddy ("" if none)."""
    row.topics = ",".join(topics)[:500]
    row.buddy = choose_buddy(session, ws=Workspace.of(row), topics=topics, hire=row.user_id, now=now)
    row.updated_at = now
    session.add(row)
    return row.buddy


def topics_of(row: Enrolment) -> list[str]:
    return [t for t in row.topics.split(",") if t]


@dataclass(frozen=True)
class Material:
    """Everything a step's message can pull in, gathered once per delivery."""

    name: str
    topics: list[str]
    top_qas: list[tuple[Question, Answer, float]]
    experts: list[str]
    buddy: str
    channels: list[str]


def material(session: Session, *, row: Enrolment, needed: Collection[str] = PLACEHOLDERS) -> Material:
    """What the steps' messages pull in (only the `needed` placeholders are looked up).

    Public knowledge only: a DM to a new hire never quotes a private channel.
    """
    ws = Workspace.of(row)
    topics = topics_of(row)
    person = queries.user(session, ws=ws, user_id=row.user_id)
    name = ((person.real_name or person.name).split() or [""])[0] if person else ""
    experts = (
        [e.user_id for e in queries.experts_in_topics(session, ws=ws, topics=topics) if not e.deleted]
        if "experts" in needed
        else []
    )
    return Material(
        name=name,
        topics=topics,
        top_qas=queries.top_public_qas(session, ws=ws, topics=topics) if "top_qas" in needed else [],
        experts=sorted(e for e in experts if e != row.user_id)[:5],
        buddy=row.buddy,
        channels=queries.channels_for_topics(session, ws=ws, topics=topics) if "channels" in needed else [],
    )


def render(step: Step, m: Material, *, base_url: str) -> str:
    """A step's message with its placeholders filled in; quoted user text is escaped."""
    qas = [
        f"• <{archive_link(base_url, q.channel, q.ts)}|{escape(truncate(q.text.splitlines()[0], 90))}>"
        f" answered by <@{a.author}>" + (f" (+{score:g})" if score > 0 else "")
        if base_url
        else f"• {escape(truncate(q.text.splitlines()[0], 90))} in <#{q.channel}>, answered by <@{a.author}>"
        for q, a, score in m.top_qas
    ]
    if len(m.topics) > 1:
        topics = ", ".join(m.topics[:-1]) + " and " + m.topics[-1]
    else:
        topics = m.topics[0] if m.topics else "your area"
    fields = {
        "name": escape(m.name) or "there",
        "topics": escape(topics),
        "top_qas": "\n".join(qas) or "_Nothing answered there yet: your questions will start it off._",
        "experts": ", ".join(f"<@{e}>" for e in m.experts) or "nobody has signed up for these topics yet",
        "buddy": f"<@{m.buddy}>" if m.buddy else "still to be found (pick your topics in my first message)",
        "channels": ", ".join(f"<#{c}>" for c in m.channels) or "none yet",
    }
    return step.message.format(**fields)
