"""Routing through the real app: experts get DMs, answer from them, pass, snooze, suggest; the sweep escalates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, SECRET, Clock, Rig, make_rig
from sqlalchemy import Engine
from sqlmodel import select

from handlers import ids
from scheduled.jobs import escalate
from storage.models import Answer, Assignment, Expert, Question

QUESTION = "How do I rotate the #postgres password on staging?"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # a Tuesday: 10:00 in New York, 16:00 in Berlin


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    yield from make_rig(engine, clock, PEERBOT_EXPERTS_PER_ROUND="1", PEERBOT_FALLBACK_CHANNEL="CRANDOM1")


def experts(rig: Rig, *people: str) -> None:
    for person in people:
        rig.people.command(person, HELP, "/peerbot", "expert add postgres, kubernetes")
    rig.slack.clear_calls()


def dm_of(rig: Rig, user: str) -> dict:  # type: ignore[type-arg]
    messages = rig.slack.dm_messages(user)
    assert messages, f"no DM to {user}"
    return messages[-1]


def assignments(rig: Rig) -> list[tuple[str, str, int]]:
    return [(a.expert, a.status, a.round) for a in sorted(rig.rows(Assignment), key=lambda a: a.id)]


def test_expert_directory_commands(rig: Rig) -> None:
    rig.people.command(DANA, HELP, "/peerbot", "expert add Kubernetes, postgres ###")
    text = rig.slack.responses[-1]["json"]["text"]
    assert "Added: kubernetes, postgres" in text and "Not a valid topic: ###" in text
    rig.people.command(DANA, HELP, "/peerbot", "expert remove kubernetes")
    assert "Your topics: postgres" in rig.slack.responses[-1]["json"]["text"]
    [row] = rig.rows(Expert)
    assert (row.user_id, row.tz) == (DANA, "America/New_York")  # from users.info


def test_question_is_routed_answered_from_the_dm_and_everyone_told(rig: Rig) -> None:
    experts(rig, DANA)
    q = rig.people.post(ALICE, HELP, QUESTION)
    assert assignments(rig) == [(DANA, "pending", 1)]
    dm = dm_of(rig, DANA)
    text = str(dm["blocks"])
    assert "postgres" in text and f"<@{ALICE}>" in text and "Open the thread" in text
    rig.people.click(DANA, ids.ANSWER, message=(rig.slack.dm_channel(DANA), dm["ts"]))
    [modal] = rig.slack.open_modals(DANA)
    d = rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "Use `vault` <!channel>"}})
    assert d.status == 200
    [reply] = rig.slack.replies(HELP, q)
    assert reply["text"].startswith(f"<@{DANA}> answered via Peerbot:") and "<!channel>" not in reply["text"]
    [answer] = rig.rows(Answer)
    assert (answer.author, answer.via, answer.text) == (DANA, "dm", "Use `vault` <!channel>")
    assert rig.rows(Question)[0].status == "answered"
    assert assignments(rig) == [(DANA, "answered", 1)]
    assert "Answered by" in dm_of(rig, DANA)["text"]  # the DM was updated
    assert any("answered your question" in m["text"] for m in rig.slack.dm_messages(ALICE))


def test_modal_validation_and_buttons_after_the_fact(rig: Rig) -> None:
    experts(rig, DANA)
    rig.people.post(ALICE, HELP, QUESTION)
    dm = dm_of(rig, DANA)
    where = (rig.slack.dm_channel(DANA), dm["ts"])
    rig.people.click(DANA, ids.ANSWER, message=where)
    [modal] = rig.slack.open_modals(DANA)
    too_long = rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "x" * 3001}})
    assert too_long.json()["response_action"] == "errors"
    assert rig.rows(Answer) == []
    rig.people.post(BOB, HELP, "Try `vault write -f database/rotate-root/staging`.", thread_ts=rig.rows(Question)[0].ts)
    assert assignments(rig) == [(DANA, "cancelled", 1)]  # someone answered in the thread
    late = rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "Use vault"}})
    assert "answered already" in str(late.json())
    assert len(rig.rows(Answer)) == 1


def test_expert_answering_in_the_thread_closes_their_request(rig: Rig) -> None:
    experts(rig, DANA)
    q = rig.people.post(ALICE, HELP, QUESTION)
    rig.people.post(DANA, HELP, "Use vault.", thread_ts=q)
    assert assignments(rig) == [(DANA, "answered", 1)]


def test_pass_routes_to_the_next_expert(rig: Rig) -> None:
    experts(rig, DANA, BOB)
    rig.people.post(ALICE, HELP, QUESTION)
    [(first, _, _)] = assignments(rig)
    second = BOB if first == DANA else DANA
    rig.people.click(first, ids.PASS, message=(rig.slack.dm_channel(first), dm_of(rig, first)["ts"]))
    [modal] = rig.slack.open_modals(first)
    rig.people.submit(first, modal, {ids.REASON_BLOCK: {ids.REASON_INPUT: "on a deadline"}})
    assert assignments(rig) == [(first, "passed", 1), (second, "pending", 2)]
    assert rig.rows(Assignment)[0].reason == "on a deadline"


def test_suggest_someone_asks_them_and_teaches_the_topics(rig: Rig) -> None:
    experts(rig, DANA)
    rig.people.post(ALICE, HELP, QUESTION)
    rig.people.click(DANA, ids.SUGGEST, PRIYA, message=(rig.slack.dm_channel(DANA), dm_of(rig, DANA)["ts"]))
    assert assignments(rig) == [(DANA, "passed", 1), (PRIYA, "pending", 1)]
    assert rig.rows(Assignment)[1].suggested_by == DANA
    assert "thinks you can help" in str(dm_of(rig, PRIYA)["blocks"])
    assert {e.user_id for e in rig.rows(Expert)} == {DANA, PRIYA}


def test_snooze_then_reminder(rig: Rig, clock: Clock) -> None:
    experts(rig, DANA)
    rig.people.post(ALICE, HELP, QUESTION)
    rig.people.click(DANA, ids.SNOOZE, message=(rig.slack.dm_channel(DANA), dm_of(rig, DANA)["ts"]))
    assert assignments(rig) == [(DANA, "snoozed", 1)]
    before = len(rig.slack.dm_messages(DANA))
    clock.advance(minutes=61)
    escalate(rig.deps)
    assert assignments(rig) == [(DANA, "pending", 1)]
    assert len(rig.slack.dm_messages(DANA)) == before + 1


def test_escalation_across_rounds_then_fallback_and_restart_safe(rig: Rig, clock: Clock) -> None:
    experts(rig, DANA, BOB)
    rig.people.post(ALICE, HELP, QUESTION)
    clock.advance(hours=1)
    assert escalate(rig.deps)["expired"] == 0  # not due yet: two working hours
    clock.advance(hours=1, minutes=1)
    escalate(rig.deps)
    assert [s for _, s, _ in assignments(rig)] == ["expired", "pending"]
    assert "passed it on" in dm_of(rig, assignments(rig)[0][0])["text"]
    clock.advance(hours=2, minutes=1)
    escalate(rig.deps)
    escalate(rig.deps)  # a second sweep (or a restarted replica) sends nothing twice
    assert [s for _, s, _ in assignments(rig)] == ["expired", "expired"]
    [fallback] = [c for c in rig.slack.calls_to("chat.postMessage") if c.args["channel"] == "CRANDOM1"]
    assert "Nobody has answered" in fallback.args["text"]
    assert rig.rows(Question)[0].escalated


def test_nobody_at_work_waits_and_tells_the_asker(rig: Rig, clock: Clock) -> None:
    experts(rig, DANA)
    clock.now = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # Saturday
    rig.people.post(ALICE, HELP, QUESTION)
    assert assignments(rig) == []
    [told] = rig.slack.calls_to("chat.postEphemeral")
    assert told.args["user"] == ALICE and "expect help" in told.args["text"]
    clock.now = datetime(2026, 3, 9, 14, 5, tzinfo=UTC)  # Monday 10:05 in New York
    escalate(rig.deps)
    assert assignments(rig) == [(DANA, "pending", 1)]


def test_capacity_and_the_asker_are_respected(rig: Rig) -> None:
    experts(rig, DANA, ALICE)
    for i in range(4):
        rig.people.post(BOB, HELP, f"How do I tune #postgres autovacuum for table {i}?")
    counts = [e for e, s, _ in assignments(rig) if s == "pending"]
    assert counts.count(DANA) <= 3 and counts.count(ALICE) <= 3
    rig.people.post(ALICE, HELP, "How do I grant read access in #postgres to the analytics role?")
    last = max(rig.rows(Assignment), key=lambda a: a.id)
    assert last.expert != ALICE


def test_unreachable_expert_is_skipped(rig: Rig) -> None:
    experts(rig, DANA, BOB)
    rig.slack.inject("conversations.open", error="account_inactive")
    rig.people.post(ALICE, HELP, QUESTION)
    statuses = assignments(rig)
    assert statuses[0][1] == "failed" and statuses[1][1] == "pending"
    assert [e.deleted for e in rig.rows(Expert) if e.user_id == statuses[0][0]] == [True]


def test_asker_sees_topics_and_can_edit_them_which_routes_the_question(rig: Rig) -> None:
    experts(rig, DANA)
    rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    [note] = rig.slack.calls_to("chat.postEphemeral")
    assert note.args["user"] == ALICE and "none found" in str(note.args["blocks"])
    assert assignments(rig) == []
    with pytest.raises(LookupError):  # the note is ephemeral: nobody else even sees the button
        rig.people.click(BOB, ids.EDIT_TOPICS)
    rig.people.click(ALICE, ids.EDIT_TOPICS)
    [modal] = rig.slack.open_modals(ALICE)
    bad = rig.people.submit(ALICE, modal, {ids.TOPICS_BLOCK: {ids.TOPICS_INPUT: "###"}})
    assert bad.json()["response_action"] == "errors"
    rig.people.submit(ALICE, modal, {ids.TOPICS_BLOCK: {ids.TOPICS_INPUT: "Postgres, vault"}})
    assert assignments(rig) == [(DANA, "pending", 1)]  # now someone knows the topic
    assert "postgres" in str(dm_of(rig, DANA)["blocks"])


def test_expert_settings_modal(rig: Rig, clock: Clock) -> None:
    from slack_sdk.models.views import View

    experts(rig, DANA)
    rig.people.command(DANA, HELP, "/peerbot", "expert edit")
    [modal] = rig.slack.open_modals(DANA)
    View(**{k: v for k, v in modal.items() if k in View.attributes}).validate_json()  # Slack's own Block Kit models
    bad = rig.people.submit(
        DANA,
        modal,
        {
            "capacity": {"value": "lots"},
            "start": {"value": "9"},
            "end": {"value": "17"},
            "days": {"value": ["0"]},
            "topics": {"value": "###"},
        },
    )
    assert set(bad.json()["errors"]) == {"capacity", "topics"}
    values = {
        "topics": {"value": "postgres, redis"},
        "capacity": {"value": "1"},
        "start": {"value": "8"},
        "end": {"value": "12"},
        "days": {"value": ["0", "1", "2"]},
        "leave": {"value": "2026-03-04"},
    }
    assert rig.people.submit(DANA, modal, values).status == 200
    [row] = rig.rows(Expert)
    assert (row.capacity, row.work_start, row.work_end, row.work_days) == (1, 8, 12, "0,1,2")
    assert str(row.on_leave_until) == "2026-03-04"
    rig.people.post(ALICE, HELP, QUESTION)
    assert assignments(rig) == []  # on leave today: the question waits for Thursday
    clock.now = datetime(2026, 3, 5, 13, 30, tzinfo=UTC)  # Thursday 08:30 in New York, but she works Mon–Wed
    escalate(rig.deps)
    assert assignments(rig) == []


def test_a_dm_lost_to_slack_errors_is_resent_once_after_a_restart(rig: Rig) -> None:
    from bot.deps import Deps, make_client
    from storage.db import session_factory

    experts(rig, DANA)
    rig.slack.inject("chat.postMessage", status=503, times=3)  # the client's retries give up
    rig.people.post(ALICE, HELP, QUESTION)
    assert assignments(rig) == [(DANA, "pending", 1)] and rig.rows(Assignment)[0].dm_ts == ""
    assert rig.slack.dm_messages(DANA) == []
    # A new process: fresh sessions and client on the same database, as after a restart.
    restarted = Deps(settings=rig.settings, db=session_factory(rig.engine), clock=rig.deps.clock,
                     client=make_client(rig.settings))  # fmt: skip
    assert escalate(restarted)["resent"] == 1
    assert escalate(restarted)["resent"] == 0
    assert len(rig.slack.dm_messages(DANA)) == 1 and rig.rows(Assignment)[0].dm_ts


def test_channel_default_topics_route_untagged_questions(rig: Rig) -> None:
    experts(rig, DANA)
    rig.people.command(PRIYA, HELP, "/peerbot", "watch postgres")
    assert "gets the topics postgres" in rig.slack.responses[-1]["json"]["text"]
    rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    assert assignments(rig) == [(DANA, "pending", 1)]


def test_an_answer_in_the_thread_or_acceptance_settles_every_pending_request(rig: Rig) -> None:
    experts(rig, DANA)
    q = rig.people.post(ALICE, HELP, QUESTION)
    # Someone without an assignment answers; the asker accepts it.
    a = rig.people.post(BOB, HELP, "vault write -f database/rotate-root/staging", thread_ts=q)
    assert assignments(rig) == [(DANA, "cancelled", 1)]  # an answer in the thread settles the request
    rig.people.react(ALICE, HELP, a, "white_check_mark")
    assert rig.rows(Question)[0].status == "resolved"
    assert "Answered by" in dm_of(rig, DANA)["text"]


def test_answer_history_steers_routing_to_who_answered_similar_questions(rig: Rig, clock: Clock) -> None:
    from sqlmodel import Session

    from bot.assignments import RoutingRules, route

    experts(rig, DANA, PRIYA)
    for night in ("Monday", "Tuesday", "Wednesday"):
        q = rig.people.post(BOB, HELP, f"Why does the replica lag so much on {night} night?")
        rig.people.post(PRIYA, HELP, "The nightly vacuum on the primary; see the replica lag runbook.", thread_ts=q)
    rig.people.post(ALICE, HELP, "How can I stop the #postgres replica lag during the nightly batch?")
    with Session(rig.engine) as s:
        question = max(s.exec(select(Question)), key=lambda q: q.id or 0)
        for row in s.exec(select(Expert)):  # Priya was asked just now: rotation alone would pick Dana
            row.last_asked_at = clock() if row.user_id == PRIYA else None
            s.add(row)
        for a in s.exec(select(Assignment).where(Assignment.question_id == question.id)):
            s.delete(a)
        question.route_round = 0
        routed = route(s, question=question, rules=RoutingRules(per_round=1), now=clock())
        assert [a.expert for a in routed.asked] == [PRIYA]


def test_private_questions_go_only_to_experts_in_the_channel(rig: Rig) -> None:
    experts(rig, BOB, DANA)  # Bob is not in #secret-project
    rig.people.post(ALICE, SECRET, f"<@{rig.slack.bot_user_id}> {QUESTION}")
    assert assignments(rig) == [(DANA, "pending", 1)]
    assert rig.slack.dm_messages(BOB) == []
    dm = dm_of(rig, DANA)
    rig.people.click(DANA, ids.SUGGEST, BOB, message=(rig.slack.dm_channel(DANA), dm["ts"]))
    assert "isn't in that private channel" in rig.slack.ephemerals(DANA)[-1]["text"]
    assert assignments(rig) == [(DANA, "pending", 1)] and rig.slack.dm_messages(BOB) == []


def test_the_sweep_never_resends_a_dm_another_request_is_sending(rig: Rig, clock: Clock) -> None:
    from sqlmodel import Session

    experts(rig, DANA)
    rig.people.post(ALICE, HELP, QUESTION)
    assert len(rig.slack.dm_messages(DANA)) == 1
    with Session(rig.engine) as s:  # as if a request had just claimed the DM and were still sending it
        [a] = s.exec(select(Assignment)).all()
        a.dm_ts, a.dm_claimed_at = "", clock.now
        s.add(a)
        s.commit()
    assert escalate(rig.deps)["resent"] == 0 and len(rig.slack.dm_messages(DANA)) == 1
    clock.advance(minutes=3)  # the sender died without sending: the claim lapses and the sweep sends it
    escalate(rig.deps)
    assert len(rig.slack.dm_messages(DANA)) == 2
    escalate(rig.deps)
    assert len(rig.slack.dm_messages(DANA)) == 2


def test_a_question_whose_request_died_before_following_up_is_followed_up_by_the_sweep(
    rig: Rig, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import questions

    experts(rig, DANA)

    def dies(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the replica died here")

    monkeypatch.setattr(questions, "route_question", dies)
    first = rig.people.post(ALICE, HELP, QUESTION)
    delivery = rig.people.last
    assert delivery is not None and delivery.status >= 500  # Slack will retry
    monkeypatch.undo()
    assert rig.people.redeliver(delivery).status == 200  # the retry finds the question stored: nothing more
    assert assignments(rig) == [] and escalate(rig.deps)["routed"] == 0
    clock.advance(minutes=3)  # the capture's deadline passes: the sweep finishes the follow-up, once
    escalate(rig.deps)
    assert assignments(rig) == [(DANA, "pending", 1)] and len(rig.slack.dm_messages(DANA)) == 1
    assert len(rig.slack.reactions(HELP, first)) == 1
    assert any("Peerbot kept your question" in str(e.get("blocks")) for e in rig.slack.ephemerals(ALICE))
    clock.advance(minutes=3)
    escalate(rig.deps)
    assert len(rig.slack.dm_messages(DANA)) == 1 and rig.rows(Question)[0].followed_up_at is not None


def test_an_answer_slack_refuses_goes_back_to_its_author(rig: Rig, clock: Clock) -> None:
    experts(rig, DANA)
    rig.people.post(ALICE, HELP, QUESTION)
    dm = dm_of(rig, DANA)
    rig.people.click(DANA, ids.ANSWER, message=(rig.slack.dm_channel(DANA), dm["ts"]))
    [modal] = rig.slack.open_modals(DANA)
    rig.slack.inject("chat.postMessage", status=500, times=3)  # more than the client's retries
    rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "Rotate it with vault."}})
    assert rig.rows(Answer) == [] and assignments(rig) == [(DANA, "pending", 1)]  # nothing half-done
    back = rig.slack.dm_messages(DANA)[-1]["text"]
    assert "would not take your answer" in back and "Rotate it with vault." in back
