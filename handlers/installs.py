"""Uninstalls: `app_uninstalled` and `tokens_revoked` remove the installation's tokens, so its jobs stop.

The workspace's questions, answers and experts stay until an admin runs `peerbot workspace forget T…`.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from handlers.common import deps_of

log = logging.getLogger("peerbot.installs")


def register(app: App) -> None:
    app.event("app_uninstalled")(handle_app_uninstalled)
    app.event("tokens_revoked")(handle_tokens_revoked)


def _installed_team(context: BoltContext) -> str | None:
    """The team an installation is stored under: none for an org-wide install (it spans the organisation)."""
    return None if context.is_enterprise_install else context.team_id


def handle_app_uninstalled(context: BoltContext) -> None:
    deps = deps_of(context)
    where = context.team_id or context.enterprise_id
    if deps.installs is None:
        log.warning("Peerbot was uninstalled from %s: SLACK_BOT_TOKEN no longer works there", where)
        return
    deps.installs.store.delete_all(enterprise_id=context.enterprise_id, team_id=_installed_team(context))
    log.warning("Peerbot was uninstalled from %s: its tokens are deleted and its jobs stop (data kept)", where)


def handle_tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    raw = event.get("tokens")
    tokens: dict[str, Any] = raw if isinstance(raw, dict) else {}
    where = context.team_id or context.enterprise_id
    if deps.installs is None:
        log.warning("Peerbot's tokens were revoked in %s: SLACK_BOT_TOKEN may no longer work there", where)
        return
    store, team = deps.installs.store, _installed_team(context)
    if tokens.get("bot"):
        store.delete_bot(enterprise_id=context.enterprise_id, team_id=team)
    for user_id in tokens.get("oauth") or []:
        if isinstance(user_id, str):
            store.delete_installation(enterprise_id=context.enterprise_id, team_id=team, user_id=user_id)
    log.warning(
        "tokens revoked in %s (bot: %s, users: %d)", where, bool(tokens.get("bot")), len(tokens.get("oauth") or [])
    )
