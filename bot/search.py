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


@dataclass(frozen=True)
class Ranking:
    """How candidates are scored.

    `weights` (one per FEATURES, then the intercept) make a logistic model of "this is the same question", fitted
    on one half of the duplicate-question set by bench/search_eval.py; its output is the confidence. The priors
    (answer credibility, freshness, resolved) cannot be learnt from that set: they only re-order, in logits.
    """

    weights: tuple[float, ...] = (4.79, 2.15, 1.42, 0.33, -9.12)
    credibility: float = 0.4
    freshness: float = 0.2
    resolved: float = 0.2
    half_life_days: float = 365.0
    candidates: int = 100
    threshold: float = 0.2  # nothing under this: on dev, 82% of what passes is right, 4% of the rest passes
    search_floor: float = 0.05  # /peerbot search shows weaker matches: the person asked to look


DEFAULT = Ranking()


@dataclass(frozen=True)
class Suggestion:
    question_id: int
    channel: str
    ts: str
    title: str
    score: float  # ordering: the confidence's logit plus the priors
    confidence: float  # 0..1, how likely this is the same question
    answer_id: int
    answer_author: str
    answer_snippet: str
    rating: float  # the best answer's summed vote weights
    accepted: bool
    age: timedelta  # of the best answer
    features: tuple[float, ...] = ()  # what the model saw (FEATURES), to explain or to fit it


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
    return (bm25 / top if top > 0 else 0.0, alike, contained, overlap)


def features(
    query: str, query_tags: Collection[str], candidate: str, tags: Collection[str], bm25: float, top: float
) -> tuple[float, ...]:
    """What the model sees of a candidate: its BM25 beside the best one's, how alike the titles are, how much of
    its title the asker's text contains, and the tags both share."""
    return _features(_asked(query, query_tags), candidate, tags, bm25, top)


def _logit(weights: Sequence[float], x: Sequence[float]) -> float:
    return weights[-1] + sum(w * v for w, v in zip(weights, x, strict=False))


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
    hits = [
        h
        for h in index.search(
            team_id, text, limit=ranking.candidates, private_channels=private_channels, tags=list(tags)
        )
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
        logit = _logit(ranking.weights, x)
        age = max(now - best.created_at, timedelta(0))
        credibility = 1.0 if best.accepted else best.score / (best.score + 2)
        fresh = 0.5 ** (age.total_seconds() / 86400 / ranking.half_life_days)
        resolved = 1.0 if row.status == "resolved" or best.accepted else 0.0
        score = logit + ranking.credibility * credibility + ranking.freshness * fresh + ranking.resolved * resolved
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
    return [s for s in found if s.confidence >= ranking.threshold][:limit]


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
