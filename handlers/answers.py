"""Replies in captured threads become answers or follow-ups; edits and deletes in Slack follow them."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.capture import Kind, Message, apply_delete, apply_edit, record_reply
from handlers.common import claim, deps_of, workspace_of
from handlers.routing import on_answered

log = logging.getLogger("peerbot.answers")


def on_thread_reply(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient, text: str
) -> None:
    msg = Message(
        ws=workspace_of(context),
        channel=str(event.get("channel")),
        ts=str(event.get("ts")),
        author=str(event.get("user")),
        text=text,
        thread_ts=str(event.get("thread_ts")),
    )
    deps = deps_of(context)
    with deps.db() as s:
        recorded = record_reply(s, msg=msg, now=deps.clock())
        if recorded is None or not claim(s, body, context):
            return
        s.commit()
    kind, question_id = recorded
    log.info("recorded %s %s in thread %s", kind, msg.ts, msg.thread_ts)
    if kind == Kind.ANSWER:
        # An expert who answers straight in the thread closes their request like a DM answer would.
        on_answered(client, deps, question_id, msg.author, f"Answered by <@{msg.author}> in the thread.")


def handle_message_changed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    message = event.get("message") or {}
    channel, ts = str(event.get("channel", "")), str(message.get("ts", ""))
    deps = deps_of(context)
    with deps.db() as s:
        if message.get("subtype") == "tombstone":
            # A deleted thread parent stays as a "This message was deleted." tombstone: a delete for us.
            changed = apply_delete(s, ws=workspace_of(context), channel_id=channel, ts=ts, now=deps.clock())
        else:
            text = str(message.get("text") or "")
            changed = apply_edit(s, ws=workspace_of(context), channel_id=channel, ts=ts, text=text, now=deps.clock())
        if changed is None or not claim(s, body, context):
            return
        s.commit()
    log.info("followed edit of %s %s", changed, ts)


def handle_message_deleted(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    channel, ts = str(event.get("channel", "")), str(event.get("deleted_ts", ""))
    deps = deps_of(context)
    with deps.db() as s:
        deleted = apply_delete(s, ws=workspace_of(context), channel_id=channel, ts=ts, now=deps.clock())
        if deleted is None or not claim(s, body, context):
            return
        s.commit()
    log.info("followed delete of %s %s", deleted, ts)
