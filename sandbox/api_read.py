"""Fakes of auth.test, conversations.*, users.* and team.info: reading the workspace like a bot token."""

from __future__ import annotations

import copy

from sandbox import messages as msgs
from sandbox.shapes import CHANNEL_INFO, HISTORY_MESSAGE, REPLIES_MESSAGE, project, response_message
from sandbox.webapi import Args, Handler, bot_channel, page
from sandbox.world import JSON, SlackError, World


def auth_test(world: World, args: Args) -> JSON:
    result: JSON = {
        "url": f"https://{world.domain}.slack.com/",
        "team": world.team["name"],
        "user": world.users[world.bot_user_id]["name"],
        "team_id": world.team["id"],
        "user_id": world.bot_user_id,
        "bot_id": world.bot_id,
        "is_enterprise_install": False,
    }
    if world.enterprise_id:
        result["enterprise_id"] = world.enterprise_id
    return result


def api_test(world: World, args: Args) -> JSON:
    if args.get("error"):
        raise SlackError(str(args.get("error")))
    return {"args": {k: v for k, v in args.raw.items() if k != "token"}}


def channel_info(world: World, channel: JSON, *, num_members: bool = False) -> JSON:
    """A conversation object as conversations.info / list return it."""
    info: JSON = {k: channel[k] for k in ("id", "name") if k in channel}
    info.update({k: bool(channel.get(k)) for k in ("is_channel", "is_group", "is_im", "is_mpim", "is_private")})
    info.update(
        created=channel.get("created", 0),
        is_archived=bool(channel.get("is_archived")),
        is_general=bool(channel.get("is_general")),
        is_shared=bool(channel.get("is_shared")),
        is_ext_shared=bool(channel.get("is_ext_shared")),
        is_org_shared=False,
        is_member=world.is_member(str(channel["id"]), world.bot_user_id),
        context_team_id=world.team["id"],
        updated=int(channel.get("created", 0)) * 1000,
    )
    if channel.get("shared_team_ids"):
        info.update(
            shared_team_ids=list(channel["shared_team_ids"]), conversation_host_id=channel["conversation_host_id"]
        )
    if "name" in channel:
        info.update(name_normalized=channel["name"], creator=channel.get("creator", ""))
        info.update(topic=channel.get("topic"), purpose=channel.get("purpose"))
    if channel.get("is_im"):
        info["user"] = channel.get("user")
    if num_members:
        info["num_members"] = len(channel.get("members", []))
    return info


def _ts_arg(args: Args, name: str, default: float) -> float:
    value = args.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise SlackError(f"invalid_ts_{name}") from None


def _window(items: list[JSON], args: Args) -> list[JSON]:
    oldest, latest = _ts_arg(args, "oldest", 0.0), _ts_arg(args, "latest", float("inf"))
    inclusive = args.flag("inclusive")

    def inside(message: JSON) -> bool:
        ts = float(message["ts"])
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    return [m for m in items if inside(m)]


