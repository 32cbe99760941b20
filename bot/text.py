"""Text helpers: escaping user text for Slack, quoting, timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BOT_MENTION = "<@{bot}>"
_SKIN_TONE = re.compile(r"::skin-tone-\d$")


def escape(text: str) -> str:
    """Escape &, < and > so quoted text can never ping (<!channel>, <@U…>) or fake a link."""
    return text.translate(_ESCAPES)


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def quote(text: str, limit: int = 2500) -> str:
    """User text as a Slack block quote, escaped and cut to fit a section block."""
    body = escape(truncate(text.strip(), limit)) or "(no text)"
    return "\n".join("> " + line for line in body.splitlines())


def strip_mention(text: str, bot_user_id: str) -> str:
    """Remove the bot's own @mention from a message addressed to it."""
    return " ".join(text.replace(_BOT_MENTION.format(bot=bot_user_id), " ").split())


def reaction_name(name: str) -> str:
    """Slack sends "+1::skin-tone-3" for a toned 👍; the vote is the same."""
    return _SKIN_TONE.sub("", name)


def ts_to_datetime(ts: str) -> datetime:
    """A Slack message ts ("1700000000.000100") as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.fromtimestamp(0, tz=UTC)


def files_note(files: list[dict[str, object]] | None) -> str:
    """A readable stand-in for a message that is only attachments."""
    names = [str(f.get("name") or f.get("title") or "file") for f in files or []]
    return "(attached: " + ", ".join(names) + ")" if names else ""


def archive_link(base_url: str, channel: str, ts: str) -> str:
    """A message's permalink built from the workspace URL (auth.test's `url`): no Web API call per link."""
    if not base_url or not ts:
        return ""
    return f"{base_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
