"""Messages in the world: posting, threads, edits, deletes (tombstones), reactions and ephemerals."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.mrkdwn import message_lines, snippet
from sandbox.world import JSON, SlackError, World

TOMBSTONE_TEXT = "This message was deleted."


def find(world: World, channel: str, ts: str) -> JSON | None:
    return next((m for m in world.messages.get(channel, []) if m.get("ts") == ts), None)


def is_reply(message: JSON) -> bool:
    return bool(message.get("thread_ts")) and message.get("thread_ts") != message.get("ts")


def top_level(world: World, channel: str) -> list[JSON]:
    """Messages shown in the channel itself, oldest first (thread replies only when broadcast)."""
    return [m for m in world.messages.get(channel, []) if not is_reply(m) or m.get("subtype") == "thread_broadcast"]


def thread(world: World, channel: str, ts: str) -> list[JSON]:
    """The parent then its replies, oldest first; just the message when it has no thread."""
    parent = find(world, channel, ts)
    if parent is None:
        return []
    if is_reply(parent):
        return [parent]
    replies = [m for m in world.messages.get(channel, []) if is_reply(m) and m.get("thread_ts") == ts]
    return [parent, *replies]


def lines_of(world: World, message: JSON) -> list[str]:
    return message_lines(message, world.name_of, world.channel_name_of)


def author(message: JSON) -> str | None:
    user = message.get("user") or message.get("bot_id")
    return str(user) if user else None


def _dm_peer(world: World, channel: str, sender: str | None) -> str | None:
    record = world.channel(channel) or {}
    if not record.get("is_im"):
        return None
    peer = str(record.get("user"))
    return world.bot_user_id if sender == peer else peer


def post(world: World, channel: str, message: JSON, *, record_as: str | None = None) -> JSON:
    """Store `message` in `channel` with a fresh ts; thread it under `thread_ts` and update the parent."""
    with world.lock:
        message = dict(message)
        message["ts"] = world.next_ts()
        message.setdefault("type", "message")
        message.setdefault("team", world.team["id"])
        parent: JSON | None = None
        thread_ts = message.get("thread_ts")
        if thread_ts:
            parent = find(world, channel, str(thread_ts))
            if parent is not None and is_reply(parent):  # replying to a reply lands in the same thread
                parent = find(world, channel, str(parent["thread_ts"]))
            if parent is not None:
                message["thread_ts"] = parent["ts"]
                message["parent_user_id"] = parent.get("user") or parent.get("bot_id")
                _add_reply(parent, message)
        world.messages.setdefault(channel, []).append(message)
        sender = author(message)
        world.record(
            record_as or ("reply" if thread_ts else "message"),
            who=sender,
            channel=channel,
            ts=message["ts"],
            thread_ts=message.get("thread_ts"),
            to=_dm_peer(world, channel, sender),
            lines=lines_of(world, message),
            parent_name=world.name_of(author(parent)) if parent else None,
            parent_snippet=snippet(" ".join(lines_of(world, parent))) if parent else None,
            broadcast=message.get("subtype") == "thread_broadcast",
            username=message.get("username"),
        )
        return message


def _add_reply(parent: JSON, reply: JSON) -> None:
    parent["thread_ts"] = parent["ts"]
    parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
    users = list(parent.get("reply_users", []))
    replier = reply.get("user") or reply.get("bot_id")
    if replier and replier not in users:
        users.append(replier)
    parent["reply_users"] = users
    parent["reply_users_count"] = len(users)
    parent["latest_reply"] = reply["ts"]
    parent.setdefault("subscribed", False)


def _drop_reply(world: World, channel: str, reply: JSON) -> None:
    parent = find(world, channel, str(reply.get("thread_ts")))
    if parent is None:
        return
    remaining = [m for m in thread(world, channel, str(parent["ts"]))[1:] if m is not reply]
    if not remaining:  # the thread is gone: a tombstone goes too, a parent is a plain message again
        if parent.get("subtype") == "tombstone":
            world.messages[channel].remove(parent)
        for key in (
            "thread_ts",
            "reply_count",
            "reply_users",
            "reply_users_count",
            "latest_reply",
            "subscribed",
        ):
            parent.pop(key, None)
        return
    parent["reply_count"] = len(remaining)
    users = list(dict.fromkeys(str(m.get("user") or m.get("bot_id")) for m in remaining))
    parent["reply_users"] = users
    parent["reply_users_count"] = len(users)
    parent["latest_reply"] = remaining[-1]["ts"]


def edit(
    world: World, channel: str, ts: str, *, editor: str, changes: JSON, mark_edited: bool = True
) -> tuple[JSON, JSON]:
    """Change a message's text/blocks/attachments; returns (previous, current)."""
    with world.lock:
        message = find(world, channel, ts)
        if message is None or message.get("subtype") == "tombstone":
            raise SlackError("message_not_found")
        previous = copy.deepcopy(message)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if mark_edited:
            message["edited"] = {"user": editor, "ts": world.next_ts()}
        world.record(
            "edit",
            who=editor,
            channel=channel,
            ts=ts,
            thread_ts=message.get("thread_ts"),
            lines=lines_of(world, message),
            previous=snippet(" ".join(lines_of(world, previous))),
        )
        return previous, message


