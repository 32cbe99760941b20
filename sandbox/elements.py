"""Block Kit interactive elements: find one by action_id, and build what Slack reports for a choice."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sandbox.world import JSON

Choice = str | list[str] | None


def elements(blocks: Iterable[Any]) -> Iterator[tuple[str, JSON]]:
    """(block_id, element) for every interactive element in `blocks`."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        block_id = str(block.get("block_id", ""))
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                if isinstance(element, dict):
                    yield block_id, element
        for key in ("accessory", "element"):
            element = block.get(key)
            if isinstance(element, dict):
                yield block_id, element


def find_element(blocks: Iterable[Any], action_id: str, block_id: str | None = None) -> tuple[str, JSON] | None:
    for found_block, element in elements(blocks):
        if element.get("action_id") == action_id and (block_id is None or block_id == found_block):
            return found_block, element
    return None


def _label(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


def _options(element: JSON) -> list[JSON]:
    options = [o for o in element.get("options", []) if isinstance(o, dict)]
    for group in element.get("option_groups", []) or []:
        options += [o for o in group.get("options", []) if isinstance(o, dict)]
    return options


def _option(element: JSON, value: str) -> JSON:
    found = next((o for o in _options(element) if o.get("value") == value), None)
    if found is None and _options(element):
        raise LookupError(f"{element.get('action_id')!r} has no option with value {value!r}")
    return dict(found) if found else {"text": {"type": "plain_text", "text": value}, "value": value}


def _as_list(value: Choice) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [v for v in value.split(",") if v]


def state_value(element: JSON, value: Choice) -> JSON:
    """What `state.values[block][action]` holds once a person chose `value` in `element`."""
    kind = str(element.get("type", "plain_text_input"))
    result: JSON = {"type": kind}
    single = value if isinstance(value, str) else (value[0] if value else None)
    if kind in ("static_select", "external_select", "radio_buttons"):
        result["selected_option"] = _option(element, single) if single is not None else None
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        result["selected_options"] = [_option(element, v) for v in _as_list(value)]
    elif kind == "users_select":
        result["selected_user"] = single
    elif kind == "multi_users_select":
        result["selected_users"] = _as_list(value)
    elif kind == "conversations_select":
        result["selected_conversation"] = single
    elif kind == "multi_conversations_select":
        result["selected_conversations"] = _as_list(value)
    elif kind == "channels_select":
        result["selected_channel"] = single
    elif kind == "multi_channels_select":
        result["selected_channels"] = _as_list(value)
    elif kind == "datepicker":
        result["selected_date"] = single
    elif kind == "timepicker":
        result["selected_time"] = single
    else:
        result["value"] = single
    return result


def action(element: JSON, block_id: str, value: Choice, action_ts: str) -> JSON:
    """One entry of `actions` in a block_actions payload."""
    kind = str(element.get("type", "button"))
    entry: JSON = {"action_id": element.get("action_id"), "block_id": block_id}
    if kind == "button":
        entry["text"] = element.get("text")
        if value is not None or "value" in element:
            entry["value"] = value if isinstance(value, str) else element.get("value")
        if element.get("style"):
            entry["style"] = element["style"]
        entry["type"] = "button"
    elif kind == "overflow":
        single = value if isinstance(value, str) else None
        entry.update(type=kind, selected_option=_option(element, single or ""))
    else:
        entry.update(state_value(element, value))
    entry["action_ts"] = action_ts
    return entry


def action_label(element: JSON, value: Choice) -> str:
    """What a person would say they clicked: the button text or the chosen value."""
    if element.get("type") == "button":
        return _label(element.get("text"))
    return ", ".join(_as_list(value)) or str(element.get("action_id"))


def input_elements(blocks: Iterable[Any]) -> dict[str, tuple[JSON, JSON]]:
    """block_id → (input block, its element) for the input blocks of a view."""
    found: dict[str, tuple[JSON, JSON]] = {}
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "input" and isinstance(block.get("element"), dict):
            found[str(block.get("block_id", ""))] = (block, block["element"])
    return found
