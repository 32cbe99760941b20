"""`peerbot run` in Socket Mode against the sandbox: envelopes and acks, reconnects, redelivery, two processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, SPECS
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, select
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from handlers import ids
from sandbox import Delivery, MethodCatalog, Sandbox
from sandbox.socket_mode import SocketMode
from storage.db import make_engine, normalise_url
from storage.models import Answer, Expert, ExpertTopic, ProcessedEvent, Question, QuestionTag

QUESTIONS = [
    "How do I rotate the staging postgres password?",
    "Where is the on-call runbook for payments?",
    "Who can approve a production deploy on Fridays?",
    "How do I get read access to the billing bucket?",
    "What is the VPN hostname for the Berlin office?",
    "Which dashboard shows kafka consumer lag?",
]
ANSWER = "Run vault write -f database/rotate-root/staging, then restart the api pods."
HANDLED = re.compile(r"peerbot\.events event type=(\S+) event_id=(\S+) outcome=(\S+) status=\d+ .* retry=(\S+)")


@dataclass
class Bot:
    """One `peerbot run` process in Socket Mode, its log in a file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def handled(self) -> list[tuple[str, str, str, str]]:
        """(type, event_id, outcome, retry) of every request a listener handled, from the log."""
        return [m.groups() for m in HANDLED.finditer(self.log.read_text(errors="replace"))]  # type: ignore[misc]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def poll(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for `condition` (checked every 50 ms); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def slack() -> Iterator[Sandbox]:
    catalog = MethodCatalog.load(SPECS)
    sandbox = Sandbox(catalog=catalog, strict=catalog is not None).start()
    try:
        for user, name in ((ALICE, "alice"), (DANA, "dana"), (BOB, "bob")):
            sandbox.add_user(user, name)
        sandbox.add_user(PRIYA, "priya", is_admin=True)
        sandbox.add_channel(HELP, "help-platform", members=[ALICE, DANA, BOB, PRIYA, sandbox.bot_user_id])
        yield sandbox
        assert sandbox.violations == [], "Web API calls that differ from Slack's method catalog"
        assert sandbox.socket_mode.problems == []
    finally:
        sandbox.stop()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite file, or a fresh schema on TEST_DATABASE_URL (the bot finds it through search_path)."""
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path / 'peerbot.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(pg))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(normalise_url(pg)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def start_bot(slack: Sandbox, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Bot]]:
    """Starts `peerbot run` processes (Socket Mode: SLACK_APP_TOKEN set); all are killed at teardown.

    `slack_cli=True` starts it as the Slack CLI's `start` hook does for `slack run`: the tokens arrive as
    SLACK_CLI_XOXB and SLACK_CLI_XAPP.
    """
    bots: list[Bot] = []

    def start(*, slack_cli: bool = False) -> Bot:
        n = len(bots) + 1
        tokens = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token}
        if slack_cli:
            tokens = {"SLACK_CLI_XOXB": slack.bot_token, "SLACK_CLI_XAPP": slack.app_token}
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PEERBOT_", "DATABASE_URL"))},
            **tokens,
            "SLACK_API_URL": slack.base_url,
            "DATABASE_URL": db_url,
            "PEERBOT_WATCHED_CHANNELS": HELP,
            "PEERBOT_SEARCH_INDEX_DIR": str(tmp_path / f"index-{n}"),  # each replica keeps its own index files
            "LOG_LEVEL": "INFO",
        }
        log = tmp_path / f"peerbot-{n}.log"
        with log.open("wb") as out:
            command = ["-m", "bot.slack_cli", "start"] if slack_cli else ["-m", "bot", "run", "--no-scheduler"]
            proc = subprocess.Popen(
                [sys.executable, *command],
                env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        bot = Bot(proc, log)
        bots.append(bot)
        try:
            slack.socket_mode.wait_for_connections(n, timeout=30)
        except TimeoutError:
            raise AssertionError(f"peerbot {n} did not connect:\n{log.read_text(errors='replace')[-3000:]}") from None
        return bot

    try:
        yield start
    finally:
        for bot in bots:
            bot.stop()


def rows(db_url: str, model: type[SQLModel]) -> list[Any]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(model)))
    finally:
        engine.dispose()


def eyes(slack: Sandbox) -> Counter[str]:
    """How many times the bot added 👀, by message ts."""
    return Counter(str(c.args["timestamp"]) for c in slack.calls_to("reactions.add") if c.args.get("name") == "eyes")


def settle(slack: Sandbox) -> None:
    """Wait for every envelope's ack, late ones too (the first try of a redelivered event may still be running)."""
    poll(lambda: all(e.acked_at is not None for e in slack.socket_mode.envelopes), what="every envelope's ack")


