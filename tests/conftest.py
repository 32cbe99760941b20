"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL with TEST_DATABASE_URL), a clock."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, SQLModel, select

from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.server import handle_events
from sandbox import Deliverer, MethodCatalog, Sandbox
from storage.db import make_engine, normalise_url, session_factory, upgrade
from storage.fulltext import open_index

SPECS = Path(__file__).resolve().parents[2] / "shared" / "slack-specs"


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real Slack or depend on the developer's tokens."""
    for key in list(os.environ):
        if key.startswith(("SLACK_", "PEERBOT_")) or key == "DATABASE_URL":
            monkeypatch.delenv(key, raising=False)


class Clock:
    """Injected time: starts at a fixed Tuesday 10:00 UTC and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 3, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _postgres_engine(url: str) -> Iterator[Engine]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'peerbot.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty database: PostgreSQL (a schema of its own) when TEST_DATABASE_URL is set."""
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        for e in _postgres_engine(pg):
            upgrade(e)
            yield e
        return
    e = make_engine(database_url)
    upgrade(e)
    yield e
    e.dispose()


# --- Scenario rig: the real app, the sandbox Slack, signed deliveries in, recorded calls out ---


ALICE, DANA, BOB, PRIYA = "UALICE01", "UDANA001", "UBOB0001", "UPRIYA01"
HELP, RANDOM, SECRET = "CHELP001", "CRANDOM1", "CSECRET1"


@dataclasses.dataclass
class Rig:
    slack: Sandbox
    people: Deliverer
    settings: Settings
    deps: Deps
    app: App
    engine: Engine

    def rows(self, model: type[SQLModel]) -> list[Any]:
        with Session(self.engine) as s:
            return list(s.exec(select(model)))

    def methods(self) -> list[str]:
        return [c.method for c in self.slack.calls]


def make_rig(engine: Engine, clock: Clock, **env: str) -> Iterator[Rig]:
    catalog = MethodCatalog.load(SPECS)
    # The sandbox stamps messages by the same injected clock the bot reads.
    slack = Sandbox(catalog=catalog, strict=catalog is not None, clock=lambda: clock().timestamp()).start()
    try:
        slack.add_user(ALICE, "alice", real_name="Alice Chen", tz="Europe/Berlin")
        slack.add_user(DANA, "dana", real_name="Dana Okafor", tz="America/New_York")
        slack.add_user(BOB, "bob", real_name="Bob Martins")
        slack.add_user(PRIYA, "priya", real_name="Priya Nair", is_admin=True)
        everyone = [ALICE, DANA, BOB, PRIYA, slack.bot_user_id]
        slack.add_channel(HELP, "help-platform", members=everyone)
        slack.add_channel(RANDOM, "random", members=everyone)
        slack.add_channel(SECRET, "secret-project", is_private=True, members=[ALICE, DANA, slack.bot_user_id])
        settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxb-sandbox-token",
                "SLACK_SIGNING_SECRET": "sandbox-signing-secret",
                "SLACK_API_URL": slack.base_url,
                "PEERBOT_WATCHED_CHANNELS": HELP,
                **env,
            }
        )
        if settings.search_engine == "tantivy":  # searching syncs at once: no lag to wait for in tests
            index = open_index(engine, kind="tantivy", path=tempfile.mkdtemp(prefix="peerbot-index-"), max_lag=0.0)
        else:
            index = open_index(engine, kind="database")
        deps = Deps(
            settings=settings, db=session_factory(engine), clock=clock, client=make_client(settings), search=index
        )
        app = build_app(settings, deps, process_before_response=True)

        def target(body: str, headers: dict[str, str]) -> tuple[int, str]:
            reply = handle_events(app, settings.signing_secret, body.encode(), headers)
            return reply.status, reply.body

        slack.clear_calls()  # auth.test, made once by Bolt when the app is built
        people = Deliverer(slack, target)
        yield Rig(slack, people, settings, deps, app, engine)
        assert slack.violations == [], "Web API calls that differ from Slack's method catalog"
    finally:
        slack.stop()


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    yield from make_rig(engine, clock)
