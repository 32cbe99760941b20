"""People acting in Slack: each action changes the sandbox like Slack would and delivers the event."""

from __future__ import annotations

import uuid
from typing import Any, Unpack

from sandbox import messages as msgs
from sandbox import payloads
from sandbox.delivery import Delivery, SendOptions
from sandbox.interactions import Interactions
from sandbox.mrkdwn import rich_text_blocks
from sandbox.shapes import ROOT, project
from sandbox.world import JSON


class Deliverer(Interactions):
    """Signs and sends Slack's requests to the bot, and plays what people do in the workspace."""

    def _member_channel(self, user: str, channel: str) -> str:
        if user not in self.world.users:
            raise LookupError(f"no user {user!r} in the sandbox")
        channel_id = self._channel_id(channel, user)
        if not self.world.is_member(channel_id, user):
            raise LookupError(f"{user} is not in {self.world.where(channel_id)}: call join() first")
        return channel_id

    def _deliver(self, channel: str, event: JSON, opts: SendOptions) -> Delivery | None:
        return self.send_event(event, **opts) if self._bot_sees(channel) else None

    def post(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[str | JSON] | None = None,
        broadcast: bool = False,
        **opts: Unpack[SendOptions],
    ) -> str:
        """`user` writes `text` in `channel` (id, name, or the bot's user id for their DM); returns its ts.

        Slack sends the `message` event and, when the text mentions the bot outside a DM, `app_mention`.
        """
        world = self.world
        channel_id = self._member_channel(user, channel)
        message: JSON = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "team": world.team_of(user),
            "blocks": rich_text_blocks(text),
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
            if broadcast:
                message["subtype"] = "thread_broadcast"
        if files:
            message.update(
                subtype="file_share",
                files=[self._file(user, f) for f in files],
                upload=False,
                display_as_bot=False,
            )
        with world.lock:
            stored = msgs.post(world, channel_id, message)
            if stored.get("subtype") == "thread_broadcast":
                parent = msgs.find(world, channel_id, str(stored["thread_ts"]))
                stored["root"] = project(msgs.public(parent or {}), ROOT)
            events = [payloads.message_event(world, channel_id, stored)]
            if f"<@{world.bot_user_id}" in text and not (world.channel(channel_id) or {}).get("is_im"):
                events.append(payloads.app_mention_event(world, channel_id, stored))
        for event in events:
            self._deliver(channel_id, event, opts)
        return str(stored["ts"])

    def _file(self, user: str, spec: str | JSON) -> JSON:
        world = self.world
        name = spec if isinstance(spec, str) else str(spec.get("name", "file.txt"))
        file_id = world.new_id("F")
        base = f"https://files.slack.com/files-pri/{world.team['id']}-{file_id}"
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else "text"
        record: JSON = {
            "id": file_id,
            "created": int(world.now()),
            "timestamp": int(world.now()),
            "name": name,
            "title": name,
            "mimetype": "text/plain",
            "filetype": extension,
            "pretty_type": extension.upper(),
            "user": user,
            "editable": False,
            "size": 1024,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://{world.domain}.slack.com/files/{user}/{file_id}/{name}",
            "permalink_public": f"https://slack-files.com/{world.team['id']}-{file_id}",
        }
        if isinstance(spec, dict):
            record.update(spec)
        return record

    def bot_post(
        self,
        channel: str,
        text: str,
        *,
        bot_id: str = "BOTHERBOT1",
        username: str = "deploy-bot",
        thread_ts: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> str:
        """Another integration posts (subtype `bot_message`), for tests that the bot ignores bots."""
        channel_id = self._channel_id(channel)
        message: JSON = {
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "bot_id": bot_id,
            "username": username,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self.world.lock:
            stored = msgs.post(self.world, channel_id, message)
            event = payloads.message_event(self.world, channel_id, stored)
        self._deliver(channel_id, event, opts)
        return str(stored["ts"])

    def _own(self, user: str, channel: str, ts: str, *, admin_may: bool = False) -> tuple[str, JSON]:
        channel_id = self._channel_id(channel, user)
        found = msgs.find(self.world, channel_id, ts)
        if found is None:
            raise LookupError(f"no message {ts} in {channel}")
        is_admin = admin_may and bool((self.world.user(user) or {}).get("is_admin"))
        if found.get("user") != user and not is_admin:
            raise PermissionError(f"{user} cannot change a message by {found.get('user')}")
        return channel_id, found

    def edit(self, user: str, channel: str, ts: str, text: str, **opts: Unpack[SendOptions]) -> None:
        """`user` edits their message: `message_changed` with `edited` and `previous_message`."""
        channel_id, _ = self._own(user, channel, ts)
        with self.world.lock:
            changes = {"text": text, "blocks": rich_text_blocks(text)}
            previous, current = msgs.edit(self.world, channel_id, ts, editor=user, changes=changes)
            event = payloads.changed_event(self.world, channel_id, previous, current)
        self._deliver(channel_id, event, opts)

    def delete(self, user: str, channel: str, ts: str, **opts: Unpack[SendOptions]) -> None:
        """`user` deletes a message: `message_deleted`, or a tombstone for a thread parent with replies.

        Admins may delete anyone's message (as in Slack); only authors may edit.
        """
        channel_id, _ = self._own(user, channel, ts, admin_may=True)
        with self.world.lock:
            previous, tombstone = msgs.delete(self.world, channel_id, ts, by=user)
            if tombstone is not None:
                event = payloads.changed_event(self.world, channel_id, previous, tombstone)
            else:
                event = payloads.deleted_event(self.world, channel_id, previous)
        self._deliver(channel_id, event, opts)

    def react(self, user: str, channel: str, ts: str, name: str, **opts: Unpack[SendOptions]) -> None:
        self._reaction("reaction_added", user, channel, ts, name, opts)

    def unreact(self, user: str, channel: str, ts: str, name: str, **opts: Unpack[SendOptions]) -> None:
        self._reaction("reaction_removed", user, channel, ts, name, opts)

    def _reaction(self, kind: str, user: str, channel: str, ts: str, name: str, opts: SendOptions) -> None:
        channel_id = self._channel_id(channel, user)
        name = name.strip(":")
        with self.world.lock:
            change = msgs.react if kind == "reaction_added" else msgs.unreact
            message = change(self.world, channel_id, ts, name, user)
            event = payloads.reaction_event(self.world, kind, user, channel_id, message, name)
        self._deliver(channel_id, event, opts)

    def join(self, user: str, channel: str, *, inviter: str | None = None, **opts: Unpack[SendOptions]) -> None:
        """`user` joins `channel`: a `channel_join` message, then `member_joined_channel`."""
        world = self.world
        channel_id = self._channel_id(channel, user)
        with world.lock:
            record = world.channels[channel_id]
            if user in record["members"]:
                return
            record["members"].append(user)
            joined: JSON = {
                "type": "message",
                "subtype": "channel_join",
                "user": user,
                "text": f"<@{user}> has joined the channel",
            }
            if inviter:
                joined["inviter"] = inviter
            stored = msgs.post(world, channel_id, joined, record_as="join")
            events = [
                payloads.message_event(world, channel_id, stored),
                payloads.member_joined_event(world, user, channel_id, inviter),
            ]
        for event in events:
            self._deliver(channel_id, event, opts)

    def team_join(self, user: str, **opts: Unpack[SendOptions]) -> Delivery:
        """A new member (added with `sandbox.add_user`) joins the workspace: `team_join`."""
        record = self.world.user(user)
        if record is None:
            raise LookupError(f"add_user({user!r}, …) first")
        self.world.record("team_join", who=user)
        return self.send_event(payloads.team_join_event(self.world, record), **opts)

    def open_home(self, user: str, tab: str = "home", **opts: Unpack[SendOptions]) -> Delivery:
        """`user` opens the app (Home or Messages tab): `app_home_opened`."""
        world = self.world
        with world.lock:
            dm = world.ensure_dm(user)
            view_id = world.homes.get(user)
            view = world.views.get(view_id) if view_id else None
            event = payloads.app_home_opened_event(world, user, str(dm["id"]), tab, view)
            world.record("home_opened", who=user, tab=tab)
        return self.send_event(event, **opts)

    def __repr__(self) -> str:
        found = self._target if self._target is not None else self.sandbox.delivery_target
        target: Any = found if isinstance(found, str) or found is None else getattr(found, "__name__", "callable")
        return f"Deliverer(target={target!r}, deliveries={len(self.events)})"
