"""Slack payloads in, Block Kit out: one module per feature, registered by hand in register_all."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.listener.listener_completion_handler import ListenerCompletionHandler
from slack_bolt.middleware import Middleware
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import InterfaceError, OperationalError

from bot import metrics
from bot.deps import Deps
from handlers import (
    commands,
    digests,
    experts,
    home,
    installs,
    onboarding,
    questions,
    ratings,
    routing,
    suggestions,
)
from handlers.shape import request_kind, response_url, vet

log = logging.getLogger("peerbot")
event_log = logging.getLogger("peerbot.events")

STARTED = "peerbot_started"  # request context keys set by Front
KIND = "peerbot_kind"


def register_all(app: App, deps: Deps) -> None:
    """Wire every feature into `app`. Order matters: Bolt runs the first matching listener only."""

    app.middleware(Front(deps))
    app.listener_runner.listener_completion_handler = LogCompletion()
    questions.register(app)
    ratings.register(app)
    commands.register(app)
    routing.register(app)
    experts.register(app)
    suggestions.register(app)
    onboarding.register(app)
    digests.register(app)
    home.register(app)
    installs.register(app)
    app.event(re.compile(".*"))(handle_unknown_event)
    app.error(handle_error)


class Front(Middleware):
    """Every request, in one middleware (each costs a call per event): Deps into the context, the request's
    clock and kind started for LogCompletion, and a request missing what its listeners read (or with the
    wrong types) answered 400, storing nothing (handlers.shape.vet; HTTP requests were vetted already)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        context = req.context
        context[STARTED] = time.perf_counter()
        # bot.server vets HTTP requests before Bolt parses them and puts the kind in the context.
        kind = context.get(KIND) or vet(req.body)
        if kind is not None and not context.team_id and context.is_enterprise_install:
            # An org-wide install (Enterprise Grid) acts in every workspace: the request names which one,
            # and methods that need to know it get it (slack_sdk adds default_params to every call).
            context["team_id"] = team = acting_team(req.body)
            web = context.client
            if team and web is not None:
                web.default_params.setdefault("team_id", team)
        if kind is not None and (context.team_id or kind == "url_verification"):
            context[KIND] = kind
            context["deps"] = self.deps
            return next()
        kind = context[KIND] = request_kind(req.body)
        event_id = req.body.get("event_id")
        event_log.warning(
            "event type=%s event_id=%s outcome=malformed status=400",
            kind,
            event_id if isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id) else "-",
        )
        metrics.observe_event(kind, "malformed", 0.0)
        return BoltResponse(status=400, body={"error": "malformed request"})


def acting_team(body: dict[str, Any]) -> str | None:
    """The workspace a request from an org-wide install comes from: the event's, the user's or the view's."""
    user, view, event = body.get("user"), body.get("view"), body.get("event")
    for team in (
        body.get("team_id"),
        user.get("team_id") if isinstance(user, dict) else None,
        view.get("team_id") if isinstance(view, dict) else None,
        event.get("team") if isinstance(event, dict) else None,
    ):
        if isinstance(team, str) and team:
            return team
    return None


class LogCompletion(ListenerCompletionHandler):
    """One structured line per request a listener handled (type, event_id, outcome, status, ms), and its metrics."""

    def handle(self, request: BoltRequest, response: BoltResponse | None) -> None:
        started = request.context.get(STARTED)
        if started is None:
            return
        seconds = time.perf_counter() - started
        kind = str(request.context.get(KIND) or "other")
        status = response.status if response is not None else 200
        outcome = "error" if status >= 500 else "rejected" if status >= 400 else "ok"
        metrics.observe_event(kind, outcome, seconds)
        event_id = request.body.get("event_id")
        retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
        event_log.log(
            logging.WARNING if outcome == "error" else logging.INFO,
            "event type=%s event_id=%s outcome=%s status=%s duration_ms=%.1f retry=%s",
            kind,
            event_id if isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id) else "-",
            outcome,
            status,
            seconds * 1000,
            retry if retry.isdigit() else "?",
        )


_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def handle_unknown_event(event: dict[str, Any]) -> None:
    """Events we do not use are acknowledged (so Slack does not retry them) and ignored."""
    log.debug("ignored event type=%s", event.get("type"))


def handle_error(error: Exception, body: dict[str, Any], context: BoltContext, logger: logging.Logger) -> None:
    """The one error handler: log with the traceback; tell the person something short where we can.

    Bolt answers Slack 500 after it (process_before_response), so Slack delivers the event again.
    """
    kind = str(context.get(KIND) or request_kind(body))
    metrics.ERRORS.inc(type=kind)
    if isinstance(error, OperationalError | InterfaceError):
        event_id = body.get("event_id")
        logger.error(
            "database unavailable while handling %s (event_id=%s), answering 500 for Slack to retry: %s",
            kind,
            event_id if isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id) else "-",
            error.orig if error.orig is not None else error,
            exc_info=error,
        )
    else:
        logger.error("error handling %s: %s", kind, error, exc_info=error)
    url = response_url(body)
    if not url:
        return
    try:
        WebhookClient(url, timeout=5).send(
            text="Sorry, something went wrong on Peerbot's side. It has been logged; please try again.",
            response_type="ephemeral",
        )
    except Exception:
        logger.warning("could not tell the user about the error", exc_info=True)
