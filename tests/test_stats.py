"""Workspace statistics through the real app: aggregates over five people or more, helpers for admins only."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from io import BytesIO

import matplotlib.image
import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, SECRET, Clock, Rig
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlmodel import Session

from bot.chart import weekly_activity_png
from bot.stats import cli, workspace_stats
from handlers import commands, ids
from handlers.stats import stats_command
from storage.models import Channel, Question, Workspace

ASKERS = [f"UASKER{i:03d}" for i in range(6)]
WS = Workspace("TSANDBOX1")


@pytest.fixture(autouse=True)
def _stats_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(commands.SUBCOMMANDS, "stats", stats_command)


def two_weeks_of_questions(rig: Rig, clock: Clock) -> None:
    """Week 9: two people ask. Week 10: six ask about terraform, four about kubernetes, one repeat is reused."""
    now = clock.now
    clock.now = datetime(2026, 2, 24, 10, 0, tzinfo=UTC)  # first: Slack's timestamps only ever increase
    rig.people.post(ALICE, HELP, "Who owns the #postgres backups?")
    rig.people.post(BOB, HELP, "Where are the #postgres replicas listed?")
    clock.now = now
    rig.people.command(DANA, HELP, "/peerbot", "expert add kubernetes")
    for i, person in enumerate(ASKERS):
        rig.slack.add_user(person, f"asker{i}")
        rig.slack.world.channels[HELP]["members"].append(person)
    terraform = [
        rig.people.post(p, HELP, f"How do I scale the #terraform module number {i}?") for i, p in enumerate(ASKERS)
    ]
    kubernetes = [
        rig.people.post(p, HELP, f"Where is the #kubernetes dashboard for team {i}?") for i, p in enumerate(ASKERS[:4])
    ]
    rig.people.post(ALICE, SECRET, f"<@{rig.slack.bot_user_id}> Is the #terraform plan for Project X final?")
    clock.advance(hours=1)
    for i, q in enumerate(terraform):
        a = rig.people.post(DANA, HELP, f"Run terraform apply with -var replicas={i + 2}.", thread_ts=q)
        rig.people.react(BOB, HELP, a, "+1")
        if i < 2:
            rig.people.react(ASKERS[i], HELP, a, "white_check_mark")
    for q in kubernetes[:3]:
        a = rig.people.post(BOB, HELP, "It is linked from the platform wiki front page.", thread_ts=q)
        rig.people.react(PRIYA, HELP, a, "+1")
    repeat = rig.people.post(ASKERS[4], HELP, "How do I scale the #terraform module number 0?")
    [offer] = [m for m in rig.slack.replies(HELP, repeat) if m.get("bot_id")]
    rig.people.click(ASKERS[4], ids.SOLVED, message=(HELP, offer["ts"]))


def stats_reply(rig: Rig, user: str) -> dict:  # type: ignore[type-arg]
    rig.people.command(user, HELP, "/peerbot", "stats")
    reply: dict = rig.slack.responses[-1]["json"]  # type: ignore[type-arg]
    return reply


def test_admins_see_aggregates_and_helpers_others_only_aggregates(rig: Rig, clock: Clock) -> None:
    two_weeks_of_questions(rig, clock)
    [reused] = [q for q in rig.rows(Question) if q.duplicate_of is not None]
    assert reused.status == "resolved"
    admin = stats_reply(rig, PRIYA)
    assert admin["response_type"] == "ephemeral"
    text = admin["text"]
    assert "13 questions from 8 people · 77% answered · 8% solved by an answer colleagues gave before" in text
    assert "median time to a first answer 1 h 00 min" in text
    assert "2026-W09 (23 Feb): too few people" in text  # two askers that week
    assert "2026-W10 (02 Mar): 11 questions, 10 answered" in text
    assert "• terraform: 7 questions from 6 people" in text
    assert "kubernetes" not in text  # only four people asked about it
    assert "postgres" not in text and "Project X" not in text  # two askers; a private channel
    assert "*Topics with no expert*\n• terraform" in text
    assert f"• <@{DANA}>: thanked 8 times for 6 answers to 6 people" in text
    assert f"<@{BOB}>" not in text  # answered only three people
    other = stats_reply(rig, BOB)
    assert other["response_type"] == "ephemeral"
    assert "13 questions from 8 people" in other["text"] and "terraform" in other["text"]
    assert "Top helpers" not in other["text"] and "<@" not in other["text"]
    assert not [m for m in rig.slack.messages(HELP) if "Peerbot stats" in m.get("text", "")]


def test_too_few_people_show_nothing_but_that(rig: Rig, clock: Clock) -> None:
    for i, person in enumerate((ALICE, BOB, DANA, PRIYA)):
        rig.people.post(person, HELP, f"How do I rotate the #vault token for service {i}?")
    text = stats_reply(rig, PRIYA)["text"]
    assert "Fewer than 5 people asked" in text and "too few people" in text
    assert "vault" not in text and "questions from" not in text
    rig.people.command(PRIYA, HELP, "/peerbot", "stats lots")
    assert "Usage: `/peerbot stats [weeks]`" in rig.slack.responses[-1]["json"]["text"]


def test_cli_prints_the_plain_report(rig: Rig, clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    two_weeks_of_questions(rig, clock)
    assert cli(rig.engine, team=None, weeks=8, now=clock.now) == 0
    out = capsys.readouterr().out
    assert out.startswith("Peerbot stats for TSANDBOX1 (8 weeks, 12 Jan 2026 to 08 Mar 2026, public channels)")
    assert "13 questions from 8 people" in out and "  terraform: 7 questions from 6 people" in out
    assert f"  {DANA}: thanked 8 times for 6 answers to 6 people" in out
    assert "*" not in out and "<@" not in out
    with Session(rig.engine) as s:
        s.add(Channel(team_id="TOTHER001", slack_id="C1", name="general", updated_at=clock.now))
        s.commit()
    assert cli(rig.engine, team=None, weeks=8, now=clock.now) == 2
    assert "TOTHER001, TSANDBOX1" in capsys.readouterr().err
    assert cli(rig.engine, team="TSANDBOX1", weeks=2, now=clock.now) == 0
    assert "(2 weeks, 23 Feb 2026" in capsys.readouterr().out
    assert cli(rig.engine, team="TNOPE0001", weeks=8, now=clock.now) == 2
    assert cli(rig.engine, team="TSANDBOX1", weeks=0, now=clock.now) == 2


def test_cli_without_data(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(engine, team=None, weeks=8) == 0
    assert capsys.readouterr().out == "no data yet\n"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_weekly_chart_is_a_small_png_and_none_without_enough_people(rig: Rig, clock: Clock) -> None:
    with Session(rig.engine) as s:
        assert weekly_activity_png(s, ws=WS, now=clock.now) is None
    two_weeks_of_questions(rig, clock)
    with Session(rig.engine) as s:
        png = weekly_activity_png(s, ws=WS, now=clock.now, weeks=12)
        weeks = workspace_stats(s, ws=WS, now=clock.now, weeks=12).weeks
    assert png is not None and _png_size(png) == (800, 400)
    assert matplotlib.image.imread(BytesIO(png), format="png").shape[:2] == (400, 800)
    assert [w.questions for w in weeks[-2:]] == [None, 11]


def test_files_upload_v2_lands_in_the_channel(rig: Rig, clock: Clock) -> None:
    two_weeks_of_questions(rig, clock)
    with Session(rig.engine) as s:
        png = weekly_activity_png(s, ws=WS, now=clock.now)
    assert png is not None
    done = rig.deps.client.files_upload_v2(
        channel=HELP, file=png, filename="activity.png", title="Weekly activity", initial_comment="Questions per week"
    )
    assert done["file"]["name"] == "activity.png" and done["file"]["size"] == len(png)
    [uploaded] = rig.slack.files(HELP)
    assert (uploaded["name"], uploaded["size"], uploaded["title"]) == ("activity.png", len(png), "Weekly activity")
    assert uploaded["initial_comment"] == "Questions per week" and uploaded["data"] == png
    [message] = [m for m in rig.slack.messages(HELP) if m.get("files")]
    assert message["text"] == "Questions per week" and message["files"][0]["id"] == uploaded["id"]
    assert "[file: activity.png]" in rig.slack.render_transcript()
    assert [c.method for c in rig.slack.calls][-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    with pytest.raises(SlackApiError) as failed:
        rig.deps.client.files_completeUploadExternal(files=[{"id": "F0NOPE", "title": "x"}], channel_id=HELP)
    assert failed.value.response["error"] == "file_not_found"
