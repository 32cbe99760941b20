"""peerbot demo: the real bot, over real HTTP, against the sandbox Slack; prints what everyone saw."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from waitress.server import create_server

from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps, build_deps
from bot.server import WSGIApp, wsgi_app
from handlers import ids
from sandbox import Deliverer, Sandbox
from scheduled.jobs import digest, escalate, nudge
from storage import queries
from storage.db import make_engine, upgrade
from storage.fulltext import open_index
from storage.models import Answer, FollowUp, Question

ALICE, DANA, BOB, PRIYA, SAM = "U01ALICE", "U02DANA", "U03BOB", "U04PRIYA", "U05SAM"
HELP, RANDOM, ESCALATIONS = "C01HELP", "C02RANDOM", "C03ESCAL"
NAMES = {ALICE: "Alice Chen", DANA: "Dana Okafor", BOB: "Bob Martins", PRIYA: "Priya Nair", SAM: "Sam Rivera"}
CHANNELS = {HELP: "#help-platform", RANDOM: "#random", ESCALATIONS: "#platform-escalations"}
# A Tuesday, 14:00 UTC: working hours in New York (09:00) and London (14:00).
START = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


class DemoClock:
    """The story's time, moved forward by hand to show what happens hours later."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def run_demo(out: Callable[[str], None] = print) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    clock = DemoClock()
    with tempfile.TemporaryDirectory(prefix="peerbot-demo-") as tmp, _sandbox(clock) as slack:
        db_url = f"sqlite:///{Path(tmp) / 'peerbot.db'}"
        settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxb-sandbox-token",
                "SLACK_SIGNING_SECRET": "sandbox-signing-secret",
                "SLACK_API_URL": slack.base_url,
                "DATABASE_URL": db_url,
                "PEERBOT_SEARCH_INDEX_DIR": str(Path(tmp) / "search-index"),
                "PEERBOT_EXPERTS_PER_ROUND": "1",
                "PEERBOT_FALLBACK_CHANNEL": ESCALATIONS,
                "PEERBOT_ADMINS": PRIYA,
                "PEERBOT_DIGEST_DAY": "mon",
                "PEERBOT_DIGEST_TIME": "09:00",
            }
        )
        engine = make_engine(db_url)
        upgrade(engine)
        # The story's hours pass in milliseconds: the index syncs on every search instead of every 2 s.
        path = settings.search_index_dir
        deps = build_deps(settings, clock=clock, search=lambda e: open_index(e, kind="tantivy", path=path, max_lag=0.0))
        app = build_app(settings, deps, process_before_response=True)
        with _serving(wsgi_app(app, deps)) as url:
            people = Deliverer(slack, url)
            _story(slack, people, deps, clock, out)
        _stored(engine, out)
    return 0


@contextmanager
def _sandbox(clock: DemoClock) -> Iterator[Sandbox]:
    slack = Sandbox(team_domain="acme", clock=lambda: clock().timestamp()).start()
    try:
        tzs = {
            ALICE: "Europe/Berlin", DANA: "America/New_York", BOB: "Europe/London", PRIYA: "America/Chicago",
            SAM: "America/Los_Angeles",
        }  # fmt: skip
        for uid, real in NAMES.items():
            slack.add_user(uid, real.split()[0].lower(), real_name=real, tz=tzs[uid], is_admin=uid == PRIYA)
        members = [*NAMES, slack.bot_user_id]
        for channel, name in CHANNELS.items():
            slack.add_channel(channel, name.lstrip("#"), members=members)
        yield slack
    finally:
        slack.stop()


@contextmanager
def _serving(application: WSGIApp) -> Iterator[str]:
    """Peerbot's own HTTP front, on a free loopback port, served by waitress as in `peerbot run --http`."""
    # A request or two waiting for a thread is how the demo's bursts look; in the story it would only be noise.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"  # type: ignore[union-attr]
    finally:
        server.close()


