"""Properties of the credibility formula (bot/credibility.py), checked with hypothesis."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.credibility import MUTUAL, VOTER_MAX, VoteRecord, credibility, smoothed

PEOPLE = [f"U{i}" for i in range(6)]
DAY = date(2026, 3, 2)
votes = st.builds(
    VoteRecord,
    voter=st.sampled_from(PEOPLE),
    answerer=st.sampled_from(PEOPLE),
    weight=st.sampled_from([1.0, 1.0, 1.0, -1.0, 0.5]),
    day=st.integers(0, 4).map(lambda d: DAY + timedelta(days=d)),
    topics=st.sampled_from([("k8s",), ("db",), ("k8s", "db")]),
)


def cred(records: list[VoteRecord], person: str, topic: str = "k8s") -> float:
    return credibility(records).get((person, topic), 0.5)


@settings(max_examples=300, deadline=None)
@given(st.lists(votes, max_size=40), st.sampled_from(PEOPLE[1:]), st.integers(0, 4))
def test_monotone_in_good_votes(records: list[VoteRecord], target: str, day: int) -> None:
    voter = PEOPLE[0]
    # The voter has already voted for two other people, so their votes count.
    others = [p for p in PEOPLE[1:] if p != target][:2]
    base = records + [VoteRecord(voter, o, 1.0, DAY, ("db",)) for o in others]
    more = [*base, VoteRecord(voter, target, 1.0, DAY + timedelta(days=day), ("k8s",))]
    assert cred(more, target) >= cred(base, target) - 1e-12


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(1, 30))
def test_one_voter_can_lift_someone_only_so_far(n: int, days: int) -> None:
    records = [VoteRecord("UFAN", "UDANA", 1.0, DAY + timedelta(days=i % days), ("k8s",)) for i in range(n)]
    records.append(VoteRecord("UFAN", "UBOB", 1.0, DAY, ("db",)))  # not single-minded
    assert cred(records, "UDANA") <= smoothed(VOTER_MAX, 0.0) + 1e-12


def test_a_daily_cap_per_voter_and_person() -> None:
    spread = [VoteRecord("UFAN", "UDANA", 1.0, DAY, ("k8s",)) for _ in range(10)]
    spread.append(VoteRecord("UFAN", "UBOB", 1.0, DAY, ("db",)))
    two = spread[:2] + spread[-1:]
    assert cred(spread, "UDANA") == cred(two, "UDANA")


def test_no_credit_from_people_who_only_ever_vote_for_one_person() -> None:
    loyal = [VoteRecord("UFAN", "UDANA", 1.0, DAY + timedelta(days=i), ("k8s",)) for i in range(5)]
    assert cred(loyal, "UDANA") == 0.5
    assert cred([*loyal, VoteRecord("UFAN", "UBOB", 1.0, DAY, ("k8s",))], "UDANA") > 0.5


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 8), st.integers(1, 10))
def test_a_ring_of_mutual_voters_gains_less_than_honest_help(k: int, rounds: int) -> None:
    ring = [f"URING{i}" for i in range(k)]
    ringed = [
        VoteRecord(v, a, 1.0, DAY + timedelta(days=r), ("k8s",)) for r in range(rounds) for v in ring for a in ring
    ]
    # An honest answerer with the same number of votes from people whose votes it does not return.
    fans = [f"UFAN{i}" for i in range(k - 1)]
    honest = [VoteRecord(f, "UHONEST", 1.0, DAY + timedelta(days=r), ("k8s",)) for r in range(rounds) for f in fans]
    honest += [VoteRecord(f, "USOMEONE", 1.0, DAY, ("db",)) for f in fans]  # they vote for others too
    bound = smoothed((k - 1) * VOTER_MAX * MUTUAL, 0.0)
    for member in ring:
        assert cred(ringed, member) <= bound + 1e-12
        assert cred(ringed, member) < cred(honest, "UHONEST")


def test_a_credible_voters_vote_weighs_more() -> None:
    # UEXPERT is well regarded in k8s; UNEW is unknown; each gives Dana one vote.
    standing = [VoteRecord(f"UFAN{i}", "UEXPERT", 1.0, DAY, ("k8s",)) for i in range(4)]
    standing += [VoteRecord(f"UFAN{i}", "UOTHER", 1.0, DAY, ("db",)) for i in range(4)]
    side = [VoteRecord(v, "UBOB", 1.0, DAY, ("db",)) for v in ("UEXPERT", "UNEW")]
    by_expert = [*standing, *side, VoteRecord("UEXPERT", "UDANA", 1.0, DAY, ("k8s",))]
    by_new = [*standing, *side, VoteRecord("UNEW", "UDANA", 1.0, DAY, ("k8s",))]
    assert cred(by_expert, "UDANA") > cred(by_new, "UDANA") > 0.5
