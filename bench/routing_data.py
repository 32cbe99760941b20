"""The Stack Exchange expert-finding set as routing inputs: per-site time split, experts and answer history."""

from __future__ import annotations

import json
import sys
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.answer_history import (
    BASE_SHARE,
    HALF_LIFE,
    HALF_LIFE_ANSWERS,
    PROFILE_WEIGHT,
    UNIT,
    HistoryIndex,
    HistoryRecord,
)
from bot.routing import DEFAULT_WEIGHTS, Expert, Weights, topic_credibility
from bot.tagging import Vocabulary

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackexchange_expert_finding.jsonl"
TRAIN_SHARE = 0.8
EVERY_DAY = frozenset(range(7))

Question = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Everything the evaluation may vary; the defaults are the values chosen on the validation split."""

    half_life_days: float = HALF_LIFE.total_seconds() / 86_400
    half_life_answers: float = HALF_LIFE_ANSWERS
    base_share: float = BASE_SHARE
    unit: float = UNIT
    profile_weight: float = PROFILE_WEIGHT
    topic_weight: float = DEFAULT_WEIGHTS.topic  # not tuned: a product decision (see routing_eval.GRID)
    min_topic_answers: int = 2  # a tag someone answered this often becomes one of their topics
    title_terms: bool = False  # add vocabulary terms found in the title (bot.tagging) to the question's tags
    body_chars: int = 2_000  # how much of a question's body goes into the text of the history
    history_limit: int = 500  # the latest answers the history is built from, as storage.queries.recent_answers_by

    def weights(self) -> Weights:
        return replace(DEFAULT_WEIGHTS, topic=self.topic_weight)


@dataclass(frozen=True)
class Site:
    name: str
    experts: list[Expert]
    index: HistoryIndex
    answers: Counter[str]  # answers per person known to the bot: the popularity baseline
    vocabulary: Vocabulary


@dataclass(frozen=True)
class Known:
    """One answer as the bot has it: to which question, by whom, since when, and the votes it counts."""

    question: Question
    user: str
    at: datetime
    votes: float
    text: str  # the question's, as the history reads it


def load(path: Path = DATA) -> dict[str, list[Question]]:
    """Questions per site, oldest first; exits with a clear message when the data set is absent."""
    if not path.is_file():
        sys.exit(f"routing_eval: data set not found at {path} (see ../shared/data/README.md)")
    sites: dict[str, list[Question]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                sites[row["site"]].append(row)
    return {name: sorted(rows, key=lambda q: str(q["created"])) for name, rows in sorted(sites.items())}


def split(questions: list[Question], share: float = TRAIN_SHARE) -> tuple[list[Question], list[Question]]:
    cut = int(len(questions) * share)
    return questions[:cut], questions[cut:]


def when(row: Question) -> datetime:
    """A question's or an answer's `created` (UTC in the dumps) as an aware datetime."""
    return datetime.fromisoformat(str(row["created"])).replace(tzinfo=UTC)


def text_of(question: Question, body_chars: int = 2_000) -> str:
    return f"{question['title']}\n{str(question['body'])[:body_chars]}"


def answerers(questions: list[Question]) -> set[str]:
    """Everyone who answered one of these questions (deleted accounts aside)."""
    return {str(a["user_id"]) for q in questions for a in q["answers"] if a["user_id"]}


def build_site(name: str, train: list[Question], params: Params, *, strict: bool = True) -> Site:
    """Experts (topics = tags answered often, credibility = answer scores as votes) and history from `train`.

    Answers count from when they were posted. strict: only answers posted by the end of the training
    period count at all. Otherwise (the data README's protocol) every answer to a training question
    counts, but one posted after the training period is dated by its question, so that nothing from
    the test period can look recent.
    """
    cut = when(train[-1]) if train else datetime.max.replace(tzinfo=UTC)
    known = []
    for question in train:
        for answer in question["answers"]:
            user, posted = answer["user_id"], when(answer)
            if not user or (strict and posted > cut):  # a deleted account, or not known yet
                continue
            at = posted if posted <= cut else when(question)
            known.append(Known(question, user, at, float(answer["score"]), text_of(question, params.body_chars)))
    return _site(name, known, train, params)


def replay(name: str, train: list[Question], test: list[Question], params: Params) -> Iterator[tuple[Question, Site]]:
    """Each test question with the site as the bot knows it when the question arrives (online).

    Known: every answer posted before that moment, to a training question or to an earlier test
    question. Votes count only on answers posted by the end of the training period: the scores in
    the dump are final, so for a later answer they would tell what the bot could not know yet.
    """
    cut = when(train[-1]) if train else datetime.min.replace(tzinfo=UTC)
    questions = train + test  # oldest first
    answers = sorted(
        (
            Known(q, a["user_id"], when(a), float(a["score"]) if when(a) <= cut else 0.0, text_of(q, params.body_chars))
            for q in questions
            for a in q["answers"]
            if a["user_id"]
        ),
        key=lambda k: k.at,
    )
    posted, asked = [k.at for k in answers], [when(q) for q in questions]
    site, seen = None, -1
    for question in test:
        now = when(question)
        upto = bisect_left(posted, now)
        if site is None or upto != seen:  # built again only when answers came in since the last question
            site, seen = _site(name, answers[:upto], questions[: bisect_left(asked, now)], params), upto
        yield question, site


def _site(name: str, known: list[Known], questions: list[Question], params: Params) -> Site:
    answers: Counter[str] = Counter()
    per_tag: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    records: list[HistoryRecord] = []
    for k in known:
        tags = tuple(k.question["tags"])
        answers[k.user] += 1
        for tag in tags:
            per_tag[k.user][tag].append(k.votes)
        records.append(HistoryRecord(k.user, k.text, k.at, tags))
    experts = [_expert(user, per_tag[user], params) for user in sorted(answers)]
    index = HistoryIndex(
        sorted(records, key=lambda r: r.at)[-params.history_limit :] if params.history_limit else records,
        half_life=timedelta(days=params.half_life_days),
        half_life_answers=params.half_life_answers,
        base_share=params.base_share,
        unit=params.unit,
        profile_weight=params.profile_weight,
    )
    vocabulary = Vocabulary({tag: [] for tag in sorted({t for q in questions for t in q["tags"]})})
    return Site(name, experts, index, answers, vocabulary)


def _expert(user: str, votes_by_tag: dict[str, list[float]], params: Params) -> Expert:
    topics = frozenset(tag for tag, votes in votes_by_tag.items() if len(votes) >= params.min_topic_answers)
    return Expert(
        user_id=user,
        topics=topics,
        credibility={tag: topic_credibility(votes_by_tag[tag]) for tag in topics},
        capacity=1_000,
        work_start=time(0),
        work_end=time(0),  # round the clock, every day: everyone is inside working hours
        work_days=EVERY_DAY,
    )
