"""Small helpers every handler shares: Deps from the context, the workspace, safe Slack calls."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlmodel import Session

from bot.deps import Deps
from storage import queries
from storage.models import Channel, Workspace

log = logging.getLogger("peerbot.handlers")


def deps_of(context: BoltContext) -> Deps:
    deps: Deps = context["deps"]
    return deps


def workspace_of(context: BoltContext) -> Workspace:
    return Workspace(team_id=context.team_id or "", enterprise_id=context.enterprise_id or "")


def from_outside(body: dict[str, Any], context: BoltContext) -> bool:
    """A message in a Slack Connect channel written by someone of another organisation.

    Their team (the event's user_team, else team) is neither this workspace, the event's own team nor
    this Enterprise Grid organisation.
    """
    if body.get("is_ext_shared_channel") is not True:
        return False
    raw = body.get("event")
    event: dict[str, Any] = raw if isinstance(raw, dict) else {}
    author_team = event.get("user_team") or event.get("team")
    if not isinstance(author_team, str) or not author_team:
        return False
    return author_team not in {context.team_id, context.enterprise_id, body.get("team_id"), body.get("enterprise_id")}


def outside_ignored(body: dict[str, Any], context: BoltContext) -> bool:
    """Is this message from outside the organisation, and not to be captured (PEERBOT_CAPTURE_EXTERNAL)?"""
    if not from_outside(body, context) or deps_of(context).settings.capture_external:
        return False
    log.debug("ignored a Slack Connect message from another organisation")
    return True


def claim(session: Session, body: dict[str, Any], context: BoltContext) -> bool:
    """Mark this delivery's event_id handled, in the same transaction as its writes.

    False means another delivery of the same event (a Slack retry) got there first:
    the caller rolls back and does nothing.
    """
    event_id = body.get("event_id")
    if not event_id:
        return True
    event_type = str(body.get("event", {}).get("type", ""))
    now = deps_of(context).clock()
    return queries.claim_event(session, ws=workspace_of(context), event_id=event_id, event_type=event_type, now=now)


def slack_call(method: Callable[..., SlackResponse], **kwargs: Any) -> SlackResponse | None:
    """Call the Web API where a failure must not undo what was already stored: log the error code."""
    try:
        return method(**kwargs)
    except SlackApiError as e:
        log.warning("Slack call %s failed: %s", getattr(method, "__name__", method), e.response.get("error"))
        return None


def known_channel(client: WebClient, context: BoltContext, session: Session, channel_id: str) -> Channel | None:
    """The channel's row, learning its name and privacy from conversations.info the first time."""
    ws = workspace_of(context)
    row = queries.channel(session, ws=ws, channel_id=channel_id)
    if row is not None:
        return row
    info = slack_call(client.conversations_info, channel=channel_id)
    if info is None:
        return None
    data = info.get("channel") or {}
    private = bool(data.get("is_private") or data.get("is_im") or data.get("is_mpim"))
    name = str(data.get("name") or channel_id)
    now = deps_of(context).clock()
    return queries.save_channel(
        session, ws=ws, channel_id=channel_id, name=name, is_private=private, watched=False, now=now
    )


def channel_is_private(client: WebClient, context: BoltContext, session: Session, channel_id: str) -> bool:
    """Unknown counts as private: content is never shown more widely than we can prove is safe."""
    row = known_channel(client, context, session, channel_id)
    return True if row is None else row.is_private


def permalink(client: WebClient, channel: str, ts: str) -> str:
    """A message's link, or "" when Slack will not give one (the message text still says where)."""
    link = slack_call(client.chat_getPermalink, channel=channel, message_ts=ts)
    return str(link["permalink"]) if link else ""


def tell_clicker(client: WebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral note to whoever pressed a button, where they pressed it (a channel or their DM)."""
    container = body.get("container") or {}
    channel = str((body.get("channel") or container).get("id") or container.get("channel_id") or "")
    user = str(body.get("user", {}).get("id", ""))
    if channel:
        slack_call(client.chat_postEphemeral, channel=channel, user=user, text=text)


_URLS: dict[str, str] = {}


def workspace_url(client: WebClient) -> str:
    """The workspace's URL (auth.test), asked once per token: permalinks are built from it without a call each."""
    api = client  # one cache entry per Slack API and token
    key = f"{api.base_url}|{api.token}"
    if key not in _URLS:
        info = slack_call(client.auth_test)
        if info is None:
            return ""
        _URLS[key] = str(info.get("url") or "")
    return _URLS[key]
