"""Capturing questions: implicit ones in watched channels, @mentions, the shortcut and ❓ reactions."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy import update
from sqlmodel import Session, col

from bot.capture import Message, Source, capture_question, watched_channel
from bot.deps import Deps
from bot.detect import looks_like_question
from bot.text import files_note, strip_mention
from bot.topics import channel_defaults, tag_question
from handlers import answers, ids, suggestions
from handlers.common import claim, deps_of, known_channel, outside_ignored, slack_call, workspace_of
from handlers.routing import announce_capture, route_question
from storage.models import Question

# How long a capturing request has to follow its question up before the routing sweep does it instead.
FOLLOW_UP_DEADLINE = timedelta(minutes=2)

log = logging.getLogger("peerbot.questions")

# Message subtypes that carry a person's words; everything else (joins, topic changes, bots) is ignored.
PEOPLE_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}


def register(app: App) -> None:
    # The message listener first: it is by far the most frequent event, and Bolt tries listeners in order.
    app.event("message")(handle_message)
    app.event("app_mention")(handle_app_mention)
    app.shortcut(ids.ASK_SHORTCUT)(handle_ask_shortcut)


def message_text(event: dict[str, Any]) -> str:
    return str(event.get("text") or "").strip() or files_note(event.get("files"))


def handle_message(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A person's message in a channel: a reply in a captured thread, or perhaps a new question."""
    subtype = event.get("subtype")
    if subtype == "message_changed":
        answers.handle_message_changed(event, body, context)
        return
    if subtype == "message_deleted":
        answers.handle_message_deleted(event, body, context)
        return
    if subtype not in PEOPLE_SUBTYPES or event.get("bot_id") or not event.get("user") or event.get("hidden"):
        log.debug("ignored message subtype=%s bot=%s", subtype, event.get("bot_id"))
        return
    if event.get("channel_type") not in ("channel", "group"):
        log.debug("ignored message in %s", event.get("channel_type"))
        return
    if outside_ignored(body, context):
        return
    thread_ts, ts = event.get("thread_ts"), str(event.get("ts", ""))
    text = message_text(event)
    if thread_ts and thread_ts != ts:
        answers.on_thread_reply(event, body, context, client, text)
        return
    bot = context.bot_user_id or ""
    # @mentions arrive twice (message + app_mention); the app_mention listener captures those.
    if (bot and f"<@{bot}>" in text) or not looks_like_question(text):
        return
    msg = Message(
        ws=workspace_of(context),
        channel=str(event.get("channel")),
        ts=ts,
        author=str(event["user"]),
        text=text,
        is_private=event.get("channel_type") == "group",
    )
    deps = deps_of(context)
    with deps.db() as s:
        configured = deps.settings.watched_channels
        watched, row = watched_channel(s, ws=msg.ws, channel_id=msg.channel, configured=configured)
        if not watched:
            return
        captured = _capture(s, msg, Source.IMPLICIT, body, context, channel_defaults(row))
    if captured:
        _follow_up(client, context, *captured, react=True)


def _capture(
    s: Session, msg: Message, source: Source, body: dict[str, Any], context: BoltContext, defaults: list[str]
) -> tuple[Question, list[str]] | None:
    """Store the question and its topics (`defaults`: its channel's), in one transaction with the event's claim."""
    now = deps_of(context).clock()
    question = capture_question(s, msg=msg, source=source, now=now)
    if question is None or not claim(s, body, context):
        s.rollback()
        return None
    tags = tag_question(s, question=question, defaults=defaults)
    question.route_at = now + FOLLOW_UP_DEADLINE  # if this request dies before following up, the sweep will
    s.add(question)
    s.commit()
    log.info("captured question %s in %s (%s)", question.ts, question.channel, source)
    return question, tags


def _follow_up(client: WebClient, context: BoltContext, question: Question, tags: list[str], *, react: bool) -> None:
    follow_up(client, deps_of(context), question, tags, react=react)


