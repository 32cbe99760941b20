"""The Web API method table and one call's dispatch: handler result or Slack error body."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from sandbox import api_chat, api_files, api_read, api_views
from sandbox.webapi import Args, Handler
from sandbox.world import JSON, SlackError, World

HANDLERS: dict[str, Handler] = {**api_chat.HANDLERS, **api_read.HANDLERS, **api_views.HANDLERS, **api_files.HANDLERS}

# Arguments that carry JSON; slack_sdk sends them as form strings for some methods.
JSON_ARGS = frozenset({"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks"})


def decode_args(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Args with JSON-valued fields decoded when they came as strings (undecodable ones kept as sent)."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        if name in JSON_ARGS and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        decoded[name] = value
    return decoded


def error_body(error: SlackError) -> JSON:
    body: JSON = {"ok": False, "error": error.code}
    if error.messages:
        body["response_metadata"] = {"messages": list(error.messages)}
    return body


def dispatch(world: World, method: str, args: Mapping[str, Any]) -> JSON:
    """Run one implemented method; unimplemented ones answer `not_implemented_in_sandbox`."""
    handler = HANDLERS.get(method)
    if handler is None:
        return {"ok": False, "error": "not_implemented_in_sandbox"}
    try:
        with world.lock:
            result = handler(world, Args(args))
    except SlackError as error:
        return error_body(error)
    return {"ok": True, **result}
