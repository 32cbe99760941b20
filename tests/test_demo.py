"""The demo tells its story through the real bot: the transcript and the stored rows agree."""

from __future__ import annotations

from bot.__main__ import main
from bot.demo import run_demo


def test_demo_story() -> None:
    lines: list[str] = []
    assert run_demo(lines.append) == 0
    text = "\n".join(lines)
    seen, stored = text.split("What Peerbot stored:")
    assert "Peerbot now watches #help-platform" in seen
    assert ":eyes: added by Peerbot on Alice Chen's message" in seen
    assert "retry #1 of" in seen and "HTTP 200, ignored" in seen
    assert "[Answer] [Pass] [Snooze 1h] [Suggest someone]" in seen  # the expert's DM
    assert "answered via Peerbot:" in seen and "answered your question in the thread" in seen
    assert "Answered by @" in seen  # the DM was updated
    assert "routing sweep asks the next expert" in seen and seen.count("passed it on") == 2
    assert "#platform-escalations  Peerbot: Nobody has answered this question" in seen
    assert "Colleagues answered similar questions before" in seen and "[This solved it]" in seen
    assert "it has now helped 1 person" in seen
    assert "Forged request → HTTP 401" in seen
    assert "DM Peerbot → Sam Rivera: Welcome to the team, Sam!" in seen and "[Your topics]" in seen
    assert "Your buddy: @" in seen and "most helpful in postgres" in seen  # the nudge after the topic choice
    assert "#help-platform  Peerbot: *This week in #help-platform*" in seen and "Still waiting for an answer" in seen
    assert "*Open questions in your topics* (1)" in seen
    assert "It's the nightly VACUUM" in stored  # answered from the digest
    assert "[Home tab of Dana Okafor, published by Peerbot] Peerbot" in seen
    assert "*Your topics* (credibility from 0 to 1): postgres (0.50)" in seen and "helped 1 person" in seen
    assert "[resolved] Alice Chen in #help-platform (implicit)" in stored
    assert (
        "score +3, accepted" in stored
    )  # Bob's and a colleague's 👍 and Alice's ✅; the answerer's own 👍 does not count
    assert "(reaction)" in stored and "lunch" not in stored
    assert "solved by the answer to question 1 (a duplicate; nobody was pinged)" in stored


def test_cli_demo_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo"]) == 0
    assert "What Peerbot stored:" in capsys.readouterr().out
