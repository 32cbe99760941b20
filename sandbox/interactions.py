"""What people do through the app's UI: slash commands, message shortcuts, clicks, modal submissions."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Unpack

from sandbox import messages as msgs
from sandbox import payloads
from sandbox.api_views import apply_response_action
from sandbox.delivery import DelivererBase, Delivery, SendOptions
from sandbox.elements import Choice, action, action_label, find_element, input_elements, state_value
from sandbox.mrkdwn import snippet
from sandbox.shapes import VIEW, project
from sandbox.world import JSON


@dataclass
class _Found:
    kind: str  # message | ephemeral | view
    obj: JSON
    block_id: str
    element: JSON
    channel: str | None = None


class Interactions(DelivererBase):
    """Slash commands, shortcuts, block actions and view submissions, signed like Slack's."""

    def _channel_id(self, channel: str, user: str | None = None) -> str:
        if channel == self.world.bot_user_id and user:
            return str(self.world.ensure_dm(user)["id"])
        found = self.world.resolve_channel(channel)
        if found is None:
            raise LookupError(f"no channel {channel!r} in the sandbox")
        return str(found["id"])

    def _org_wide(self) -> bool:
        installation = self.sandbox.installation
        return installation is not None and installation.is_enterprise_install

    def command(self, user: str, channel: str, command: str, text: str = "", **opts: Unpack[SendOptions]) -> Delivery:
        """`user` runs `/command text` in `channel`; an immediate answer body is shown like Slack does."""
        channel_id = self._channel_id(channel, user)
        url = self.sandbox.response_url("commands", channel=channel_id, user=user)
        record = self.world.user(user) or {}
        fields = {
            "token": self.sandbox.verification_token,
            "team_id": self.sandbox.team_id,
            "team_domain": self.sandbox.team_domain,
        }
        if self.world.enterprise_id:
            fields.update(enterprise_id=self.world.enterprise_id, enterprise_name=self.world.enterprise_name)
        fields.update(
            channel_id=channel_id,
            channel_name=payloads.channel_obj(self.world, channel_id)["name"],
            user_id=user,
            user_name=str(record.get("name", user)),
            command=command,
            text=text,
            api_app_id=self.world.app_id,
            is_enterprise_install="true" if self._org_wide() else "false",
            response_url=url,
            trigger_id=self.world.new_trigger(user),
        )
        self.world.record("command", who=user, channel=channel_id, to=user, text=f"{command} {text}".strip())
        delivery = self.send_form(fields, "command", **opts)
        if delivery.status == 200 and delivery.body.strip():
            try:
                answer: Any = delivery.json()
            except ValueError:
                answer = {"text": delivery.body}
            if isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")):
                self.sandbox.hooks.post(url.rsplit("/", 1)[-1], answer)
        return delivery

    def message_shortcut(
        self, user: str, channel: str, ts: str, callback_id: str, **opts: Unpack[SendOptions]
    ) -> Delivery:
        """`user` picks the message shortcut `callback_id` on the message `ts`."""
        channel_id = self._channel_id(channel, user)
        message = msgs.find(self.world, channel_id, ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel}")
        payload = payloads.interactive_base(
            self.world, "message_action", user, self.sandbox.verification_token, is_enterprise_install=self._org_wide()
        )
        payload["user"] = payloads.user_obj(self.world, user, with_username=False)
        del payload["api_app_id"]  # message_action payloads carry no api_app_id
        payload.update(
            callback_id=callback_id,
            trigger_id=self.world.new_trigger(user),
            message_ts=ts,
            message=payloads.interactive_message(message),
            channel=payloads.channel_obj(self.world, channel_id),
            response_url=self.sandbox.response_url("app", channel=channel_id, user=user),
            action_ts=self.world.next_ts(),
        )
        self.world.record(
            "shortcut",
            who=user,
            channel=channel_id,
            to=user,
            callback_id=callback_id,
            author_name=self.world.name_of(msgs.author(message)),
            target=snippet(" ".join(msgs.lines_of(self.world, message))),
        )
        return self.send_interactive(payload, **opts)

    def _locate(
        self,
        user: str,
        action_id: str,
        block_id: str | None,
        message: tuple[str, str] | None,
        view: str | JSON | None,
    ) -> _Found:
        world = self.world
        candidates: list[tuple[str, JSON, str | None]] = []
        if view is not None:
            view_id = view if isinstance(view, str) else str(view.get("id"))
            candidates.append(("view", world.views[view_id], None))
        elif message is not None:
            channel_id = self._channel_id(message[0], user)
            found = msgs.find(world, channel_id, message[1])
            eph = msgs.find_ephemeral(world, message[1])
            if found is not None:
                candidates.append(("message", found, channel_id))
            elif eph is not None:
                candidates.append(("ephemeral", eph, channel_id))
        else:
            candidates += [("view", world.views[v], None) for v in reversed(world.modal_stacks.get(user, []))]
            seen: list[tuple[str, JSON, str | None]] = [
                ("ephemeral", e, str(e["channel"])) for e in world.ephemerals if e["user"] == user
            ]
            for cid, channel_messages in world.messages.items():
                if world.is_member(cid, user) or not (world.channel(cid) or {}).get("is_private"):
                    seen += [("message", m, cid) for m in channel_messages]
            candidates += sorted(seen, key=lambda c: float(c[1]["ts"]), reverse=True)
            if user in world.homes:
                candidates.append(("view", world.views[world.homes[user]], None))
        for kind, obj, where in candidates:
            hit = find_element(obj.get("blocks") or [], action_id, block_id)
            if hit is not None:
                return _Found(kind, obj, hit[0], hit[1], where)
        raise LookupError(f"{user} can see no element with action_id {action_id!r}")

    def click(
        self,
        user: str,
        action_id: str,
        value: Choice = None,
        *,
        message: tuple[str, str] | None = None,
        view: str | JSON | None = None,
        block_id: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> Delivery:
        """`user` clicks (or picks `value` in) the element `action_id` of a message, ephemeral or view."""
        world = self.world
        with world.lock:
            found = self._locate(user, action_id, block_id, message, view)
            entry = action(found.element, found.block_id, value, world.next_ts())
            payload = payloads.interactive_base(
                world, "block_actions", user, self.sandbox.verification_token, is_enterprise_install=self._org_wide()
            )
            payload["trigger_id"] = world.new_trigger(user)
            if found.kind == "view":
                payload["container"] = {"type": "view", "view_id": found.obj["id"]}
                payload["view"] = project(copy.deepcopy(found.obj), VIEW)
            else:
                channel_id = str(found.channel)
                ts = str(found.obj["ts"])
                ephemeral = found.kind == "ephemeral"
                container: JSON = {
                    "type": "message",
                    "message_ts": ts,
                    "channel_id": channel_id,
                    "is_ephemeral": ephemeral,
                }
                if found.obj.get("thread_ts"):
                    container["thread_ts"] = found.obj["thread_ts"]
                payload.update(container=container, channel=payloads.channel_obj(world, channel_id))
                if not ephemeral:
                    payload["message"] = payloads.interactive_message(found.obj)
                payload["state"] = {"values": {}}
                payload["response_url"] = self.sandbox.response_url(
                    "actions", channel=channel_id, user=user, message_ts=ts, is_ephemeral=ephemeral
                )
            payload["actions"] = [entry]
            world.record("click", who=user, channel=found.channel, label=action_label(found.element, value))
        return self.send_interactive(payload, **opts)

    def submit(
        self,
        user: str,
        view_id_or_view: str | JSON,
        values: dict[str, dict[str, Any]],
        **opts: Unpack[SendOptions],
    ) -> Delivery:
        """`user` submits an open modal with `values` ({block_id: {action_id: value or state dict}})."""
        world = self.world
        with world.lock:
            view_id = view_id_or_view if isinstance(view_id_or_view, str) else str(view_id_or_view["id"])
            if view_id not in world.modal_stacks.get(user, []):
                raise LookupError(f"{user} has no open modal {view_id}")
            view = copy.deepcopy(world.views[view_id])
            state = self._state(view, values)
            view["state"] = {"values": state}
            world.views[view_id]["state"] = {"values": copy.deepcopy(state)}
            shown = project(view, VIEW)
            payload = payloads.interactive_base(
                world, "view_submission", user, self.sandbox.verification_token, is_enterprise_install=self._org_wide()
            )
            payload.update(trigger_id=world.new_trigger(user), view=shown, response_urls=[])
            title = view.get("title")
            world.record("submit", who=user, view_id=view_id, title=title.get("text", "") if title else "")
        delivery = self.send_interactive(payload, **opts)
        if delivery.status == 200:
            try:
                answer = delivery.json()
            except ValueError:
                answer = None
            with world.lock:
                apply_response_action(world, user, view_id, answer)
        return delivery

    @staticmethod
    def _state(view: JSON, values: dict[str, dict[str, Any]]) -> dict[str, dict[str, JSON]]:
        inputs = input_elements(view.get("blocks") or [])
        state: dict[str, dict[str, JSON]] = {}
        for block_id, by_action in values.items():
            if block_id not in inputs:
                raise LookupError(f"the modal has no input block {block_id!r}")
            element = inputs[block_id][1]
            for action_id, value in by_action.items():
                if action_id != element.get("action_id"):
                    raise LookupError(f"input block {block_id!r} has no action_id {action_id!r}")
                state.setdefault(block_id, {})[action_id] = (
                    dict(value) if isinstance(value, dict) else state_value(element, value)
                )
        for block_id, (block, element) in inputs.items():
            if not block.get("optional") and block_id not in state:
                raise ValueError(f"required input {block_id!r} is empty: Slack would not submit the modal")
            state.setdefault(block_id, {}).setdefault(str(element.get("action_id")), state_value(element, None))
        return state
