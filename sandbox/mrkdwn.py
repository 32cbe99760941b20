"""Slack text both ways: markup and Block Kit to readable lines, and typed text to `rich_text` blocks."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

JSON = dict[str, Any]
NameOf = Callable[[str], str]

_TOKEN = re.compile(r"<([^<>]+)>")


def readable(text: str, name_of: NameOf, channel_name_of: NameOf) -> str:
    """`<@U1>` → `@Name`, `<#C1>` → `#name`, `<!here>` → `@here`, links to `label (url)`, unescaped."""

    def swap(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            return "@" + (label or name_of(target[1:]))
        if target.startswith("#"):
            return "#" + (label or channel_name_of(target[1:]))
        if target.startswith("!subteam^"):
            return label or "@team"
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + target[1:]
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_TOKEN.sub(swap, text))


def _text_of(obj: object) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def _rich_text(elements: Iterable[Any], name_of: NameOf, channel_name_of: NameOf) -> str:
    out: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            out.append(_rich_text(element.get("elements", []), name_of, channel_name_of))
        elif kind == "rich_text_list":
            items = [_rich_text([e], name_of, channel_name_of) for e in element.get("elements", [])]
            out.append("\n".join(f"• {item}" for item in items))
        elif kind == "text" or kind == "link":
            out.append(str(element.get("text") or element.get("url", "")))
        elif kind == "user":
            out.append("@" + name_of(str(element.get("user_id", ""))))
        elif kind == "channel":
            out.append("#" + channel_name_of(str(element.get("channel_id", ""))))
        elif kind == "emoji":
            out.append(f":{element.get('name', '')}:")
        elif kind == "broadcast":
            out.append("@" + str(element.get("range", "")))
    return "".join(out)


def block_lines(blocks: Iterable[Any], name_of: NameOf, channel_name_of: NameOf) -> list[str]:
    """Readable lines for Block Kit blocks: section/header/context text, fields, buttons, inputs."""
    lines: list[str] = []

    def say(text: str) -> None:
        shown = readable(text, name_of, channel_name_of)
        lines.extend(line for line in shown.splitlines() if line.strip())

    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("section", "header"):
            say(_text_of(block.get("text")))
            fields = [_text_of(f) for f in block.get("fields", []) or []]
            say("  |  ".join(f for f in fields if f))
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                say(f"[{_text_of(accessory.get('text'))}]")
        elif kind == "context":
            say("  ·  ".join(_text_of(e) for e in block.get("elements", []) if _text_of(e)))
        elif kind == "actions":
            labels = [_text_of(e.get("text") or e.get("placeholder")) for e in block.get("elements", [])]
            say(" ".join(f"[{label}]" for label in labels if label))
        elif kind == "input":
            say(f"[input: {_text_of(block.get('label'))}]")
        elif kind == "rich_text":
            text = _rich_text(block.get("elements", []), name_of, channel_name_of)
            lines.extend(line for line in text.splitlines() if line.strip())
        elif kind == "image":
            say(f"[image: {block.get('alt_text', '')}]")
    return lines


def message_lines(message: JSON, name_of: NameOf, channel_name_of: NameOf) -> list[str]:
    """What a person reads for a message: its blocks when there are any (text is then a fallback)."""
    blocks = message.get("blocks")
    lines = block_lines(blocks, name_of, channel_name_of) if isinstance(blocks, list) else []
    if not lines:
        text = readable(str(message.get("text") or ""), name_of, channel_name_of)
        lines = [line for line in text.splitlines() if line.strip()] or ([text] if text else [])
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            text = str(attachment.get("text") or attachment.get("fallback") or "")
            lines.append("▌ " + readable(text, name_of, channel_name_of))
    for file in message.get("files") or []:
        if isinstance(file, dict):
            lines.append(f"[file: {file.get('name', '')}]")
    return lines


_MARKUP = re.compile(r"<(@[UW][A-Z0-9]+|#C[A-Z0-9]+|![a-z]+)(?:\|[^>]*)?>|<(https?://[^|>]+)(?:\|([^>]*))?>")


def rich_text_blocks(text: str) -> list[JSON]:
    """The `rich_text` block Slack's clients attach to what a person types (mentions, links, text)."""
    elements: list[JSON] = []
    pos = 0
    for match in _MARKUP.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": html.unescape(text[pos : match.start()])})
        token, url, label = match.group(1), match.group(2), match.group(3)
        if token and token.startswith("@"):
            elements.append({"type": "user", "user_id": token[1:]})
        elif token and token.startswith("#"):
            elements.append({"type": "channel", "channel_id": token[1:]})
        elif token:
            elements.append({"type": "broadcast", "range": token[1:]})
        else:
            link: JSON = {"type": "link", "url": url}
            if label:
                link["text"] = label
            elements.append(link)
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": html.unescape(text[pos:])})
    block_id = secrets.token_urlsafe(3)[:4]
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": block_id, "elements": [section]}]


def snippet(text: str, limit: int = 40) -> str:
    """The first line of `text`, cut to `limit` characters, for context in a transcript."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
