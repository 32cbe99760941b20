"""Which keys each response or payload carries: projections that keep only keys Slack really sends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]


def _keys(names: str) -> frozenset[str]:
    return frozenset(names.split())


# From web-api/response-samples/<method>.json (the keys our fakes can produce).
POST_MESSAGE = _keys(
    "bot_id type text user ts team bot_profile thread_ts parent_user_id subtype username icons root app_id "
    "metadata attachments blocks"
)
UPDATE_MESSAGE = _keys("bot_id type text user team bot_profile edited app_id metadata files blocks")
HISTORY_MESSAGE = _keys(
    "type subtype text bot_id ts thread_ts root username icons parent_user_id reply_count reply_users_count "
    "latest_reply reply_users subscribed user team bot_profile upload display_as_bot edited client_msg_id "
    "reactions app_id metadata files blocks attachments"
)
# conversations.replies: the sample lacks `subtype` and `client_msg_id`, which Slack does send there.
REPLIES_MESSAGE = _keys(
    "bot_id type text user ts team bot_profile thread_ts reply_count reply_users_count latest_reply "
    "reply_users subscribed parent_user_id upload display_as_bot app_id edited reactions metadata blocks "
    "attachments files subtype client_msg_id"
)
REACTIONS_GET_MESSAGE = _keys("bot_id type text user ts team bot_profile reactions permalink app_id blocks")
CHANNEL_INFO = _keys(
    "id name is_channel is_group is_im created is_archived is_general name_normalized is_shared creator "
    "is_ext_shared is_org_shared is_member is_private is_mpim topic purpose num_members context_team_id "
    "updated shared_team_ids conversation_host_id"
)
VIEW = _keys(
    "id team_id type title submit close blocks private_metadata callback_id external_id state hash "
    "clear_on_close notify_on_close submit_disabled root_view_id previous_view_id app_id "
    "app_installed_team_id bot_id"
)

# From events-api/java-sdk-samples/events/*.json (inner event keys).
EVENT_MESSAGE = _keys(
    "client_msg_id type team channel user bot_id bot_profile text blocks attachments metadata ts "
    "parent_user_id thread_ts event_ts channel_type edited"
)
EVENT_FILE_SHARE = _keys(
    "type subtype text blocks attachments files upload display_as_bot user parent_user_id ts thread_ts "
    "channel event_ts channel_type"
)
EVENT_BROADCAST = _keys(
    "client_msg_id type subtype channel user root text blocks attachments ts thread_ts event_ts channel_type"
)
EVENT_BROADCAST_ROOT = _keys(
    "text user parent_user_id username team bot_id type subtype thread_ts icons bot_profile edited "
    "reply_count reply_users_count latest_reply subscribed ts"
)
# The `root` (thread parent) copied into a thread_broadcast reply.
ROOT = _keys("type subtype text user ts thread_ts reply_count reply_users_count latest_reply reply_users")
# The `root` inside chat.postMessage / conversations.history messages (their samples have no `user`).
RESPONSE_ROOT = _keys(
    "type subtype text ts username icons bot_id thread_ts parent_user_id reply_count reply_users_count "
    "latest_reply reply_users subscribed"
)
EVENT_CHANNEL_JOIN = _keys("type subtype team user inviter channel channel_type text ts event_ts")
EVENT_BOT_MESSAGE = _keys(
    "type subtype bot_id username icons channel text blocks attachments thread_ts ts event_ts channel_type"
)
EVENT_CHANGED_MESSAGE = _keys(
    "client_msg_id type subtype user team bot_id bot_profile edited text blocks attachments upload "
    "display_as_bot thread_ts parent_user_id hidden is_locked subscribed ts reply_count reply_users_count "
    "latest_reply"
)
EVENT_APP_MENTION = _keys("type client_msg_id user text blocks ts team channel edited event_ts thread_ts")
# From events-api/java-sdk-samples/app-backend/**: the message inside block_actions / message_action.
INTERACTIVE_MESSAGE = _keys(
    "type subtype team channel user username text blocks attachments ts thread_ts reactions app_id bot_id "
    "display_as_bot bot_profile icons files upload parent_user_id client_msg_id edited reply_count "
    "reply_users reply_users_count latest_reply subscribed root metadata"
)


def project(obj: JSON, keys: Iterable[str]) -> JSON:
    """`obj` with only `keys` (in obj's order)."""
    allowed = set(keys)
    return {k: v for k, v in obj.items() if k in allowed}


def response_message(message: JSON, keys: Iterable[str]) -> JSON:
    """A message as a Web API response shows it: `keys` only, and its `root` trimmed likewise."""
    shown = project(message, keys)
    if isinstance(shown.get("root"), dict):
        shown["root"] = project(shown["root"], RESPONSE_ROOT)
    return shown
