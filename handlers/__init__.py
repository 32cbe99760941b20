"""Slack payloads in, Block Kit out: one module per feature, registered by hand in register_all."""

from __future__ import annotations

import json
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
from handlers import commands, digests, experts, home, onboarding, questions, ratings, routing, suggestions

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
    app.event(re.compile(".*"))(handle_unknown_event)
    app.error(handle_error)


_LABEL = re.compile(r"[a-z][a-z0-9_.]{0,47}")


def request_kind(body: dict[str, Any]) -> str:
    """A short, bounded label: the event type, `slash_command`, or the interaction type (else `other`)."""
    event = body.get("event")
    if body.get("type") == "event_callback" and isinstance(event, dict):
        kind = event.get("type")
    elif "command" in body:
        kind = "slash_command"
    else:
        kind = body.get("type")
    return kind if isinstance(kind, str) and _LABEL.fullmatch(kind) else "other"


Fields = dict[str, tuple[type, bool]]  # field -> (type, required)
_S, _L, _D = str, list, dict
# What the listeners read from each event, with the types Slack documents; None counts as absent.
EVENT_FIELDS: dict[str, Fields] = {
    "message": {"channel": (_S, True), "ts": (_S, False), "text": (_S, False), "user": (_S, False),
                "thread_ts": (_S, False), "subtype": (_S, False), "bot_id": (_S, False), "files": (_L, False),
                "message": (_D, False), "previous_message": (_D, False), "deleted_ts": (_S, False),
                "blocks": (_L, False), "edited": (_D, False)},
    "app_mention": {"channel": (_S, True), "ts": (_S, True), "user": (_S, True), "text": (_S, True),
                    "thread_ts": (_S, False), "blocks": (_L, False), "files": (_L, False)},
    "reaction_added": {"user": (_S, True), "reaction": (_S, True), "item": (_D, True), "item_user": (_S, False)},
    "reaction_removed": {"user": (_S, True), "reaction": (_S, True), "item": (_D, True), "item_user": (_S, False)},
    "team_join": {"user": (_D, True)},
    "member_joined_channel": {"user": (_S, True), "channel": (_S, True), "inviter": (_S, False)},
    "app_home_opened": {"user": (_S, True), "tab": (_S, True), "channel": (_S, False), "view": (_D, False)},
}  # fmt: skip
NEW_MESSAGE = (None, "thread_broadcast", "file_share")  # subtypes of a message someone wrote just now
INNER_FIELDS: dict[str, Fields] = {  # objects inside an event
    "item": {"channel": (_S, True), "ts": (_S, True)},
    "user": {"id": (_S, True), "tz": (_S, False), "real_name": (_S, False), "name": (_S, False)},
    "message": {"ts": (_S, True), "text": (_S, False), "user": (_S, False), "thread_ts": (_S, False),
                "subtype": (_S, False), "bot_id": (_S, False), "files": (_L, False), "blocks": (_L, False)},
    "previous_message": {"ts": (_S, True), "text": (_S, False), "user": (_S, False), "thread_ts": (_S, False)},
}  # fmt: skip
PAYLOAD_FIELDS: dict[str, Fields] = {  # interactivity payloads and slash commands (Slack always sends these)
    "block_actions": {"user": (_D, True), "actions": (_L, True), "trigger_id": (_S, True), "container": (_D, False),
                      "channel": (_D, False), "message": (_D, False), "view": (_D, False), "response_url": (_S, False)},
    "view_submission": {"user": (_D, True), "view": (_D, True), "trigger_id": (_S, True)},
    "message_action": {"user": (_D, True), "callback_id": (_S, True), "message": (_D, True), "channel": (_D, True),
                       "trigger_id": (_S, True), "response_url": (_S, True)},
    "slash_command": {"command": (_S, True), "user_id": (_S, True), "channel_id": (_S, True), "text": (_S, False),
                      "trigger_id": (_S, True), "response_url": (_S, True)},
}  # fmt: skip
VIEW_FIELDS: Fields = {
    "id": (_S, True), "callback_id": (_S, True), "state": (_D, True), "private_metadata": (_S, False),
}  # fmt: skip


def _fits(obj: dict[str, Any], fields: Fields) -> bool:
    for name, (kind, required) in fields.items():
        value = obj.get(name)
        if value is None:
            if required:
                return False
        elif not isinstance(value, kind) or (required and kind is str and not value):
            return False
    return True


SLACK_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")  # user, channel, team ids and message timestamps
ID_KEYS = frozenset({
    "user", "user_id", "channel", "channel_id", "team", "team_id", "enterprise_id", "ts", "thread_ts", "event_ts",
    "deleted_ts", "message_ts", "item_user", "inviter", "bot_id", "parent_user_id",
})  # fmt: skip
_OBJECTS = ("user", "channel", "team", "enterprise")  # may also be objects with an "id"
_LONG = {"event_id": re.compile(r"[A-Za-z0-9_-]{1,64}"), "reaction": re.compile(r"[^\s\x00]{1,64}")}