def closed(socket_mode: SocketMode, connection: str) -> bool:
    return connection not in socket_mode.open_connections()


def event_ids(deliveries: list[Delivery]) -> list[str]:
    return [str(d.payload["event_id"]) for d in deliveries if d.kind == "event"]


# --- the sandbox's side of the protocol, with a plain WebSocket client --------------------------------


def test_socket_mode_speaks_slacks_framing(slack: Sandbox) -> None:
    socket_mode = slack.socket_mode
    socket_mode.ack_timeout = 0.5
    people = socket_mode.deliverer()
    with pytest.raises(SlackApiError) as wrong:
        slack.client().apps_connections_open(app_token=slack.bot_token)
    assert wrong.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token=slack.app_token, base_url=slack.base_url).auth_test()
    assert wrong.value.response["error"] == "not_allowed_token_type"
    url = str(WebClient(base_url=slack.base_url).apps_connections_open(app_token=slack.app_token)["url"])
    assert re.fullmatch(rf"ws://127\.0\.0\.1:\d+/link/\?ticket=\w+&app_id={slack.app_id}", url)

    with connect(url) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": slack.app_id} and hello["debug_info"]["host"]

        done: dict[str, Delivery] = {}
        thread = threading.Thread(target=lambda: done.update(d=people.command(ALICE, HELP, "/peerbot", "help")))
        thread.start()
        command = json.loads(ws.recv(timeout=5))
        assert set(command) == {"envelope_id", "payload", "type", "accepts_response_payload"}
        assert command["type"] == "slash_commands" and command["accepts_response_payload"] is True
        assert command["payload"]["command"] == "/peerbot" and command["payload"]["user_id"] == ALICE
        ws.send(json.dumps({"envelope_id": command["envelope_id"], "payload": {"text": "Here is how."}}))
        thread.join(timeout=5)
        assert done["d"].status == 200 and done["d"].json() == {"text": "Here is how."}
        assert slack.responses[-1]["json"] == {"text": "Here is how."}  # shown to the user like a command reply

        thread = threading.Thread(target=lambda: people.post(ALICE, HELP, "Anyone knows the wifi password?"))
        thread.start()
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "events_api" and first["accepts_response_payload"] is False
        assert (first["retry_attempt"], first["retry_reason"]) == (0, "")
        assert first["payload"]["type"] == "event_callback" and first["payload"]["event"]["type"] == "message"
        again = json.loads(ws.recv(timeout=5))  # no ack in time: the same event again
        assert (again["retry_attempt"], again["retry_reason"]) == (1, "timeout")
        assert again["payload"]["event_id"] == first["payload"]["event_id"]
        assert again["envelope_id"] != first["envelope_id"]
        ws.send(json.dumps({"envelope_id": again["envelope_id"]}))
        thread.join(timeout=5)
        assert people.last is not None and people.last.status == 200 and people.last.body == ""

        socket_mode.max_connections = 1
        extra_url = str(WebClient(base_url=slack.base_url).apps_connections_open(app_token=slack.app_token)["url"])
        with connect(extra_url) as extra:
            assert json.loads(extra.recv(timeout=5))["reason"] == "too_many_websockets"
        socket_mode.disconnect("warning")
        assert json.loads(ws.recv(timeout=5))["type"] == "disconnect"
        socket_mode.close()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011

    socket_mode.max_connections = 10
    with connect(str(WebClient(base_url=slack.base_url).apps_connections_open(app_token=slack.app_token)["url"])) as ws:
        assert json.loads(ws.recv(timeout=5))["num_connections"] == 1
        socket_mode.drop()
        with pytest.raises(ConnectionClosed) as reset:
            ws.recv(timeout=5)
        assert reset.value.rcvd is None  # no close frame: the TCP connection was reset
    with pytest.raises(InvalidStatus):  # a ticket opens one connection only
        connect(url)
    stats = socket_mode.stats()
    assert (stats["deliveries"], stats["sent"], stats["acked"], stats["redelivered"]) == (2, 3, 2, 1)
    assert (stats["urls_issued"], stats["connections"], stats["closed_by_sandbox"]) == (3, 3, 2)


# --- the real bot ---------------------------------------------------------------------------------