def _story(slack: Sandbox, people: Deliverer, deps: Deps, clock: DemoClock, out: Callable[[str], None]) -> None:
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

    def dm_ts(user: str) -> tuple[str, str]:
        channel = slack.dm_channel(user) or ""
        return channel, str(slack.messages(channel)[-1]["ts"])

    out("Peerbot demo: a sandbox Slack workspace (acme), the real bot over HTTP, a temporary SQLite file.")
    out(f"It is {START:%A %H:%M} UTC.")
    step("Priya, a workspace admin, asks Peerbot to watch #help-platform")
    people.command(PRIYA, HELP, "/peerbot", "watch")
    step("Dana and Priya say what they can answer")
    people.command(DANA, HELP, "/peerbot", "expert add postgres, vault")
    people.command(PRIYA, HELP, "/peerbot", "expert add postgres, kafka")
    step("Small talk is left alone")
    people.post(BOB, HELP, "lunch?")
    step("Alice asks a real question: Peerbot captures it with a quiet 👀 and asks an expert by DM")
    q = people.post(ALICE, HELP, "How do I rotate the staging #postgres password?")
    first = people.last
    step("Slack retries that delivery (as it does after a slow answer): nothing happens twice")
    if first is not None:
        retry = people.redeliver(first, retry_num=1, retry_reason="http_timeout")
        show()
        out(f"   Slack → Peerbot: retry #1 of {first.payload['event_id']} → HTTP {retry.status}, ignored")
    asked = next(u for u in (DANA, PRIYA) if slack.dm_channel(u))
    step(f"{NAMES[asked]} answers from the DM: the answer lands in the thread under her name")
    people.click(asked, ids.ANSWER, message=dm_ts(asked))
    [modal] = slack.open_modals(asked)
    answer = "Run `vault write -f database/rotate-root/staging`, then restart the api and worker pods."
    people.submit(asked, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: answer}})
    a = str(slack.replies(HELP, q)[-1]["ts"])
    step("Alice follows up; colleagues rate the answer; Alice's ✅ accepts it")
    people.post(ALICE, HELP, "Thanks! That worked.", thread_ts=q)
    people.react(BOB, HELP, a, "+1")
    people.react(DANA if asked == PRIYA else PRIYA, HELP, a, "+1")
    people.react(asked, HELP, a, "+1")  # her own answer: not a vote
    people.react(ALICE, HELP, a, "white_check_mark")
    step("A week later Bob asks the same thing: the earlier answer is offered before anyone is pinged")
    clock.now += timedelta(days=7)
    repeat = people.post(BOB, HELP, "How can I rotate the #postgres password on staging?")
    offer = next(m for m in slack.replies(HELP, repeat) if m.get("bot_id"))
    step("Bob presses “This solved it”: resolved as a duplicate, and the answerer hears it helped")
    people.click(BOB, ids.SOLVED, message=(HELP, str(offer["ts"])))
    step("Bob asks something the experts are too busy to answer")
    people.post(BOB, HELP, "Why does the #postgres replica lag behind every night around 02:00?")
    clock.now += timedelta(hours=2, minutes=5)
    step(f"{clock.now:%H:%M} UTC: two working hours without an answer; the routing sweep asks the next expert")
    escalate(deps)
    clock.now += timedelta(hours=2, minutes=5)
    step(f"{clock.now:%H:%M} UTC: still nothing after the second round; the question goes to #platform-escalations")
    escalate(deps)
    step("Dana marks an older message in #random with ❓ so it is kept as a question")
    old = people.post(BOB, RANDOM, "the VPN keeps dropping for me from the Berlin office, is there a fix")
    people.react(DANA, RANDOM, old, "question")
    _onboarding_and_digests(slack, people, deps, clock, step, dm_ts)
    step("A forged request (wrong signing secret) is refused")
    people.post(BOB, HELP, "How do I get admin on prod?", signing_secret="forged")
    show()
    if people.last is not None:
        out(f"   Forged request → HTTP {people.last.status}; nothing stored")


def _onboarding_and_digests(
    slack: Sandbox,
    people: Deliverer,
    deps: Deps,
    clock: DemoClock,
    step: Callable[[str], None],
    dm_ts: Callable[[str], tuple[str, str]],
) -> None:
    step(f"{clock.now:%H:%M} UTC: Sam joins the workspace (10:00 in Los Angeles); the nudge sweep welcomes them")
    people.team_join(SAM)
    nudge(deps)
    step("Sam picks their topic; Peerbot proposes a buddy from the postgres experts")
    people.click(SAM, ids.ONBOARD_TOPICS, ["postgres"], message=dm_ts(SAM))
    clock.now += timedelta(days=1)
    step(f"The next morning in Los Angeles ({clock.now:%a %H:%M} UTC), the second step: answers in Sam's topic")
    nudge(deps)
    people.click(SAM, ids.NUDGE_DONE, message=dm_ts(SAM))
    clock.now = _next_monday_9(clock.now)
    step(f"{clock.now:%A %H:%M} UTC: the weekly digests (the channel, each expert, and the admins' report)")
    digest(deps)
    post = next(m for m in reversed(slack.messages(HELP)) if "This week in" in str(m.get("text")))
    step("Dana answers the question still waiting, straight from the channel digest")
    people.click(DANA, ids.DIGEST_ANSWER, message=(HELP, str(post["ts"])))
    [modal] = slack.open_modals(DANA)
    answer = "It's the nightly VACUUM on the primary; the replica catches up by 03:00. Alerts ignore that window."
    people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: answer}})
    step("Dana opens Peerbot's Home tab: her topics, credibility, and what her answers did")
    people.open_home(DANA)


def _next_monday_9(now: datetime) -> datetime:
    days = (7 - now.weekday()) % 7 or 7
    return (now + timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)


def _stored(engine: Engine, out: Callable[[str], None]) -> None:
    out("\nWhat Peerbot stored:")
    with Session(engine) as s:
        for q in s.exec(select(Question).order_by(col(Question.ts))):
            channel = CHANNELS[q.channel]
            out(f'  question  [{q.status}] {NAMES[q.author]} in {channel} ({q.source}): "{q.text}"')
            if q.duplicate_of:
                out(f"    solved by the answer to question {q.duplicate_of} (a duplicate; nobody was pinged)")
            for a in s.exec(select(Answer).where(Answer.question_id == q.id)):
                score = queries.score_of(s, answer_id=a.id or 0)
                flag = ", accepted" if a.accepted else ""
                out(f'    answer  {NAMES[a.author]} (score {score:+g}{flag}): "{a.text}"')
            for f in s.exec(select(FollowUp).where(FollowUp.question_id == q.id)):
                out(f'    follow-up  {NAMES[f.author]}: "{f.text}"')
