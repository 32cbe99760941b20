"""Onboarding journeys through the real app: enrolment, nudges in the hire's hours, exactly once, buttons, topics."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, Clock, Rig, make_rig
from sqlalchemy import Engine

from bot.config import ConfigError, Settings
from handlers import ids
from scheduled.jobs import nudge
from storage.models import Enrolment, Nudge

HIRE, HIRES = "UNEWHIRE1", "CNEWHIRES"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))  # Tuesday: 05:00 in New York


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    for r in make_rig(engine, clock, PEERBOT_NEW_HIRES_CHANNEL=HIRES):
        r.slack.add_user(HIRE, "sam", real_name="Sam Rivera", tz="America/New_York")
        r.slack.add_channel(HIRES, "new-hires", members=[ALICE, r.slack.bot_user_id])
        yield r


def steps(rig: Rig) -> list[tuple[str, str]]:
    return [(n.step, n.status) for n in sorted(rig.rows(Nudge), key=lambda n: n.position)]


def nudges_to(rig: Rig, user: str = HIRE) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in rig.slack.dm_messages(user) if m.get("user") == rig.slack.bot_user_id]


def test_team_join_enrols_once_and_the_first_nudge_waits_for_the_hires_morning(rig: Rig, clock: Clock) -> None:
    rig.people.command(DANA, HELP, "/peerbot", "expert add kubernetes, postgres")
    first = rig.people.team_join(HIRE)
    rig.people.redeliver(first)  # Slack's retry changes nothing
    rig.people.team_join(HIRE)  # nor does a second event for the same person
    [row] = rig.rows(Enrolment)
    assert (row.user_id, row.journey, row.tz, row.start_date, row.enrolled_by) == (
        HIRE, "default", "America/New_York", date(2026, 3, 3), "team_join",
    )  # fmt: skip
    assert [s for s, _ in steps(rig)] == ["welcome", "first-answers", "people", "channels", "week-two"]
    assert nudge(rig.deps) == {"sent": 0, "caught_up": 0, "deferred": 0, "resent": 0}  # 05:00 in New York
    clock.advance(hours=5)  # 10:00 in New York: the welcome is due
    assert nudge(rig.deps)["sent"] == 1
    [welcome] = nudges_to(rig)
    assert "Welcome to the team, Sam!" in welcome["text"]
    assert ids.ONBOARD_TOPICS in str(welcome["blocks"]) and ids.NUDGE_STOP in str(welcome["blocks"])
    assert nudge(rig.deps)["sent"] == 0 and len(nudges_to(rig)) == 1
    [welcome_row] = [n for n in rig.rows(Nudge) if n.step == "welcome"]
    assert welcome_row.sent_at == clock.now and welcome_row.dm_ts == welcome["ts"]


def test_bots_and_people_already_enrolled_are_left_alone(rig: Rig) -> None:
    rig.slack.add_user("UBOT00001", "deploybot", is_bot=True)
    rig.people.team_join("UBOT00001")
    assert rig.rows(Enrolment) == []


def test_joining_the_new_hires_channel_enrols(rig: Rig) -> None:
    rig.people.join(HIRE, HIRES)
    rig.people.join(BOB, HELP)  # another channel: nothing
    [row] = rig.rows(Enrolment)
    assert (row.user_id, row.enrolled_by) == (HIRE, "channel")


def test_admins_enrol_by_command_with_a_journey_and_start_date(rig: Rig) -> None:
    rig.people.command(BOB, HELP, "/peerbot", f"onboard <@{HIRE}>")
    assert "Only workspace admins" in rig.slack.responses[-1]["json"]["text"]
    rig.people.command(PRIYA, HELP, "/peerbot", f"onboard <@{HIRE}|sam> short 2026-03-09")
    assert "starts the `short` journey on Mon 09 Mar" in rig.slack.responses[-1]["json"]["text"]
    rig.people.command(PRIYA, HELP, "/peerbot", f"onboard <@{HIRE}> default")
    assert "already on the `short` journey" in rig.slack.responses[-1]["json"]["text"]
    rig.people.command(PRIYA, HELP, "/peerbot", f"onboard <@{HIRE}> 2026-13-01")
    assert "neither a journey nor a date" in rig.slack.responses[-1]["json"]["text"]
    rig.people.command(PRIYA, HELP, "/peerbot", "onboard")
    assert "Usage" in rig.slack.responses[-1]["json"]["text"]
    [row] = rig.rows(Enrolment)
    assert (row.journey, row.start_date, row.enrolled_by) == ("short", date(2026, 3, 9), PRIYA)
    assert steps(rig) == [("welcome", "pending"), ("people", "pending")]


def test_steps_fall_on_working_days_in_the_hires_time_zone(rig: Rig, clock: Clock) -> None:
    rig.slack.add_user("UTOKYO001", "kenji", real_name="Kenji Sato", tz="Asia/Tokyo")
    clock.now = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # Friday 18:30 in Tokyo: the working day is over
    rig.people.team_join("UTOKYO001")
    [row] = rig.rows(Enrolment)
    assert row.start_date == date(2026, 3, 9)  # Monday
    due = {n.step: n.due_at for n in rig.rows(Nudge)}
    assert due["welcome"] == datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo
    assert due["channels"] == datetime(2026, 3, 13, 2, 0, tzinfo=UTC)  # day 4: Friday 11:00
    assert due["week-two"] == datetime(2026, 3, 20, 1, 0, tzinfo=UTC)  # day 9: the next Friday
    clock.now = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)  # Saturday noon in Tokyo
    assert nudge(rig.deps)["sent"] == 0
    clock.now = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    assert nudge(rig.deps)["sent"] == 1


def test_each_step_is_delivered_exactly_once_across_failures_and_a_restart(rig: Rig, clock: Clock) -> None:
    rig.people.team_join(HIRE)
    clock.advance(hours=5)
    rig.slack.inject("chat.postMessage", status=500, times=3)  # more than the client's retries
    assert nudge(rig.deps)["sent"] == 1
    assert nudges_to(rig) == [] and steps(rig)[0] == ("welcome", "sent")  # claimed, not yet delivered
    restarted = dataclasses.replace(rig.deps)  # a new process: only the database carries over
    assert nudge(restarted)["resent"] == 1
    assert len(nudges_to(rig)) == 1
    assert nudge(restarted) == {"sent": 0, "caught_up": 0, "deferred": 0, "resent": 0}
    assert len(nudges_to(rig)) == 1


def test_a_backlog_after_downtime_collapses_into_one_catch_up_message(rig: Rig, clock: Clock) -> None:
    rig.people.team_join(HIRE)
    clock.now = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)  # Thursday 21:00 in New York, after a week away
    assert nudge(rig.deps)["deferred"] == 4  # outside working hours: wait for the morning
    assert nudges_to(rig) == []
    clock.now = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert nudge(rig.deps)["caught_up"] == 4
    [message] = nudges_to(rig)
    assert "in one message" in str(message["blocks"]) and "Welcome to the team" in str(message["blocks"])
    rows = {n.step: n for n in rig.rows(Nudge)}
    assert all(rows[s].caught_up and rows[s].dm_ts == message["ts"] for s in ("welcome", "people", "channels"))
    assert rows["week-two"].status == "pending"


def test_done_snooze_and_stop(rig: Rig, clock: Clock) -> None:
    rig.people.team_join(HIRE)
    clock.advance(hours=5)
    nudge(rig.deps)
    dm = rig.slack.dm_channel(HIRE)
    [welcome] = nudges_to(rig)
    rig.people.click(HIRE, ids.NUDGE_SNOOZE, message=(dm, welcome["ts"]))
    assert "Snoozed" in nudges_to(rig)[0]["text"]
    [row] = [n for n in rig.rows(Nudge) if n.step == "welcome"]
    assert (row.status, row.snoozes, row.due_at) == ("pending", 1, datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    clock.advance(days=1)  # Wednesday 10:00 in New York: the welcome again, and "first-answers" with it
    nudge(rig.deps)
    again = nudges_to(rig)[-1]
    rig.people.click(HIRE, ids.NUDGE_DONE, message=(dm, again["ts"]))
    assert "2 of 5 onboarding steps done" in nudges_to(rig)[-1]["text"]
    clock.advance(days=1, hours=4)  # Thursday 14:00 in New York: "people"
    nudge(rig.deps)
    people = nudges_to(rig)[-1]
    rig.people.click(HIRE, ids.NUDGE_STOP, message=(dm, people["ts"]))
    assert "Journey stopped" in nudges_to(rig)[-1]["text"]
    assert [s for _, s in steps(rig)] == ["done", "done", "sent", "skipped", "skipped"]
    assert rig.rows(Enrolment)[0].status == "stopped"
    clock.advance(days=20)
    assert nudge(rig.deps)["sent"] == 0


def test_chosen_topics_pick_a_buddy_and_shape_later_steps(rig: Rig, clock: Clock) -> None:
    rig.people.command(DANA, HELP, "/peerbot", "expert add kubernetes")
    rig.people.command(BOB, HELP, "/peerbot", "expert add postgres")
    q = rig.people.post(ALICE, HELP, "How do I restart a stuck #kubernetes pod in staging?")
    a = rig.people.post(DANA, HELP, "Delete it with kubectl; the deployment makes a new one.", thread_ts=q)
    rig.people.react(BOB, HELP, a, "+1")
    rig.people.team_join(HIRE)
    clock.advance(hours=5)
    nudge(rig.deps)
    dm = rig.slack.dm_channel(HIRE)
    [welcome] = nudges_to(rig)
    rig.people.click(HIRE, ids.ONBOARD_TOPICS, ["kubernetes"], message=(dm, welcome["ts"]))
    row = rig.rows(Enrolment)[0]
    assert (row.topics, row.buddy) == ("kubernetes", DANA)
    assert any(f"Your buddy: <@{DANA}>" in e["text"] for e in rig.slack.ephemerals(HIRE))
    assert any("onboarding buddy" in m["text"] for m in rig.slack.dm_messages(DANA))
    clock.advance(days=1)
    nudge(rig.deps)
    text = str(nudges_to(rig)[-1]["blocks"])
    assert "helpful in kubernetes" in text and "restart a stuck #kubernetes pod" in text and f"<@{DANA}>" in text
    clock.advance(days=1, hours=4)
    nudge(rig.deps)
    assert f"Your buddy is <@{DANA}>" in str(nudges_to(rig)[-1]["blocks"])


def test_someone_else_cannot_press_a_hires_buttons(rig: Rig, clock: Clock) -> None:
    rig.people.team_join(HIRE)
    clock.advance(hours=5)
    nudge(rig.deps)
    [welcome] = nudges_to(rig)
    dm = rig.slack.dm_channel(HIRE)
    rig.people.click(BOB, ids.NUDGE_STOP, message=(dm, welcome["ts"]))  # a forged click: Slack shows Bob no such DM
    assert steps(rig)[0] == ("welcome", "sent") and rig.rows(Enrolment)[0].status == "active"


def test_a_bad_journey_file_is_a_clear_start_up_error(tmp_path: Path) -> None:
    bad = tmp_path / "onboarding.yml"
    bad.write_text("journeys:\n  default:\n    steps:\n      - id: hello\n        day: 0\n        at: '10:00'\n"
                   "        message: Hi {nmae}!\n")  # fmt: skip
    with pytest.raises(ConfigError) as e:
        Settings.from_env({"PEERBOT_ONBOARDING_FILE": str(bad)}, need_slack=False)
    assert str(bad) in str(e.value) and "step 1 (hello), field 'message'" in str(e.value) and "{nmae}" in str(e.value)
    bad.write_text("journeys: [oops")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Settings.from_env({"PEERBOT_ONBOARDING_FILE": str(bad)}, need_slack=False)
    bad.write_text("journeys:\n  default:\n    steps:\n      - {id: late, day: 0, at: '21:00', message: x}\n")
    with pytest.raises(ConfigError, match=r"step 1 \(late\), field 'at'"):
        Settings.from_env({"PEERBOT_ONBOARDING_FILE": str(bad)}, need_slack=False)