def ids_fit(value: Any) -> bool:
    """Ids and timestamps are short tokens, and no text holds a NUL (Slack never sends either; databases refuse)."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, list):
        return all(ids_fit(v) for v in value)
    if not isinstance(value, dict):
        return True
    for key, inner in value.items():
        if "\x00" in key:
            return False
        if isinstance(inner, str):
            pattern = SLACK_ID if key in ID_KEYS else _LONG.get(key)
            if (pattern is not None and inner and not pattern.fullmatch(inner)) or "\x00" in inner:
                return False
        elif key in ID_KEYS and not (inner is None or (isinstance(inner, dict) and key in _OBJECTS)):
            return False  # an id or a timestamp as a number, a list…
        elif not ids_fit(inner) or (isinstance(inner, dict) and key in _OBJECTS and not _has_id(inner)):
            return False
    return True


def _has_id(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("id"), str) and bool(SLACK_ID.fullmatch(obj["id"]))


def well_shaped(body: dict[str, Any], kind: str) -> bool:
    """Does a request carry what its listeners read, with Slack's types? (Slack's own requests always do.)"""
    if not ids_fit(body):
        return False
    event = body.get("event")
    if body.get("type") == "event_callback" and isinstance(event, dict):
        if not _fits(body, {"event_id": (_S, True)}):
            return False
        fields = EVENT_FIELDS.get(kind)
        if fields is None:
            return True
        if not _fits(event, fields):
            return False
        if (
            kind == "message"
            and event.get("subtype") in NEW_MESSAGE
            and not (event.get("ts") and (event.get("user") or event.get("bot_id")))
        ):
            return False
        return all(_fits(event[k], f) for k, f in INNER_FIELDS.items() if isinstance(event.get(k), dict))
    view = body.get("view")
    if isinstance(view, dict) and not _own_metadata(view.get("private_metadata")):
        return False
    fields = PAYLOAD_FIELDS.get(kind)
    if fields is None:
        return True
    if not _fits(body, fields):
        return False
    if "response_url" in body and _response_url(body) is None:
        return False
    if isinstance(body.get("user"), dict) and not _fits(body["user"], {"id": (_S, True)}):
        return False
    actions = body.get("actions")
    if kind == "block_actions" and not (
        actions and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return False
    view = body.get("view")
    return kind != "view_submission" or (
        isinstance(view, dict) and _fits(view, VIEW_FIELDS) and _state_fits(view["state"].get("values"))
    )


def _own_metadata(metadata: Any) -> bool:
    """A view's private_metadata comes back as the bot wrote it: empty or a JSON object."""
    if metadata is None or metadata == "":
        return True
    try:
        return isinstance(metadata, str) and isinstance(json.loads(metadata), dict)
    except ValueError:
        return False


STATE_FIELDS: Fields = {  # one input's state in a view submission
    "type": (_S, False), "value": (_S, False), "selected_option": (_D, False), "selected_options": (_L, False),
    "selected_user": (_S, False), "selected_users": (_L, False), "selected_date": (_S, False),
}  # fmt: skip


def _state_fits(values: Any) -> bool:
    if not isinstance(values, dict):
        return False
    for by_action in values.values():
        if not isinstance(by_action, dict):
            return False
        for state in by_action.values():
            if not isinstance(state, dict) or not _fits(state, STATE_FIELDS):
                return False
            options = [state.get("selected_option"), *(state.get("selected_options") or [])]
            if not all(o is None or (isinstance(o, dict) and isinstance(o.get("value"), str)) for o in options):
                return False
            if not all(isinstance(u, str) for u in state.get("selected_users") or []):
                return False
    return True


class Front(Middleware):
    """Every request, in one middleware (each costs a call per event): Deps into the context, the request's
    clock and kind started for LogCompletion, and a request missing what its listeners read (or with the
    wrong types) answered 400, storing nothing."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        context = req.context
        context[STARTED] = time.perf_counter()
        kind = context[KIND] = request_kind(req.body)
        try:
            shaped = well_shaped(req.body, kind)
        except RecursionError:  # nested deeper than any payload Slack sends
            shaped = False
        if shaped and (context.team_id or kind == "url_verification"):
            context["deps"] = self.deps
            return next()
        event_id = req.body.get("event_id")
        event_log.warning(
            "event type=%s event_id=%s outcome=malformed status=400",
            kind,
            event_id if isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id) else "-",
        )
        metrics.observe_event(kind, "malformed", 0.0)
        return BoltResponse(status=400, body={"error": "malformed request"})


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
    response_url = _response_url(body)
    if not response_url:
        return
    try:
        WebhookClient(response_url, timeout=5).send(
            text="Sorry, something went wrong on Peerbot's side. It has been logged; please try again.",
            response_type="ephemeral",
        )
    except Exception:
        logger.warning("could not tell the user about the error", exc_info=True)


def _response_url(body: dict[str, Any]) -> str | None:
    """Where to tell the person about an error: the payload's response_url, if it looks like one."""
    url = body.get("response_url")
    urls = body.get("response_urls")
    if not url and isinstance(urls, list) and urls and isinstance(urls[0], dict):
        url = urls[0].get("response_url")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
