"""The /peerbot slash command and its subcommands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import experts, search
from bot.capture import Source
from bot.deps import search_index
from bot.text import escape, quote
from handlers import blocks, ids, onboarding, questions, stats
from handlers import experts as expert_settings
from handlers.common import deps_of, known_channel, permalink, slack_call, workspace_of
from storage import queries

log = logging.getLogger("peerbot.commands")

HELP = """*Peerbot* helps colleagues learn from each other. Commands:
• `/peerbot ask <your question>`: post a question here; replies in its thread are kept as answers
• `/peerbot expert add <topics>`: get asked about questions in your topics (`remove`, `list` too)
• `/peerbot watch [topics]` / `/peerbot unwatch`: (admins) capture questions asked in this channel
  (the topics, if given, go on every question here), or stop
• `/peerbot search <words>`: answered questions that match, shown only to you
• `/peerbot onboard @person [journey] [YYYY-MM-DD]`: (admins) start someone's onboarding journey
• `/peerbot stats [weeks]`: what people ask and how fast it gets answered (aggregates only)
• `/peerbot help`: this message
You can also mention @Peerbot with a question, react :question: to any message, or use the
"Ask Peerbot" message shortcut. React :+1: or :-1: to answers to rate them; the asker's
:white_check_mark: marks the answer that solved it."""

Subcommand = Callable[[dict[str, Any], str, BoltContext, WebClient, Respond], None]


def register(app: App) -> None:
    app.command(ids.COMMAND)(handle_command)


def handle_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    ack()
    name, _, rest = str(command.get("text") or "").strip().partition(" ")
    sub = SUBCOMMANDS.get(name.lower())
    if sub is None:
        unknown = f"I don't know `{escape(name)}`. " if name and name.lower() != "help" else ""
        respond(text=unknown + HELP, response_type="ephemeral")
        return
    sub(command, rest.strip(), context, client, respond)


def ask(command: dict[str, Any], text: str, context: BoltContext, client: WebClient, respond: Respond) -> None:
    user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
    if not text:
        respond(text="Add your question after the command: `/peerbot ask How do I …?`", response_type="ephemeral")
        return
    if channel.startswith("D"):
        respond(
            text="Ask in a channel, so colleagues can see your question and answer it.",
            response_type="ephemeral",
        )
        return
    try:
        posted = client.chat_postMessage(channel=channel, text=f"<@{user}> asks:\n{quote(text)}")
    except SlackApiError as e:
        log.warning("posting /peerbot ask failed: %s", e.response.get("error"))
        respond(
            text="I can't post in this channel. Invite me with `/invite @Peerbot`, then ask again.",
            response_type="ephemeral",
        )
        return
    message = {"user": user, "ts": posted["ts"], "text": text}
    captured = questions.capture_explicit(
        client, context, {}, channel=channel, message=message, source=Source.COMMAND, text=text, react=False
    )
    if captured:
        respond(text="Your question is posted; colleagues can answer in its thread.", response_type="ephemeral")


def _is_admin(client: WebClient, context: BoltContext, user_id: str) -> bool:
    deps = deps_of(context)
    if user_id in deps.settings.admins:
        return True
    try:
        profile = client.users_info(user=user_id)["user"]
    except SlackApiError as e:
        log.warning("users.info failed: %s", e.response.get("error"))
        return False
    admin = bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))
    with deps.db() as s:
        queries.save_user(
            s,
            ws=workspace_of(context),
            user_id=user_id,
            now=deps.clock(),
            name=str(profile.get("name", ""))[:200],
            real_name=str(profile.get("real_name", ""))[:200],
            tz=str(profile.get("tz") or "UTC")[:64],
            is_admin=admin,
            is_bot=bool(profile.get("is_bot")),
            deleted=bool(profile.get("deleted")),
        )
        s.commit()
    return admin


def _watch(watched: bool) -> Subcommand:
    def watch(command: dict[str, Any], text: str, context: BoltContext, client: WebClient, respond: Respond) -> None:
        user, channel_id = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        if not _is_admin(client, context, user):
            respond(
                text="Only workspace admins and Peerbot admins can change watched channels.",
                response_type="ephemeral",
            )
            return
        deps = deps_of(context)
        with deps.db() as s:
            row = known_channel(client, context, s, channel_id)
            if row is None:
                respond(
                    text="I can't see this channel. Invite me with `/invite @Peerbot` first.",
                    response_type="ephemeral",
                )
                return
            names, refused = experts.parse_topics(text)
            if refused:
                respond(text="Not a valid topic: " + escape("; ".join(refused)), response_type="ephemeral")
                return
            row.watched, row.updated_at = watched, deps.clock()
            if watched and names:
                row.default_tags = ",".join(names)[:500]
            s.add(row)
            s.commit()
            name, defaults = row.name, row.default_tags
        reply = (
            f"Peerbot now watches #{escape(name)}: questions asked here are captured."
            if watched
            else f"Peerbot no longer watches #{escape(name)}; explicit asks still work."
        )
        if watched and defaults:
            reply += f" Every question here gets the topics {escape(defaults.replace(',', ', '))}."
        respond(text=reply, response_type="ephemeral")

    return watch


def expert(command: dict[str, Any], text: str, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/peerbot expert add|remove <topics>` and `/peerbot expert list`."""
    user = str(command.get("user_id", ""))
    action, _, topics = text.partition(" ")
    deps, ws = deps_of(context), workspace_of(context)
    action = action.lower() or "list"
    if action == "edit":
        expert_settings.open_settings(command, context, client, respond)
        return
    if action not in ("add", "remove", "list"):
        respond(text=EXPERT_HELP, response_type="ephemeral")
        return
    if action != "list" and not topics.strip():
        respond(text=f"Name the topics: `/peerbot expert {action} kubernetes, postgres`", response_type="ephemeral")
        return
    tz = None
    if action == "add":
        info = slack_call(client.users_info, user=user)
        tz = str(info["user"].get("tz") or "UTC") if info else None
    with deps.db() as s:
        if action == "add":
            change = experts.add_topics(s, ws=ws, user_id=user, text=topics, now=deps.clock(), tz=tz)
        elif action == "remove":
            change = experts.remove_topics(s, ws=ws, user_id=user, text=topics)
        else:
            change = experts.TopicChange([], [])
        mine = experts.topics_of(s, ws=ws, user_id=user)
        s.commit()
    lines = []
    if change.changed:
        lines.append(("Added: " if action == "add" else "Removed: ") + ", ".join(change.changed))
    lines += [f"Not a valid topic: {escape(r)}" for r in change.refused]
    lines.append(
        "Your topics: " + (", ".join(mine) if mine else "none yet. Add some: `/peerbot expert add kubernetes`")
    )
    respond(text="\n".join(lines), response_type="ephemeral")


