"""build_app: the Bolt App with every handler registered; nothing happens at import time."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from bot.config import Settings
from bot.deps import Deps
from bot.installs import BOT_SCOPES, INSTALL_PATH, REDIRECT_PATH, STATE_SECONDS, Installations, authorization_url
from handlers import register_all


def build_app(
    settings: Settings, deps: Deps, *, client: WebClient | None = None, process_before_response: bool = False
) -> App:
    """The Peerbot Bolt app. `client` defaults to deps.client; Bolt checks its token with auth.test.

    With process_before_response=True the answer to Slack waits for the listener, so a failure
    (a database outage, say) becomes a 5xx and Slack retries; `peerbot run` uses that.
    """
    installs = deps.installs
    app = App(
        name="peerbot",
        client=client or deps.client,
        signing_secret=settings.signing_secret or None,
        # HTTP requests are verified once, by bot.server.handle_events, before they reach Bolt;
        # Socket Mode has no signatures to check.
        request_verification_enabled=False,
        process_before_response=process_before_response,
        logger=logging.getLogger("peerbot.bolt"),
        # Many workspaces: Bolt authorizes each request with its workspace's token from the store (and
        # refreshes rotating tokens), and serves the install pages (bot.server routes them).
        installation_store=installs.store if installs else None,
        installation_store_bot_only=True if installs else None,
        oauth_settings=oauth_settings(settings, installs) if installs else None,
    )
    register_all(app, deps)
    return app


def oauth_settings(settings: Settings, installs: Installations) -> OAuthSettings:
    return OAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=settings.redirect_uri or None,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installs.store,
        installation_store_bot_only=True,
        state_store=installs.states,
        state_expiration_seconds=STATE_SECONDS,
        token_rotation_expiration_minutes=settings.rotation_minutes,
        authorization_url=authorization_url(settings),
    )
