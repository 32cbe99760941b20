"""Bench helpers: a sandbox workspace, signed Slack requests of realistic shape, a no-I/O client, stats."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from sandbox import Sandbox, payloads, sign
from sandbox import messages as msgs
from sandbox.mrkdwn import rich_text_blocks

CHANNEL = "CBENCH001"
PEOPLE = tuple(f"UBENCH{i:03d}" for i in range(1, 9))
MIX = (("chatter", 70), ("question", 15), ("answer", 10), ("vote", 5))  # the steady load, in percent
KINDS = tuple(kind for kind, _ in MIX)

CHATTER = (
    "deploy finished, all green 🎉",
    "thanks!",
    "see you at standup",
    "lgtm",
    "merged, thanks for the review",
    "the build on main is red again, looking",
    "nice work on the release notes",
    "PR is up: https://github.com/acme/api/pull/42",
)
ENVS = ("staging", "production", "qa", "sandbox")
SERVICES = ("billing-api", "search", "checkout", "auth", "reporting", "notifications")
ANSWERS = (
    "You can rotate it with vault: `vault write -f database/rotate-root/{env}`, the runbook has the details.",
    "Run the rotate-password job in Jenkins for {env}, it updates the secret in the cluster too.",
    "Ask in #infra first, then follow the {env} runbook: rotate, restart the pods, check the dashboards.",
)


@dataclass(frozen=True)
class Request:
    """One signed POST Slack would send to /slack/events."""

    kind: str
    body: bytes
    headers: dict[str, str]


def start_sandbox() -> Sandbox:
    """A sandbox Slack with eight people and a help channel the bot is a member of."""
    slack = Sandbox().start()
    for i, user in enumerate(PEOPLE):
        slack.add_user(user, f"person{i + 1}", real_name=f"Person {i + 1}")
    slack.add_channel(CHANNEL, "help-platform", members=[*PEOPLE, slack.bot_user_id])
    return slack


def store_message(slack: Sandbox, text: str, user: str = PEOPLE[0]) -> str:
    """Put a message in the help channel of the sandbox (so reactions.add finds it); its ts."""
    return str(msgs.post(slack.world, CHANNEL, {"user": user, "text": text})["ts"])


def bot_env(slack: Sandbox, database_url: str) -> dict[str, str]:
    """The environment Peerbot reads (Settings.from_env), pointed at `slack` and `database_url`."""
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.base_url,
        "DATABASE_URL": database_url,
        "PEERBOT_WATCHED_CHANNELS": CHANNEL,
        "LOG_LEVEL": "WARNING",
    }


@dataclass
class Workload:
    """Builds signed event_callback requests (unique event_id and ts each) of Slack's real shapes.

    Questions and answers are stored in the sandbox, so the bot's reactions.add finds its message;
    chatter is not (nothing looks it up). Replies and votes refer to questions and answers made at
    least `lag` requests earlier, so in a paced stream the bot has stored what they refer to.
    """

    slack: Sandbox
    seed: int = 7
    lag: int = 0
    questions: list[tuple[int, str, str, str]] = field(default_factory=list)  # (made at, ts, asker, env)
    answers: list[tuple[int, str, str, set[str]]] = field(default_factory=list)  # (made at, ts, author, voters)
    made: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.world = self.slack.world

    def _signed(self, kind: str, event: dict[str, Any]) -> Request:
        body = json.dumps(payloads.envelope(self.world, self.slack.verification_token, event))
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.slack.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        self.made[kind] += 1
        return Request(kind, body.encode(), headers)

    def _message(self, user: str, text: str, *, thread_ts: str | None = None, store: bool) -> dict[str, Any]:
        message: dict[str, Any] = {"client_msg_id": f"{self.rng.getrandbits(128):032x}", "type": "message"}
        message.update(text=text, user=user, team=self.slack.team_id, blocks=rich_text_blocks(text))
        if thread_ts:
            message["thread_ts"] = thread_ts
        if store:
            return msgs.post(self.world, CHANNEL, message)
        message["ts"] = self.world.next_ts()
        return message

    def _event(self, kind: str, message: dict[str, Any]) -> Request:
        return self._signed(kind, payloads.message_event(self.world, CHANNEL, message))

    def chatter(self) -> Request:
        return self._event("chatter", self._message(self.rng.choice(PEOPLE), self.rng.choice(CHATTER), store=False))

    def question(self) -> Request:
        n, env, service = len(self.questions) + 1, self.rng.choice(ENVS), self.rng.choice(SERVICES)
        text = f"How do I rotate the {env} database password for {service}? (ticket OPS-{self.seed}{n:05d})"
        message = self._message(self.rng.choice(PEOPLE), text, store=True)
        self.questions.append((self.made.total(), str(message["ts"]), str(message["user"]), env))
        return self._event("question", message)

    def answer(self) -> Request:
        """A colleague's reply in an earlier question's thread (a new question when there is none yet)."""
        eligible = [q for q in self.questions if q[0] <= self.made.total() - self.lag]
        if not eligible:
            return self.question()
        _, ts, asker, env = self.rng.choice(eligible)
        user = self.rng.choice([p for p in PEOPLE if p != asker])
        message = self._message(user, self.rng.choice(ANSWERS).format(env=env), thread_ts=ts, store=True)
        self.answers.append((self.made.total(), str(message["ts"]), user, set()))
        return self._event("answer", message)

    def vote(self) -> Request:
        """A :+1: on an earlier answer by someone other than its author (an answer when there is none)."""
        now = self.made.total()
        eligible = [a for a in self.answers if a[0] <= now - self.lag and len(a[3]) < len(PEOPLE) - 1]
        if not eligible:
            return self.answer()
        _, ts, author, voters = self.rng.choice(eligible)
        voter = self.rng.choice([p for p in PEOPLE if p != author and p not in voters])
        voters.add(voter)
        with self.world.lock:
            message = msgs.react(self.world, CHANNEL, ts, "+1", voter)
            event = payloads.reaction_event(self.world, "reaction_added", voter, CHANNEL, message, "+1")
        return self._signed("vote", event)

    def batch(self, kind: str, n: int) -> list[Request]:
        """`n` requests of one kind, or drawn from MIX when `kind` is "mixed"."""
        make = {"chatter": self.chatter, "question": self.question, "answer": self.answer, "vote": self.vote}
        if kind != "mixed":
            return [make[kind]() for _ in range(n)]
        kinds = self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX], k=n)
        return [make[k]() for k in kinds]

    def forget(self) -> None:
        """Drop what the sandbox stored for earlier batches, so its linear message lookups stay short."""
        with self.world.lock:
            self.world.messages.pop(CHANNEL, None)
            self.world.timeline.clear()
        self.questions.clear()
        self.answers.clear()


def canned_client_class(slack: Sandbox) -> type[WebClient]:
    """A WebClient whose api_call answers {"ok": true} without I/O (auth.test with the sandbox's ids)."""
    auth = {"ok": True, "url": f"https://{slack.team_domain}.slack.com/", "team": "Acme", "user": "peerbot"}
    auth.update(team_id=slack.team_id, user_id=slack.bot_user_id, bot_id=slack.bot_id, is_enterprise_install=False)

    class CannedClient(WebClient):
        calls: ClassVar[Counter[str]] = Counter()

        def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
            CannedClient.calls[api_method] += 1
            data = dict(auth) if api_method == "auth.test" else {"ok": True}
            url = f"{self.base_url}{api_method}"
            return SlackResponse(
                client=self, http_verb="POST", api_url=url, req_args={}, data=data, headers={}, status_code=200
            )

    return CannedClient


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    """`{"title", "sections": [{"title", "intro", "headers", "rows", "notes"}]}` as Markdown."""
    out = [f"## {results['title']}"]
    for section in results["sections"]:
        out += [f"### {section['title']}", section.get("intro", "")]
        out += [markdown_table(section["headers"], section["rows"]), *section.get("notes", [])]
    return "\n\n".join(part for part in out if part) + "\n"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- HTTP mode: the real `peerbot run --http` as a subprocess, and an open-loop sender ------------


class ServerDidNotStart(RuntimeError):
    """`peerbot run --http` exited or never answered /healthz."""


def _peerbot_command() -> list[str]:
    script = Path(sys.executable).with_name("peerbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


@contextlib.contextmanager
def peerbot_http(slack: Sandbox, *, startup_timeout: float = 60.0) -> Iterator[tuple[int, str]]:
    """Start `peerbot run --http --port P --no-scheduler` against `slack`; yield (port, its SQLite file).

    Runs in a temporary directory (so a developer's .env is not read), waits for GET /healthz to
    answer 200 (bounded), and always stops the process at the end.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PEERBOT_"))}
    env.pop("DATABASE_URL", None)
    env.pop("PORT", None)
    port = free_port()
    command = [*_peerbot_command(), "run", "--http", "--port", str(port), "--no-scheduler"]
    with tempfile.TemporaryDirectory(prefix="peerbot-http-") as tmp:
        database, log_path = Path(tmp) / "peerbot.db", Path(tmp) / "peerbot.log"
        env.update(bot_env(slack, f"sqlite:///{database}"))
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_healthy(proc, port, startup_timeout, log_path)
                yield port, str(database)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ServerDidNotStart(f"peerbot exited with {proc.returncode} before /healthz answered:\n{tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise ServerDidNotStart(f"peerbot did not answer GET /healthz with 200 within {timeout:.0f} s:\n{tail}")


@dataclass(frozen=True)
class Sent:
    kind: str
    status: int  # 0: no answer (connection error or timeout)
    latency: float  # seconds from the scheduled send time to the full response
    send_lag: float  # seconds the send started after its scheduled time


def open_loop(port: int, requests: Sequence[Request], rate: float, *, workers: int = 16) -> list[Sent]:
    """POST `requests` to /slack/events on a fixed schedule (request i at i/rate s), whatever the answers.

    A pool of `workers` threads, each with its own keep-alive connection, takes the next due request;
    latency counts from the scheduled time, so a late send (all workers busy) is not hidden.
    """
    start = time.perf_counter() + 0.2
    order = itertools.count()
    lock = threading.Lock()
    results: list[Sent | None] = [None] * len(requests)

    def worker() -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            with lock:
                i = next(order)
            if i >= len(requests):
                break
            due = start + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            sent, request = time.perf_counter(), requests[i]
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/slack/events", body=request.body, headers=request.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                if conn is not None:
                    conn.close()
                conn = None
            results[i] = Sent(request.kind, status, time.perf_counter() - due, sent - due)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, name=f"load-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    deadline = start + len(requests) / rate + 30  # 10 s client timeout, with room
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    return [r if r is not None else Sent(q.kind, 0, math.inf, math.inf) for r, q in zip(results, requests, strict=True)]
