"""Workspace statistics: how much is asked, answered and reused, over groups large enough to say nothing of anyone.

Privacy rule (MIN_GROUP, shared with the knowledge-gap report, is 5):

* Only questions asked in public channels are counted; nothing from a private channel is counted or named.
* A week's figures appear only when at least MIN_GROUP different people asked that week; the window's totals,
  shares and the median time to a first answer only with MIN_GROUP different askers behind them.
* A topic is named only when at least MIN_GROUP different people asked in it during the window.
* Top helpers name people: they are for admins (and the operator's CLI) only, and list only someone whose
  answers in the window went to at least MIN_GROUP different askers and were thanked (a positive vote,
  the asker's accept included) at least once.
* No single question, asker or per-person feed is ever shown.

Everything is aggregated in SQL over the window (per-week GROUP BY on a CASE of the week starts, so no
database-specific date truncation); only the median streams (asker, asked, first answer) rows of the window.
Filtering on the workspace's question channels lets each query range-scan the (team, channel, created_at)
index instead of reading every question the workspace ever had.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.digest import MIN_GROUP
from bot.text import escape
from storage import queries
from storage.models import Workspace

MAX_WEEKS = 104


@dataclass(frozen=True)
class Week:
    """One ISO week (UTC); counts are None when fewer than MIN_GROUP people asked in it."""

    start: date
    questions: int | None
    answered: int | None

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Helper:
    """Someone thanked for answers; `name` is "" when the database does not know it."""

    user_id: str
    name: str
    thanks: int
    answers: int
    askers: int


@dataclass
class Stats:
    """What `workspace_stats` found; every figure already obeys the privacy rule (None: too few people)."""

    team_id: str
    start: datetime
    end: datetime
    weeks: list[Week] = field(default_factory=list)
    asked_any: bool = False
    questions: int | None = None
    askers: int | None = None
    answered_share: float | None = None
    reused_share: float | None = None
    median_first_answer: timedelta | None = None
    top_topics: list[tuple[str, int, int]] = field(default_factory=list)  # topic, questions, askers
    no_expert: list[str] = field(default_factory=list)
    helpers: list[Helper] = field(default_factory=list)  # admins only


def week_starts(now: datetime, weeks: int) -> list[datetime]:
    """The Mondays 00:00 UTC of the last `weeks` ISO weeks, the one `now` falls in last."""
    today = now.astimezone(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time(), tzinfo=UTC)
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def weekly_activity(session: Session, *, ws: Workspace, now: datetime, weeks: int) -> list[Week]:
    """Questions asked (and by now answered) per week in public channels, hidden below MIN_GROUP askers."""
    starts = week_starts(now, max(1, min(weeks, MAX_WEEKS)))
    end = starts[-1] + timedelta(weeks=1)
    return _weeks(session, ws=ws, starts=starts, end=end, channels=queries.question_channels(session, ws=ws))


def _weeks(
    session: Session, *, ws: Workspace, starts: list[datetime], end: datetime, channels: list[str]
) -> list[Week]:
    counts = queries.public_weekly_counts(session, ws=ws, starts=starts, end=end, channels=channels)
    out = []
    for index, start in enumerate(starts):
        n, people, answered, _ = counts.get(index, (0, 0, 0, 0))
        shown = people >= MIN_GROUP
        out.append(Week(start.date(), n if shown else None, answered if shown else None))
    return out


def workspace_stats(session: Session, *, ws: Workspace, now: datetime, weeks: int = 8) -> Stats:
    """The last `weeks` ISO weeks (UTC, the current one included) of a workspace, under the privacy rule."""
    weeks = max(1, min(weeks, MAX_WEEKS))
    starts = week_starts(now, weeks)
    start, end = starts[0], starts[-1] + timedelta(weeks=1)
    asked_in = queries.question_channels(session, ws=ws)
    weeks_seen = _weeks(session, ws=ws, starts=starts, end=end, channels=asked_in)
    out = Stats(team_id=ws.team_id, start=start, end=end, weeks=weeks_seen)
    n, people, answered, reused = queries.public_window_totals(session, ws=ws, start=start, end=end, channels=asked_in)
    out.asked_any = n > 0
    if people >= MIN_GROUP:
        out.questions, out.askers = n, people
        out.answered_share, out.reused_share = answered / n, reused / n
        delays, answered_askers = [], set()
        for asker, asked, first in queries.public_first_answers(
            session, ws=ws, start=start, end=end, channels=asked_in
        ):
            delays.append(max((first - asked).total_seconds(), 0.0))
            answered_askers.add(asker)
        if len(answered_askers) >= MIN_GROUP:
            out.median_first_answer = timedelta(seconds=statistics.median(delays))
    topics = queries.public_topic_counts(session, ws=ws, start=start, end=end, min_askers=MIN_GROUP, channels=asked_in)
    out.top_topics = topics[:5]
    covered = queries.expert_tags(session, ws=ws)
    out.no_expert = sorted(t for t, _, _ in topics if t not in covered)[:10]
    answered_in = queries.answer_channels(session, ws=ws)
    for who, thanks, answers, askers in queries.public_top_helpers(
        session, ws=ws, start=start, end=end, min_askers=MIN_GROUP, channels=answered_in
    ):
        row = queries.user(session, ws=ws, user_id=who)
        name = (row.real_name or row.name) if row is not None else ""
        out.helpers.append(Helper(who, name, thanks, answers, askers))
    return out


def duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _period(stats: Stats) -> str:
    last = (stats.end - timedelta(days=1)).date()
    return f"{len(stats.weeks)} weeks, {stats.start:%d %b %Y} to {last:%d %b %Y}"


def _summary(stats: Stats) -> list[str]:
    if not stats.asked_any:
        return ["No questions were asked in public channels in this period."]
    if stats.questions is None or stats.askers is None:
        return [f"Fewer than {MIN_GROUP} people asked in public channels in this period: nothing to show yet."]
    parts = [f"{stats.questions} questions from {stats.askers} people"]
    if stats.answered_share is not None:
        parts.append(f"{stats.answered_share:.0%} answered")
    if stats.reused_share is not None:
        parts.append(f"{stats.reused_share:.0%} solved by an answer colleagues gave before")
    median = stats.median_first_answer
    parts.append(
        "median time: too few people" if median is None else f"median time to a first answer {duration(median)}"
    )
    return [" · ".join(parts)]


def _week_line(week: Week) -> str:
    if week.questions is None:
        return f"{week.label} ({week.start:%d %b}): too few people"
    return f"{week.label} ({week.start:%d %b}): {week.questions} questions, {week.answered} answered"


def format_stats(stats: Stats, *, admin: bool) -> str:
    """The ephemeral reply to `/peerbot stats` (Slack mrkdwn); top helpers only for admins."""
    lines = [f"*Peerbot stats* ({_period(stats)}, public channels)", *_summary(stats), "", "*Questions per week*"]
    lines += [f"• {_week_line(w)}" for w in stats.weeks]
    lines += ["", "*Most asked topics*"]
    lines += [f"• {escape(t)}: {n} questions from {p} people" for t, n, p in stats.top_topics] or ["_none to show_"]
    lines += ["", "*Topics with no expert*"]
    lines += [f"• {escape(t)}" for t in stats.no_expert] or ["_none to show_"]
    if admin:
        lines += ["", "*Top helpers* (only admins see this)"]
        lines += [
            f"• <@{h.user_id}>: thanked {h.thanks} times for {h.answers} answers to {h.askers} people"
            for h in stats.helpers
        ] or ["_none to show_"]
    lines += ["", f"_Figures appear only where at least {MIN_GROUP} different people asked._"]
    return "\n".join(lines)


def format_text(stats: Stats) -> str:
    """The plain-text report `peerbot stats` prints (the operator sees the helpers too)."""
    lines = [f"Peerbot stats for {stats.team_id} ({_period(stats)}, public channels)", *_summary(stats), ""]
    lines += ["Questions per week:", *(f"  {_week_line(w)}" for w in stats.weeks), ""]
    lines += ["Most asked topics:"]
    lines += [f"  {t}: {n} questions from {p} people" for t, n, p in stats.top_topics] or ["  none to show"]
    lines += ["", "Topics with no expert:", *([f"  {t}" for t in stats.no_expert] or ["  none to show"]), ""]
    lines += ["Top helpers:"]
    lines += [
        f"  {f'{h.name} ({h.user_id})' if h.name else h.user_id}: "
        f"thanked {h.thanks} times for {h.answers} answers to {h.askers} people"
        for h in stats.helpers
    ] or ["  none to show"]
    lines += ["", f"Figures appear only where at least {MIN_GROUP} different people asked."]
    return "\n".join(lines) + "\n"


def cli(engine: Engine, *, team: str | None, weeks: int, now: datetime | None = None) -> int:
    """`peerbot stats [--team T…] [--weeks N]`: print the report; 2 on a bad argument or an ambiguous team."""
    if not 1 <= weeks <= MAX_WEEKS:
        print(f"--weeks must be between 1 and {MAX_WEEKS}.", file=sys.stderr)
        return 2
    with Session(engine) as s:
        teams = queries.teams_with_data(s)
        if not teams:
            print("no data yet")
            return 0
        if team is None and len(teams) > 1:
            print(f"Which workspace? Pass --team with one of: {', '.join(teams)}", file=sys.stderr)
            return 2
        if team is not None and team not in teams:
            print(f"no data for {team}; the database holds: {', '.join(teams)}", file=sys.stderr)
            return 2
        stats = workspace_stats(s, ws=Workspace(team or teams[0]), now=now or datetime.now(UTC), weeks=weeks)
    print(format_text(stats), end="")
    return 0
