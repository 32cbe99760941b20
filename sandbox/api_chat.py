"""Fakes of chat.* and reactions.* with Slack's checks, errors and response shapes."""

from __future__ import annotations

import re

from sandbox import messages as msgs
from sandbox.shapes import (
    POST_MESSAGE,
    REACTIONS_GET_MESSAGE,
    ROOT,
    UPDATE_MESSAGE,
    project,
    response_message,
)
from sandbox.webapi import Args, Handler, bot_channel, bot_message, content, permalink
from sandbox.world import JSON, SlackError, World

_EMOJI = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")


def post_message(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=True, allow_user=True)
    fields = content(args)
    thread_ts = args.get("thread_ts")
    if thread_ts:
        fields["thread_ts"] = thread_ts
        if args.flag("reply_broadcast"):
            fields["subtype"] = "thread_broadcast"
    channel_id = str(channel["id"])
    message = msgs.post(world, channel_id, bot_message(world, fields, args))
    if message.get("subtype") == "thread_broadcast":
        parent = msgs.find(world, channel_id, str(message.get("thread_ts")))
        if parent is not None:
            message["root"] = project(parent, ROOT)
    return {"channel": channel_id, "ts": message["ts"], "message": response_message(message, POST_MESSAGE)}


def post_ephemeral(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=True, allow_user=True)
    user = args.get("user")
    if not user or user not in world.users or not world.is_member(str(channel["id"]), user):
        raise SlackError("user_not_in_channel")
    fields = content(args)
    fields["thread_ts"] = args.get("thread_ts")
    ephemeral = msgs.post_ephemeral(world, str(channel["id"]), user, fields, sender=world.bot_user_id)
    return {"message_ts": ephemeral["ts"]}


def _own_message(world: World, args: Args, error: str) -> tuple[str, JSON]:
    channel = bot_channel(world, args.get("channel"), write=True)
    channel_id = str(channel["id"])
    message = msgs.find(world, channel_id, args.get("ts") or "")
    if message is None or message.get("subtype") == "tombstone":
        raise SlackError("message_not_found")
    if message.get("user") != world.bot_user_id and message.get("bot_id") != world.bot_id:
        raise SlackError(error)
    return channel_id, message


def update(world: World, args: Args) -> JSON:
    channel_id, message = _own_message(world, args, "cant_update_message")
    fields = content(args)
    # Slack keeps blocks/attachments that are not sent again; an empty array removes them.
    changes: JSON = {"text": fields["text"]} if "text" in fields else {}
    for key in ("blocks", "attachments", "metadata"):
        if key in fields:
            changes[key] = fields[key] or None
    _, current = msgs.edit(world, channel_id, str(message["ts"]), editor=world.bot_user_id, changes=changes)
    return {
        "channel": channel_id,
        "ts": current["ts"],
        "text": current.get("text", ""),
        "message": project(current, UPDATE_MESSAGE),
    }


def delete(world: World, args: Args) -> JSON:
    channel_id, message = _own_message(world, args, "cant_delete_message")
    msgs.delete(world, channel_id, str(message["ts"]), by=world.bot_user_id)
    return {"channel": channel_id, "ts": message["ts"]}


def get_permalink(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=False)
    channel_id = str(channel["id"])
    message = msgs.find(world, channel_id, args.get("message_ts") or "")
    if message is None:
        raise SlackError("message_not_found")
    return {"channel": channel_id, "permalink": permalink(world, channel_id, message)}


def _reaction_target(world: World, args: Args) -> tuple[str, str, str]:
    name = (args.get("name") or "").strip(":")
    if not name or not _EMOJI.match(name):
        raise SlackError("invalid_name")
    if not args.get("channel") or not args.get("timestamp"):
        raise SlackError("no_item_specified")
    channel = bot_channel(world, args.get("channel"), write=True)
    return str(channel["id"]), str(args.get("timestamp")), name


def reactions_add(world: World, args: Args) -> JSON:
    channel_id, ts, name = _reaction_target(world, args)
    msgs.react(world, channel_id, ts, name, world.bot_user_id)
    return {}


def reactions_remove(world: World, args: Args) -> JSON:
    channel_id, ts, name = _reaction_target(world, args)
    msgs.unreact(world, channel_id, ts, name, world.bot_user_id)
    return {}


def reactions_get(world: World, args: Args) -> JSON:
    if not args.get("channel") or not args.get("timestamp"):
        raise SlackError("no_item_specified")
    channel = bot_channel(world, args.get("channel"), write=False)
    channel_id = str(channel["id"])
    message = msgs.find(world, channel_id, args.get("timestamp") or "")
    if message is None:
        raise SlackError("message_not_found")
    shown = project(message, REACTIONS_GET_MESSAGE)
    shown["permalink"] = permalink(world, channel_id, message)
    return {"type": "message", "channel": channel_id, "message": shown}


HANDLERS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
}
