"""Suggestions through the real app: past answers offered in the thread before anyone is pinged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, SECRET, Clock, Rig, make_rig
from sqlalchemy import Engine

from handlers import ids
from scheduled.jobs import escalate
from storage.models import Answer, Assignment, Question

ORIGINAL = "How do I rotate the staging postgres password?"
REPEAT = "how can I rotate the postgres password on staging"
ANSWER = "Run vault write -f database/rotate-root/staging, then restart the api pods."


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))


@pytest.fixture(params=["tantivy", "database"])
def rig(engine: Engine, clock: Clock, request: pytest.FixtureRequest) -> Iterator[Rig]:
    yield from make_rig(engine, clock, PEERBOT_EXPERTS_PER_ROUND="1", PEERBOT_SEARCH_ENGINE=request.param)


def answered(rig: Rig, channel: str = HELP, asker: str = ALICE) -> str:
    mention = "" if channel == HELP else f"<@{rig.slack.bot_user_id}> "  # only #help-platform is watched
    q = rig.people.post(asker, channel, mention + ORIGINAL)
    a = rig.people.post(DANA, channel, ANSWER, thread_ts=q)
    rig.people.react(asker, channel, a, "white_check_mark")
    rig.slack.clear_calls()
    return q


def asked_about(rig: Rig, ts: str) -> list[tuple[str, str]]:
    """(expert, status) of the requests about the question at `ts`."""
    ids_ = {q.id for q in rig.rows(Question) if q.ts == ts}
    return [(a.expert, a.status) for a in rig.rows(Assignment) if a.question_id in ids_]


def offered(rig: Rig, channel: str, ts: str) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in rig.slack.replies(channel, ts) if m.get("bot_id")]


def test_a_repeat_question_is_solved_by_a_suggestion_with_credit_and_no_routing(rig: Rig) -> None:
    rig.people.command(PRIYA, HELP, "/peerbot", "expert add postgres")
    answered(rig)
    new = rig.people.post(BOB, HELP, REPEAT)
    [offer] = offered(rig, HELP, new)
    assert "vault write" in str(offer["blocks"]) and f"<@{DANA}>" in str(offer["blocks"])
    assert asked_about(rig, new) == []  # nobody is pinged while the suggestion is on the table
    rig.people.click(ALICE, ids.SOLVED, message=(HELP, offer["ts"]))  # not the asker: refused
    assert [q.status for q in rig.rows(Question) if q.ts == new] == ["open"]
    rig.people.click(BOB, ids.SOLVED, message=(HELP, offer["ts"]))
    q = next(q for q in rig.rows(Question) if q.ts == new)
    original = next(q for q in rig.rows(Question) if q.ts != new)
    assert (q.status, q.duplicate_of, q.reused_answer_id) == ("resolved", original.id, rig.rows(Answer)[0].id)
    assert any("has now helped 1 person" in m["text"] for m in rig.slack.dm_messages(DANA))
    assert "Solved by" in str(offered(rig, HELP, new)[0]["blocks"])
    escalate(rig.deps)  # the suggestion wait is over, but the question is resolved: still nobody pinged
    assert asked_about(rig, new) == []


def test_still_need_help_routes_to_experts(rig: Rig) -> None:
    rig.people.command(PRIYA, HELP, "/peerbot", "expert add postgres")
    answered(rig)
    new = rig.people.post(BOB, HELP, REPEAT)
    [offer] = offered(rig, HELP, new)
    rig.people.click(BOB, ids.STILL_NEED_HELP, message=(HELP, offer["ts"]))
    assert asked_about(rig, new) == [(PRIYA, "pending")]


def test_without_an_answer_from_the_asker_routing_goes_ahead_after_the_wait(rig: Rig, clock: Clock) -> None:
    rig.people.command(PRIYA, HELP, "/peerbot", "expert add postgres")
    answered(rig)
    new = rig.people.post(BOB, HELP, REPEAT)
    escalate(rig.deps)
    assert asked_about(rig, new) == []
    clock.advance(minutes=31)
    escalate(rig.deps)
    assert asked_about(rig, new) == [(PRIYA, "pending")]


def test_nothing_is_suggested_under_the_threshold(rig: Rig) -> None:
    answered(rig)
    new = rig.people.post(BOB, HELP, "Where do I find the Berlin office wifi password for guests?")
    assert offered(rig, HELP, new) == []


def test_private_answers_are_offered_only_inside_their_channel(rig: Rig) -> None:
    answered(rig, channel=SECRET)
    public = rig.people.post(BOB, HELP, REPEAT)
    assert offered(rig, HELP, public) == []
    inside = rig.people.post(DANA, SECRET, f"<@{rig.slack.bot_user_id}> {REPEAT}")
    assert len(offered(rig, SECRET, inside)) == 1


def test_edits_and_deletes_are_reflected(rig: Rig) -> None:
    q = answered(rig)
    rig.people.edit(ALICE, HELP, q, "How do I renew the staging TLS certificate?")
    new = rig.people.post(BOB, HELP, REPEAT)
    assert offered(rig, HELP, new) == []  # the old wording is gone from the index
    again = rig.people.post(BOB, HELP, "how do I renew the TLS certificate for staging")
    assert len(offered(rig, HELP, again)) == 1
    rig.people.delete(ALICE, HELP, q)
    third = rig.people.post(PRIYA, HELP, "how to renew the staging TLS certificate?")
    assert offered(rig, HELP, third) == []


def test_old_answers_are_checked_with_their_author(rig: Rig, clock: Clock) -> None:
    answered(rig)
    clock.advance(days=200)
    first = rig.people.post(BOB, HELP, REPEAT)
    assert len(offered(rig, HELP, first)) == 1
    [check] = [m for m in rig.slack.dm_messages(DANA) if "still right" in str(m.get("blocks"))]
    rig.people.post(PRIYA, HELP, "how do you rotate the staging postgres password")  # not asked twice
    assert len([m for m in rig.slack.dm_messages(DANA) if "still right" in str(m.get("blocks"))]) == 1
    rig.people.click(DANA, ids.NEEDS_UPDATE, message=(rig.slack.dm_channel(DANA), check["ts"]))
    assert rig.rows(Answer)[0].needs_update
    later = rig.people.post(PRIYA, HELP, "what's the way to rotate the staging postgres password")
    assert offered(rig, HELP, later) == []  # hidden until updated


def test_search_command_is_ephemeral_and_respects_privacy(rig: Rig) -> None:
    answered(rig, channel=SECRET)
    rig.people.command(BOB, HELP, "/peerbot", "search rotate postgres password")
    assert "No answered question" in str(rig.slack.responses[-1]["json"])
    rig.people.command(ALICE, HELP, "/peerbot", "search rotate postgres password")
    assert "vault write" in str(rig.slack.responses[-1]["json"]["blocks"])
    for query in ('"', "*", "NEAR", "-", "'; DROP TABLE questions; --", "🔥" * 50, "x" * 40_000):
        d = rig.people.command(ALICE, HELP, "/peerbot", f"search {query}")
        assert d.status == 200
    assert len(rig.rows(Question)) == 1
