"""`peerbot run --http` as a user starts it: a real process, migrations on start, the sandbox as Slack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ALICE, HELP
from sqlmodel import Session, select

from sandbox import Deliverer, Sandbox
from storage.db import make_engine
from storage.models import Question


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait for the server process to answer /healthz (it is starting up: a real wait, bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"peerbot exited early: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("peerbot did not become healthy in time")


@pytest.fixture(params=["database index", "tantivy index"])
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Sandbox, str, str]]:
    slack = Sandbox().start()
    slack.add_user(ALICE, "alice", real_name="Alice Chen")
    slack.add_channel(HELP, "help-platform", members=[ALICE, slack.bot_user_id])
    db_url = f"sqlite:///{tmp_path / 'run.db'}"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PEERBOT_"))},
        "SLACK_BOT_TOKEN": "xoxb-sandbox-token",
        "SLACK_SIGNING_SECRET": "sandbox-signing-secret",
        "SLACK_API_URL": slack.base_url,
        "DATABASE_URL": db_url,
        "PEERBOT_WATCHED_CHANNELS": HELP,
        "LOG_LEVEL": "WARNING",
    }
    if request.param == "tantivy index":
        env["PEERBOT_SEARCH_INDEX_DIR"] = str(tmp_path / "index")  # missing: rebuilt at start
    else:
        env["PEERBOT_SEARCH_ENGINE"] = "database"
    cmd = [sys.executable, "-m", "bot", "run", "--http", "--port", str(port), "--no-scheduler"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield slack, url, db_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        slack.stop()


def test_peerbot_run_http_end_to_end(running: tuple[Sandbox, str, str]) -> None:
    slack, url, db_url = running
    people = Deliverer(slack, url + "/slack/events")
    ts = people.post(ALICE, HELP, "How do I rotate the staging database password?")
    assert people.last is not None and people.last.status == 200
    assert [r["name"] for r in slack.reactions(HELP, ts)] == ["eyes"]
    with Session(make_engine(db_url)) as s:
        assert [q.ts for q in s.exec(select(Question))] == [ts]
    assert people.send_event({"type": "message"}, raw_body="not json at all {").status == 400
