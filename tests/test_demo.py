"""The demo tells its story through the real bot: the transcript and the stored rows agree."""

from __future__ import annotations

from bot.__main__ import main
from bot.demo import run_demo


def test_demo_story(capsys) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    assert run_demo(lines.append) == 0
    text = "\n".join(lines)
    assert "Peerbot now watches #help-platform" in text
    assert ":eyes: added by Peerbot on Alice Chen's message" in text
    assert "retry #1 of" in text and "HTTP 200, ignored" in text
    assert "Forged request → HTTP 401" in text
    assert text.count(":eyes: added by Peerbot") == 2  # Alice's question and the ❓-marked one, once each
    assert "[resolved] Alice Chen in #help-platform (implicit)" in text
    assert "score +3, accepted" in text  # Bob's and Priya's 👍 and Alice's ✅; Dana's own 👍 does not count
    assert "(command)" in text and "(reaction)" in text
    assert "lunch?" in text and "lunch" not in text.split("What Peerbot stored:")[1]


def test_cli_demo_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo"]) == 0
    assert "What Peerbot stored:" in capsys.readouterr().out
