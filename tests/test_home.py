"""The App Home through the real app: each kind of person sees their own tab, valid Block Kit, refreshed on change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, Clock, Rig, make_rig
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import Engine

from handlers import ids
from scheduled.jobs import nudge, refresh_homes
from storage.models import User

HIRE = "UNEWHIRE1"


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    for r in make_rig(engine, clock, PEERBOT_ADMINS=PRIYA):
        r.slack.add_user(HIRE, "sam", real_name="Sam Rivera", tz="Europe/London")
        yield r


def home_of(rig: Rig, user: str) -> dict[str, Any]:
    rig.people.open_home(user)
    view = rig.slack.home(user)
    assert view is not None, f"no Home tab published for {user}"
    checked = View(**{k: view[k] for k in ("type", "blocks")})
    checked.validate_json()  # the view, and each block within Slack's limits
    assert len(view["blocks"]) <= 100
    for raw, block in zip(view["blocks"], checked.blocks, strict=True):
        assert block is not None, f"not a Block Kit block: {raw}"
        block.validate_json()
        assert Block.parse(raw) is not None
    return view


def text_of(view: dict[str, Any]) -> str:
    return str(view["blocks"])


def test_an_askers_home_lists_their_questions_with_pages(rig: Rig, clock: Clock) -> None:
    for i in range(7):
        rig.people.post(ALICE, HELP, f"How do I configure the #vpn client on laptop model {i}?")
        clock.advance(minutes=1)
    view = home_of(rig, ALICE)
    text = text_of(view)
    assert "*Your questions*: 7 open" in text and "laptop model 6" in text and "laptop model 1" not in text
    assert "Become an expert" in text and "For admins" not in text and "Your onboarding" not in text
    rig.people.click(ALICE, ids.HOME_PAGE)  # "Older questions"
    older = text_of(rig.slack.home(ALICE) or {})
    assert "laptop model 1" in older and "laptop model 6" not in older and "Newer" in older
    assert "Peerbot" in text and view["type"] == "home"


def test_an_experts_home_shows_requests_with_answer_buttons_and_credibility(rig: Rig, clock: Clock) -> None:
    clock.advance(hours=5)  # 10:00 in New York: Dana is at work
    rig.people.command(DANA, HELP, "/peerbot", "expert add postgres")
    q = rig.people.post(ALICE, HELP, "How do I rotate the #postgres password on staging?")
    view = home_of(rig, DANA)
    text = text_of(view)
    assert "*Waiting for you* (1)" in text and "rotate the #postgres password" in text
    assert "*Your topics* (credibility from 0 to 1): postgres (0.50)" in text
    rig.people.click(DANA, ids.ANSWER)  # straight from the Home tab: the routing modal
    [modal] = rig.slack.open_modals(DANA)
    rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "Use vault."}})
    [reply] = rig.slack.replies(HELP, q)
    rig.people.react(ALICE, HELP, reply["ts"], "+1")
    assert refresh_homes(rig.deps) >= 1  # Dana's request was answered: her tab is republished
    text = text_of(rig.slack.home(DANA) or {})
    assert "Waiting for you" not in text and "You answered 1 questions · votes +1" in text
    rig.people.click(DANA, ids.HOME_EXPERT_SETTINGS)
    assert rig.slack.open_modals(DANA)  # the expert settings modal
    assert refresh_homes(rig.deps) == 0  # nothing changed since


def test_a_new_hires_home_shows_the_onboarding_checklist(rig: Rig, clock: Clock) -> None:
    rig.people.team_join(HIRE)
    nudge(rig.deps)  # 10:00 in London: the welcome
    text = text_of(home_of(rig, HIRE))
    assert "*Your onboarding* (`default`, active): 0 of 5 steps done" in text
    assert ":envelope: welcome" in text and ":hourglass: first-answers" in text
    dm = rig.slack.dm_channel(HIRE)
    rig.people.click(HIRE, ids.NUDGE_DONE, message=(dm, rig.slack.dm_messages(HIRE)[-1]["ts"]))
    assert refresh_homes(rig.deps) == 1
    assert ":white_check_mark: welcome" in text_of(rig.slack.home(HIRE) or {})


def test_an_admins_home_has_the_knowledge_gap_summary_and_admin_commands(rig: Rig) -> None:
    for i in range(5):
        person = f"UASKER{i:03d}"
        rig.slack.add_user(person, f"asker{i}")
        rig.slack.world.channels[HELP]["members"].append(person)
        rig.people.post(person, HELP, f"How do I scale the #terraform module number {i}?")
    text = text_of(home_of(rig, PRIYA))
    assert "*For admins*" in text and "5 questions from 5 people" in text and "terraform (5)" in text
    assert "No expert: terraform" in text and "`peerbot export`" in text
    assert "For admins" not in text_of(home_of(rig, BOB))


def test_homes_nobody_opened_are_never_published_by_the_sweep(rig: Rig) -> None:
    rig.people.command(DANA, HELP, "/peerbot", "expert add postgres")
    rig.people.post(ALICE, HELP, "How do I rotate the #postgres password on staging?")
    assert refresh_homes(rig.deps) == 0 and rig.slack.calls_to("views.publish") == []
    assert all(not u.home_stale for u in rig.rows(User))
