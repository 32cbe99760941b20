"""Weekly digests through the real app: per channel, per expert, for admins; once, never leaking private content."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, RANDOM, SECRET, Clock, Rig, make_rig
from sqlalchemy import Engine

from handlers import ids
from scheduled.jobs import digest
from storage.models import Answer, Digest, Question

DIGEST_TIME = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # Monday 09:00 UTC, the configured digest time
ANSWERED = "How do I restart a stuck #kubernetes pod?"
WAITING = "Who can grant access to the #postgres replica?"
PRIVATE = "Is the #postgres failover plan for Project X final?"


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    yield from make_rig(engine, clock, PEERBOT_ADMINS=PRIYA, PEERBOT_DIGEST_DAY="monday", PEERBOT_DIGEST_TIME="09:00")


def week_of_questions(rig: Rig) -> dict[str, str]:
    rig.people.command(DANA, HELP, "/peerbot", "expert add kubernetes, postgres")
    rig.people.command(BOB, HELP, "/peerbot", "expert add postgres")
    rig.people.command(PRIYA, RANDOM, "/peerbot", "watch")  # a second watched channel, with a quiet week
    q1 = rig.people.post(ALICE, HELP, ANSWERED)
    a1 = rig.people.post(DANA, HELP, "Delete it; the deployment starts a new one.", thread_ts=q1)
    rig.people.react(BOB, HELP, a1, "+1")
    q2 = rig.people.post(ALICE, HELP, WAITING)
    q3 = rig.people.post(ALICE, SECRET, f"<@{rig.slack.bot_user_id}> {PRIVATE}")
    rig.slack.clear_calls()
    return {"answered": q1, "waiting": q2, "private": q3}


def digests_in(rig: Rig, channel: str) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in rig.slack.messages(channel) if "This week in" in m.get("text", "")]


def digest_dms(rig: Rig, user: str) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in rig.slack.dm_messages(user) if "open questions in your topics" in m.get("text", "")]


def test_nothing_goes_out_before_the_digest_time(rig: Rig, clock: Clock) -> None:
    week_of_questions(rig)
    clock.now = datetime(2026, 3, 9, 8, 59, tzinfo=UTC)
    assert digest(rig.deps) == {"sent": 0, "empty": 0, "failed": 0}
    assert rig.rows(Digest) == [] and "chat.postMessage" not in rig.methods()


def test_channel_digest_lists_the_week_and_quiet_channels_get_none(rig: Rig, clock: Clock) -> None:
    week_of_questions(rig)
    clock.now = DIGEST_TIME
    digest(rig.deps)
    [help_digest] = digests_in(rig, HELP)
    text = str(help_digest["blocks"])
    assert "Top-rated answers" in text and "restart a stuck #kubernetes pod" in text and f"<@{DANA}>'s answer" in text
    assert "Newly answered" in text
    assert "Still waiting for an answer" in text and "grant access to the #postgres replica" in text
    assert ids.DIGEST_ANSWER in text and f"Thanks for helping this week: <@{DANA}>" in text
    assert "Project X" not in text  # the private channel's question stays in the private channel
    assert digests_in(rig, RANDOM) == []  # nothing to say: nothing sent
    statuses = {(d.kind, d.target): d.status for d in rig.rows(Digest)}
    assert statuses[("channel", HELP)] == "sent" and statuses[("channel", RANDOM)] == "empty"
    rig.slack.clear_calls()
    clock.advance(minutes=5)
    assert digest(rig.deps) == {"sent": 0, "empty": 0, "failed": 0}  # the next sweep sends nothing twice
    assert rig.slack.calls == []  # nor asks Slack anything, every 5 minutes for the rest of the week


def test_expert_digests_respect_private_channels_and_opt_out(rig: Rig, clock: Clock) -> None:
    week_of_questions(rig)
    clock.now = DIGEST_TIME
    digest(rig.deps)
    [dana] = digest_dms(rig, DANA)  # a member of the private channel: sees its question
    assert "grant access to the #postgres replica" in str(dana["blocks"]) and "Project X" in str(dana["blocks"])
    [bob] = digest_dms(rig, BOB)  # not a member: only the public question
    assert "grant access" in str(bob["blocks"]) and "Project X" not in str(bob["blocks"])
    rig.people.click(BOB, ids.DIGEST_OPT_OUT, message=(rig.slack.dm_channel(BOB), bob["ts"]))
    clock.now = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a week later: still open, but Bob opted out
    digest(rig.deps)
    assert len(digest_dms(rig, BOB)) == 0 and len(digest_dms(rig, DANA)) == 2


def test_answering_from_a_digest_uses_the_routing_modal(rig: Rig, clock: Clock) -> None:
    asked = week_of_questions(rig)
    clock.now = DIGEST_TIME
    digest(rig.deps)
    [help_digest] = digests_in(rig, HELP)
    rig.people.click(PRIYA, ids.DIGEST_ANSWER, message=(HELP, help_digest["ts"]))
    [modal] = rig.slack.open_modals(PRIYA)
    assert "grant access" in str(modal["blocks"])
    empty = rig.people.submit(PRIYA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "  "}})
    assert "errors" in empty.json()
    rig.people.submit(PRIYA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "Ask #db-admins <!here>"}})
    [reply] = rig.slack.replies(HELP, asked["waiting"])
    assert reply["text"].startswith(f"<@{PRIYA}> answered via Peerbot:") and "<!here>" not in reply["text"]
    [answer] = [a for a in rig.rows(Answer) if a.via == "digest"]
    assert answer.author == PRIYA
    assert [q.status for q in rig.rows(Question) if q.ts == asked["waiting"]] == ["answered"]
    rig.people.click(DANA, ids.DIGEST_ANSWER, message=(HELP, help_digest["ts"]))  # too late now
    assert "answered" in rig.slack.ephemerals(DANA)[-1]["text"]


def test_knowledge_gap_report_shows_only_groups_of_five(rig: Rig, clock: Clock) -> None:
    rig.people.command(DANA, HELP, "/peerbot", "expert add kubernetes")
    askers = [f"UASKER{i:03d}" for i in range(5)]
    for i, person in enumerate(askers):
        rig.slack.add_user(person, f"asker{i}")
        rig.slack.world.channels[HELP]["members"].append(person)
        rig.people.post(person, HELP, f"How do I scale the #terraform module number {i}?")
        if i < 4:
            rig.people.post(person, HELP, f"Where is the #kubernetes dashboard for team {i}?")
    clock.now = DIGEST_TIME
    digest(rig.deps)
    [report] = [m for m in rig.slack.dm_messages(PRIYA) if "knowledge-gap" in m.get("text", "")]
    text = str(report["blocks"])
    assert "terraform: 5 questions from 5 people" in text
    assert "kubernetes" not in text  # only four people asked: not shown
    assert "Topics with no expert*\\n• terraform" in text
    assert "too few people" in text  # nobody was answered, so no median
    [chart] = rig.slack.files(rig.slack.dm_channel(PRIYA))  # the weekly activity chart, in the same DM
    assert chart["name"] == "activity.png" and chart["size"] > 1000


def test_no_gap_report_when_fewer_than_five_people_asked(rig: Rig, clock: Clock) -> None:
    week_of_questions(rig)  # Alice alone asked this week
    clock.now = DIGEST_TIME
    digest(rig.deps)
    assert not [m for m in rig.slack.dm_messages(PRIYA) if "knowledge-gap" in m.get("text", "")]
    assert [d.status for d in rig.rows(Digest) if d.kind == "admin"] == ["empty"]


def test_failures_are_retried_next_sweep_and_rate_limits_waited_out(rig: Rig, clock: Clock) -> None:
    week_of_questions(rig)
    clock.now = DIGEST_TIME
    rig.slack.inject("chat.postMessage", error="channel_not_found")  # the first digest fails
    rig.slack.inject("chat.postMessage", status=429, retry_after=0, times=2)  # the next is rate-limited twice
    done = digest(rig.deps)
    assert done["failed"] == 1 and done["sent"] >= 2
    [failed] = [d for d in rig.rows(Digest) if d.status == "pending"]
    assert (failed.attempts, failed.error) == (1, "channel_not_found")
    clock.advance(minutes=5)
    assert digest(rig.deps)["sent"] == 1
    assert all(d.status in ("sent", "empty") for d in rig.rows(Digest))
    sent = [d for d in rig.rows(Digest) if d.status == "sent"]
    assert len({(d.kind, d.target) for d in sent}) == len(sent)  # each once
    assert len(digests_in(rig, HELP)) == 1


def test_experts_on_leave_or_paused_get_no_digest(rig: Rig, clock: Clock) -> None:
    from datetime import date

    from sqlmodel import Session, select

    from storage.models import Expert

    week_of_questions(rig)
    with Session(rig.engine) as s:
        for row in s.exec(select(Expert)):
            if row.user_id == DANA:
                row.on_leave_until = date(2026, 3, 13)
            else:
                row.paused = True
            s.add(row)
        s.commit()
    clock.now = DIGEST_TIME
    digest(rig.deps)
    assert digest_dms(rig, DANA) == [] and digest_dms(rig, BOB) == []
    clock.now = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # Dana is back from leave
    digest(rig.deps)
    assert len(digest_dms(rig, DANA)) == 1 and digest_dms(rig, BOB) == []
