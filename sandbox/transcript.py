"""Render the sandbox timeline as plain text, the way each person would have seen it in Slack."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

JSON = dict[str, Any]


def _lines(entry: JSON) -> list[str]:
    lines = [str(line) for line in entry.get("lines") or []]
    return lines or [""]


def _block(head: str, lines: list[str]) -> list[str]:
    """`head` + first line, the rest aligned under the first line."""
    pad = " " * len(head)
    return [head + lines[0], *(pad + line for line in lines[1:])]


def _is_dm(entry: JSON) -> bool:
    return str(entry.get("where", "")).startswith("DM with")


def _dm_head(entry: JSON) -> str:
    return f"DM {entry['who_name']} → {entry.get('to_name') or 'someone'}"


def _message(entry: JSON, previous: JSON | None) -> list[str]:
    who, where = entry["who_name"], entry["where"]
    if entry.get("username") and who in ("someone", entry.get("who")):
        who = str(entry["username"])
    if entry["kind"] == "message":
        head = f"{_dm_head(entry)}: " if _is_dm(entry) else f"{where}  {who}: "
        return _block(head, _lines(entry))
    same_thread = (
        previous is not None
        and previous.get("channel") == entry.get("channel")
        and (previous.get("thread_ts") == entry.get("thread_ts") or previous.get("ts") == entry.get("thread_ts"))
    )
    context = ""
    if not same_thread and entry.get("parent_name"):
        context = f' (in the thread of {entry["parent_name"]}: "{entry.get("parent_snippet", "")}")'
    if entry.get("broadcast"):
        context += " (also sent to the channel)"
    head = f"{_dm_head(entry)}    ↳{context} " if _is_dm(entry) else f"{where}    ↳ {who}{context}: "
    return _block(head, _lines(entry))


def _visible_to(entry: JSON) -> str:
    return f"(only visible to {entry.get('to_name') or entry.get('who_name')}) {entry['where']}  "


def _render_one(entry: JSON, previous: JSON | None) -> list[str]:
    kind, who, where = entry["kind"], entry["who_name"], entry.get("where", "")
    indent = f"{where}    " if where else "    "
    simple: dict[str, Callable[[], list[str]]] = {
        "edit": lambda: _block(f"{where}  {who} edited a message: ", _lines(entry)),
        "delete": lambda: [f'{where}  {who} deleted {_whose(entry)} message: "{entry.get("previous", "")}"'],
        "reaction_added": lambda: [f"{indent}:{entry['reaction']}: added by {who}{_on(entry)}"],
        "reaction_removed": lambda: [f"{indent}:{entry['reaction']}: removed by {who}{_on(entry)}"],
        "ephemeral": lambda: _block(_visible_to(entry) + f"{who}: ", _lines(entry)),
        "ephemeral_replaced": lambda: _block(_visible_to(entry) + f"{who} (replaced): ", _lines(entry)),
        "ephemeral_deleted": lambda: [_visible_to(entry) + f"{who}'s message was dismissed"],
        "join": lambda: [f"{where}  {who} joined the channel"],
        "team_join": lambda: [f"{who} joined the workspace"],
        "command": lambda: [_visible_to(entry) + f"{who} ran {entry.get('text', '')}".rstrip()],
        "shortcut": lambda: [_visible_to(entry) + f'{who} used the shortcut "{entry.get("callback_id")}"{_on(entry)}'],
        "click": lambda: [f'[{who} clicked "{entry.get("label")}" in {where or "a view"}]'],
        "submit": lambda: [f'[{who} submitted the modal "{entry.get("title", "")}"]'],
        "home_opened": lambda: [f"[{who} opened the app's Home tab]"],
        "modal_opened": lambda: [_view_line(entry, "opened")],
        "modal_pushed": lambda: [_view_line(entry, "pushed")],
        "modal_updated": lambda: [_view_line(entry, "updated")],
        "home_published": lambda: _home(entry),
        "modal_errors": lambda: [
            f"[modal for {entry.get('to_name')}] errors: "
            + "; ".join(f"{k}: {v}" for k, v in dict(entry.get("errors", {})).items())
        ],
    }
    if kind in ("message", "reply"):
        return _message(entry, previous)
    if kind in simple:
        return simple[kind]()
    return [f"[{kind}] {who} {where}".rstrip()]


def _whose(entry: JSON) -> str:
    author = entry.get("author_name")
    return "their" if not author or author == entry.get("who_name") else f"{author}'s"


def _on(entry: JSON) -> str:
    target = entry.get("target")
    return f' on {_whose(entry)} message "{target}"' if target is not None else ""


def _home(entry: JSON) -> list[str]:
    """A Home tab in full: it is a page the person reads, not a passing modal."""
    head = f"[Home tab of {entry.get('to_name') or 'someone'}, published by {entry['who_name']}] "
    return _block(head, [line for line in entry.get("lines") or [] if line] or [""])


def _view_line(entry: JSON, verb: str) -> str:
    to = entry.get("to_name") or "someone"
    lines = [line for line in entry.get("lines") or [] if line]
    first = f' — "{lines[0]}"' if lines else ""
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    if entry.get("view_type") == "home":
        return f"[Home tab of {to}] {verb} by {entry['who_name']}{first}{more}"
    title = entry.get("title") or "untitled"
    return f'[modal for {to}] "{title}" {verb}{first}{more}'


def render(entries: Sequence[JSON]) -> str:
    """A readable transcript: one block of lines per timeline entry, in order."""
    out: list[str] = []
    previous: JSON | None = None
    for entry in entries:
        out.extend(_render_one(entry, previous))
        if entry["kind"] in ("message", "reply"):
            previous = entry
    return "\n".join(out) + ("\n" if out else "")
