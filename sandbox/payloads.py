"""Events API and interactivity payloads in Slack's real shapes, built from the sandbox's state."""

from __future__ import annotations

import copy

from sandbox import shapes
from sandbox.shapes import project
from sandbox.world import JSON, World


def envelope(
    world: World,
    token: str,
    event: JSON,
    *,
    authorization: JSON | None = None,
    source: tuple[str, str | None] | None = None,
) -> JSON:
    """The `event_callback` wrapper Slack puts around every event.

    `authorization` is the installation the event is for (default: a workspace install of this workspace);
    `source` (team id, enterprise id) names another organisation's team the event came from, as Slack
    sends a reaction by an external person in a shared channel (the workspace then goes in `context_*`).
    """
    team_id = str(world.team["id"])
    top_team, top_enterprise = source if source is not None else (team_id, world.enterprise_id)
    body: JSON = {"token": token, "team_id": top_team}
    if top_enterprise:
        body["enterprise_id"] = top_enterprise
    channel = event.get("channel") or (event.get("item") or {}).get("channel")
    body.update(
        api_app_id=world.app_id,
        event=event,
        type="event_callback",
        event_id=world.new_id("Ev"),
        event_time=int(world.now()),
        authorizations=[
            authorization
            or {
                "enterprise_id": world.enterprise_id,
                "team_id": team_id,
                "user_id": world.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        is_ext_shared_channel=world.is_ext_shared(channel),
    )
    if source is not None:
        body["context_team_id"] = team_id
        if world.enterprise_id:
            body["context_enterprise_id"] = world.enterprise_id
    body["event_context"] = f"4-{event.get('type')}-{team_id}-{channel or ''}"
    return body


def _shared_fields(world: World, channel: str, message: JSON, event: JSON) -> None:
    """In a Slack Connect channel, messages carry the author's team as `user_team` and `source_team`."""
    if world.is_ext_shared(channel) and message.get("user"):
        team = world.team_of(str(message["user"]))
        event.update(user_team=team, source_team=team)


def _where(world: World, channel: str, ts: str) -> JSON:
    return {"channel": channel, "event_ts": ts, "channel_type": world.channel_type(channel)}


def message_event(world: World, channel: str, message: JSON) -> JSON:
    """The `message` event for a stored message, shaped per subtype."""
    subtype = message.get("subtype")
    keys = {
        "file_share": shapes.EVENT_FILE_SHARE,
        "thread_broadcast": shapes.EVENT_BROADCAST,
        "bot_message": shapes.EVENT_BOT_MESSAGE,
        "channel_join": shapes.EVENT_CHANNEL_JOIN,
    }.get(str(subtype), shapes.EVENT_MESSAGE)
    event = project(copy.deepcopy(message), keys)
    if subtype == "thread_broadcast" and isinstance(message.get("root"), dict):
        event["root"] = project(message["root"], shapes.EVENT_BROADCAST_ROOT)
    event.update(_where(world, channel, str(message["ts"])))
    _shared_fields(world, channel, message, event)
    return event


def app_mention_event(world: World, channel: str, message: JSON) -> JSON:
    event = project(copy.deepcopy(message), shapes.EVENT_APP_MENTION)
    event.update(type="app_mention", channel=channel, event_ts=message["ts"])
    _shared_fields(world, channel, message, event)
    return event


def changed_event(world: World, channel: str, previous: JSON, current: JSON) -> JSON:
    """`message_changed` (also Slack's tombstone when a thread parent is deleted)."""
    event: JSON = {
        "type": "message",
        "subtype": "message_changed",
        "message": project(copy.deepcopy(current), shapes.EVENT_CHANGED_MESSAGE),
        "previous_message": project(copy.deepcopy(previous), shapes.EVENT_CHANGED_MESSAGE),
        "hidden": True,
        "ts": world.next_ts(),
    }
    event.update(_where(world, channel, event["ts"]))
    return event


def deleted_event(world: World, channel: str, previous: JSON) -> JSON:
    event: JSON = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": previous["ts"],
        "previous_message": project(copy.deepcopy(previous), shapes.EVENT_CHANGED_MESSAGE),
        "ts": world.next_ts(),
    }
    event.update(_where(world, channel, event["ts"]))
    return event


def reaction_event(world: World, kind: str, user: str, channel: str, message: JSON, name: str) -> JSON:
    event: JSON = {
        "type": kind,
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": message["ts"]},
        "reaction": name,
    }
    item_user = message.get("user")
    if item_user:
        event["item_user"] = item_user
    event["event_ts"] = world.next_ts()
    return event


def member_joined_event(world: World, user: str, channel: str, inviter: str | None) -> JSON:
    record = world.channel(channel) or {}
    event: JSON = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "G" if record.get("is_private") else "C",
        "team": world.team["id"],
    }
    if inviter:
        event["inviter"] = inviter
    event["event_ts"] = world.next_ts()
    return event


def team_join_event(world: World, user: JSON) -> JSON:
    return {"type": "team_join", "user": copy.deepcopy(user), "event_ts": world.next_ts()}


def app_home_opened_event(world: World, user: str, channel: str, tab: str, view: JSON | None) -> JSON:
    event: JSON = {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab}
    event["event_ts"] = world.next_ts()
    if view is not None and tab == "home":
        event["view"] = project(copy.deepcopy(view), shapes.VIEW)
    return event


def team_obj(world: World) -> JSON:
    team: JSON = {"id": world.team["id"], "domain": world.domain}
    if world.enterprise_id:
        team.update(enterprise_id=world.enterprise_id, enterprise_name=world.enterprise_name)
    return team


def user_obj(world: World, user: str, *, with_username: bool = True) -> JSON:
    record = world.user(user) or {}
    name = str(record.get("name", user))
    shown: JSON = {"id": user}
    if with_username:
        shown["username"] = name
    shown.update(name=name, team_id=world.team_of(user))
    return shown


def interactive_base(world: World, kind: str, user: str, token: str, *, is_enterprise_install: bool = False) -> JSON:
    """Fields every interactivity payload starts with (`is_enterprise_install` for an org-wide install)."""
    payload: JSON = {"type": kind, "team": team_obj(world), "user": user_obj(world, user)}
    if world.enterprise_id:
        payload["enterprise"] = {"id": world.enterprise_id, "name": world.enterprise_name}
    payload.update(api_app_id=world.app_id, token=token, is_enterprise_install=is_enterprise_install)
    return payload


def interactive_message(message: JSON) -> JSON:
    return project(copy.deepcopy(message), shapes.INTERACTIVE_MESSAGE)


def channel_obj(world: World, channel: str) -> JSON:
    record = world.channel(channel) or {}
    name = "directmessage" if record.get("is_im") else str(record.get("name", channel))
    return {"id": channel, "name": name}