def test_slack_cli_start_hook_runs_peerbot_with_the_local_run_tokens(
    slack: Sandbox, start_bot: Callable[..., Bot], db_url: str
) -> None:
    """`slack run` calls the start hook with SLACK_CLI_XOXB/SLACK_CLI_XAPP: Peerbot connects and works."""
    start_bot(slack_cli=True)
    people = slack.socket_mode.deliverer()
    q = people.post(ALICE, HELP, QUESTIONS[0])
    poll(lambda: eyes(slack) == {q: 1}, what="the 👀 on the question")
    assert [row.ts for row in rows(db_url, Question)] == [q]
    assert slack.calls_to("apps.connections.open")


def test_every_envelope_is_acked_and_handled_once(slack: Sandbox, start_bot: Callable[[], Bot], db_url: str) -> None:
    start_bot()
    people = slack.socket_mode.deliverer()

    command = people.command(PRIYA, HELP, "/peerbot", "expert add postgres")
    q = people.post(ALICE, HELP, QUESTIONS[0])
    a = people.post(DANA, HELP, ANSWER, thread_ts=q)
    people.react(ALICE, HELP, a, "white_check_mark")
    poll(lambda: ids.EDIT_TOPICS in str(slack.ephemerals(ALICE)), what="the note that the question was kept")
    click = people.click(ALICE, ids.EDIT_TOPICS)  # on the ephemeral note that the question was kept
    [modal] = slack.open_modals(ALICE)
    refused = people.submit(ALICE, modal["id"], {ids.TOPICS_BLOCK: {ids.TOPICS_INPUT: "!!!"}})
    saved = people.submit(ALICE, modal["id"], {ids.TOPICS_BLOCK: {ids.TOPICS_INPUT: "postgres, secrets"}})
    settle(slack)

    assert all(d.status == 200 for d in people.events)
    assert command.body == "" and "postgres" in str(slack.responses[0]["json"])  # respond(): the response_url
    assert click.body == ""
    assert refused.json()["response_action"] == "errors" and ids.TOPICS_BLOCK in refused.json()["errors"]
    assert saved.body == "" and slack.open_modals(ALICE) == []
    kinds = Counter(e.type for e in slack.socket_mode.envelopes if not e.redelivery)
    assert kinds == {"events_api": 3, "slash_commands": 1, "interactive": 3}
    stats = slack.socket_mode.stats()
    assert stats["deliveries"] == stats["acked"] == len(people.events) == 7
    assert stats["undelivered"] == stats["unacked"] == 0
    assert [e.response for e in slack.socket_mode.envelopes if e.response] == [refused.json()]

    [question] = rows(db_url, Question)
    assert question.ts == q
    [answer] = rows(db_url, Answer)
    assert (answer.ts, answer.author, answer.accepted) == (a, DANA, True)
    [expert] = rows(db_url, Expert)
    assert expert.user_id == PRIYA and [t.tag for t in rows(db_url, ExpertTopic)] == ["postgres"]
    assert sorted(t.tag for t in rows(db_url, QuestionTag)) == ["postgres", "secrets"]
    assert sorted(e.event_id for e in rows(db_url, ProcessedEvent)) == sorted(event_ids(people.events))
    assert eyes(slack) == {q: 1}
    assert len(slack.calls_to("views.open")) == 1


def test_disconnects_and_a_dropped_socket_lose_and_double_nothing(
    slack: Sandbox, start_bot: Callable[[], Bot], db_url: str
) -> None:
    start_bot()
    socket_mode = slack.socket_mode
    people = socket_mode.deliverer()
    asked = [people.post(ALICE, HELP, QUESTIONS[0])]
    for n, reason in enumerate(("warning", "refresh_requested"), start=1):
        old = socket_mode.disconnect(reason)
        [new] = socket_mode.wait_for_connections(1)  # a new apps.connections.open, a new connection
        assert new != old
        asked.append(people.post(ALICE, HELP, QUESTIONS[n]))
        poll(partial(closed, socket_mode, old), what=f"the app to close {old} ({reason})")
    # A reset is noticed at the client's next ping check, unless an ack in flight meets it first.
    settle(slack)
    dropped = socket_mode.drop()
    asked.append(people.post(ALICE, HELP, QUESTIONS[3]))  # goes out once the app has reconnected
    settle(slack)

    links = socket_mode.connections
    assert [x.closed_by for x in links] == ["app", "app", "sandbox", ""] and links[2].id == dropped
    assert [len(x.envelopes) > 0 for x in links] == [True, True, True, True]
    assert all(e.sent_at < (x.closed_at or 0) for x in links[:3] for e in socket_mode.envelopes if e.connection == x.id)
    stats = socket_mode.stats()
    assert (stats["urls_issued"], stats["connections"], stats["closed_by_sandbox"]) == (4, 4, 1)
    assert stats["deliveries"] == stats["acked"] == 4 and stats["undelivered"] == 0
    assert stats["sent"] == 4 + stats["redelivered"]
    assert sorted(q.ts for q in rows(db_url, Question)) == sorted(asked)
    assert eyes(slack) == dict.fromkeys(asked, 1)
    assert Counter(e.event_id for e in rows(db_url, ProcessedEvent)) == dict.fromkeys(event_ids(people.events), 1)


