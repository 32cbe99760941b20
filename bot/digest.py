"""Weekly digests: what a channel learned, open questions for an expert, the admins' knowledge-gap report."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from bot.journeys import zone
from storage import queries
from storage.models import Answer, Question, QuestionStatus, Workspace

MIN_GROUP = 5  # the knowledge-gap report shows a figure only when at least this many people are behind it
UNANSWERED_WINDOW = timedelta(days=28)


def this_week(now: datetime, *, day: int, at: time, tz: str) -> datetime:
    """The digest moment (weekday `day` at `at`, in `tz`) of the week `now` falls in, in UTC."""
    local = now.astimezone(zone(tz))
    monday = local.date() - timedelta(days=local.weekday())
    moment = datetime.combine(monday + timedelta(days=day), at, tzinfo=zone(tz))
    return moment.astimezone(UTC)


def period_of(moment: datetime, tz: str) -> str:
    """The ISO week a digest covers, e.g. 2026-W10: one digest per target and period, ever."""
    year, week, _ = moment.astimezone(zone(tz)).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class ChannelDigest:
    channel: str
    top: list[tuple[Answer, Question, float]] = field(default_factory=list)
    answered: list[Question] = field(default_factory=list)
    unanswered: list[Question] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)
    trending: list[tuple[str, int, int]] = field(default_factory=list)  # tag, this week, the week before

    @property
    def empty(self) -> bool:
        return not (self.top or self.answered or self.unanswered)


def channel_digest(session: Session, *, ws: Workspace, channel: str, start: datetime, end: datetime) -> ChannelDigest:
    """A channel's week, from the channel's own questions only: posted there, it shows nothing its members can't see."""
    out = ChannelDigest(channel)
    answers = queries.channel_answers(session, ws=ws, channel_id=channel, start=start, end=end)
    out.top = sorted((x for x in answers if x[2] > 0), key=lambda x: (-x[2], x[0].created_at))[:3]
    ids = list(dict.fromkeys(q.id for _, q, _ in answers if q.id is not None))
    earlier = queries.answered_before(session, question_ids=ids, before=start)
    by_id = {q.id: q for _, q, _ in answers}
    out.answered = [by_id[i] for i in ids if i not in earlier and by_id[i].status != QuestionStatus.OPEN][:5]
    out.unanswered = queries.open_channel_questions(
        session, ws=ws, channel_id=channel, start=end - UNANSWERED_WINDOW, end=end
    )
    out.helpers = [who for who, _ in Counter(a.author for a, _, _ in answers).most_common(10)]
    now_tags = Counter(queries.channel_tag_counts(session, ws=ws, channel_id=channel, start=start, end=end))
    then_tags = queries.channel_tag_counts(
        session, ws=ws, channel_id=channel, start=start - timedelta(days=7), end=start
    )
    out.trending = [(t, n, then_tags.get(t, 0)) for t, n in now_tags.most_common(3) if n >= 2]
    return out


def expert_digest(
    session: Session,
    *,
    ws: Workspace,
    expert: str,
    topics: list[str],
    since: datetime,
    may_see: Callable[[str], bool],
) -> list[tuple[Question, list[str]]]:
    """Open questions in an expert's topics, not their own; a private channel's only when they are in it."""
    found = queries.open_questions_in_topics(session, ws=ws, topics=topics, since=since)
    tags = queries.tags_of_questions(session, question_ids=[q.id for q in found if q.id is not None])
    out = []
    for q in found:
        if q.author == expert or q.duplicate_of is not None or (q.is_private and not may_see(q.channel)):
            continue
        out.append((q, sorted(set(tags.get(q.id or 0, [])) & set(topics))))
    return out[:10]


@dataclass
class GapReport:
    questions: int = 0
    askers: int = 0
    asked_most: list[tuple[str, int, int]] = field(default_factory=list)  # topic, questions, askers
    unanswered: list[tuple[str, int]] = field(default_factory=list)  # topic, open questions
    no_expert: list[str] = field(default_factory=list)
    median_first_answer: timedelta | None = None

    @property
    def empty(self) -> bool:
        """Fewer than MIN_GROUP people asked: even the totals would say too much about them."""
        return self.askers < MIN_GROUP


def gap_report(session: Session, *, ws: Workspace, start: datetime, end: datetime) -> GapReport:
    """Aggregates over public channels only; a topic or a figure appears only with MIN_GROUP people behind it."""
    asked = queries.public_questions_between(session, ws=ws, start=start, end=end)
    report = GapReport(questions=len(asked), askers=len({q.author for q in asked}))
    if not asked:
        return report
    tags = queries.tags_of_questions(session, question_ids=[q.id for q in asked if q.id is not None])
    askers: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    still_open: Counter[str] = Counter()
    for q in asked:
        for t in set(tags.get(q.id or 0, [])):
            askers.setdefault(t, set()).add(q.author)
            counts[t] += 1
            still_open[t] += q.status == QuestionStatus.OPEN
    big = [t for t, people in askers.items() if len(people) >= MIN_GROUP]
    report.asked_most = sorted(((t, counts[t], len(askers[t])) for t in big), key=lambda x: (-x[1], x[0]))[:5]
    report.unanswered = sorted(((t, still_open[t]) for t in big if still_open[t]), key=lambda x: (-x[1], x[0]))[:5]
    covered = queries.expert_tags(session, ws=ws)
    report.no_expert = sorted(t for t in big if t not in covered)[:10]
    firsts = queries.first_answer_times(session, question_ids=[q.id for q in asked if q.id is not None])
    timed = [(q.author, firsts[q.id] - q.created_at) for q in asked if q.id in firsts]
    if len({who for who, _ in timed}) >= MIN_GROUP:
        report.median_first_answer = timedelta(seconds=statistics.median(d.total_seconds() for _, d in timed))
    return report


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(zone(tz)).date()


def week_label(end: datetime, tz: str) -> str:
    start: date = (end - timedelta(days=7)).astimezone(zone(tz)).date()
    last: date = (end - timedelta(seconds=1)).astimezone(zone(tz)).date()
    return f"{start:%d %b} to {last:%d %b}"
