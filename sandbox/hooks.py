"""response_url hooks: fresh URLs per interaction; what is POSTed turns into messages as Slack does."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sandbox import messages as msgs
from sandbox.webapi import Args, bot_message
from sandbox.world import JSON, SlackError, World

MAX_USES = 5
TTL_SECONDS = 30 * 60


@dataclass
class Hook:
    """A response_url and the interaction it belongs to."""

    id: str
    kind: str
    channel: str | None
    user: str | None
    message_ts: str | None
    is_ephemeral: bool
    created: float
    uses: int = 0


class Hooks:
    """All response_urls of a sandbox, and the JSON posted to them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._hooks: dict[str, Hook] = {}
        self.responses: list[JSON] = []

    def __contains__(self, hook_id: object) -> bool:
        with self._lock:
            return hook_id in self._hooks

    def register(
        self,
        kind: str,
        *,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        hook_id = f"{kind}-{secrets.token_hex(8)}"
        with self._lock:
            self._hooks[hook_id] = Hook(hook_id, kind, channel, user, message_ts, is_ephemeral, self.world.now())
        return hook_id

    def post(self, hook_id: str, payload: Any) -> tuple[int, JSON]:
        """Apply one POST to a response_url; returns the HTTP status and JSON body."""
        with self._lock:
            hook = self._hooks.get(hook_id)
            self.responses.append({"id": hook_id, "kind": hook.kind if hook else None, "json": payload})
            if hook is None:
                return 404, {"ok": False, "error": "invalid_url"}
            if self.world.now() - hook.created > TTL_SECONDS:
                return 404, {"ok": False, "error": "expired_url"}
            if hook.uses >= MAX_USES:
                return 404, {"ok": False, "error": "used_url"}
            hook.uses += 1
        if not isinstance(payload, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        try:
            with self.world.lock:
                self._apply(hook, payload)
        except SlackError as error:
            return 400, {"ok": False, "error": error.code}
        return 200, {"ok": True}

    def _apply(self, hook: Hook, payload: JSON) -> None:
        world = self.world
        fields = {k: payload[k] for k in ("text", "blocks", "attachments") if payload.get(k)}
        if payload.get("delete_original"):
            if hook.message_ts and hook.is_ephemeral:
                msgs.change_ephemeral(world, hook.message_ts, None)
            elif hook.message_ts and hook.channel and msgs.find(world, hook.channel, hook.message_ts):
                msgs.delete(world, hook.channel, hook.message_ts, by=world.bot_user_id)
            if not fields:
                return
        if not fields:
            raise SlackError("no_text")
        if _flag(payload.get("replace_original")) and hook.message_ts:
            if hook.is_ephemeral:
                msgs.change_ephemeral(world, hook.message_ts, fields)
            elif hook.channel:
                changes: JSON = {
                    "text": fields.get("text", ""),
                    "blocks": fields.get("blocks"),
                    "attachments": fields.get("attachments"),
                }
                msgs.edit(
                    world,
                    hook.channel,
                    hook.message_ts,
                    editor=world.bot_user_id,
                    changes=changes,
                    mark_edited=False,
                )
            return
        if hook.channel is None:
            return
        if payload.get("thread_ts"):
            fields["thread_ts"] = payload["thread_ts"]
        if payload.get("response_type") == "in_channel":
            msgs.post(world, hook.channel, bot_message(world, fields, Args({})))
        elif hook.user:
            msgs.post_ephemeral(world, hook.channel, hook.user, fields, sender=world.bot_user_id)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")
