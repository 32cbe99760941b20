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
        target: Target,
        *,
        signing_clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        only_member_channels: bool = True,
    ) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self.target = target
        self.signing_clock = signing_clock
        self.timeout = timeout
        self.only_member_channels = only_member_channels
        self.events: list[Delivery] = []

    @property
    def last(self) -> Delivery | None:
        return self.events[-1] if self.events else None

    def _transmit(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        if callable(self.target):
            return self.target(body, headers)
        request = urllib.request.Request(self.target, data=body.encode(), headers=headers, method="POST")
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

    def send_event(self, event: JSON, **opts: Unpack[SendOptions]) -> Delivery:
        """Deliver `event` inside an `event_callback` envelope (a fresh, unique event_id)."""
        wrapped = envelope(self.world, self.sandbox.verification_token, event)
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
