"""The routing evaluation's replay: each question meets the site as the bot would know it then, never later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.routing_data import Params, build_site, replay
from bench.routing_eval import evaluate

DAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def _question(qid: str, day: int, asker: str, answers: list[tuple[str, float, int]], tags: list[str]) -> dict[str, Any]:
    """A question on `day`, with answers (who, days after the question, score)."""
    created = DAY + timedelta(days=day)
    rows = [
        {"answer_id": f"{qid}-{i}", "user_id": user, "created": (created + timedelta(days=after)).isoformat()[:19]}
        | {"score": score, "accepted": False}
        for i, (user, after, score) in enumerate(answers)
    ]
    return {
        "question_id": f"s:{qid}",
        "site": "s",
        "title": f"question {qid} about {' '.join(tags)}",
        "body": "",
        "tags": tags,
        "asker_id": asker,
        "answerer_ids": list(dict.fromkeys(user for user, *_ in answers)),
        "accepted_answerer_id": None,
        "created": created.isoformat()[:19],
        "answers": rows,
    }


TRAIN = [
    _question("1", 0, "s:Z", [("s:A", 0.1, 3), ("s:C", 9, 5)], ["brewing"]),  # C answers only on day 9
    _question("2", 1, "s:Z", [("s:A", 0.1, 2), ("s:B", 0.2, 1)], ["brewing"]),
    _question("2b", 2, "s:Z", [], ["brewing"]),  # the training period ends when its last question comes
]
TEST = [
    _question("3", 5, "s:Z", [("s:B", 0.5, 4)], ["brewing"]),
    _question("4", 6, "s:Z", [("s:A", 0.5, 1)], ["hops"]),
    _question("5", 12, "s:A", [("s:B", 0.5, 1), ("s:N", 0.1, 1)], ["brewing"]),
]


def test_replay_knows_only_answers_posted_before_each_question() -> None:
    states = {q["question_id"]: site for q, site in replay("s", TRAIN, TEST, Params())}
    assert dict(states["s:3"].answers) == {"s:A": 2, "s:B": 1}  # C's answer of day 9 is not posted yet
    assert dict(states["s:4"].answers) == {"s:A": 2, "s:B": 2}  # B's answer to question 3 is
    assert dict(states["s:5"].answers) == {"s:A": 3, "s:B": 2, "s:C": 1}  # a day-9 answer is known by day 12
    experts = {e.user_id: e for e in states["s:5"].experts}
    assert experts["s:A"].topics == {"brewing"}  # answered twice; "hops" only once
    # B's answer to question 3 came after the training period: its final score is not known, so no vote counts.
    assert experts["s:B"].credibility["brewing"] == (1 + 2) / (1 + 4)
    assert experts["s:A"].credibility["brewing"] == (3 + 2 + 2) / (3 + 2 + 4)


def test_frozen_protocols_keep_the_training_period() -> None:
    readme = build_site("s", TRAIN, Params(), strict=False)
    strict = build_site("s", TRAIN, Params(), strict=True)
    assert dict(readme.answers) == {"s:A": 2, "s:B": 1, "s:C": 1}
    assert dict(strict.answers) == {"s:A": 2, "s:B": 1}


def test_every_protocol_asks_about_the_same_questions_and_truth() -> None:
    tallies = {p: evaluate([(TRAIN, TEST)], Params(), names=["s"], protocol=p) for p in ("online", "readme")}
    # Questions 3, 4 and 5 have an answerer from training; N, new in the test period, never counts as one.
    assert all(len(t.ours.ranks) == 3 for t in tallies.values())
    online = tallies["online"]
    assert online.ours.ranks[0] is not None and online.popularity.ranks[0] is not None
    assert online.ours.ranks[2] is not None  # B, though A (the asker) answered more
