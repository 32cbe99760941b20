"""The sandbox's Slack workspace state: team, users, channels, DMs, ids, timestamps and the timeline."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sandbox.profiles import bot_user_record, user_record

JSON = dict[str, Any]


class SlackError(Exception):
    """A Web API error code (answered as `{"ok": false, "error": code}`)."""

    def __init__(self, code: str, messages: Iterable[str] = ()) -> None:
        super().__init__(code)
        self.code = code
        self.messages = list(messages)


class World:
    """Everything a workspace holds; every reader and writer takes `lock`."""

    def __init__(
        self,
        *,
        team_id: str,
        team_domain: str,
        enterprise_id: str | None,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        clock: Callable[[], float],
        enterprise_name: str | None = None,
        ids: Iterator[int] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.team: JSON = {"id": team_id, "domain": team_domain, "name": team_domain.capitalize()}
        self.enterprise_id = enterprise_id
        self.enterprise_name = enterprise_name or f"{self.team['name']} Org"
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.users: dict[str, JSON] = {}
        self.channels: dict[str, JSON] = {}
        self.messages: dict[str, list[JSON]] = {}
        self.ephemerals: list[JSON] = []
        self.views: dict[str, JSON] = {}
        self.view_owner: dict[str, str] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, JSON] = {}
        self.timeline: list[JSON] = []
        self._last_micros = 0
        self._counter = ids if ids is not None else itertools.count(1)  # shared by the workspaces of one server
        # People of other organisations met in shared channels, with their enterprise (None: not on Grid).
        self.external_users: dict[str, str | None] = {}
        self.users[bot_user_id] = bot_user_record(
            user_id=bot_user_id, bot_id=bot_id, app_id=app_id, team_id=team_id, now=self.now()
        )

    # --- time and ids -------------------------------------------------------------------------------
    def now(self) -> float:
        return float(self.clock())

    def next_ts(self) -> str:
        """A message timestamp like Slack's: unique and strictly increasing, even with a frozen clock."""
        with self.lock:
            micros = max(round(self.now() * 1_000_000), self._last_micros + 100)
            self._last_micros = micros
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):08X}"

    def new_trigger(self, user: str) -> str:
        """Register a trigger_id for `user`, as Slack issues with each interaction (valid ~3 s, once)."""
        with self.lock:
            trigger = f"{int(self.now())}.{next(self._counter)}.{secrets.token_hex(16)}"
            self.triggers[trigger] = {"user": user, "created": self.now(), "used": False}
            return trigger

    @property
    def domain(self) -> str:
        return str(self.team["domain"])

    # --- users and channels --------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        tz: str = "America/New_York",
        is_admin: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        external_team: tuple[str, str, str | None] | None = None,
    ) -> JSON:
        """A person of this workspace; with `external_team` (team id, domain, enterprise id), one of another org."""
        team_id, domain = (external_team[0], external_team[1]) if external_team else (str(self.team["id"]), self.domain)
        with self.lock:
            record = user_record(
                user_id=user_id,
                name=name,
                real_name=real_name,
                tz=tz,
                team_id=team_id,
                domain=domain,
                is_admin=is_admin,
                is_bot=is_bot,
                deleted=deleted,
                now=self.now(),
            )
            self.users[user_id] = record
            if external_team is None:
                self.external_users.pop(user_id, None)
            else:
                self.external_users[user_id] = external_team[2]
            return record

    def team_of(self, user_id: str | None) -> str:
        """The team a user belongs to (this workspace's, or their own organisation's for external people)."""
        record = self.users.get(user_id or "") or {}
        return str(record.get("team_id") or self.team["id"])

    def is_ext_shared(self, channel_id: str | None) -> bool:
        return bool((self.channels.get(channel_id or "") or {}).get("is_ext_shared"))

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        members: Iterable[str] = (),
        shared_with: Iterable[str] = (),
    ) -> JSON:
        member_ids = list(dict.fromkeys(members))
        other_teams = [t for t in dict.fromkeys(shared_with) if t != self.team["id"]]
        with self.lock:
            record: JSON = {
                "id": channel_id,
                "name": name,
                "is_channel": not is_private,
                "is_group": is_private,
                "is_im": False,
                "is_mpim": False,
                "is_private": is_private,
                "is_archived": False,
                "is_general": name == "general",
                "created": int(self.now()),
                "creator": member_ids[0] if member_ids else self.bot_user_id,
                "members": member_ids,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
            if other_teams:  # a Slack Connect channel, hosted here
                record.update(
                    is_shared=True,
                    is_ext_shared=True,
                    shared_team_ids=[self.team["id"], *other_teams],
                    conversation_host_id=self.team["id"],
                )
            self.channels[channel_id] = record
            self.messages.setdefault(channel_id, [])
            return record

    def user(self, user_id: str) -> JSON | None:
        return self.users.get(user_id)

    def channel(self, channel_id: str) -> JSON | None:
        return self.channels.get(channel_id)

    def resolve_channel(self, ref: str) -> JSON | None:
        """A channel by id, by `#name` or by name (Slack accepts names in chat.postMessage)."""
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            name = ref[1:] if ref.startswith("#") else ref
            return next((c for c in self.channels.values() if c.get("name") == name), None)

    def ensure_dm(self, user_id: str) -> JSON:
        """The bot's DM with `user_id` (one stable `D…` id per user), created on first use."""
        with self.lock:
            existing = self.dm_of(user_id)
            if existing is not None:
                return existing
            channel_id = self.new_id("D")
            record: JSON = {
                "id": channel_id,
                "is_im": True,
                "is_channel": False,
                "is_group": False,
                "is_mpim": False,
                "is_private": True,
                "is_archived": False,
                "is_org_shared": False,
                "user": user_id,
                "created": int(self.now()),
                "members": list(dict.fromkeys([user_id, self.bot_user_id])),
            }
            self.channels[channel_id] = record
            self.messages.setdefault(channel_id, [])
            return record

    def dm_of(self, user_id: str) -> JSON | None:
        return next((c for c in self.channels.values() if c.get("is_im") and c.get("user") == user_id), None)

    def is_member(self, channel_id: str, user_id: str) -> bool:
        channel = self.channels.get(channel_id)
        return channel is not None and user_id in channel.get("members", [])

    def channel_type(self, channel_id: str) -> str:
        """The `channel_type` of message events: channel, group, im or mpim."""
        channel = self.channels.get(channel_id) or {}
        if channel.get("is_im"):
            return "im"
        if channel.get("is_mpim"):
            return "mpim"
        return "group" if channel.get("is_private") else "channel"

    # --- names for people reading ----------------------------------------------------------------
    def name_of(self, user_or_bot: str | None) -> str:
        """The name a person sees for a user id (or our bot id)."""
        if not user_or_bot:
            return "someone"
        if user_or_bot == self.bot_id:
            user_or_bot = self.bot_user_id
        user = self.users.get(user_or_bot)
        if user is None:
            return user_or_bot
        return str(user.get("real_name") or user.get("name") or user_or_bot)

    def channel_name_of(self, channel_id: str) -> str:
        channel = self.channels.get(channel_id)
        return str(channel.get("name", channel_id)) if channel else channel_id

    def where(self, channel_id: str) -> str:
        """A channel as a person reads it: `#name`, `DM with Dana Ortiz`, `group DM`."""
        channel = self.channels.get(channel_id)
        if channel is None:
            return channel_id
        if channel.get("is_im"):
            return f"DM with {self.name_of(channel.get('user'))}"
        if channel.get("is_mpim"):
            return "group DM"
        return f"#{channel.get('name', channel_id)}"

    def record(self, kind: str, *, who: str | None, channel: str | None = None, **fields: Any) -> JSON:
        """Append a timeline entry: something a person could see happen."""
        with self.lock:
            entry: JSON = {
                "seq": len(self.timeline) + 1,
                "at": self.now(),
                "kind": kind,
                "who": who,
                "who_name": self.name_of(who),
                "channel": channel,
                "where": self.where(channel) if channel else "",
            }
            entry.update(fields)
            if entry.get("to"):
                entry["to_name"] = self.name_of(str(entry["to"]))
            self.timeline.append(entry)
            return entry
