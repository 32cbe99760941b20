"""Choosing experts without Slack: availability in each person's time zone, scoring, rotation, when help comes."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.answer_history import HistoryIndex, HistoryRecord, _words
from bot.routing import (
    DEFAULT_WEIGHTS,
    Expert,
    Ranked,
    is_available,
    next_start,
    rank,
    topic_credibility,
)

MONDAY_NOON = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)  # a Monday
SATURDAY_NOON = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
K8S = {"kubernetes"}


def expert(user_id: str, **kw: Any) -> Expert:
    return Expert(user_id, **{"topics": frozenset(K8S), **kw})


def ids(ranked: Sequence[Ranked]) -> list[str]:
    return [r.user_id for r in ranked]


# Availability


def test_working_hours_follow_each_persons_time_zone() -> None:
    ten_utc = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    kolkata = expert("UIN", tz="Asia/Kolkata")  # 15:30 there
    new_york = expert("UNY", tz="America/New_York")  # 05:00 there
    assert is_available(kolkata, ten_utc)
    assert not is_available(new_york, ten_utc)
    assert ids(rank(K8S, [new_york, kolkata], now=ten_utc, exclude=set())) == ["UIN"]
    evening = datetime(2024, 3, 4, 20, 0, tzinfo=UTC)  # 15:00 in New York, 01:30 in Kolkata
    assert ids(rank(K8S, [new_york, kolkata], now=evening, exclude=set())) == ["UNY"]


def test_hours_are_half_open_and_days_are_local() -> None:
    e = expert("U1")
    assert is_available(e, MONDAY_NOON.replace(hour=9))
    assert not is_available(e, MONDAY_NOON.replace(hour=17))
    assert not is_available(e, SATURDAY_NOON)
    sunday_to_thursday = expert("U2", tz="Asia/Dubai", work_days=frozenset({6, 0, 1, 2, 3}))
    assert is_available(sunday_to_thursday, datetime(2024, 3, 10, 8, 0, tzinfo=UTC))  # Sunday 12:00 in Dubai
    assert not is_available(sunday_to_thursday, datetime(2024, 3, 8, 8, 0, tzinfo=UTC))  # Friday


def test_overnight_and_round_the_clock_shifts() -> None:
    night = expert("UN", work_start=time(22), work_end=time(6))
    assert is_available(night, datetime(2024, 3, 4, 23, 0, tzinfo=UTC))  # Monday night
    assert is_available(night, datetime(2024, 3, 5, 3, 0, tzinfo=UTC))  # still Monday's shift
    assert not is_available(night, datetime(2024, 3, 5, 12, 0, tzinfo=UTC))
    assert is_available(night, datetime(2024, 3, 9, 5, 59, tzinfo=UTC))  # Friday's shift runs into Saturday
    assert not is_available(night, datetime(2024, 3, 10, 3, 0, tzinfo=UTC))  # there is no Saturday shift
    assert not is_available(night, datetime(2024, 3, 4, 3, 0, tzinfo=UTC))  # nor a Sunday one
    always = expert("UA", work_start=time(0), work_end=time(0), work_days=frozenset(range(7)))
    assert is_available(always, SATURDAY_NOON.replace(hour=3))


def test_leave_lasts_until_the_date_inclusive_in_their_time_zone() -> None:
    tokyo = expert("UJP", tz="Asia/Tokyo", on_leave_until=date(2024, 3, 5))
    assert not is_available(tokyo, datetime(2024, 3, 5, 1, 0, tzinfo=UTC))  # Tuesday 10:00 in Tokyo
    assert is_available(tokyo, datetime(2024, 3, 6, 1, 0, tzinfo=UTC))  # Wednesday 10:00 in Tokyo
    # Tuesday 23:30 UTC is already Wednesday 08:30 in Tokyo: off leave, but not at work yet.
    assert not is_available(tokyo, datetime(2024, 3, 5, 23, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    "change", [{"paused": True}, {"deleted": True}, {"open_assignments": 3}, {"capacity": 1, "open_assignments": 1}]
)
def test_paused_deactivated_or_full_experts_are_never_routed_to(change: dict[str, Any]) -> None:
    e = replace(expert("U1"), **change)
    assert not is_available(e, MONDAY_NOON)
    assert rank(K8S, [e], now=MONDAY_NOON, exclude=set()) == []


def test_unknown_time_zone_is_treated_as_utc() -> None:
    assert is_available(expert("U1", tz="Mars/Olympus_Mons"), MONDAY_NOON)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        is_available(expert("U1"), datetime(2024, 3, 4, 12, 0))


# Ranking


def test_asker_and_people_in_the_thread_are_excluded() -> None:
    people = [expert("UASK"), expert("UIN_THREAD"), expert("UFREE")]
    ranked = rank(K8S, people, now=MONDAY_NOON, exclude={"UASK", "UIN_THREAD"})
    assert ids(ranked) == ["UFREE"]


def test_people_with_nothing_relevant_are_not_ranked() -> None:
    people = [expert("UK8S"), expert("UPG", topics=frozenset({"postgres"}))]
    assert ids(rank(K8S, people, now=MONDAY_NOON, exclude=set())) == ["UK8S"]
    assert rank(set(), people, now=MONDAY_NOON, exclude=set()) == []
    # Answer history alone makes someone relevant.
    ranked = rank(K8S, people, now=MONDAY_NOON, exclude=set(), history_scores={"UPG": 0.2})
    assert ids(ranked) == ["UK8S", "UPG"]


def test_two_experts_per_round_by_default_and_k_more() -> None:
    people = [expert(f"U{i}", credibility={"kubernetes": 0.5 + i / 20}) for i in range(6)]
    assert ids(rank(K8S, people, now=MONDAY_NOON, exclude=set())) == ["U5", "U4"]
    assert len(rank(K8S, people, now=MONDAY_NOON, exclude=set(), k=10)) == 6


def test_credibility_orders_equally_matched_experts() -> None:
    weak = expert("UWEAK", credibility={"kubernetes": topic_credibility([-1, -1, 1])})
    strong = expert("USTRONG", credibility={"kubernetes": topic_credibility([1, 1, 1, 1, 1])})
    fresh = expert("UNEW")  # no votes yet: the prior
    assert ids(rank(K8S, [weak, fresh, strong], now=MONDAY_NOON, exclude=set(), k=3)) == ["USTRONG", "UNEW", "UWEAK"]


def test_prior_gives_a_newcomer_a_chance_when_the_veteran_is_full() -> None:
    veteran = expert("UVET", credibility={"kubernetes": 0.9})
    newcomer = expert("UNEW")  # declared the topic, no votes, no history
    history = {"UVET": 9.0}
    assert ids(rank(K8S, [veteran, newcomer], now=MONDAY_NOON, exclude=set(), history_scores=history, k=1)) == ["UVET"]
    full = replace(veteran, open_assignments=3)
    ranked = rank(K8S, [full, newcomer], now=MONDAY_NOON, exclude=set(), history_scores=history)
    assert ids(ranked) == ["UNEW"]
    assert ranked[0].score > 0 and any("kubernetes" in reason for reason in ranked[0].reasons)


def test_current_load_is_a_penalty() -> None:
    busy = expert("UBUSY", open_assignments=2)
    idle = expert("UIDLE")
    ranked = rank(K8S, [busy, idle], now=MONDAY_NOON, exclude=set())
    assert ids(ranked) == ["UIDLE", "UBUSY"]
    assert ranked[1].score == pytest.approx(ranked[0].score - DEFAULT_WEIGHTS.load * 2 / 3)
    assert "load 2/3" in ranked[1].reasons


def test_topic_match_is_the_share_of_the_questions_topics() -> None:
    both = expert("UBOTH", topics=frozenset({"kubernetes", "postgres"}))
    one = expert("UONE")
    assert ids(rank({"kubernetes", "postgres"}, [one, both], now=MONDAY_NOON, exclude=set())) == ["UBOTH", "UONE"]


def test_rotation_alternates_between_equal_experts() -> None:
    people = {e.user_id: e for e in (expert("UA"), expert("UB"))}
    now = MONDAY_NOON
    firsts = []
    for _ in range(4):
        first = rank(K8S, people.values(), now=now, exclude=set(), k=1)[0]
        firsts.append(first.user_id)
        people[first.user_id] = replace(people[first.user_id], last_asked_at=now)
        now += timedelta(minutes=30)
    assert firsts == ["UA", "UB", "UA", "UB"]


def test_rotation_only_among_near_equals() -> None:
    star = expert("USTAR", credibility={"kubernetes": 0.95}, last_asked_at=MONDAY_NOON - timedelta(minutes=5))
    okay = expert("UOKAY", credibility={"kubernetes": 0.5})
    assert ids(rank(K8S, [star, okay], now=MONDAY_NOON, exclude=set(), k=1)) == ["USTAR"]
    near = expert("UNEAR", credibility={"kubernetes": 0.94})  # within 5%, never asked: goes first
    ranked = rank(K8S, [star, near, okay], now=MONDAY_NOON, exclude=set(), k=3)
    assert ids(ranked) == ["UNEAR", "USTAR", "UOKAY"]
    assert "rotation: asked least recently" in ranked[0].reasons


def test_duplicates_in_the_expert_list_are_ranked_once() -> None:
    assert ids(rank(K8S, [expert("U1"), expert("U1")], now=MONDAY_NOON, exclude=set(), k=5)) == ["U1"]


# When help comes


def test_next_start_is_now_when_someone_is_at_work() -> None:
    assert next_start([expert("U1")], K8S, now=MONDAY_NOON, exclude=set()) == MONDAY_NOON


def test_next_start_across_a_weekend_and_a_clock_change() -> None:
    friday_evening = datetime(2024, 3, 8, 23, 0, tzinfo=UTC)  # 18:00 in New York
    new_york = expert("UNY", tz="America/New_York")
    # Clocks go forward on Sunday 10 March: Monday 09:00 in New York is 13:00 UTC, not 14:00.
    assert next_start([new_york], K8S, now=friday_evening, exclude=set()) == datetime(2024, 3, 11, 13, 0, tzinfo=UTC)
    london = expert("ULON", tz="Europe/London")  # Monday 09:00 GMT = 09:00 UTC
    assert next_start([new_york, london], K8S, now=friday_evening, exclude=set()) == datetime(
        2024, 3, 11, 9, 0, tzinfo=UTC
    )


def test_next_start_skips_leave_and_ignores_the_unreachable() -> None:
    on_leave = expert("ULEAVE", on_leave_until=date(2024, 3, 6))
    assert next_start([on_leave], K8S, now=MONDAY_NOON, exclude=set()) == datetime(2024, 3, 7, 9, 0, tzinfo=UTC)
    others = [expert("UP", paused=True), expert("UD", deleted=True), expert("UF", open_assignments=3)]
    assert next_start(others, K8S, now=MONDAY_NOON, exclude=set()) is None
    assert next_start([expert("UASK")], K8S, now=MONDAY_NOON, exclude={"UASK"}) is None
    assert next_start([expert("UPG", topics=frozenset({"postgres"}))], K8S, now=MONDAY_NOON, exclude=set()) is None
    assert next_start([expert("U1", work_days=frozenset())], K8S, now=MONDAY_NOON, exclude=set()) is None


def test_next_start_later_today() -> None:
    early = MONDAY_NOON.replace(hour=6)
    assert next_start([expert("U1")], K8S, now=early, exclude=set()) == MONDAY_NOON.replace(hour=9)


# Credibility and history


def test_topic_credibility_prior_and_direction() -> None:
    assert topic_credibility([]) == 0.5
    assert topic_credibility([1.0]) > 0.5 > topic_credibility([-1.0])
    assert topic_credibility([1.0] * 100) < 1.0


@given(st.lists(st.floats(-50, 50), max_size=30), st.floats(0.01, 50))
def test_topic_credibility_is_bounded_and_monotone(votes: list[float], extra: float) -> None:
    base = topic_credibility(votes)
    assert 0.0 < base < 1.0
    assert topic_credibility([*votes, extra]) >= base
    assert topic_credibility([*votes, -extra]) <= base


def _record(user: str, text: str, days_ago: float, tags: tuple[str, ...] = ()) -> HistoryRecord:
    return HistoryRecord(user, text, MONDAY_NOON - timedelta(days=days_ago), tags)


def test_history_prefers_recent_answers_to_similar_questions() -> None:
    index = HistoryIndex(
        [
            _record("UOLD", "Pod stuck in CrashLoopBackOff after deploy", 200, ("kubernetes",)),
            _record("UNEW", "Pod evicted: node out of disk", 2, ("kubernetes",)),
            _record("UOTHER", "Vacuum is slow on a large table", 2, ("postgres",)),
        ]
    )
    scores = index.scores("Why is my pod in CrashLoopBackOff?", ["kubernetes"], now=MONDAY_NOON)
    assert scores["UNEW"] > scores["UOTHER"] > 0
    assert scores["UNEW"] > scores["UOLD"] > 0
    assert HistoryIndex([]).scores("anything", now=MONDAY_NOON) == {}


def test_history_breaks_ties_between_declared_experts() -> None:
    index = HistoryIndex([_record("UB", "helm chart values override", 1, ("kubernetes",))])
    history = index.scores("helm values not applied", ["kubernetes"], now=MONDAY_NOON)
    ranked = rank(K8S, [expert("UA"), expert("UB")], now=MONDAY_NOON, exclude=set(), history_scores=history)
    assert ids(ranked) == ["UB", "UA"]
    assert any(reason.startswith("answer history") for reason in ranked[0].reasons)


def test_an_answer_fades_as_later_answers_come_in() -> None:
    mine = _record("UA", "helm chart values override", 5, ("kubernetes",))
    before = [_record("UB", f"question {i}", 6, ("kubernetes",)) for i in range(50)]
    after = [_record("UB", f"question {i}", 4, ("kubernetes",)) for i in range(50)]
    query = ("helm values not applied", ["kubernetes"])
    quiet = HistoryIndex([mine, *before]).scores(*query, now=MONDAY_NOON)
    busy = HistoryIndex([mine, *after]).scores(*query, now=MONDAY_NOON)
    assert busy["UA"] < quiet["UA"] - 0.3  # same age, but 50 answers came after it
    by_age_only = [HistoryIndex([mine, *rest], half_life_answers=math.inf) for rest in (before, after)]
    quiet_age, busy_age = (index.scores(*query, now=MONDAY_NOON)["UA"] for index in by_age_only)
    assert quiet_age == pytest.approx(busy_age)


def test_profile_text_match_adds_to_history_of_those_who_answered_alike() -> None:
    records = [
        _record("UHELM", "helm chart values override", 1, ("kubernetes",)),
        _record("UHELM", "helm upgrade rollback failed", 30, ("kubernetes",)),
        _record("UPG", "Vacuum is slow on a large table", 1, ("postgres",)),
    ]
    query = ("helm chart values not applied", ["kubernetes"])
    plain = HistoryIndex(records, profile_weight=0.0).scores(*query, now=MONDAY_NOON)
    full = HistoryIndex(records).scores(*query, now=MONDAY_NOON)
    assert full["UHELM"] > plain["UHELM"] + 0.01
    assert full["UPG"] == pytest.approx(plain["UPG"])  # nothing in common with the question


def test_history_needs_aware_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        HistoryIndex([HistoryRecord("U1", "x", datetime(2024, 1, 1))])


# Properties

_people = st.lists(
    st.builds(
        Expert,
        user_id=st.sampled_from([f"U{i}" for i in range(8)]),
        topics=st.frozensets(st.sampled_from(["kubernetes", "postgres", "go"]), max_size=2),
        credibility=st.dictionaries(st.sampled_from(["kubernetes", "postgres"]), st.floats(0.01, 0.99), max_size=2),
        open_assignments=st.integers(0, 4),
        tz=st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Auckland"]),
        on_leave_until=st.none() | st.dates(date(2024, 3, 1), date(2024, 3, 10)),
        paused=st.booleans(),
        deleted=st.booleans(),
        last_asked_at=st.none() | st.integers(0, 600).map(lambda m: MONDAY_NOON - timedelta(minutes=m)),
    ),
    max_size=10,
)


@given(
    people=_people,
    exclude=st.sets(st.sampled_from([f"U{i}" for i in range(8)]), max_size=3),
    hours=st.integers(0, 24 * 7),
    k=st.integers(1, 5),
    history=st.dictionaries(st.sampled_from([f"U{i}" for i in range(8)]), st.floats(0, 12), max_size=4),
)
def test_rank_returns_only_available_people_in_near_score_order(
    people: list[Expert], exclude: set[str], hours: int, k: int, history: dict[str, float]
) -> None:
    now = MONDAY_NOON + timedelta(hours=hours)
    ranked = rank({"kubernetes", "postgres"}, people, now=now, exclude=exclude, k=k, history_scores=history)
    assert len(ranked) <= k
    assert len({r.user_id for r in ranked}) == len(ranked)
    first_by_id: dict[str, Expert] = {}
    for e in people:
        first_by_id.setdefault(e.user_id, e)
    for i, r in enumerate(ranked):
        assert r.user_id not in exclude
        assert is_available(first_by_id[r.user_id], now)
        best_after = max(s.score for s in ranked[i:])
        assert r.score >= best_after - DEFAULT_WEIGHTS.near_equal * abs(best_after) - 1e-9
    if all(e.last_asked_at is None for e in people):
        assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    start = next_start(people, {"kubernetes", "postgres"}, now=now, exclude=exclude, history_scores=history)
    if ranked:
        assert start == now
    if start is not None:
        assert start >= now


def _reference_scores(
    records: list[HistoryRecord], text: str, tags: list[str], now: datetime, **kw: float
) -> dict[str, float]:
    """The history score by its definition, the slow way: per answer, then per person."""
    half_life, per_answer = kw.get("half_life_days", 60.0) * 86_400, math.log(2) / kw.get("half_life_answers", 60.0)
    base_share, unit, profile_weight = kw.get("base_share", 1.0), kw.get("unit", 1e-4), kw.get("profile_weight", 0.05)
    bags = [Counter(_words(r.text, r.tags)) for r in records]
    df = Counter(term for bag in bags for term in bag)
    idf = {term: math.log((len(records) + 1) / (n + 1)) + 1 for term, n in df.items()}

    def unit_vector(bag: Counter[str]) -> dict[str, float]:
        vec = {term: (1 + math.log(n)) * idf[term] for term, n in bag.items() if term in idf}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {term: v / norm for term, v in vec.items()}

    query = unit_vector(Counter(_words(text, tags)))
    raw: dict[str, float] = defaultdict(float)
    profiles: dict[str, Counter[str]] = defaultdict(Counter)
    for rec, bag in zip(records, bags, strict=True):
        later = sum(other.at > rec.at for other in records)
        decay = math.exp(-math.log(2) * (now - rec.at).total_seconds() / half_life - per_answer * later)
        cosine = sum(weight * query.get(term, 0.0) for term, weight in unit_vector(bag).items())
        raw[rec.user_id] += rec.weight * decay * (base_share + cosine)
        profiles[rec.user_id].update(bag)
    out = {user: math.log1p(value / unit) for user, value in raw.items() if value > 0}
    mean_length = sum(sum(bag.values()) for bag in profiles.values()) / max(len(profiles), 1) or 1.0
    for user in out:
        bag, length = profiles[user], sum(profiles[user].values())
        for term in query:
            n, people = bag[term], sum(term in other for other in profiles.values())
            bm25_idf = math.log(1 + (len(profiles) - people + 0.5) / (people + 0.5))
            out[user] += profile_weight * bm25_idf * n * 2.2 / (n + 1.2 * (0.25 + 0.75 * length / mean_length))
    return out


_WORDS = ["helm", "chart", "values", "pod", "crash", "vacuum", "table", "index", "deploy", "slow"]


@given(
    answers=st.lists(
        st.tuples(
            st.sampled_from(["UA", "UB", "UC", "UD"]),
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8),
            st.floats(0, 400),
            st.lists(st.sampled_from(["kubernetes", "postgres"]), max_size=2, unique=True),
        ),
        max_size=12,
    ),
    question=st.lists(st.sampled_from([*_WORDS, "unseen"]), max_size=8),
    tags=st.lists(st.sampled_from(["kubernetes", "postgres", "go"]), max_size=2, unique=True),
    settings=st.sampled_from(
        [{}, {"profile_weight": 0.0}, {"half_life_days": 14.0, "half_life_answers": math.inf, "base_share": 0.3}]
    ),
)
def test_history_scores_follow_their_definition(
    answers: list[tuple[str, list[str], float, list[str]]],
    question: list[str],
    tags: list[str],
    settings: dict[str, float],
) -> None:
    records = [_record(user, " ".join(words), days, tuple(t)) for user, words, days, t in answers]
    index = HistoryIndex(
        records,
        half_life=timedelta(days=settings.get("half_life_days", 60.0)),
        half_life_answers=settings.get("half_life_answers", 60.0),
        base_share=settings.get("base_share", 1.0),
        profile_weight=settings.get("profile_weight", 0.05),
    )
    got = index.scores(" ".join(question), tags, now=MONDAY_NOON)
    expected = _reference_scores(records, " ".join(question), tags, MONDAY_NOON, **settings)
    assert got.keys() == expected.keys()
    for user, value in expected.items():
        assert got[user] == pytest.approx(value, rel=1e-9, abs=1e-9)
