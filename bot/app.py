"""build_app: the Bolt App with every handler registered; nothing happens at import time."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.deps import Deps
from handlers import register_all


def build_app(
    settings: Settings, deps: Deps, *, client: WebClient | None = None, process_before_response: bool = False
) -> App:
    """The Peerbot Bolt app. `client` defaults to deps.client; Bolt checks its token with auth.test.

    With process_before_response=True the answer to Slack waits for the listener, so a failure
    (a database outage, say) becomes a 5xx and Slack retries; `peerbot run` uses that.
    """
    app = App(
        name="peerbot",
        client=client or deps.client,
        signing_secret=settings.signing_secret or None,
        # HTTP requests are verified once, by bot.server.handle_events, before they reach Bolt;
        # Socket Mode has no signatures to check.
        request_verification_enabled=False,
        process_before_response=process_before_response,
        logger=logging.getLogger("peerbot.bolt"),
    )
    register_all(app, deps)
    return app
