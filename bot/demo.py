"""peerbot demo: the real bot, over real HTTP, against the sandbox Slack; prints what everyone saw."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from waitress.server import create_server

from bot.app import build_app
from bot.config import Settings
from bot.deps import build_deps
from bot.server import WSGIApp, wsgi_app
from sandbox import Deliverer, Sandbox
from storage import queries
from storage.db import make_engine, upgrade
from storage.models import Answer, FollowUp, Question

ALICE, DANA, BOB, PRIYA = "U01ALICE", "U02DANA", "U03BOB", "U04PRIYA"
HELP, RANDOM = "C01HELP", "C02RANDOM"
NAMES = {ALICE: "Alice Chen", DANA: "Dana Okafor", BOB: "Bob Martins", PRIYA: "Priya Nair"}


def run_demo(out: Callable[[str], None] = print) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="peerbot-demo-") as tmp, _sandbox() as slack:
        db_url = f"sqlite:///{Path(tmp) / 'peerbot.db'}"
        settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxb-sandbox-token",
                "SLACK_SIGNING_SECRET": "sandbox-signing-secret",
                "SLACK_API_URL": slack.base_url,
                "DATABASE_URL": db_url,
            }
        )
        engine = make_engine(db_url)
        upgrade(engine)
        deps = build_deps(settings)
        app = build_app(settings, deps, process_before_response=True)
        with _serving(wsgi_app(app, deps)) as url:
            people = Deliverer(slack, url)
            _story(slack, people, out)
        _stored(engine, out)
    return 0


@contextmanager
def _sandbox() -> Iterator[Sandbox]:
    slack = Sandbox(team_domain="acme").start()
    try:
        tzs = {ALICE: "Europe/Berlin", DANA: "America/New_York", BOB: "Europe/London", PRIYA: "Asia/Kolkata"}
        for uid, real in NAMES.items():
            slack.add_user(uid, real.split()[0].lower(), real_name=real, tz=tzs[uid], is_admin=uid == PRIYA)
        members = [*NAMES, slack.bot_user_id]
        slack.add_channel(HELP, "help-platform", members=members)
        slack.add_channel(RANDOM, "random", members=members)
        yield slack
    finally:
        slack.stop()


@contextmanager
def _serving(application: WSGIApp) -> Iterator[str]:
    """Peerbot's own HTTP front, on a free loopback port, served by waitress as in `peerbot run --http`."""
    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"  # type: ignore[union-attr]
    finally:
        server.close()


def _story(slack: Sandbox, people: Deliverer, out: Callable[[str], None]) -> None:
    seen = 0

    def show() -> None:
        """Print what people saw since the last call."""
        nonlocal seen
        timeline = slack.timeline
        if len(timeline) > seen:
            out(slack.render_transcript(timeline[seen:]).rstrip())
        seen = len(timeline)

    def step(title: str) -> None:
        show()
        out(f"\n── {title}")

    out("Peerbot demo: a sandbox Slack workspace (acme), the real bot over HTTP, a temporary SQLite file.")
    step("Priya, a workspace admin, asks Peerbot to watch #help-platform")
    people.command(PRIYA, HELP, "/peerbot", "watch")
    step("Small talk is left alone")
    people.post(BOB, HELP, "lunch?")
    people.post(BOB, RANDOM, "anyone up for coffee at 3?")
    step("Alice asks a real question; Peerbot captures it with a quiet 👀")
    q = people.post(ALICE, HELP, "How do I rotate the staging database password? The runbook link is dead.")
    first = people.last
    step("Slack retries that delivery (as it does after a slow answer): nothing happens twice")
    if first is not None:
        retry = people.redeliver(first, retry_num=1, retry_reason="http_timeout")
        show()
        out(f"   Slack → Peerbot: retry #1 of {first.payload['event_id']} → HTTP {retry.status}, ignored")
    step("Dana answers in the thread; Alice follows up; Dana fixes a typo")
    a = people.post(
        DANA, HELP, "Run `vault write -f database/rotate-root/stagng`, then restart the api pods.", thread_ts=q
    )
    people.post(ALICE, HELP, "Thanks! Do the worker pods need a restart too?", thread_ts=q)
    people.edit(
        DANA, HELP, a, "Run `vault write -f database/rotate-root/staging`, then restart the api and worker pods."
    )
    step("Colleagues rate the answer; Alice's ✅ accepts it")
    people.react(BOB, HELP, a, "+1")
    people.react(PRIYA, HELP, a, "+1")
    people.react(DANA, HELP, a, "+1")  # her own answer: not a vote
    people.react(ALICE, HELP, a, "white_check_mark")
    step("Bob asks with the slash command from #random")
    people.command(BOB, RANDOM, "/peerbot", "ask Where is the on-call runbook for the payments service?")
    step("Dana marks an older message with ❓ so it is kept as a question")
    old = people.post(BOB, RANDOM, "the VPN keeps dropping for me from the Berlin office, is there a fix")
    people.react(DANA, RANDOM, old, "question")
    step("A forged request (wrong signing secret) is refused")
    people.post(BOB, HELP, "How do I get admin on prod?", signing_secret="forged")
    show()
    if people.last is not None:
        out(f"   Forged request → HTTP {people.last.status}; nothing stored")
    show()


def _stored(engine: Engine, out: Callable[[str], None]) -> None:
    out("\nWhat Peerbot stored:")
    with Session(engine) as s:
        for q in s.exec(select(Question).order_by(col(Question.ts))):
            channel = "#help-platform" if q.channel == HELP else "#random"
            out(f'  question  [{q.status}] {NAMES[q.author]} in {channel} ({q.source}): "{q.text}"')
            for a in s.exec(select(Answer).where(Answer.question_id == q.id)):
                score = queries.score_of(s, answer_id=a.id or 0)
                flag = ", accepted" if a.accepted else ""
                out(f'    answer  {NAMES[a.author]} (score {score:+g}{flag}): "{a.text}"')
            for f in s.exec(select(FollowUp).where(FollowUp.question_id == q.id)):
                out(f'    follow-up  {NAMES[f.author]}: "{f.text}"')
