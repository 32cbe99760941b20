"""Fakes of views.open / push / update / publish: trigger ids, modal stacks, Home tabs, hashes."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from sandbox.mrkdwn import block_lines
from sandbox.shapes import VIEW, project
from sandbox.webapi import Args, Handler, with_block_ids
from sandbox.world import JSON, SlackError, World

TRIGGER_TTL = 3.0
MAX_VIEW_BLOCKS = 100
MAX_STACK = 3


def _use_trigger(world: World, args: Args) -> str:
    trigger = args.get("trigger_id") or args.get("interactivity_pointer")
    if trigger is None:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
    record = world.triggers.get(trigger)
    if record is None:
        raise SlackError("invalid_trigger_id")
    if record["used"]:
        raise SlackError("exchanged_trigger_id")
    if world.now() - float(record["created"]) > TRIGGER_TTL:
        raise SlackError("expired_trigger_id")
    record["used"] = True
    return str(record["user"])


def _title_problem(view: JSON, key: str) -> str | None:
    obj = view.get(key)
    if obj is None:
        return None
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        return f"[ERROR] must be a plain_text text object [json-pointer:/view/{key}]"
    if len(str(obj.get("text", ""))) > 24:
        return f"[ERROR] must be less than 25 characters [json-pointer:/view/{key}/text]"
    return None


def _view_arg(args: Args, kinds: tuple[str, ...]) -> JSON:
    view = args.decoded("view", "invalid_arguments")
    if not isinstance(view, dict) or view.get("type") not in kinds:
        raise SlackError("invalid_arguments", [f"[ERROR] view.type must be one of {list(kinds)}"])
    problems: list[str] = []
    blocks = view.get("blocks", [])
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and b.get("type") for b in blocks):
        problems.append("[ERROR] blocks must be a list of blocks [json-pointer:/view/blocks]")
    elif len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(f"[ERROR] no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]")
    if view["type"] == "modal":
        if "title" not in view:
            problems.append("[ERROR] missing required field: title [json-pointer:/view]")
        if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and "submit" not in view:
            problems.append("[ERROR] submit is required when an input block is within blocks [json-pointer:/view]")
    problems += [p for p in (_title_problem(view, k) for k in ("title", "submit", "close")) if p]
    if len(str(view.get("private_metadata", ""))) > 3000:
        problems.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if problems:
        raise SlackError("invalid_arguments", problems)
    return view


def _store(world: World, view: JSON, *, view_id: str, user: str, root: str, previous: str | None) -> JSON:
    record: JSON = {
        "id": view_id,
        "team_id": world.team["id"],
        "type": view["type"],
        "blocks": with_block_ids(copy.deepcopy(view.get("blocks", []))),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "hash": f"{int(world.now())}.{secrets.token_urlsafe(6)}",
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "submit_disabled": bool(view.get("submit_disabled", False)),
        "root_view_id": root,
        "previous_view_id": previous,
        "app_id": world.app_id,
        "app_installed_team_id": world.team["id"],
        "bot_id": world.bot_id,
    }
    for key in ("title", "submit", "close"):
        if key in view:
            record[key] = copy.deepcopy(view[key])
    world.views[view_id] = record
    world.view_owner[view_id] = user
    return record


def _shown(world: World, kind: str, record: JSON) -> JSON:
    user = world.view_owner.get(str(record["id"]), "")
    title = record.get("title")
    world.record(
        kind,
        who=world.bot_user_id,
        to=user,
        view_id=record["id"],
        view_type=record["type"],
        title=str(title.get("text", "")) if isinstance(title, dict) else "",
        lines=block_lines(record.get("blocks", []), world.name_of, world.channel_name_of),
    )
    return {"view": project(record, VIEW)}


def views_open(world: World, args: Args) -> JSON:
    view = _view_arg(args, ("modal",))
    user = _use_trigger(world, args)
    view_id = world.new_id("V")
    record = _store(world, view, view_id=view_id, user=user, root=view_id, previous=None)
    world.modal_stacks[user] = [view_id]
    return _shown(world, "modal_opened", record)


def views_push(world: World, args: Args) -> JSON:
    view = _view_arg(args, ("modal",))
    user = _use_trigger(world, args)
    stack = world.modal_stacks.get(user) or []
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    view_id = world.new_id("V")
    record = _store(world, view, view_id=view_id, user=user, root=stack[0], previous=stack[-1])
    stack.append(view_id)
    return _shown(world, "modal_pushed", record)


def _by_id_or_external(world: World, args: Args) -> JSON:
    view_id, external = args.get("view_id"), args.get("external_id")
    if view_id:
        found = world.views.get(view_id)
    elif external:
        found = next((v for v in world.views.values() if v.get("external_id") == external), None)
    else:
        raise SlackError("invalid_arguments", ["[ERROR] either view_id or external_id is required"])
    if found is None:
        raise SlackError("not_found")
    return found


def views_update(world: World, args: Args) -> JSON:
    current = _by_id_or_external(world, args)
    view = _view_arg(args, (str(current["type"]),))
    if args.get("hash") and args.get("hash") != current["hash"]:
        raise SlackError("hash_conflict")
    view_id = str(current["id"])
    record = _store(
        world,
        view,
        view_id=view_id,
        user=world.view_owner[view_id],
        root=str(current["root_view_id"]),
        previous=current.get("previous_view_id"),
    )
    kind = "home_published" if record["type"] == "home" else "modal_updated"
    return _shown(world, kind, record)


def views_publish(world: World, args: Args) -> JSON:
    user = args.need("user_id")
    if user not in world.users:
        raise SlackError("user_not_found")
    view = _view_arg(args, ("home",))
    existing = world.views.get(world.homes.get(user, ""))
    if existing is not None and args.get("hash") and args.get("hash") != existing["hash"]:
        raise SlackError("hash_conflict")
    view_id = str(existing["id"]) if existing else world.new_id("V")
    record = _store(world, view, view_id=view_id, user=user, root=view_id, previous=None)
    world.homes[user] = view_id
    return _shown(world, "home_published", record)


def close_modal(world: World, user: str, view_id: str, *, clear: bool = False) -> None:
    """Take a modal (or the whole stack) off the screen, as a submission or close does."""
    stack = world.modal_stacks.get(user, [])
    if clear or not stack or stack[0] == view_id:
        world.modal_stacks[user] = []
    elif view_id in stack:
        stack.remove(view_id)


def apply_response_action(world: World, user: str, view_id: str, response: Any) -> None:
    """What Slack does with a view_submission answer: errors, update, push, clear, or close."""
    action = response.get("response_action") if isinstance(response, dict) else None
    if action == "errors":
        world.record(
            "modal_errors",
            who=world.bot_user_id,
            to=user,
            view_id=view_id,
            errors=dict(response.get("errors", {})),
        )
        return
    if action in ("update", "push") and isinstance(response.get("view"), dict):
        args = Args({"view": response["view"]})
        view = _view_arg(args, ("modal",))
        stack = world.modal_stacks.setdefault(user, [view_id])
        if action == "update":
            current = world.views[view_id]
            record = _store(
                world,
                view,
                view_id=view_id,
                user=user,
                root=str(current["root_view_id"]),
                previous=current.get("previous_view_id"),
            )
            _shown(world, "modal_updated", record)
        else:
            new_id = world.new_id("V")
            record = _store(world, view, view_id=new_id, user=user, root=stack[0], previous=stack[-1])
            stack.append(new_id)
            _shown(world, "modal_pushed", record)
        return
    close_modal(world, user, view_id, clear=action == "clear")


HANDLERS: dict[str, Handler] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