def follow_up(client: WebClient, deps: Deps, question: Question, tags: list[str], *, react: bool) -> None:
    """After the capture's commit: the 👀, then answers colleagues already gave, else routing to experts.

    Also run by the routing sweep for a question whose capturing request died before getting here.
    """
    if react:
        acknowledge(client, deps, question)
    if suggestions.offer(client, deps, question.id or 0, tags, question):
        status = "Colleagues answered similar questions: see the thread. If none solves it, press *Still need help*."
        announce_capture(client, question, tags, status)
    else:
        route_question(client, deps, question.id or 0, announce=True, topics=tags)
    with deps.db() as s:
        s.execute(update(Question).where(col(Question.id) == question.id).values(followed_up_at=deps.clock()))
        s.commit()


def acknowledge(client: WebClient, deps: Deps, question: Question) -> None:
    """A light touch: a 👀 reaction, never a noisy reply."""
    emoji = deps.settings.ack_emoji
    slack_call(client.reactions_add, channel=question.channel, timestamp=question.ts, name=emoji)


def capture_explicit(
    client: WebClient,
    context: BoltContext,
    body: dict[str, Any],
    *,
    channel: str,
    message: dict[str, Any],
    source: Source,
    text: str | None = None,
    react: bool = True,
) -> Question | None:
    """Capture a message a person pointed at (mention, shortcut, ❓), in any channel the bot can see."""
    author = message.get("user")
    if not author or message.get("bot_id"):
        return None
    ts = str(message.get("ts", ""))
    thread_ts = message.get("thread_ts")
    deps = deps_of(context)
    with deps.db() as s:
        row = known_channel(client, context, s, channel)
        msg = Message(
            ws=workspace_of(context),
            channel=channel,
            ts=ts,
            author=str(author),
            text=text if text is not None else message_text(message),
            thread_ts=str(thread_ts) if thread_ts else None,
            is_private=True if row is None else row.is_private,  # unknown counts as private
        )
        captured = _capture(s, msg, source, body, context, channel_defaults(row))
    if captured is None:
        return None
    _follow_up(client, context, *captured, react=react)
    return captured[0]


def handle_app_mention(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    if outside_ignored(body, context):
        return
    text = strip_mention(str(event.get("text") or ""), context.bot_user_id or "")
    channel = str(event.get("channel", ""))
    if not text:
        slack_call(
            client.chat_postEphemeral,
            channel=channel,
            user=str(event.get("user", "")),
            text="Ask me a question by mentioning me with it, e.g. `@Peerbot how do I request VPN access?`",
        )
        return
    capture_explicit(client, context, body, channel=channel, message=event, source=Source.MENTION, text=text)


def handle_ask_shortcut(
    ack: Ack, shortcut: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """The "Ask Peerbot" message shortcut: capture that message as a question."""
    ack()
    message = shortcut.get("message") or {}
    channel = str((shortcut.get("channel") or {}).get("id", ""))
    if not message.get("user") or message.get("bot_id"):
        respond(text="Peerbot can only capture messages written by people.", response_type="ephemeral")
        return
    captured = capture_explicit(client, context, shortcut, channel=channel, message=message, source=Source.SHORTCUT)
    note = (
        "Captured as a question: colleagues' replies in its thread are kept as answers."
        if captured
        else "That message is already captured as a question."
    )
    respond(text=note, response_type="ephemeral")


def capture_reacted(client: WebClient, context: BoltContext, body: dict[str, Any], *, channel: str, ts: str) -> None:
    """A ❓ reaction: fetch the message it was put on and capture it."""
    message = _fetch_message(client, channel=channel, ts=ts)
    if message is None:
        log.info("❓ on %s/%s: message not readable, not captured", channel, ts)
        return
    capture_explicit(client, context, body, channel=channel, message=message, source=Source.REACTION)


def _fetch_message(client: WebClient, *, channel: str, ts: str) -> dict[str, Any] | None:
    history = slack_call(client.conversations_history, channel=channel, latest=ts, inclusive=True, limit=1)
    # A reply inside a thread is not in the channel history; conversations.replies finds it.
    replies = None if _find(history, ts) else slack_call(client.conversations_replies, channel=channel, ts=ts)
    return _find(history, ts) or _find(replies, ts)


def _find(response: SlackResponse | None, ts: str) -> dict[str, Any] | None:
    messages: list[dict[str, Any]] = response.get("messages", []) if response is not None else []
    return next((dict(m) for m in messages if m.get("ts") == ts), None)
