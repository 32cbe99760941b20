"""Is a request shaped as Slack sends it? One walk over the payload, before any listener runs.

Bolt itself reads some fields (ids, the event, the view) before any listener; the listeners read more. A
request missing what they read, or with other types, is answered 400 and nothing is stored from it. HTTP
requests are vetted by bot.server before Bolt sees them; Socket Mode envelopes by the Front middleware.
"""

from __future__ import annotations

import json
import re
from typing import Any

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


def vet(payload: dict[str, Any]) -> str | None:
    """The request's kind (see `request_kind`) when the payload is fit for Bolt and the listeners, else None."""
    kind = request_kind(payload)
    try:
        fit = _dict_fits(payload, 0, True) and _listener_fields(payload, kind)
    except RecursionError:  # nested deeper than any payload Slack sends
        return None
    if fit and payload.get("type") != "event_callback":
        fit = _bolt_can_read(payload)  # events were checked field by field; Bolt's readers try the rest
    return kind if fit else None


_ID = (str, type(None))
_OBJECT_OR_ID = (str, dict, type(None))
# Fields Bolt reads before any listener runs (ids, routing): the types Slack documents for them.
_BOLT_FIELDS: dict[str, tuple[type, ...]] = {
    "type": _ID, "team_id": _ID, "enterprise_id": _ID, "api_app_id": _ID, "event_id": _ID, "user_id": _ID,
    "channel_id": _ID, "callback_id": _ID, "command": _ID, "thread_ts": _ID, "user_team": _ID, "id": _ID,
    "app_installed_team_id": _ID, "team": _OBJECT_OR_ID, "enterprise": _OBJECT_OR_ID, "user": _OBJECT_OR_ID,
    "channel": _OBJECT_OR_ID, "event": (dict,), "view": (dict,), "message": (dict, type(None)),
    "previous_message": (dict, type(None)), "item": (dict, type(None)), "authorizations": (list, type(None)),
    "actions": (list, type(None)), "is_enterprise_install": (bool, str, type(None)),
    "is_ext_shared_channel": (bool, type(None)),
}  # fmt: skip
_NESTED = frozenset({"event", "message", "previous_message", "item", "view", "team", "enterprise", "user", "channel"})
_BOLT_DEPTH = 3  # Bolt reads objects nested this deep (authorizations[0] at any depth)


def _dict_fits(obj: dict[str, Any], depth: int, bolt: bool) -> bool:
    """Ids and timestamps are short tokens, no text holds a NUL (Slack never sends either; databases refuse
    them), and where Bolt reads (`bolt`), its fields have Slack's types."""
    for key, inner in obj.items():
        if bolt and key in _BOLT_FIELDS and not isinstance(inner, _BOLT_FIELDS[key]):
            return False
        if "\x00" in key:
            return False
        if isinstance(inner, str):
            pattern = SLACK_ID if key in ID_KEYS else _LONG.get(key)
            if (pattern is not None and inner and not pattern.fullmatch(inner)) or "\x00" in inner:
                return False
        elif isinstance(inner, dict):
            if key in ID_KEYS and key not in _OBJECTS:
                return False
            if key in _OBJECTS and not _has_id(inner):
                return False
            nested = bolt and depth < _BOLT_DEPTH and key in _NESTED
            if not _dict_fits(inner, depth + 1, nested):
                return False
        elif key in ID_KEYS and inner is not None:
            return False  # an id or a timestamp as a number, a list…
        elif isinstance(inner, list):
            first = bolt and key == "authorizations"
            if first and inner and not isinstance(inner[0], dict):
                return False
            if not _list_fits(inner, depth + 1, first):
                return False
    event = obj.get("event") if bolt else None
    return not isinstance(event, dict) or isinstance(event.get("type"), str)


def _list_fits(items: list[Any], depth: int, bolt_first: bool) -> bool:
    for i, item in enumerate(items):
        if isinstance(item, str):
            if "\x00" in item:
                return False
        elif isinstance(item, dict):
            if not _dict_fits(item, depth, bolt_first and i == 0):
                return False
        elif isinstance(item, list) and not _list_fits(item, depth + 1, False):
            return False
    return True


def _bolt_can_read(payload: dict[str, Any]) -> bool:
    """Bolt's own readers (listener arguments, context ids) must not trip over the payload."""
    from slack_bolt.context import BoltContext
    from slack_bolt.request import payload_utils
    from slack_bolt.request.internals import build_context

    readers = ("to_options", "to_shortcut", "to_action", "to_view", "to_command", "to_event", "to_message", "to_step")
    try:
        for name in readers:
            getattr(payload_utils, name)(payload)
        build_context(BoltContext(), payload)
    except (LookupError, TypeError, AttributeError, ValueError):
        return False
    return True


def _has_id(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("id"), str) and bool(SLACK_ID.fullmatch(obj["id"]))


def _listener_fields(body: dict[str, Any], kind: str) -> bool:
    """Does a request carry what its listeners read, with Slack's types? (Slack's own requests always do.)"""
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
    if "response_url" in body and response_url(body) is None:
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


def response_url(body: dict[str, Any]) -> str | None:
    """Where to tell the person about an error: the payload's response_url, if it looks like one."""
    url = body.get("response_url")
    urls = body.get("response_urls")
    if not url and isinstance(urls, list) and urls and isinstance(urls[0], dict):
        url = urls[0].get("response_url")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
