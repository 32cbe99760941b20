"""/peerbot: ask, watch and unwatch (admins only), help; clear answers to bad input."""

from __future__ import annotations

from conftest import ALICE, BOB, HELP, PRIYA, RANDOM, Rig

from storage.models import Channel, Question


def last_response(rig: Rig) -> str:
    return str(rig.slack.responses[-1]["json"]["text"])


def test_ask_posts_quoted_question_and_captures_it(rig: Rig) -> None:
    d = rig.people.command(BOB, RANDOM, "/peerbot", "ask Where is the on-call runbook for payments? <!channel>")
    assert d.status == 200
    [post] = rig.slack.calls_to("chat.postMessage")
    assert post.args["channel"] == RANDOM
    assert "<!channel>" not in post.args["text"] and "&lt;!channel&gt;" in post.args["text"]
    [q] = rig.rows(Question)
    assert (q.author, q.source, q.channel) == (BOB, "command", RANDOM)
    assert q.text == "Where is the on-call runbook for payments? <!channel>"
    assert q.ts == rig.slack.messages(RANDOM)[-1]["ts"]
    assert "Your question is posted" in last_response(rig)


def test_ask_without_text_or_in_a_dm_or_unreachable_channel(rig: Rig) -> None:
    rig.people.command(BOB, RANDOM, "/peerbot", "ask")
    assert "Add your question" in last_response(rig)
    rig.slack.inject("chat.postMessage", error="not_in_channel")
    rig.people.command(BOB, RANDOM, "/peerbot", "ask How do I get a staging account?")
    assert "Invite me" in last_response(rig)
    assert rig.rows(Question) == []


def test_watch_is_admin_only_and_changes_capture(rig: Rig) -> None:
    question = "How do I request access to the data warehouse?"
    rig.people.command(BOB, RANDOM, "/peerbot", "watch")
    assert "Only workspace admins" in last_response(rig)
    rig.people.post(ALICE, RANDOM, question)
    assert rig.rows(Question) == []

    rig.people.command(PRIYA, RANDOM, "/peerbot", "watch")  # a workspace admin, from users.info
    assert "now watches #random" in last_response(rig)
    assert [(c.slack_id, c.watched, c.is_private) for c in rig.rows(Channel)] == [(RANDOM, True, False)]
    rig.people.post(ALICE, RANDOM, question)
    assert len(rig.rows(Question)) == 1

    rig.people.command(PRIYA, RANDOM, "/peerbot", "unwatch")
    assert "no longer watches" in last_response(rig)
    rig.people.post(ALICE, RANDOM, "How do I request access to the finance dashboards?")
    assert len(rig.rows(Question)) == 1


def test_help_and_unknown_subcommands(rig: Rig) -> None:
    rig.people.command(ALICE, HELP, "/peerbot", "")
    assert "/peerbot ask" in last_response(rig)
    rig.people.command(ALICE, HELP, "/peerbot", "frobnicate <@U123>")
    text = last_response(rig)
    assert "I don't know `frobnicate`" in text and "/peerbot ask" in text
