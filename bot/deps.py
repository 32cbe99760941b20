"""Deps: the one frozen bundle of what handlers and jobs need (settings, sessions, clock, Web client)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy import Engine
from sqlmodel import Session

from bot import semantic
from bot.config import Settings
from bot.installs import Installations
from bot.metrics import CountCalls, CountRetries
from storage.db import SessionFactory, make_engine, session_factory
from storage.fulltext import FullTextIndex, open_index
from storage.models import Workspace

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_client(settings: Settings, *, token: str | None = None, team_id: str | None = None) -> WebClient:
    """A Web client that retries Slack's 429s (honouring Retry-After), 5xx and dropped connections.

    Every attempt and retry is counted for /metrics (Bolt's per-request clients share these handlers).
    """
    return WebClient(
        token=(token if token is not None else settings.bot_token) or None,  # None: OAuth, a token per request
        timeout=15,
        retry_handlers=[
            CountCalls(),
            CountRetries(ConnectionErrorRetryHandler(max_retry_count=2), "connection_error"),
            CountRetries(RateLimitErrorRetryHandler(max_retry_count=3), "rate_limited"),
            CountRetries(ServerErrorRetryHandler(max_retry_count=2), "server_error"),
        ],
        logger=logging.getLogger("peerbot.slack"),
        base_url=settings.slack_api_url or WebClient.BASE_URL,
        team_id=team_id,
    )


@dataclass(frozen=True)
class Deps:
    settings: Settings
    db: SessionFactory
    clock: Clock
    client: WebClient
    search: FullTextIndex | None = None  # None: the database's own full-text index, through the session
    installs: Installations | None = None  # OAuth installs (many workspaces); None: the one SLACK_BOT_TOKEN

    def client_for(self, ws: Workspace) -> WebClient | None:
        """The client acting in `ws`: its installation's (None once uninstalled), or the one token's."""
        return self.client if self.installs is None else self.installs.client_for(ws)


def build_deps(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    client: WebClient | None = None,
    search: Callable[[Engine], FullTextIndex] | None = None,
) -> Deps:
    engine = make_engine(settings.database_url)
    index = search(engine) if search else open_search(settings, engine)
    return Deps(
        settings=settings,
        db=session_factory(engine),
        clock=clock,
        client=client or make_client(settings),
        search=index,
        installs=open_installs(settings, engine, clock),
    )


def open_installs(settings: Settings, engine: Engine, clock: Clock) -> Installations | None:
    """The OAuth installation store when SLACK_CLIENT_ID/SECRET are set, else None (one workspace's token)."""
    if not settings.oauth:
        return None

    def client(token: str, team_id: str | None) -> WebClient:
        return make_client(settings, token=token, team_id=team_id)

    return Installations(settings, engine, clock, client)


def open_search(settings: Settings, engine: Engine) -> FullTextIndex:
    """The search index chosen by PEERBOT_SEARCH_ENGINE: tantivy files (the default) or the database's own."""
    if settings.search_engine == "tantivy":
        embedder = semantic.load() if settings.semantic else None  # the model loads on its first use
        return open_index(engine, kind="tantivy", path=settings.search_index_dir, embedder=embedder)
    return open_index(engine, kind="database")


def search_index(deps: Deps, session: Session) -> FullTextIndex:
    """The configured index, or the database's own (FTS5 / PostgreSQL full-text) on the session's engine."""
    return deps.search or open_index(session.get_bind().engine)
