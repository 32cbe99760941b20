"""Suggesting answers colleagues already gave: full-text candidates re-ranked, for those allowed to see them."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process
from sqlmodel import Session

from storage.fulltext import AnswerRow, FullTextIndex, candidate_rows, query_terms, title_of

FEATURES = ("bm25", "title", "title_in_question", "tags")
SEMANTIC_FEATURES = (*FEATURES, "semantic")


@dataclass(frozen=True)
class Model:
    """A logistic model of "this is the same question": a weight per feature, then the intercept; its output is the
    confidence. Fitted on one half of the duplicate-question set by bench/search_eval.py.

    Candidates are ordered by `order`: some of the features, weighted as a logistic model of them alone would (so
    the order is in logits, as the priors added to it are). The other features help tell whether the best candidate
    is the same question, but where the engine's own score is good they add nothing to the order on dev (only noise
    fitted to it), so there they weigh in the confidence alone.
    """

    features: tuple[str, ...]
    weights: tuple[float, ...]
    order: tuple[tuple[str, float], ...]  # (feature, weight)
    candidates: int  # how many full-text hits are scored
    threshold: float | None = None  # suggestions need this confidence (None: the ranking's own threshold)

    def logit(self, x: Sequence[float]) -> float:
        return self.weights[-1] + sum(w * v for w, v in zip(self.weights, x, strict=False))

    def ordering(self, x: Sequence[float]) -> float:
        return sum(w * x[self.features.index(f)] for f, w in self.order)


# tantivy's BM25F: ordered by it alone (on dev, MRR 0.373 with or without the other features in the order).
LEXICAL = Model(FEATURES, (4.4, 2.15, 1.22, -0.19, -3.94), (("bm25", 4.95),), 100)
# The database's own engines rank only the rarest words of the question (FTS5) or without BM25 (PostgreSQL): there
# the other features do order better (on dev, MRR 0.31 instead of 0.20), with weights fitted on FTS5's candidates.
DATABASE = Model(
    FEATURES,
    (2.12, 2.66, 2.4, 1.54, -5.79),
    (("bm25", 2.12), ("title", 2.66), ("title_in_question", 2.4), ("tags", 1.54)),
    100,
)
# With an index that compares embeddings (storage.vectors, bot.semantic): more candidates, ordered by similarity.
# Its confidence runs higher: at 0.3, on dev, 75% of what passes is right and 1% of the rest passes.
SEMANTIC = Model(SEMANTIC_FEATURES, (3.42, 1.76, 0.99, -0.11, 4.92, -6.52), (("semantic", 8.98),), 200, 0.3)


@dataclass(frozen=True)
class Ranking:
    """How candidates are scored: the model (lexical, or semantic when the index gives similarities), then priors.

    The priors (answer credibility, freshness, resolved) cannot be learnt from the duplicate-question set: they only
    re-order, in logits. The thresholds apply to the confidence.
    """

    lexical: Model = LEXICAL  # the tantivy index
    database: Model = DATABASE  # FTS5 or PostgreSQL full-text
    semantic: Model = SEMANTIC  # an index that gives similarities of embeddings
    credibility: float = 0.4
    freshness: float = 0.2
    resolved: float = 0.2
    half_life_days: float = 365.0
    threshold: float = 0.2  # nothing under this: on dev, 75% of what passes is right, 2% of the rest passes
    search_floor: float = 0.05  # /peerbot search shows weaker matches: the person asked to look

    def model(self, index: FullTextIndex) -> Model:
        if index.semantic:
            return self.semantic
        return self.lexical if index.kind == "tantivy" else self.database


DEFAULT = Ranking()


@dataclass(frozen=True)
class Suggestion:
    question_id: int
    channel: str
    ts: str
    title: str
    score: float  # ordering: the model's ordering part plus the priors
    confidence: float  # 0..1, how likely this is the same question
    answer_id: int
    answer_author: str
    answer_snippet: str
    rating: float  # the best answer's summed vote weights
    accepted: bool
    age: timedelta  # of the best answer
    features: tuple[float, ...] = ()  # what the model saw (FEATURES, or SEMANTIC_FEATURES), to explain or to fit it


def best_answer(answers: Sequence[AnswerRow]) -> AnswerRow | None:
    """The accepted answer, else the best rated (the earliest among equals); None when none is useful."""
    if not answers:
        return None
    best = min(answers, key=lambda a: (not a.accepted, -a.score, a.created_at))
    return best if best.accepted or best.score >= 0 else None


@dataclass(frozen=True)
class _Asked:
    """What features() needs of the asker's text, worked out once per search rather than once per candidate."""

    title: str  # processed as rapidfuzz's default_process does
    words: frozenset[str]
    tags: frozenset[str]


def _asked(query: str, query_tags: Collection[str]) -> _Asked:
    words = frozenset(query_terms(query, limit=None))
    return _Asked(default_process(title_of(query)), words, frozenset(t.lower() for t in query_tags))


