"""The App Home: published when opened, and refreshed by a sweep after something about the person changes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import home
from bot.deps import Deps
from handlers import blocks, experts, ids
from handlers.common import deps_of, slack_call, workspace_of, workspace_url
from storage import queries
from storage.models import Workspace

log = logging.getLogger("peerbot.home")


def register(app: App) -> None:
    app.event("app_home_opened")(handle_home_opened)
    app.action(ids.HOME_PAGE)(handle_page)
    app.action(ids.HOME_EXPERT_SETTINGS)(handle_settings)


def is_admin(deps: Deps, ws: Workspace, user: str) -> bool:
    if user in deps.settings.admins:
        return True
    with deps.db() as s:
        row = queries.user(s, ws=ws, user_id=user)
    return bool(row and row.is_admin)


def publish(client: WebClient, deps: Deps, ws: Workspace, user: str, *, page: int = 1) -> bool:
    """Build and publish one person's Home tab; record when, so later changes can refresh it."""
    now = deps.clock()
    admin = is_admin(deps, ws, user)
    with deps.db() as s:
        view = blocks.home_view(home.gather(s, ws=ws, user=user, admin=admin, now=now, page=page),
                                base_url=workspace_url(client))  # fmt: skip
    if slack_call(client.views_publish, user_id=user, view=view) is None:
        return False
    with deps.db() as s:
        row = queries.user(s, ws=ws, user_id=user)
        if row is None:
            row = queries.save_user(s, ws=ws, user_id=user, now=now)
        row.home_published_at, row.home_stale = now, False
        s.add(row)
        s.commit()
    return True


def touch(deps: Deps, ws: Workspace, users: list[str]) -> None:
    """Mark these people's Home tabs for a refresh (no Web API call here: the sweep publishes)."""
    with deps.db() as s:
        queries.mark_homes_stale(s, ws=ws, users=users)
        s.commit()


def refresh(clients: Callable[[Workspace], WebClient | None], deps: Deps) -> int:
    """The Home sweep: republish the tabs of people whose data changed since their last publish."""
    with deps.db() as s:
        stale = [(Workspace.of(u), u.slack_id) for u in queries.stale_homes(s)]
    return sum(publish(c, deps, ws, user) for ws, user in stale if (c := clients(ws)) is not None)


def handle_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    if event.get("tab") not in (None, "home"):
        return
    publish(client, deps_of(context), workspace_of(context), str(event.get("user", "")))


def handle_page(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    page = value.removeprefix("questions:")
    user = str(body.get("user", {}).get("id", ""))
    publish(client, deps_of(context), workspace_of(context), user, page=int(page) if page.isdigit() else 1)


def handle_settings(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """ "Edit" / "Become an expert" on the Home tab: the same settings modal as `/peerbot expert edit`."""
    ack()
    user = str(body.get("user", {}).get("id", ""))
    experts.open_modal(client, context, user=user, trigger_id=str(body.get("trigger_id", "")))
