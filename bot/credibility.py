"""Per-topic credibility from votes, built to resist gaming (pure; the formula is in the README).

For one topic, a person's credibility is a smoothed share of good votes:

    credibility = (good + P) / (good + bad + 2P),  P = 2  (no votes: 0.5)

where `good` and `bad` add up each voter's votes on the person's answers in that topic, after:

1. a daily cap: one voter gives one person at most DAILY_CAP of vote weight per day (all topics);
2. a per-voter bound: at most VOTER_MAX from one voter to one person in one topic, ever;
3. no credit from single-minded voters: the votes of someone who only ever voted for one person count 0;
4. a discount on mutual votes: when the person also voted for the voter, the vote counts MUTUAL;
5. weighting by the voter's own standing: a vote counts 0.5 + 0.5 × the voter's credibility in that
   topic (computed once by steps 1-4 alone), so a credible voter's vote weighs up to twice an unknown's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

PRIOR = 2.0
DAILY_CAP = 2.0
VOTER_MAX = 3.0
MUTUAL = 0.25


@dataclass(frozen=True)
class VoteRecord:
    """One vote: `voter` rated an answer by `answerer` in a question with `topics`, on `day`."""

    voter: str
    answerer: str
    weight: float  # +1 for 👍, -1 for 👎, per PEERBOT_VOTE_EMOJI
    day: date
    topics: tuple[str, ...]


def smoothed(good: float, bad: float) -> float:
    return (good + PRIOR) / (good + bad + 2 * PRIOR)


def _counted(votes: Iterable[VoteRecord]) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(voter, answerer, topic) → (good, bad) after the daily cap, the voter bound and the single-minded rule."""
    votes = [v for v in votes if v.voter != v.answerer and v.weight]
    targets: dict[str, set[str]] = defaultdict(set)
    for v in votes:
        targets[v.voter].add(v.answerer)
    used: dict[tuple[str, str, date], float] = defaultdict(float)
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for v in sorted(votes, key=lambda v: (v.day, v.voter, v.answerer, -v.weight)):
        if len(targets[v.voter]) < 2:
            continue  # only ever voted for one person: no credit, no blame
        key = (v.voter, v.answerer, v.day)
        weight = min(abs(v.weight), max(DAILY_CAP - used[key], 0.0))
        used[key] += weight
        for topic in set(v.topics):
            sums[(v.voter, v.answerer, topic)][0 if v.weight > 0 else 1] += weight
    return {k: (min(g, VOTER_MAX), min(b, VOTER_MAX)) for k, (g, b) in sums.items()}


def credibility(votes: Iterable[VoteRecord]) -> dict[tuple[str, str], float]:
    """(person, topic) → credibility in (0, 1), for everyone who received a counted vote; others have 0.5."""
    counted = _counted(votes)
    voted_for = {(voter, answerer) for (voter, answerer, _), (good, _) in counted.items() if good > 0}

    def totals(trust: Mapping[tuple[str, str], float] | None) -> dict[tuple[str, str], tuple[float, float]]:
        out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (voter, answerer, topic), (good, bad) in counted.items():
            weight = 1.0 if trust is None else 0.5 + 0.5 * trust.get((voter, topic), 0.5)
            mutual = MUTUAL if (answerer, voter) in voted_for else 1.0
            out[(answerer, topic)][0] += good * weight * mutual
            out[(answerer, topic)][1] += bad * weight
        return {k: (g, b) for k, (g, b) in out.items()}

    standing = {k: smoothed(g, b) for k, (g, b) in totals(None).items()}
    return {k: smoothed(g, b) for k, (g, b) in totals(standing).items()}
