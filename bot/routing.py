"""Choosing experts for an open question: available, knowledgeable, credible, not overloaded, in rotation."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


# Answer history: what each person answered, and how lately, as a score per person for a new question.
# Chosen on validation folds carved from the training part of bench/routing_eval (`--tune`).
HALF_LIFE = timedelta(days=60)
HALF_LIFE_ANSWERS = 60.0  # an answer also counts half as much once this many later answers are in the history
BASE_SHARE = 1.0  # how much any recent answer counts, next to the extra for a question just like this one (1.0)
UNIT = 1e-4  # history = log(1 + activity / UNIT): a log scale, so a topic match acts like "× more activity"
PROFILE_WEIGHT = 0.05  # × BM25 of the question against all the questions someone answered, added to the log
BM25_K1, BM25_B = 1.2, 0.75  # the usual values, not tuned
TEXT_CHARS = 2_000
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.]*")
_STOP_WORDS = (
    "about after also an and any are as at be been but by can could do does for from get has have how if in into "
    "is it its my no not of on or our should so than that the their them then there these this to use using was "
    "we what when where which who why will with would you your"
)
_STOP = frozenset(_STOP_WORDS.split())


def _words(text: str, tags: Iterable[str]) -> list[str]:
    words = [w.rstrip(".") for w in _WORD.findall(text[:TEXT_CHARS].lower())]
    words = [w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w for w in words]
    return [w for w in words if len(w) > 1 and w not in _STOP] + ["#" + t for t in tags]


@dataclass(frozen=True)
class HistoryRecord:
    """One answer someone gave: the question's text and tags, when, and how much it counts."""

    user_id: str
    text: str
    at: datetime
    tags: tuple[str, ...] = ()
    weight: float = 1.0


class HistoryIndex:
    """Answer history: log of Σ over a person's answers of decay × (BASE_SHARE + similarity), plus a text match.

    An answer decays with its age and with the number of answers given after it, so recency follows
    the pace of the history itself: a quiet team's answers from last quarter still count, a busy one's fade.
    The text match is BM25 of the question against everything the person answered (their profile).
    """

    def __init__(
        self,
        records: Iterable[HistoryRecord],
        *,
        half_life: timedelta = HALF_LIFE,
        half_life_answers: float = HALF_LIFE_ANSWERS,
        base_share: float = BASE_SHARE,
        unit: float = UNIT,
        profile_weight: float = PROFILE_WEIGHT,
    ) -> None:
        recs = list(records)
        self._rate = math.log(2) / half_life.total_seconds()
        self._unit = unit
        self._profile_weight = profile_weight
        self._anchor = max((_aware(r.at) for r in recs), default=datetime(1970, 1, 1, tzinfo=UTC))
        times = sorted(r.at for r in recs)
        per_answer = math.log(2) / half_life_answers
        bags = [Counter(_words(r.text, r.tags)) for r in recs]
        df = Counter(term for bag in bags for term in bag)
        self._idf = {term: math.log((len(recs) + 1) / (n + 1)) + 1 for term, n in df.items()}
        self._base: dict[str, float] = defaultdict(float)
        # Per term, per person: Σ decay × (the term's weight in each answered question's unit vector).
        self._postings: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for rec, bag in zip(recs, bags, strict=True):
            later = len(times) - bisect_right(times, rec.at)
            fresh = rec.weight * math.exp(-self._rate * (self._anchor - rec.at).total_seconds() - per_answer * later)
            self._base[rec.user_id] += base_share * fresh
            vec = _unit_vector(bag, self._idf)
            for term, value in vec.items():
                self._postings[term][rec.user_id] += fresh * value
        profiles: dict[str, Counter[str]] = defaultdict(Counter)
        for rec, bag in zip(recs, bags, strict=True):
            profiles[rec.user_id].update(bag)
        self._profiles = _bm25_postings(profiles) if profile_weight else {}

    def scores(self, text: str, tags: Iterable[str] = (), *, now: datetime) -> dict[str, float]:
        """Each person's history score (≥ 0) for a question: more for recent answers to similar questions."""
        shift = math.exp(-self._rate * (_aware(now) - self._anchor).total_seconds())
        raw = dict(self._base)
        query = _unit_vector(Counter(_words(text, tags)), self._idf)
        for term, weight in query.items():
            for user, value in self._postings.get(term, {}).items():
                raw[user] += weight * value
        out = {user: math.log1p(shift * value / self._unit) for user, value in raw.items() if value > 0}
        for term in query:
            for user, value in self._profiles.get(term, {}).items():
                if user in out:
                    out[user] += self._profile_weight * value
        return out


def _bm25_postings(profiles: Mapping[str, Counter[str]]) -> dict[str, dict[str, float]]:
    """Per term, per person: the term's BM25 weight in the person's profile (all the questions they answered)."""
    lengths = {user: sum(bag.values()) for user, bag in profiles.items()}
    mean_length = sum(lengths.values()) / max(len(lengths), 1) or 1.0
    people_with = Counter(term for bag in profiles.values() for term in bag)
    postings: dict[str, dict[str, float]] = defaultdict(dict)
    for user, bag in profiles.items():
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[user] / mean_length)
        for term, tf in bag.items():
            n = people_with[term]
            idf = math.log(1 + (len(profiles) - n + 0.5) / (n + 0.5))
            postings[term][user] = idf * tf * (BM25_K1 + 1) / (tf + norm)
    return postings


def _unit_vector(bag: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    vec = {term: (1 + math.log(n)) * idf[term] for term, n in bag.items() if term in idf}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {term: v / norm for term, v in vec.items()}
