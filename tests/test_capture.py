"""Capturing questions and answers through the real app: signed events in, rows and Slack calls out."""

from __future__ import annotations

from conftest import ALICE, BOB, DANA, HELP, RANDOM, SECRET, Rig

from storage.models import Answer, FollowUp, Question


def test_implicit_question_in_watched_channel_is_captured_with_a_light_touch(rig: Rig) -> None:
    ts = rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    [q] = rig.rows(Question)
    assert (q.channel, q.ts, q.thread_ts, q.author, q.source, q.status) == (HELP, ts, ts, ALICE, "implicit", "open")
    assert q.text == "How do I rotate the staging database password?" and not q.is_private
    [react] = rig.slack.calls_to("reactions.add")
    assert react.args.items() >= {"channel": HELP, "timestamp": ts, "name": "eyes"}.items()
    assert rig.slack.calls_to("chat.postMessage") == []  # never a noisy reply
    assert [r["name"] for r in rig.slack.reactions(HELP, ts)] == ["eyes"]


def test_chatter_and_small_talk_are_not_captured_and_cost_no_calls(rig: Rig) -> None:
    for text in ("lunch?", "ok?", "deploy finished, all green", "", "🎉🎉"):
        rig.people.post(BOB, HELP, text)
    assert rig.rows(Question) == []
    assert rig.methods() == []


def test_unwatched_channel_ignores_implicit_questions(rig: Rig) -> None:
    rig.people.post(ALICE, RANDOM, "How do I rotate the staging database password?")
    assert rig.rows(Question) == []


def test_thread_replies_become_answers_and_the_askers_own_are_follow_ups(rig: Rig) -> None:
    ts = rig.people.post(ALICE, HELP, "Where can I find the VPN config for the Berlin office?")
    a1 = rig.people.post(DANA, HELP, "It's on the IT wiki under Network > VPN.", thread_ts=ts)
    f1 = rig.people.post(ALICE, HELP, "Thanks! Does it work on Linux too?", thread_ts=ts)
    a2 = rig.people.post(BOB, HELP, "Yes, use the openvpn profile.", thread_ts=ts, broadcast=True)
    answers = rig.rows(Answer)
    assert [(a.ts, a.author, a.via) for a in answers] == [(a1, DANA, "thread"), (a2, BOB, "thread")]
    assert [(f.ts, f.author) for f in rig.rows(FollowUp)] == [(f1, ALICE)]
    assert rig.rows(Question)[0].status == "answered"


def test_replies_in_threads_of_uncaptured_messages_are_ignored(rig: Rig) -> None:
    ts = rig.people.post(BOB, HELP, "deploy finished, all green")
    rig.people.post(DANA, HELP, "nice work, thanks for watching it", thread_ts=ts)
    assert rig.rows(Answer) == [] and rig.rows(FollowUp) == []


def test_edits_and_deletes_follow_slack(rig: Rig) -> None:
    ts = rig.people.post(ALICE, HELP, "How do I restart the staging workers?")
    ans = rig.people.post(DANA, HELP, "kubectl rollout restart deploy/wrk", thread_ts=ts)
    rig.people.edit(DANA, HELP, ans, "kubectl rollout restart deploy/workers -n staging")
    rig.people.edit(ALICE, HELP, ts, "How do I restart the staging queue workers?")
    assert rig.rows(Answer)[0].text == "kubectl rollout restart deploy/workers -n staging"
    assert rig.rows(Question)[0].text == "How do I restart the staging queue workers?"
    rig.people.delete(DANA, HELP, ans)
    assert rig.rows(Answer) == []
    assert rig.rows(Question)[0].status == "open"  # no answer left
    rig.people.delete(ALICE, HELP, ts)
    assert rig.rows(Question) == []


