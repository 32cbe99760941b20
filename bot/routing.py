"""Choosing experts for an open question: available, knowledgeable, credible, not overloaded, in rotation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Re-exported: routing's callers build the answer history and pass its scores to `rank`.
from bot.answer_history import HistoryIndex as HistoryIndex
from bot.answer_history import HistoryRecord as HistoryRecord

WEEKDAYS = frozenset(range(5))  # Monday..Friday as date.weekday() numbers
PRIOR_VOTES = 2.0  # a Beta(2, 2) prior: no votes means credibility 0.5, a few votes move it gently
PRIOR_CREDIBILITY = 0.5
LOOKAHEAD_DAYS = 400


def topic_credibility(vote_weights: Iterable[float]) -> float:
    """Credibility in (0, 1) from the weights of votes on someone's answers in one topic: 0.5 with none."""
    up = down = 0.0
    for weight in vote_weights:
        if weight > 0:
            up += weight
        else:
            down -= weight
    return (up + PRIOR_VOTES) / (up + down + 2 * PRIOR_VOTES)


@dataclass(frozen=True)
class Weights:
    """How the parts of a score add up. History is on a log scale, so each part acts like a factor on activity."""

    topic: float = 1.0  # × mean topic credibility: a full match at 0.8 counts like 2.2× the activity
    load: float = 1.0  # × open/capacity: someone with 2 of 3 open counts like half as active
    near_equal: float = 0.05  # within 5% of the best remaining score, the one asked least recently goes first


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Expert:
    """What routing needs to know about one person; work hours are wall-clock times in `tz`."""

    user_id: str
    topics: frozenset[str] = frozenset()
    credibility: Mapping[str, float] = field(default_factory=dict)  # per topic, from topic_credibility
    open_assignments: int = 0
    capacity: int = 3
    tz: str = "UTC"
    work_start: time = time(9)
    work_end: time = time(17)  # before work_start: a shift over midnight; equal: round the clock
    work_days: frozenset[int] = WEEKDAYS
    on_leave_until: date | None = None  # inclusive, a date in their own time zone
    paused: bool = False
    deleted: bool = False
    last_asked_at: datetime | None = None


@dataclass(frozen=True)
class Ranked:
    user_id: str
    score: float
    reasons: tuple[str, ...]


@lru_cache(maxsize=512)
def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # an unknown zone name must not stop routing


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime given to routing; use aware UTC")
    return now


def _shift_day(expert: Expert, local: datetime) -> date | None:
    """The working day whose shift covers this local time, or None outside working hours."""
    clock, today = local.time(), local.date()
    start, end = expert.work_start, expert.work_end
    if start == end:
        day: date | None = today
    elif start < end:
        day = today if start <= clock < end else None
    else:
        day = today if clock >= start else today - timedelta(days=1) if clock < end else None
    if day is None or day.weekday() not in expert.work_days:
        return None
    return day


def _on_leave(expert: Expert, day: date) -> bool:
    return expert.on_leave_until is not None and day <= expert.on_leave_until


def _reachable(expert: Expert) -> bool:
    return not (expert.deleted or expert.paused) and expert.open_assignments < expert.capacity


def is_available(expert: Expert, now: datetime) -> bool:
    """Inside their working hours and days, not on leave, paused, deactivated or at capacity."""
    if not _reachable(expert):
        return False
    day = _shift_day(expert, _aware(now).astimezone(_zone(expert.tz)))
    return day is not None and not _on_leave(expert, day)


def _topic_match(expert: Expert, topics: frozenset[str]) -> tuple[float, list[str]]:
    """Mean credibility over the question's topics (0 for topics they neither declared nor earned)."""
    known = sorted(t for t in topics if t in expert.topics or t in expert.credibility)
    if not known:
        return 0.0, []
    return sum(expert.credibility.get(t, PRIOR_CREDIBILITY) for t in known) / len(topics), known


@dataclass(frozen=True)
class _Candidate:
    expert: Expert
    score: float
    reasons: tuple[str, ...]


def _candidates(
    topics: frozenset[str], experts: Iterable[Expert], exclude: set[str], history: Mapping[str, float]
) -> Iterable[tuple[Expert, float, list[str], float]]:
    """Reachable, not excluded, relevant experts (a topic match or some answer history), each once."""
    seen = set(exclude)
    for expert in experts:
        if expert.user_id in seen:
            continue
        seen.add(expert.user_id)
        if not _reachable(expert):
            continue
        match, known = _topic_match(expert, topics)
        past = max(history.get(expert.user_id, 0.0), 0.0)
        if match > 0 or past > 0:
            yield expert, match, known, past


def rank(
    question_topics: Iterable[str],
    experts: Iterable[Expert],
    *,
    now: datetime,
    exclude: set[str],
    k: int = 2,
    history_scores: Mapping[str, float] | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Ranked]:
    """The best `k` available experts: topic match × credibility + answer history − load, rotating near-equals."""
    pool: list[_Candidate] = []
    for expert, match, known, past in _candidates(frozenset(question_topics), experts, exclude, history_scores or {}):
        if not is_available(expert, now):
            continue
        load = expert.open_assignments / max(expert.capacity, 1)
        score = weights.topic * match + past - weights.load * load
        reasons = [f"topics {', '.join(known)} (match {match:.2f})"] if known else []
        reasons += [f"answer history {past:.2f}"] if past > 0 else []
        reasons += [f"load {expert.open_assignments}/{expert.capacity}"] if expert.open_assignments else []
        pool.append(_Candidate(expert, score, tuple(reasons)))
    pool.sort(key=lambda c: (-c.score, c.expert.user_id))
    return _rotate(pool, k, weights.near_equal)


def _rotate(pool: list[_Candidate], k: int, near_equal: float) -> list[Ranked]:
    """Take the best remaining each time, but among near-equals the one asked least recently (never = first)."""
    never = datetime.min.replace(tzinfo=UTC)
    out: list[Ranked] = []
    while pool and len(out) < k:
        floor = pool[0].score - near_equal * abs(pool[0].score) - 1e-9
        near = [c for c in pool if c.score >= floor]
        pick = min(near, key=lambda c: (c.expert.last_asked_at or never, -c.score, c.expert.user_id))
        reasons = pick.reasons + (("rotation: asked least recently",) if pick is not pool[0] else ())
        pool.remove(pick)
        out.append(Ranked(pick.expert.user_id, pick.score, reasons))
    return out


def _next_shift_start(expert: Expert, now: datetime) -> datetime | None:
    zone = _zone(expert.tz)
    local = now.astimezone(zone)
    day = _shift_day(expert, local)
    if day is not None and not _on_leave(expert, day):
        return now
    for offset in range(LOOKAHEAD_DAYS):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in expert.work_days or _on_leave(expert, day):
            continue
        start = datetime.combine(day, expert.work_start, tzinfo=zone).astimezone(UTC)
        if start > now:
            return start
    return None


def next_start(
    experts: Iterable[Expert],
    question_topics: Iterable[str],
    *,
    now: datetime,
    exclude: set[str],
    history_scores: Mapping[str, float] | None = None,
) -> datetime | None:
    """When the first relevant expert's working hours begin (now if someone is at work); None if never."""
    starts = [
        at
        for expert, *_ in _candidates(frozenset(question_topics), experts, exclude, history_scores or {})
        if (at := _next_shift_start(expert, _aware(now))) is not None
    ]
    return min(starts, default=None)
