"""Read-only views of the sandbox workspace for tests and the demo: messages, threads, views, timeline."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from sandbox import api_files
from sandbox import messages as msgs
from sandbox.transcript import render
from sandbox.world import JSON, World


class Readers:
    """What a test or the demo transcript reads back (deep copies; safe while the server runs)."""

    world: World

    def messages(self, channel: str) -> list[JSON]:
        """Top-level messages of a channel, oldest first."""
        with self.world.lock:
            return [msgs.public(m) for m in msgs.top_level(self.world, channel)]

    def replies(self, channel: str, ts: str) -> list[JSON]:
        """The replies of a thread (without the parent), oldest first."""
        with self.world.lock:
            return [msgs.public(m) for m in msgs.thread(self.world, channel, ts)[1:]]

    def message(self, channel: str, ts: str) -> JSON | None:
        with self.world.lock:
            found = msgs.find(self.world, channel, ts)
            return msgs.public(found) if found else None

    def reactions(self, channel: str, ts: str) -> list[JSON]:
        found = self.message(channel, ts)
        return list(found.get("reactions", [])) if found else []

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[JSON]:
        with self.world.lock:
            return [
                msgs.public(e)
                for e in self.world.ephemerals
                if (user is None or e["user"] == user) and (channel is None or e["channel"] == channel)
            ]

    def dm_channel(self, user: str) -> str | None:
        with self.world.lock:
            dm = self.world.dm_of(user)
            return str(dm["id"]) if dm else None

    def dm_messages(self, user: str) -> list[JSON]:
        """Messages in the bot's DM with `user`, oldest first (empty when there is no DM)."""
        dm = self.dm_channel(user)
        return self.messages(dm) if dm else []

    @property
    def views(self) -> dict[str, JSON]:
        """Every view the app opened, pushed or published, by id."""
        with self.world.lock:
            return copy.deepcopy(self.world.views)

    def open_modals(self, user: str) -> list[JSON]:
        """The modal stack `user` has on screen (bottom first)."""
        with self.world.lock:
            return [copy.deepcopy(self.world.views[v]) for v in self.world.modal_stacks.get(user, [])]

    def home(self, user: str) -> JSON | None:
        with self.world.lock:
            view_id = self.world.homes.get(user)
            return copy.deepcopy(self.world.views[view_id]) if view_id else None

    def files(self, channel: str | None = None) -> list[JSON]:
        """Files the app uploaded (name, title, size, channels, initial_comment, data), oldest first."""
        with self.world.lock:
            found = [f for f in api_files.uploads(self.world) if channel is None or channel in f["channels"]]
            return [{**copy.deepcopy(f), "size": len(f["data"] or b"")} for f in found]

    def user(self, user_id: str) -> JSON | None:
        with self.world.lock:
            found = self.world.user(user_id)
            return copy.deepcopy(found) if found else None

    def channel(self, channel_id: str) -> JSON | None:
        with self.world.lock:
            found = self.world.channel(channel_id)
            return copy.deepcopy(found) if found else None

    @property
    def timeline(self) -> list[JSON]:
        """Everything a person could have seen, in order (who, where, what)."""
        with self.world.lock:
            return copy.deepcopy(self.world.timeline)

    def render_transcript(self, entries: Iterable[JSON] | None = None) -> str:
        """The timeline as a person in Slack would read it."""
        return render(self.timeline if entries is None else list(entries))
