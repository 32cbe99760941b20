"""Installations: the workspaces Peerbot is installed in and their tokens, in slack_sdk's SQLAlchemy stores.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, anyone can install Peerbot from /slack/install; Bolt keeps
each installation in the same database (tables slack_bots, slack_installations, slack_oauth_states, made
by migration 0011) and authorizes each request with its workspace's token. Scheduled sweeps have no
request to authorize: `client_for` finds the workspace's token, refreshes a rotating token that expires
soon (by the deps clock), and answers None for a workspace that uninstalled Peerbot, whose jobs stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Engine

from bot.config import Settings
from storage.models import Workspace

_Found = TypeVar("_Found")

log = logging.getLogger("peerbot.installs")

# The bot scopes an install asks for: the same as manifest.yml's (a test keeps them equal).
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "im:write",
    "chat:write",
    "commands",
    "reactions:read",
    "reactions:write",
    "users:read",
    "files:write",
)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # how long an install link stays valid
_FORCE = 60 * 24 * 365 * 100  # minutes: TokenRotator refreshes now; the deps clock decided it is time


def authorization_url(settings: Settings) -> str:
    """Slack's authorize page, on the same host as the Web API (slack.com, or a test server's)."""
    parts = urlsplit(settings.slack_api_url or WebClient.BASE_URL)
    return f"{parts.scheme}://{parts.netloc}/oauth/v2/authorize"


class Installations:
    """Tokens per workspace for the sweeps, from the store Bolt writes at install time."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clock: Callable[[], datetime],
        make_client: Callable[[str, str | None], WebClient],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = SQLAlchemyInstallationStore(
            client_id=settings.client_id, engine=engine, logger=logging.getLogger("peerbot.installs.store")
        )
        self.states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine)
        self._make_client = make_client
        self._rotator = TokenRotator(
            client_id=settings.client_id, client_secret=settings.client_secret, client=make_client("", None)
        )
        self._lock = threading.Lock()

    def find_bot(self, ws: Workspace) -> Bot | None:
        """The workspace's own install, else its organisation's org-wide install (Enterprise Grid)."""
        return _own_or_org(self.store.find_bot, ws)

    def installer(self, ws: Workspace) -> str:
        """Who installed Peerbot in the workspace (or its organisation): "" when unknown."""
        found = _own_or_org(self.store.find_installation, ws)
        return found.user_id if found is not None else ""

    def client_for(self, ws: Workspace) -> WebClient | None:
        """A client with the workspace's bot token, refreshed first if it expires soon; None: not installed."""
        bot = self.find_bot(ws)
        if bot is None:
            return None
        bot = self._fresh(bot)
        # An org-wide token acts in every workspace of the organisation: methods that need to know which
        # one get team_id (slack_sdk adds it to every call of a client made with team_id=).
        return self._make_client(bot.bot_token or "", ws.team_id if bot.is_enterprise_install else None)

    def _fresh(self, bot: Bot) -> Bot:
        expires_at = bot.bot_token_expires_at
        if not expires_at or not bot.bot_refresh_token:
            return bot
        left = expires_at - self.clock().timestamp()
        if left > self.settings.rotation_minutes * 60:
            return bot
        with self._lock:  # one refresh at a time in this process; the store keeps the newest token
            current = self.store.find_bot(
                enterprise_id=bot.enterprise_id, team_id=bot.team_id, is_enterprise_install=bot.is_enterprise_install
            )
            if current is not None and current.bot_token != bot.bot_token:
                return current  # another thread (or replica) refreshed it already
            try:
                refreshed = self._rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=_FORCE)
            except SlackClientError as e:
                log.warning(
                    "could not refresh the token of %s (%s); using it while it lasts (%.0f s left)",
                    bot.team_id or bot.enterprise_id,
                    e,
                    left,
                )
                return bot
            if refreshed is None or refreshed.bot_token_expires_at is None:
                return bot
            # The rotator dates the new expiry by the system clock; count it from the deps clock instead.
            lifetime = refreshed.bot_token_expires_at - int(time.time())
            refreshed.bot_token_expires_at = int(self.clock().timestamp()) + lifetime
            self.store.save_bot(refreshed)
            log.info("refreshed the rotating token of %s", bot.team_id or bot.enterprise_id)
            return refreshed


def _own_or_org(find: Callable[..., _Found | None], ws: Workspace) -> _Found | None:
    """`find` (a store lookup) for the workspace's own install, else its organisation's org-wide one."""
    enterprise = ws.enterprise_id or None
    found = find(enterprise_id=enterprise, team_id=ws.team_id)
    if found is None and enterprise:
        found = find(enterprise_id=enterprise, team_id=None, is_enterprise_install=True)
    return found
