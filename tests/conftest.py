"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL with TEST_DATABASE_URL), a clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from storage.db import make_engine, normalise_url, upgrade

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
