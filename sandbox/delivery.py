"""Signed delivery of Slack requests to the bot (HTTP POST or an in-process callable), with retries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, Unpack
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from sandbox.payloads import envelope
from sandbox.world import JSON

if TYPE_CHECKING:
    from sandbox.server import Sandbox

Target = str | Callable[[str, dict[str, str]], tuple[int, str]]
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


class SendOptions(TypedDict, total=False):
    """Per-send options: Slack's retry headers, a skewed timestamp, a wrong secret, a raw body."""

    retry_num: int | None
    retry_reason: str | None
    timestamp_offset: int
    signing_secret: str | None
    raw_body: str | None


@dataclass(frozen=True)
class Delivery:
    """One request Slack sent to the bot and what the bot answered."""

    status: int
    body: str
    payload: dict[str, Any]
    request_body: str = ""
    content_type: str = JSON_TYPE
    kind: str = "event"
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The bot's answer parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body.strip() else None


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's `X-Slack-Signature`: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return signature


class DelivererBase:
    """Signs and sends; keeps the log of deliveries in `events`."""

    def __init__(
        self,
        sandbox: Sandbox,
        target: Target | None = None,
        *,
        signing_clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        only_member_channels: bool = True,
    ) -> None:
        """Without `target`, deliveries go to the sandbox's `delivery_target` (the primary's for a linked
        workspace), looked up at each send; a given `target` becomes that sandbox's delivery target."""
        self.sandbox = sandbox
        self.world = sandbox.world
        self._target = target
        if target is not None:
            sandbox.deliver_to(target)
        self.signing_clock = signing_clock
        self.timeout = timeout
        self.only_member_channels = only_member_channels
        self.events: list[Delivery] = []

    @property
    def target(self) -> Target:
        """Where this deliverer sends: its own target, else the sandbox's delivery target."""
        target = self._target if self._target is not None else self.sandbox.delivery_target
        if target is None:
            raise LookupError("no delivery target: pass one to Deliverer(...) or call sandbox.deliver_to(...)")
        return target

    @target.setter
    def target(self, value: Target) -> None:
        self._target = value

    @property
    def last(self) -> Delivery | None:
        return self.events[-1] if self.events else None

    def _transmit(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        target = self.target
        if callable(target):
            return target(body, headers)
        request = urllib.request.Request(target, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode("utf-8", "replace")

    def _send(self, body: str, content_type: str, kind: str, payload: JSON, **opts: Unpack[SendOptions]) -> Delivery:
        raw = opts.get("raw_body")
        sent = body if raw is None else raw
        timestamp = str(int(self.signing_clock()) + int(opts.get("timestamp_offset") or 0))
        secret = opts.get("signing_secret") or self.sandbox.signing_secret
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret, timestamp, sent),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if opts.get("retry_num") is not None:
            headers["X-Slack-Retry-Num"] = str(opts.get("retry_num"))
            headers["X-Slack-Retry-Reason"] = str(opts.get("retry_reason") or "http_timeout")
        status, answer = self._transmit(sent, headers)
        delivery = Delivery(status, answer, payload, sent, content_type, kind, headers)
        self.events.append(delivery)
        return delivery

    def send_event(self, event: JSON, *, authorization: JSON | None = None, **opts: Unpack[SendOptions]) -> Delivery:
        """Deliver `event` inside an `event_callback` envelope (a fresh, unique event_id), authorized for the
        installation the workspace's events are for (or `authorization`)."""
        world = self.world
        channel = event.get("channel") or (event.get("item") or {}).get("channel")
        source: tuple[str, str | None] | None = None
        actor = event.get("user")
        reaction = str(event.get("type", "")).startswith("reaction_")
        if reaction and isinstance(actor, str) and actor in world.external_users and world.is_ext_shared(channel):
            source = (world.team_of(actor), world.external_users[actor])  # Slack sends it as the reactor's team's
        wrapped = envelope(
            world,
            self.sandbox.verification_token,
            event,
            authorization=authorization or self.sandbox.authorization(),
            source=source,
        )
        return self._send(json.dumps(wrapped), JSON_TYPE, "event", wrapped, **opts)

    def send_envelope(self, body: JSON, **opts: Unpack[SendOptions]) -> Delivery:
        """Deliver a complete JSON body as is (url_verification, app_rate_limited, …)."""
        return self._send(json.dumps(body), JSON_TYPE, "event", body, **opts)

    def send_form(self, fields: dict[str, str], kind: str = "command", **opts: Unpack[SendOptions]) -> Delivery:
        """Deliver a form body (slash commands)."""
        return self._send(urlencode(fields), FORM, kind, dict(fields), **opts)

    def send_interactive(self, payload: JSON, **opts: Unpack[SendOptions]) -> Delivery:
        """Deliver an interactivity payload as `payload=<json>` (block_actions, view_submission, …)."""
        body = urlencode({"payload": json.dumps(payload)})
        return self._send(body, FORM, str(payload.get("type", "interactive")), payload, **opts)

    def redeliver(self, delivery: Delivery, retry_num: int = 1, retry_reason: str = "http_timeout") -> Delivery:
        """Slack's retry: the same body (same event_id), freshly signed, with the retry headers."""
        return self._send(
            delivery.request_body,
            delivery.content_type,
            delivery.kind,
            delivery.payload,
            retry_num=retry_num,
            retry_reason=retry_reason,
        )

    def url_verification(self, challenge: str = "sandbox-challenge") -> Delivery:
        body = {"token": self.sandbox.verification_token, "challenge": challenge, "type": "url_verification"}
        return self.send_envelope(body)

    def _bot_sees(self, channel: str) -> bool:
        return not self.only_member_channels or self.world.is_member(channel, self.world.bot_user_id)
