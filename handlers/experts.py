"""The expert settings modal: topics, capacity, working hours and days, leave, pause."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import experts
from handlers import blocks, ids
from handlers.common import deps_of, slack_call, workspace_of
from storage import queries


def register(app: App) -> None:
    app.view(ids.EXPERT_MODAL)(handle_settings_submit)


def open_settings(command: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/peerbot expert edit`: the modal, filled in with what is stored."""
    user, trigger = str(command.get("user_id", "")), str(command.get("trigger_id", ""))
    if not open_modal(client, context, user=user, trigger_id=trigger):
        respond(text="I couldn't open the settings; please try the command again.", response_type="ephemeral")


def open_modal(client: WebClient, context: BoltContext, *, user: str, trigger_id: str) -> bool:
    """The settings modal for `user`, filled in with what is stored; False when Slack refused to open it."""
    deps, ws = deps_of(context), workspace_of(context)
    with deps.db() as s:
        row = queries.expert(s, ws=ws, user_id=user)
        topics = experts.topics_of(s, ws=ws, user_id=user)
    view = blocks.expert_modal(
        topics=topics,
        capacity=row.capacity if row else 3,
        start=row.work_start if row else 9,
        end=row.work_end if row else 17,
        days=[int(d) for d in (row.work_days if row else "0,1,2,3,4").split(",") if d.isdigit()],
        leave_until=row.on_leave_until.isoformat() if row and row.on_leave_until else None,
        paused=bool(row and row.paused),
    )
    return slack_call(client.views_open, trigger_id=trigger_id, view=view) is not None


def handle_settings_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    values = view.get("state", {}).get("values", {})

    def field(block: str) -> dict[str, Any]:
        found: dict[str, Any] = values.get(block, {}).get("value") or {}
        return found

    leave = field("leave").get("selected_date")
    form = experts.Settings(
        topics=str(field("topics").get("value") or ""),
        capacity=str(field("capacity").get("value") or ""),
        start=int((field("start").get("selected_option") or {}).get("value", 9)),
        end=int((field("end").get("selected_option") or {}).get("value", 17)),
        days=[int(o["value"]) for o in field("days").get("selected_options") or []],
        leave_until=date.fromisoformat(leave) if leave else None,
        paused=bool(field("paused").get("selected_options")),
    )
    deps, ws = deps_of(context), workspace_of(context)
    user = str(body.get("user", {}).get("id", ""))
    info = slack_call(client.users_info, user=user)
    tz = str(info["user"].get("tz") or "UTC") if info else None
    with deps.db() as s:
        problems = experts.save_settings(s, ws=ws, user_id=user, form=form, now=deps.clock(), tz=tz)
        if problems:
            ack(response_action="errors", errors=problems)
            return
        queries.mark_homes_stale(s, ws=ws, users=[user])  # the Home tab shows the new settings
        s.commit()
    ack()
