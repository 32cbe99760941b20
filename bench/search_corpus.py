"""A synthetic knowledge base for the search benchmarks: Zipf-distributed words, answers, votes, tags, privacy.

Question `i` is a pure function of (seed, i), so a benchmark can regenerate any question (to ask a near-duplicate
of it) without keeping the corpus in memory; the database is filled in batches.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from storage.models import Answer, Question, QuestionTag, Vote

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OPENERS = (
    "How do I", "How can I", "Why does", "Why is", "What is the best way to", "Is there a way to",
    "Does anyone know how to", "Where can I find", "Who owns", "Can someone explain", "Has anyone seen",
    "What's the difference between",
)  # fmt: skip
SYLLABLES = ("ka", "to", "ri", "ne", "mo", "lu", "sa", "pe", "di", "gor", "ban", "tel", "vix", "qua", "zen", "ops")
TEAM, OTHER_TEAM = "TBENCH", "TOTHER"
PUBLIC = tuple(f"CPUB{i:04d}" for i in range(50))
PRIVATE = tuple(f"GPRIV{i:03d}" for i in range(20))
START = datetime(2023, 1, 1, tzinfo=UTC)


@cache
def vocabulary(size: int = 120_000) -> tuple[list[str], list[float]]:
    """Real words ranked by frequency in the Stack Exchange files, then made-up ones (product names, hosts):
    sampled with Zipf weights (s = 1), like words in real text."""
    counts: Counter[str] = Counter()
    for name in ("cs_stackexchange_2014_duplicates.jsonl", "stackexchange_expert_finding.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                d = json.loads(line)
                counts.update(re.findall(r"[a-z][a-z0-9]*", (d.get("text") or d["title"] + " " + d["body"]).lower()))
    words = [w for w, _ in counts.most_common()]
    seen, rng = set(words), random.Random(1)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5)))  # 16^5: enough distinct words
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words[:size], list(itertools.accumulate(1.0 / rank for rank in range(1, size + 1)))


TAGS = tuple(f"topic{i}" for i in range(400))
TAG_WEIGHTS = list(itertools.accumulate(1.0 / rank for rank in range(1, len(TAGS) + 1)))


@dataclass(frozen=True)
class Generated:
    text: str
    tags: tuple[str, ...]
    team: str
    channel: str
    private: bool
    created: datetime
    answers: tuple[tuple[bool, tuple[float, ...]], ...]  # (accepted, vote weights) per answer


def question(i: int, seed: int = 7) -> Generated:
    rng = random.Random(seed * 1_000_003 + i)
    words, weights = vocabulary()
    text = f"{rng.choice(OPENERS)} {' '.join(rng.choices(words, cum_weights=weights, k=rng.randint(4, 12)))}?"
    if rng.random() < 0.6:  # most people add a line or two of context
        text += "\n" + " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(5, 50)))
    tags = tuple(dict.fromkeys(rng.choices(TAGS, cum_weights=TAG_WEIGHTS, k=rng.randint(0, 3))))
    private = rng.random() < 0.08
    channel = rng.choice(PRIVATE if private else PUBLIC)
    answers = []
    if rng.random() < 0.7:
        for _ in range(rng.randint(1, 3)):
            votes = tuple(
                rng.choice((1.0, 1.0, 1.0, -1.0)) for _ in range(rng.randint(0, 3) if rng.random() < 0.4 else 0)
            )
            answers.append((rng.random() < 0.15, votes))
    created = START + timedelta(minutes=i)  # a question a minute: 1M questions span about two years
    return Generated(text, tags, OTHER_TEAM if rng.random() < 0.03 else TEAM, channel, private, created, tuple(answers))


def paraphrase(i: int, seed: int = 7, salt: int = 0) -> str:
    """A near-duplicate of question `i`: its first line with a word dropped, another swapped, and fresh context."""
    rng = random.Random(seed * 7_919 + i * 31 + salt)
    words, weights = vocabulary()
    title = question(i, seed).text.split("\n", 1)[0].rstrip("?").split()
    del title[rng.randrange(len(title))]
    title.insert(rng.randrange(len(title) + 1), rng.choices(words, cum_weights=weights)[0])
    return " ".join(title) + "?\n" + " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(0, 20)))


def fill(engine: Engine, n: int, *, seed: int = 7, batch: int = 10_000) -> None:
    """Insert questions 1..n (with their answers, votes and tags), one transaction per batch."""
    answer_id = vote_id = 0
    for lo in range(0, n, batch):
        qs: list[dict[str, Any]] = []
        ans: list[dict[str, Any]] = []
        votes: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        for i in range(lo + 1, min(n, lo + batch) + 1):
            g = question(i, seed)
            base = {"team_id": g.team, "enterprise_id": "", "channel": g.channel}
            status = "resolved" if any(a for a, _ in g.answers) else "answered" if g.answers else "open"
            qs.append({**base, "id": i, "ts": f"{i}.000100", "thread_ts": f"{i}.000100", "author": "UASKER",
                       "text": g.text, "status": status, "source": "implicit", "is_private": g.private,
                       "created_at": g.created, "updated_at": g.created})  # fmt: skip
            tags += [{"team_id": g.team, "enterprise_id": "", "question_id": i, "tag": t} for t in g.tags]
            for k, (accepted, weights) in enumerate(g.answers):
                answer_id += 1
                ans.append({**base, "id": answer_id, "question_id": i, "ts": f"{i}.{k + 2:06d}", "author": f"U{k}",
                            "text": f"Try restarting the {g.tags[0] if g.tags else 'service'}; the runbook has it.",
                            "via": "thread", "accepted": accepted, "created_at": g.created + timedelta(hours=1),
                            "updated_at": g.created})  # fmt: skip
                for v, weight in enumerate(weights):
                    vote_id += 1
                    votes.append({"id": vote_id, "team_id": g.team, "enterprise_id": "", "answer_id": answer_id,
                                  "voter": f"UV{v}", "emoji": "+1" if weight > 0 else "-1", "weight": weight,
                                  "created_at": g.created})  # fmt: skip
        with engine.begin() as conn:
            for model, rows in ((Question, qs), (Answer, ans), (Vote, votes), (QuestionTag, tags)):
                if rows:
                    conn.execute(insert(model), rows)