def _features(asked: _Asked, candidate: str, tags: Collection[str], bm25: float, top: float) -> tuple[float, ...]:
    title = title_of(candidate)
    alike = fuzz.token_sort_ratio(asked.title, default_process(title), processor=None) / 100
    title_words = set(query_terms(title))
    contained = len(title_words & asked.words) / len(title_words) if title_words else 0.0
    a, b = asked.tags, {t.lower() for t in tags}
    overlap = len(a & b) / len(a | b) if a | b else 0.0
    return (_relative(bm25, top), alike, contained, overlap)


def _relative(bm25: float, top: float) -> float:
    """A BM25 score beside the best one's, as a log-ratio: 0 for the best, -1 for e-times weaker. Scores are sums of
    matched words' weights, so their ratio (not their difference) is what compares across queries short and long."""
    return math.log(bm25 / top) if bm25 > 0 and top > 0 else math.log(1e-3)


def features(
    query: str, query_tags: Collection[str], candidate: str, tags: Collection[str], bm25: float, top: float
) -> tuple[float, ...]:
    """What the model sees of a candidate: its BM25 beside the best one's, how alike the titles are, how much of
    its title the asker's text contains, and the tags both share."""
    return _features(_asked(query, query_tags), candidate, tags, bm25, top)


def rank(
    session: Session,
    index: FullTextIndex,
    *,
    team_id: str,
    text: str,
    tags: Collection[str] = (),
    private_channels: Collection[str] = (),
    now: datetime,
    ranking: Ranking = DEFAULT,
    exclude: Collection[int] = (),
) -> list[Suggestion]:
    """Answered questions like `text`, best first: public ones, plus those of `private_channels`."""
    model = ranking.model(index)
    hits = [
        h
        for h in index.search(team_id, text, limit=model.candidates, private_channels=private_channels, tags=list(tags))
        if h.question_id not in exclude
    ]
    questions, answers = candidate_rows(session, question_ids=[h.question_id for h in hits])
    rows = {q.question_id: q for q in questions}
    by_question: dict[int, list[AnswerRow]] = {}
    for a in answers:
        by_question.setdefault(a.question_id, []).append(a)
    top = max((h.score for h in hits), default=0.0)
    asked = _asked(text, tags)
    out: list[Suggestion] = []
    for hit in hits:
        row = rows.get(hit.question_id)
        best = best_answer(by_question.get(hit.question_id, []))
        # The database is the source of truth: an index a moment behind must not widen what anyone sees.
        if row is None or best is None or row.team_id != team_id or row.status == "open":
            continue
        if row.is_private and row.channel not in private_channels:
            continue
        x = _features(asked, row.text, row.tags, hit.score, top)
        if index.semantic:
            x = (*x, hit.similarity)
        logit = model.logit(x)
        age = max(now - best.created_at, timedelta(0))
        credibility = 1.0 if best.accepted else best.score / (best.score + 2)
        fresh = 0.5 ** (age.total_seconds() / 86400 / ranking.half_life_days)
        resolved = 1.0 if row.status == "resolved" or best.accepted else 0.0
        prior = ranking.credibility * credibility + ranking.freshness * fresh + ranking.resolved * resolved
        score = model.ordering(x) + prior
        snippet = best.snippet if len(best.snippet) < 300 else best.snippet[:280].rsplit(" ", 1)[0] + " …"
        out.append(
            Suggestion(
                row.question_id,
                row.channel,
                row.ts,
                title_of(row.text),
                score,
                1 / (1 + math.exp(-logit)),
                best.answer_id,
                best.author,
                snippet,
                best.score,
                best.accepted,
                age,
                x,
            )
        )
    return sorted(out, key=lambda s: (-s.score, -s.question_id))  # equal scores: the newer question first


def suggest(
    session: Session,
    index: FullTextIndex,
    *,
    ws_team_id: str,
    text: str,
    tags: Collection[str] = (),
    channel: str,
    channel_is_private: bool,
    member_channels: set[str] | None,
    now: datetime,
    limit: int = 3,
    ranking: Ranking = DEFAULT,
    exclude: Collection[int] = (),
) -> list[Suggestion]:
    """Up to `limit` answered questions to offer in the thread of a new question, or none when unsure.

    Everyone in the channel sees the thread: in a public channel only public questions are drawn on; in a private
    one, also that channel's own questions (when the asker is a member); never another private channel's.
    """
    own = channel_is_private and (member_channels is None or channel in member_channels)
    found = rank(
        session,
        index,
        team_id=ws_team_id,
        text=text,
        tags=tags,
        private_channels={channel} if own else set(),
        now=now,
        ranking=ranking,
        exclude=exclude,
    )
    threshold = ranking.model(index).threshold
    return [s for s in found if s.confidence >= (ranking.threshold if threshold is None else threshold)][:limit]


def search(
    session: Session,
    index: FullTextIndex,
    *,
    ws_team_id: str,
    text: str,
    tags: Collection[str] = (),
    member_channels: Collection[str] = (),
    now: datetime,
    limit: int = 10,
    ranking: Ranking = DEFAULT,
) -> list[Suggestion]:
    """`/peerbot search`: shown to the person alone, so it also draws on the private channels they are in."""
    found = rank(
        session,
        index,
        team_id=ws_team_id,
        text=text,
        tags=tags,
        private_channels=set(member_channels),
        now=now,
        ranking=ranking,
    )
    return [s for s in found if s.confidence >= ranking.search_floor][:limit]
