"""Slack payloads in, Block Kit out: one module per feature, registered by hand in register_all."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk.webhook import WebhookClient

from bot.deps import Deps
from handlers import commands, digests, experts, home, onboarding, questions, ratings, routing, suggestions

log = logging.getLogger("peerbot")


def register_all(app: App, deps: Deps) -> None:
    """Wire every feature into `app`. Order matters: Bolt runs the first matching listener only."""

    app.middleware(InjectDeps(deps))
    questions.register(app)
    ratings.register(app)
    commands.register(app)
    routing.register(app)
    experts.register(app)
    suggestions.register(app)
    onboarding.register(app)
    digests.register(app)
    home.register(app)
    app.event(re.compile(".*"))(handle_unknown_event)
    app.error(handle_error)


class InjectDeps(Middleware):
    """Puts Deps into every request's context (a class: Bolt calls it without building listener arguments)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        req.context["deps"] = self.deps
        return next()


def handle_unknown_event(event: dict[str, Any]) -> None:
    """Events we do not use are acknowledged (so Slack does not retry them) and ignored."""
    log.debug("ignored event type=%s", event.get("type"))


def handle_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
    """The one error handler: log with the traceback; tell the person something short where we can."""
    kind = body.get("type") or body.get("command") or "request"
    logger.error("error handling %s: %s", kind, error, exc_info=error)
    urls: list[dict[str, Any]] = body.get("response_urls") or [{}]
    response_url = body.get("response_url") or urls[0].get("response_url")
    if not response_url:
        return
    try:
        WebhookClient(response_url, timeout=5).send(
            text="Sorry, something went wrong on Peerbot's side. It has been logged; please try again.",
            response_type="ephemeral",
        )
    except Exception:
        logger.warning("could not tell the user about the error", exc_info=True)
