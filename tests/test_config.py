"""Configuration: one message names every problem; .env.example documents every key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_parsing() -> None:
    s = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "PEERBOT_WATCHED_CHANNELS": "C1, C2",
            "PEERBOT_VOTE_EMOJI": "+1=1, :heart:=2, -1=-1",
            "PORT": "8080",
        }
    )
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.watched_channels == {"C1", "C2"}
    assert s.vote_emoji == {"+1": 1.0, "heart": 2.0, "-1": -1.0}
    assert (s.port, s.database_url, s.socket_mode) == (8080, "sqlite:///peerbot.db", False)
    assert Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).socket_mode


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxp-user-token",
                "PORT": "eighty",
                "PEERBOT_WATCHED_CHANNELS": "general",
                "PEERBOT_VOTE_EMOJI": "+1=one",
                "LOG_LEVEL": "LOUD",
                "SLACK_API_URL": "ftp://x",
            }
        )
    text = str(info.value)
    for key in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "PORT",
        "PEERBOT_WATCHED_CHANNELS",
        "PEERBOT_VOTE_EMOJI",
        "LOG_LEVEL",
        "SLACK_API_URL",
    ):
        assert key in text
    assert len(info.value.problems) == 7


def test_settings_are_frozen() -> None:
    s = Settings.from_env({}, need_slack=False)
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_env_example_lists_every_key_read() -> None:
    source = (ROOT / "bot" / "config.py").read_text()
    read = set(re.findall(r'get\("([A-Z_]+)"', source)) | set(re.findall(r'\("(PEERBOT_[A-Z_]+)", "', source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read and read == documented


def test_run_without_tokens_exits_with_the_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN is missing" in err and "Traceback" not in err


def test_db_upgrade_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "x.db").exists()


def test_semantic_search_is_refused_with_a_reason_when_it_cannot_work(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "PEERBOT_SEMANTIC": "true"}
    monkeypatch.setattr("bot.semantic.available", lambda: False)
    with pytest.raises(ConfigError) as missing:
        Settings.from_env(base)
    assert any("pip install 'peerbot[semantic]'" in p for p in missing.value.problems)
    monkeypatch.setattr("bot.semantic.available", lambda: True)
    with pytest.raises(ConfigError) as engine:
        Settings.from_env({**base, "PEERBOT_SEARCH_ENGINE": "database"})
    assert engine.value.problems == [
        "PEERBOT_SEMANTIC needs PEERBOT_SEARCH_ENGINE=tantivy (the vectors live beside its index)"
    ]
    assert Settings.from_env(base).semantic is True
    assert Settings.from_env({**base, "PEERBOT_SEMANTIC": "false"}).semantic is False


def test_oauth_settings_need_both_credentials_and_http_mode() -> None:
    with pytest.raises(ConfigError) as half:
        Settings.from_env({"SLACK_CLIENT_ID": "123.456", "SLACK_SIGNING_SECRET": "s"})
    assert any("SLACK_CLIENT_SECRET" in p for p in half.value.problems)
    with pytest.raises(ConfigError) as no_secret:
        Settings.from_env({"SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "x"})
    assert no_secret.value.problems == ["OAuth installs are served in HTTP mode: set SLACK_SIGNING_SECRET"]
    oauth = Settings.from_env({"SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "x", "SLACK_SIGNING_SECRET": "s"})
    assert oauth.oauth and not oauth.socket_mode and not oauth.bot_token
