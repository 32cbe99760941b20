"""Shared pieces of the Web API fakes: argument access, channel access rules, paging, message content."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sandbox.profiles import bot_profile
from sandbox.world import JSON, SlackError, World

T = TypeVar("T")
MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000


class Args:
    """The arguments of one call, as sent (form strings or JSON values)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)

    def __contains__(self, name: object) -> bool:
        return self.raw.get(str(name)) not in (None, "")

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None or value == "" else str(value)

    def need(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.get(name)
        if value is None:
            raise SlackError(error, [f"[ERROR] missing required field: {name}"])
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        return value is True or str(value).lower() in ("1", "true", "yes")

    def number(self, name: str, default: int, error: str = "invalid_arguments") -> int:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError(error) from None

    def decoded(self, name: str, error: str) -> Any:
        """A JSON-valued argument (blocks, view, …): decoded when sent as a form string."""
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value

    def id_list(self, name: str) -> list[str]:
        value = self.raw.get(name)
        if isinstance(value, list):
            return [str(v) for v in value]
        return [u.strip() for u in str(value or "").split(",") if u.strip()]


def bot_channel(
    world: World, ref: str | None, *, write: bool, allow_user: bool = False, need_member: bool = True
) -> JSON:
    """The channel the bot addresses, with Slack's access rules for a bot token."""
    if not ref:
        raise SlackError("channel_not_found")
    if allow_user and ref[:1] in ("U", "W") and ref in world.users:
        return world.ensure_dm(ref)
    channel = world.resolve_channel(ref)
    if channel is None:
        raise SlackError("channel_not_found")
    member = world.is_member(str(channel["id"]), world.bot_user_id)
    if channel.get("is_private") and not member:
        raise SlackError("not_in_channel" if write and not channel.get("is_im") else "channel_not_found")
    if write and channel.get("is_archived"):
        raise SlackError("is_archived")
    if not write and need_member and not member:
        raise SlackError("not_in_channel")
    return channel


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"next_offset:{offset}".encode()).decode()


def page(items: Sequence[T], args: Args, *, default_limit: int) -> tuple[list[T], str]:
    """One page of `items` by `limit`/`cursor`; returns it and the next cursor ('' at the end)."""
    limit = args.number("limit", default_limit, "invalid_limit")
    if limit < 0:
        raise SlackError("invalid_limit")
    start = 0
    cursor = args.get("cursor")
    if cursor:
        try:
            kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
            start = int(number)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise SlackError("invalid_cursor") from None
        if kind != "next_offset" or start < 0:
            raise SlackError("invalid_cursor")
    stop = len(items) if limit == 0 else start + limit
    chunk = list(items[start:stop])
    return chunk, encode_cursor(stop) if stop < len(items) else ""


def _check_blocks(blocks: Any, prefix: str = "/blocks") -> list[JSON]:
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and b.get("type") for b in blocks):
        raise SlackError("invalid_blocks_format")
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:{prefix}]")
    for index, block in enumerate(blocks):
        text = block.get("text")
        long_text = isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT
        if block.get("type") == "section" and long_text:
            problems.append(
                f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{prefix}/{index}/text/text]"
            )
    if problems:
        raise SlackError("invalid_blocks", problems)
    return with_block_ids(blocks)


def with_block_ids(blocks: list[JSON]) -> list[JSON]:
    """Copies of `blocks`, each with a block_id (Slack makes one up when the app sends none)."""
    return [b if b.get("block_id") else {**b, "block_id": secrets.token_urlsafe(4)[:5]} for b in blocks]


def content(args: Args, *, required: bool = True) -> JSON:
    """text / blocks / attachments / metadata of chat.* calls, validated like Slack does."""
    fields: JSON = {}
    text = args.get("text") or args.get("markdown_text")
    if text is not None:
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        fields["text"] = text
    if "blocks" in args.raw and args.raw["blocks"] is not None:
        fields["blocks"] = _check_blocks(args.decoded("blocks", "invalid_blocks_format"))
    if "attachments" in args.raw and args.raw["attachments"] is not None:
        attachments = args.decoded("attachments", "invalid_attachments")
        if not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if len(attachments) > 100:
            raise SlackError("too_many_attachments")
        fields["attachments"] = attachments
    if args.raw.get("metadata") is not None:
        fields["metadata"] = args.decoded("metadata", "invalid_metadata_format")
    if required and not (fields.get("text") or fields.get("blocks") or fields.get("attachments")):
        raise SlackError("no_text")
    return fields


def bot_message(world: World, fields: JSON, args: Args) -> JSON:
    """A message as the bot posts it (user, bot_id, app_id, bot_profile), plus the given fields."""
    message: JSON = {
        "user": world.bot_user_id,
        "type": "message",
        "bot_id": world.bot_id,
        "app_id": world.app_id,
        "bot_profile": bot_profile(
            bot_id=world.bot_id,
            app_id=world.app_id,
            team_id=str(world.team["id"]),
            name=world.name_of(world.bot_user_id),
            now=world.now(),
        ),
    }
    message.update(fields)
    if args.get("username"):
        message["username"] = args.get("username")
    icons = {k: args.get(f"icon_{k}") for k in ("emoji", "url")}
    if any(icons.values()):
        message["icons"] = {("emoji" if k == "emoji" else "image_64"): v for k, v in icons.items() if v}
    return message


def permalink(world: World, channel: str, message: JSON) -> str:
    ts = str(message["ts"])
    link = f"https://{world.domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


Handler = Callable[[World, Args], JSON]