def test_unacked_envelopes_are_redelivered_and_processed_once(
    slack: Sandbox, start_bot: Callable[[], Bot], db_url: str
) -> None:
    bot = start_bot()
    socket_mode = slack.socket_mode
    people = socket_mode.deliverer()
    socket_mode.lose_acks(1)  # the bot's ack never arrives
    lost = people.post(ALICE, HELP, QUESTIONS[0])
    socket_mode.drop_after_send(1)  # the connection closes before the bot can ack
    cut = people.post(BOB, HELP, QUESTIONS[1])
    answer = people.post(DANA, HELP, ANSWER, thread_ts=lost)

    def attempts(ts: str) -> list[Any]:
        return [e for e in socket_mode.envelopes if e.payload["event"]["ts"] == ts]

    first, *retries = attempts(lost)
    assert first.lost_acks == 1 and not first.acked and retries[-1].acked
    assert (retries[0].retry_attempt, retries[0].retry_reason) == (1, "timeout")
    assert {e.event_id for e in retries} == {first.event_id} and retries[0].envelope_id != first.envelope_id
    first, *retries = attempts(cut)
    assert not first.acked and retries[-1].acked and retries[0].connection != first.connection
    assert attempts(answer)[-1].acked
    stats = socket_mode.stats()
    assert stats["deliveries"] == stats["acked"] == 3 and stats["sent"] == 3 + stats["redelivered"] >= 5
    assert stats["undelivered"] == 0 and (stats["urls_issued"], stats["closed_by_sandbox"]) == (2, 1)
    poll(lambda: len(bot.handled()) == stats["sent"], what="a log line for every envelope the bot got")

    assert sorted(q.ts for q in rows(db_url, Question)) == sorted([lost, cut])
    assert [a.ts for a in rows(db_url, Answer)] == [answer]
    assert eyes(slack) == {lost: 1, cut: 1}
    assert Counter(e.event_id for e in rows(db_url, ProcessedEvent)) == dict.fromkeys(event_ids(people.events), 1)
    retried = [h for h in bot.handled() if h[3] != "0"]
    assert len(retried) == stats["redelivered"] and all(h[2] == "ok" for h in retried)  # and changed nothing


def test_two_processes_share_the_envelopes_and_handle_each_once(
    slack: Sandbox, start_bot: Callable[[], Bot], db_url: str
) -> None:
    bots = [start_bot(), start_bot()]  # one after the other: the first applies the migrations
    socket_mode = slack.socket_mode
    people = socket_mode.deliverer()
    asked = [people.post(ALICE, HELP, text) for text in QUESTIONS[:4]]
    socket_mode.lose_acks(1)  # this one's retry goes to the other process, which finds it handled
    asked.append(people.post(BOB, HELP, QUESTIONS[4]))
    asked.append(people.post(BOB, HELP, QUESTIONS[5]))

    links = socket_mode.connections
    assert len(links) == 2 and all(x.open for x in links)
    assert all(len(x.envelopes) >= 3 for x in links)
    lost = next(e for e in socket_mode.envelopes if e.lost_acks)
    retry = next(e for e in socket_mode.envelopes if e.redelivery and e.event_id == lost.event_id)
    assert retry.connection != lost.connection and retry.acked
    stats = socket_mode.stats()
    assert stats["deliveries"] == stats["acked"] == 6 and stats["sent"] == 6 + stats["redelivered"] >= 7

    poll(lambda: sum(len(b.handled()) for b in bots) == stats["sent"], what="both logs to show every envelope")
    assert all(b.handled() for b in bots)
    assert sorted(q.ts for q in rows(db_url, Question)) == sorted(asked)
    assert eyes(slack) == dict.fromkeys(asked, 1)
    assert Counter(e.event_id for e in rows(db_url, ProcessedEvent)) == dict.fromkeys(event_ids(people.events), 1)
