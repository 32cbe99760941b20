"""`/peerbot stats`: the workspace's aggregate statistics, shown only to whoever asked."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient

from bot.stats import MAX_WEEKS, format_stats, workspace_stats
from handlers.common import deps_of, workspace_of

DEFAULT_WEEKS = 8


def stats_command(
    command: dict[str, Any], text: str, context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """`/peerbot stats [weeks]`: aggregates for everyone; admins also see who helped most."""
    from handlers.commands import _is_admin  # handlers.commands lists this subcommand

    weeks_text = text.strip().split()[0] if text.strip() else str(DEFAULT_WEEKS)
    if not weeks_text.isdigit() or not 1 <= int(weeks_text) <= MAX_WEEKS:
        respond(text=f"Usage: `/peerbot stats [weeks]`, with 1 to {MAX_WEEKS} weeks.", response_type="ephemeral")
        return
    admin = _is_admin(client, context, str(command.get("user_id", "")))
    deps = deps_of(context)
    with deps.db() as s:
        stats = workspace_stats(s, ws=workspace_of(context), now=deps.clock(), weeks=int(weeks_text))
    respond(text=format_stats(stats, admin=admin), response_type="ephemeral")
