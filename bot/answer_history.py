"""Answer history: who answered what, and how lately, as a score per person for a new question."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import mul

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
class _Terms:
    """A question's terms: per term, its weight 1 + log(count) and its count; and how many terms in all."""

    weights: dict[str, tuple[float, int]]
    squares: tuple[float, ...]  # the weights squared, in the order of `weights`
    length: int


@lru_cache(maxsize=1024)
def _terms(text: str, tags: tuple[str, ...]) -> _Terms:
    """Cached (read-only: shared), as each routing step reads much the same recent answers again (≤ 500)."""
    counts = Counter(_words(text, tags))
    weights = {term: (1 + math.log(n), n) for term, n in counts.items()}
    return _Terms(weights, tuple(w * w for w, _ in weights.values()), sum(counts.values()))


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
    Similarity is the cosine of TF-IDF vectors; the text match is BM25 of the question against
    everything the person answered (their profile). Both are worked out for the question's terms
    only, from an inverted index: building is linear in the history's terms, a query in its postings.
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
        bags = [_terms(r.text, tuple(r.tags)) for r in recs]
        df: Counter[str] = Counter()
        for bag in bags:
            df.update(bag.weights.keys())
        self._idf = {term: math.log((len(recs) + 1) / (n + 1)) + 1 for term, n in df.items()}
        idf_squared = {term: value * value for term, value in self._idf.items()}
        self._base: dict[str, float] = defaultdict(float)
        lengths: dict[str, int] = defaultdict(int)  # a person's profile length: all the terms they answered
        # Per term, per person: [Σ decay × the term's weight in each answered question's TF-IDF vector ÷ idf,
        # how often the term occurs in all the questions they answered].
        self._postings: dict[str, dict[str, list[float]]] = defaultdict(dict)
        for rec, bag in zip(recs, bags, strict=True):
            later = len(times) - bisect_right(times, rec.at)
            fresh = rec.weight * math.exp(-self._rate * (self._anchor - rec.at).total_seconds() - per_answer * later)
            self._base[rec.user_id] += base_share * fresh
            lengths[rec.user_id] += bag.length
            fresh /= math.sqrt(sum(map(mul, bag.squares, map(idf_squared.__getitem__, bag.weights)))) or 1.0
            for term, (w, n) in bag.weights.items():
                entry = self._postings[term].get(rec.user_id)
                if entry is None:
                    self._postings[term][rec.user_id] = [fresh * w, n]
                else:
                    entry[0] += fresh * w
                    entry[1] += n
        mean_length = sum(lengths.values()) / max(len(lengths), 1) or 1.0
        self._bm25_norm = {u: BM25_K1 * (1 - BM25_B + BM25_B * n / mean_length) for u, n in lengths.items()}

    def scores(self, text: str, tags: Iterable[str] = (), *, now: datetime) -> dict[str, float]:
        """Each person's history score (≥ 0) for a question: more for recent answers to similar questions."""
        shift = math.exp(-self._rate * (_aware(now) - self._anchor).total_seconds())
        raw = dict(self._base)
        profile: dict[str, float] = defaultdict(float)
        people = len(self._bm25_norm)
        query = _unit_vector({t: w for t, (w, _) in _terms(text, tuple(tags)).weights.items()}, self._idf)
        for term, weight in query.items():
            factor, postings = weight * self._idf[term], self._postings[term]
            # BM25 of the term in each person's profile
            idf = math.log(1 + (people - len(postings) + 0.5) / (len(postings) + 0.5)) * (BM25_K1 + 1)
            for user, (value, n) in postings.items():
                raw[user] += factor * value
                profile[user] += idf * n / (n + self._bm25_norm[user])
        out = {user: math.log1p(shift * value / self._unit) for user, value in raw.items() if value > 0}
        for user, value in profile.items():
            if user in out and self._profile_weight:
                out[user] += self._profile_weight * value
        return out


def _unit_vector(weights: Mapping[str, float], idf: Mapping[str, float]) -> dict[str, float]:
    vec = {term: w * idf[term] for term, w in weights.items() if term in idf}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {term: v / norm for term, v in vec.items()}


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime given to routing; use aware UTC")
    return at
