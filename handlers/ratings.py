"""Reactions: votes on captured answers, the asker's ✅, and ❓ to ask about any message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.ratings import Outcome, Reaction, Rules, record_reaction
from bot.text import reaction_name
from handlers import questions
from handlers.common import claim, deps_of, workspace_of
from handlers.routing import on_answered
from storage import queries

log = logging.getLogger("peerbot.ratings")


def register(app: App) -> None:
    app.event("reaction_added")(handle_reaction_added)
    app.event("reaction_removed")(handle_reaction_removed)


def handle_reaction_added(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    item = event.get("item") or {}
    if item.get("type") != "message":
        return
    if reaction_name(str(event.get("reaction", ""))) == deps_of(context).settings.ask_emoji:
        questions.capture_reacted(client, context, body, channel=str(item.get("channel")), ts=str(item.get("ts")))
        return
    _apply(event, body, context, client, added=True)


def handle_reaction_removed(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    if (event.get("item") or {}).get("type") == "message":
        _apply(event, body, context, client, added=False)


def _apply(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient, *, added: bool
) -> None:
    deps = deps_of(context)
    settings = deps.settings
    item = event.get("item") or {}
    reaction = Reaction(
        ws=workspace_of(context),
        channel=str(item.get("channel", "")),
        ts=str(item.get("ts", "")),
        voter=str(event.get("user", "")),
        emoji=reaction_name(str(event.get("reaction", ""))),
        added=added,
    )
    rules = Rules(weights=settings.vote_emoji, accept_emoji=settings.accept_emoji)
    if reaction.emoji not in rules.weights and reaction.emoji != rules.accept_emoji:
        return  # most reactions are just reactions: no database work for them
    with deps.db() as s:
        outcome = record_reaction(s, reaction=reaction, rules=rules, now=deps.clock())
        if outcome is None or not claim(s, body, context):
            return
        answer = queries.answer_at(s, ws=reaction.ws, channel_id=reaction.channel, ts=reaction.ts)
        if answer is not None:
            queries.mark_homes_stale(s, ws=reaction.ws, users=[answer.author])
        s.commit()
    if outcome == Outcome.ACCEPTED and answer is not None:
        on_answered(client, deps, answer.question_id, None, "Resolved: the asker accepted an answer.")
    log.info("%s: %s by %s on %s", outcome, reaction.emoji, reaction.voter, reaction.ts)