def search_command(
    command: dict[str, Any], text: str, context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """`/peerbot search <words>`: answered questions, shown to the person alone (their private channels too)."""
    if not text.strip():
        respond(text="Add what you're looking for: `/peerbot search vpn berlin`", response_type="ephemeral")
        return
    user = str(command.get("user_id", ""))
    mine = slack_call(client.users_conversations, user=user, types="private_channel", limit=200)
    channels: list[dict[str, Any]] = mine.get("channels", []) if mine else []
    private = [str(c["id"]) for c in channels]
    deps = deps_of(context)
    with deps.db() as s:
        found = search.search(s, search_index(deps, s), ws_team_id=workspace_of(context).team_id, text=text,
                              member_channels=private, now=deps.clock())  # fmt: skip
    links = {f.question_id: permalink(client, f.channel, f.ts) for f in found[:10]}
    results = blocks.search_results(query=text, found=found, permalinks=links)
    respond(text=f"{len(found)} answered questions found", blocks=results, response_type="ephemeral")


EXPERT_HELP = (
    "`/peerbot expert add <topics>`: offer to answer questions in these topics\n"
    "`/peerbot expert remove <topics>` · `/peerbot expert list` · `/peerbot expert edit`: hours, capacity, leave"
)


def onboard(command: dict[str, Any], text: str, context: BoltContext, client: WebClient, respond: Respond) -> None:
    if not _is_admin(client, context, str(command.get("user_id", ""))):
        respond(text="Only workspace admins and Peerbot admins can start onboarding.", response_type="ephemeral")
        return
    onboarding.onboard_command(client, context, text, respond)


SUBCOMMANDS: dict[str, Subcommand] = {
    "ask": ask,
    "stats": stats.stats_command,
    "onboard": onboard,
    "watch": _watch(True),
    "unwatch": _watch(False),
    "expert": expert,
    "search": search_command,
}