def delete(world: World, channel: str, ts: str, *, by: str) -> tuple[JSON, JSON | None]:
    """Delete a message; a thread parent with replies stays as Slack's tombstone (returned second)."""
    with world.lock:
        message = find(world, channel, ts)
        if message is None or message.get("subtype") == "tombstone":
            raise SlackError("message_not_found")
        previous = copy.deepcopy(message)
        tombstone: JSON | None = None
        if not is_reply(message) and int(message.get("reply_count", 0)) > 0:
            keep = ("thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply", "ts")
            tombstone = {k: message[k] for k in keep if k in message}
            tombstone.update(type="message", subtype="tombstone", text=TOMBSTONE_TEXT, user="USLACKBOT", hidden=True)
            message.clear()
            message.update(tombstone)
        else:
            world.messages[channel].remove(message)
            if is_reply(message):
                _drop_reply(world, channel, message)
        world.record(
            "delete",
            who=by,
            channel=channel,
            ts=ts,
            thread_ts=previous.get("thread_ts"),
            author_name=world.name_of(author(previous)),
            previous=snippet(" ".join(lines_of(world, previous))),
        )
        return previous, tombstone


def react(world: World, channel: str, ts: str, name: str, user: str) -> JSON:
    with world.lock:
        message = find(world, channel, ts)
        if message is None or message.get("subtype") == "tombstone":
            raise SlackError("message_not_found")
        reactions: list[JSON] = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is not None and user in entry["users"]:
            raise SlackError("already_reacted")
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        entry["users"].append(user)
        entry["count"] = len(entry["users"])
        _record_reaction(world, "reaction_added", channel, message, name, user)
        return message


def unreact(world: World, channel: str, ts: str, name: str, user: str) -> JSON:
    with world.lock:
        message = find(world, channel, ts)
        if message is None:
            raise SlackError("message_not_found")
        reactions: list[JSON] = message.get("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None or user not in entry["users"]:
            raise SlackError("no_reaction")
        entry["users"].remove(user)
        entry["count"] = len(entry["users"])
        if not entry["users"]:
            reactions.remove(entry)
        if not reactions:
            message.pop("reactions", None)
        _record_reaction(world, "reaction_removed", channel, message, name, user)
        return message


def _record_reaction(world: World, kind: str, channel: str, message: JSON, name: str, user: str) -> None:
    world.record(
        kind,
        who=user,
        channel=channel,
        ts=message["ts"],
        thread_ts=message.get("thread_ts"),
        reaction=name,
        author_name=world.name_of(author(message)),
        target=snippet(" ".join(lines_of(world, message))),
    )


def post_ephemeral(world: World, channel: str, user: str, fields: JSON, *, sender: str) -> JSON:
    """An ephemeral message only `user` sees in `channel` (it is never in history)."""
    with world.lock:
        ephemeral: JSON = {"type": "message", "channel": channel, "user": user, "sender": sender}
        ephemeral.update({k: v for k, v in fields.items() if v is not None})
        ephemeral["ts"] = world.next_ts()
        world.ephemerals.append(ephemeral)
        world.record(
            "ephemeral",
            who=sender,
            channel=channel,
            ts=ephemeral["ts"],
            to=user,
            thread_ts=ephemeral.get("thread_ts"),
            lines=lines_of(world, ephemeral),
        )
        return ephemeral


def find_ephemeral(world: World, ts: str) -> JSON | None:
    return next((e for e in world.ephemerals if e.get("ts") == ts), None)


def change_ephemeral(world: World, ts: str, fields: JSON | None) -> None:
    """Replace (fields given) or remove (None) an ephemeral message, as a response_url can."""
    with world.lock:
        ephemeral = find_ephemeral(world, ts)
        if ephemeral is None:
            return
        if fields is None:
            world.ephemerals.remove(ephemeral)
            world.record(
                "ephemeral_deleted",
                who=str(ephemeral["sender"]),
                channel=ephemeral["channel"],
                to=ephemeral["user"],
                ts=ts,
            )
            return
        for key in ("text", "blocks", "attachments"):
            ephemeral.pop(key, None)
        ephemeral.update({k: v for k, v in fields.items() if v is not None})
        world.record(
            "ephemeral_replaced",
            who=str(ephemeral["sender"]),
            channel=ephemeral["channel"],
            to=ephemeral["user"],
            ts=ts,
            lines=lines_of(world, ephemeral),
        )


def public(message: JSON) -> dict[str, Any]:
    """A deep copy for readers (tests, the demo)."""
    return copy.deepcopy(message)