def test_deleting_a_question_with_replies_removes_it_and_its_answers(rig: Rig) -> None:
    ts = rig.people.post(ALICE, HELP, "How do I get access to the billing dashboard?")
    rig.people.post(DANA, HELP, "Ask in #it-help with your manager's ok.", thread_ts=ts)
    rig.people.delete(ALICE, HELP, ts)  # Slack turns a parent with replies into a tombstone
    assert rig.rows(Question) == [] and rig.rows(Answer) == []


def test_mention_captures_in_any_channel_once(rig: Rig) -> None:
    bot = rig.slack.bot_user_id
    ts = rig.people.post(BOB, RANDOM, f"<@{bot}> what is the process for requesting a new laptop")
    [q] = rig.rows(Question)
    assert (q.ts, q.source, q.text) == (ts, "mention", "what is the process for requesting a new laptop")
    assert len(rig.slack.calls_to("reactions.add")) == 1  # the message event did not capture it twice


def test_bare_mention_gets_a_hint_not_a_capture(rig: Rig) -> None:
    rig.people.post(BOB, RANDOM, f"<@{rig.slack.bot_user_id}>")
    assert rig.rows(Question) == []
    [hint] = rig.slack.calls_to("chat.postEphemeral")
    assert hint.args["user"] == BOB and "Ask me a question" in hint.args["text"]


def test_question_reaction_captures_any_message_even_in_a_thread(rig: Rig) -> None:
    ts = rig.people.post(BOB, RANDOM, "the VPN keeps dropping for me from the Berlin office")
    reply = rig.people.post(ALICE, RANDOM, "same here, anyone know a fix", thread_ts=ts)
    rig.people.react(DANA, RANDOM, ts, "question")
    rig.people.react(DANA, RANDOM, reply, "question")
    rig.people.react(BOB, RANDOM, ts, "question")  # a second ❓ changes nothing
    qs = sorted(rig.rows(Question), key=lambda q: q.ts)
    assert [(q.ts, q.author, q.source, q.thread_ts) for q in qs] == [
        (ts, BOB, "reaction", ts),
        (reply, ALICE, "reaction", ts),
    ]
    assert "conversations.replies" in rig.methods()  # a thread reply is not in the channel history


def test_message_shortcut_captures_and_tells_the_clicker(rig: Rig) -> None:
    ts = rig.people.post(BOB, RANDOM, "the staging certs expire next week, who renews them")
    d = rig.people.message_shortcut(ALICE, RANDOM, ts, "ask_peerbot")
    assert d.status == 200
    [q] = rig.rows(Question)
    assert (q.ts, q.author, q.source) == (ts, BOB, "shortcut")
    assert "Captured as a question" in rig.slack.responses[-1]["json"]["text"]
    rig.people.message_shortcut(DANA, RANDOM, ts, "ask_peerbot")
    assert "already captured" in rig.slack.responses[-1]["json"]["text"]
    assert len(rig.rows(Question)) == 1


def test_private_channel_questions_are_marked_private(rig: Rig) -> None:
    rig.people.post(ALICE, SECRET, f"<@{rig.slack.bot_user_id}> how do we deploy the prototype?")
    assert rig.rows(Question)[0].is_private


def test_bots_and_joins_are_ignored(rig: Rig) -> None:
    rig.people.bot_post(HELP, "How do I rotate the staging database password?", bot_id="BOTHER01")
    rig.people.join(BOB, HELP)
    assert rig.rows(Question) == []


def test_long_emoji_rtl_and_file_only_messages(rig: Rig) -> None:
    long = "How do I configure the build cache for monorepo services? " + "x" * 40_000
    ts1 = rig.people.post(ALICE, HELP, long)
    ts2 = rig.people.post(ALICE, HELP, "كيف أغير كلمة المرور؟ 🔐")
    ts3 = rig.people.post(DANA, HELP, "", thread_ts=ts1, files=["screenshot.png"])
    [q] = rig.rows(Question)
    assert q.ts == ts1 and len(q.text) == 40_000
    assert ts2 not in {x.ts for x in rig.rows(Question)}
    [a] = rig.rows(Answer)
    assert (a.ts, a.text) == (ts3, "(attached: screenshot.png)")