def history(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=False)
    newest_first = list(reversed(msgs.top_level(world, str(channel["id"]))))
    chunk, cursor = page(_window(newest_first, args), args, default_limit=100)
    return {
        "messages": [response_message(m, HISTORY_MESSAGE) for m in chunk],
        "has_more": bool(cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def replies(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=False)
    found = msgs.thread(world, str(channel["id"]), args.get("ts") or "")
    if not found:
        raise SlackError("thread_not_found")
    parent, rest = found[0], _window(found[1:], args)
    chunk, cursor = page([parent, *rest], args, default_limit=1000)
    return {
        "messages": [response_message(m, REPLIES_MESSAGE) for m in chunk],
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


def info(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=False, need_member=False)
    return {
        "channel": project(channel_info(world, channel, num_members=args.flag("include_num_members")), CHANNEL_INFO)
    }


def open_conversation(world: World, args: Args) -> JSON:
    if args.get("channel"):
        channel = bot_channel(world, args.get("channel"), write=False)
        return {"channel": {"id": channel["id"]}}
    users = [u for u in args.id_list("users") if u != world.bot_user_id]
    if not users:
        raise SlackError("users_list_not_supplied")
    for user in users:
        record = world.user(user)
        if record is None:
            raise SlackError("user_not_found")
        if record.get("deleted"):
            raise SlackError("user_disabled")
    if len(users) > 8:
        raise SlackError("too_many_users")
    if len(users) == 1:
        existing = world.dm_of(users[0])
        if existing is None and args.flag("prevent_creation"):
            raise SlackError("channel_not_found")
        dm = existing or world.ensure_dm(users[0])
        if args.flag("return_im"):
            keys = ("id", "created", "is_archived", "is_im", "is_org_shared", "user")
            return {"channel": {k: dm.get(k, False) for k in keys}}
        return {"channel": {"id": dm["id"]}}
    return {"channel": {"id": _group_dm(world, users)["id"]}}


def _group_dm(world: World, users: list[str]) -> JSON:
    members = sorted({*users, world.bot_user_id})
    for channel in world.channels.values():
        if channel.get("is_mpim") and sorted(channel.get("members", [])) == members:
            return channel
    names = "--".join(str(world.users[u]["name"]) for u in members if u != world.bot_user_id)
    channel = world.add_channel(world.new_id("G"), f"mpdm-{names}-1", is_private=True, members=members)
    channel.update(is_mpim=True, is_group=False)
    return channel


def members(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=False, need_member=False)
    chunk, cursor = page(list(channel.get("members", [])), args, default_limit=100)
    return {"members": chunk, "response_metadata": {"next_cursor": cursor}}


def _of_types(world: World, args: Args, channels: list[JSON]) -> list[JSON]:
    types = set((args.get("types") or "public_channel").split(","))
    if not types <= {"public_channel", "private_channel", "im", "mpim"}:
        raise SlackError("invalid_types")

    def kind(c: JSON) -> str:
        if c.get("is_im"):
            return "im"
        if c.get("is_mpim"):
            return "mpim"
        return "private_channel" if c.get("is_private") else "public_channel"

    exclude_archived = args.flag("exclude_archived")
    return [c for c in channels if kind(c) in types and not (exclude_archived and c.get("is_archived"))]


def list_conversations(world: World, args: Args) -> JSON:
    visible = [
        c
        for c in world.channels.values()
        if not c.get("is_private") or world.is_member(str(c["id"]), world.bot_user_id)
    ]
    chunk, cursor = page(_of_types(world, args, visible), args, default_limit=100)
    shown = [project(channel_info(world, c), CHANNEL_INFO | {"user"}) for c in chunk]
    return {"channels": shown, "response_metadata": {"next_cursor": cursor}}


def user_conversations(world: World, args: Args) -> JSON:
    user = args.get("user") or world.bot_user_id
    if user not in world.users:
        raise SlackError("user_not_found")
    theirs = [c for c in world.channels.values() if world.is_member(str(c["id"]), user)]
    chunk, cursor = page(_of_types(world, args, theirs), args, default_limit=100)
    shown = [project(channel_info(world, c), CHANNEL_INFO - {"is_member", "num_members"} | {"user"}) for c in chunk]
    return {"channels": shown, "response_metadata": {"next_cursor": cursor}}


def join(world: World, args: Args) -> JSON:
    channel = bot_channel(world, args.get("channel"), write=False, need_member=False)
    if channel.get("is_private"):
        raise SlackError("method_not_supported_for_channel_type")
    if channel.get("is_archived"):
        raise SlackError("is_archived")
    if world.bot_user_id not in channel["members"]:
        channel["members"].append(world.bot_user_id)
        world.record("join", who=world.bot_user_id, channel=str(channel["id"]))
    return {"channel": project(channel_info(world, channel), CHANNEL_INFO - {"num_members"})}


def users_info(world: World, args: Args) -> JSON:
    user = world.user(args.get("user") or "")
    if user is None:
        raise SlackError("user_not_found")
    shown = copy.deepcopy(user)
    if args.flag("include_locale"):
        shown["locale"] = "en-US"
    return {"user": shown}


def users_list(world: World, args: Args) -> JSON:
    members = [u for u in world.users.values() if u["id"] not in world.external_users]
    chunk, cursor = page(members, args, default_limit=0)
    return {
        "members": copy.deepcopy(chunk),
        "cache_ts": int(world.now()),
        "response_metadata": {"next_cursor": cursor},
    }


def lookup_by_email(world: World, args: Args) -> JSON:
    email = (args.get("email") or "").lower()
    for user in world.users.values():
        if str(user["profile"].get("email", "")).lower() == email and email:
            return {"user": copy.deepcopy(user)}
    raise SlackError("users_not_found")


def team_info(world: World, args: Args) -> JSON:
    team: JSON = {
        "id": world.team["id"],
        "name": world.team["name"],
        "domain": world.domain,
        "email_domain": f"{world.domain}.example.com",
        "url": f"https://{world.domain}.slack.com/",
        "is_verified": False,
    }
    if world.enterprise_id:
        team["enterprise_id"] = world.enterprise_id
    return {"team": team}


HANDLERS: dict[str, Handler] = {
    "auth.test": auth_test,
    "api.test": api_test,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.info": info,
    "conversations.open": open_conversation,
    "conversations.members": members,
    "conversations.list": list_conversations,
    "conversations.join": join,
    "users.conversations": user_conversations,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": lookup_by_email,
    "team.info": team_info,
}
