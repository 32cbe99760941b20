"""Socket Mode for the sandbox: `apps.connections.open`, a local WebSocket endpoint, envelopes, acks, redelivery.

Slack's framing: a new connection gets `hello`, then envelopes `{"envelope_id", "type", "payload",
"accepts_response_payload"[, "retry_attempt", "retry_reason"]}`; the app answers each with
`{"envelope_id"[, "payload"]}` within 3 s. `events_api` envelopes that are not acknowledged in time go out
again (`retry_attempt` + 1, on the next connection); envelopes are shared round-robin between connections.
An ack counts on the connection its envelope went out on. `SocketMode.target` plugs into `Deliverer`, so
every payload the people API builds can go through the socket.
"""

from __future__ import annotations

import itertools
import json
import secrets
import socket
import struct
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sandbox.world import JSON

if TYPE_CHECKING:  # websockets (a dev dependency) is imported when Socket Mode starts, not with the sandbox
    from websockets.http11 import Request, Response
    from websockets.sync.server import Server, ServerConnection

    from sandbox.people import Deliverer
    from sandbox.server import Sandbox

METHOD = "apps.connections.open"
ACK_TIMEOUT = 3.0
MAX_CONNECTIONS = 10
RETRY_REASON = "timeout"
HOST = "applink-sandbox-1"
# Interactive payloads whose ack may carry the answer (response_action, options); the rest accept none.
ANSWERED_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


@dataclass
class Envelope:
    """One envelope as sent on one connection, and its ack."""

    envelope_id: str
    type: str
    payload: JSON
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    connection: str  # the connection it went out on, the only one its ack counts on
    sent_at: float
    redelivery: bool = False  # the sandbox sent it again because an earlier attempt got no ack in time
    acked_at: float | None = None
    response: JSON | None = None  # the ack's payload
    timed_out: bool = False
    late: bool = False  # acked after its time was up
    lost_acks: int = 0  # acks the sandbox threw away (see `lose_acks`)
    stray_acks: int = 0  # acks on another connection, or after the sandbox closed its own: they do not count

    @property
    def acked(self) -> bool:
        return self.acked_at is not None and not self.late

    @property
    def event_id(self) -> str | None:
        value = self.payload.get("event_id")
        return str(value) if value else None

    def frame(self) -> JSON:
        """The envelope as it goes over the wire."""
        body: JSON = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            body.update(retry_attempt=self.retry_attempt, retry_reason=self.retry_reason)
        return body


@dataclass
class Link:
    """One WebSocket connection the app opened."""

    id: str
    ws: ServerConnection
    opened_at: float
    closed_at: float | None = None
    closed_by: str = ""  # "app" (the client went away), "sandbox" (dropped, closed, stopped) or "refused"
    ready: bool = False  # its hello was sent: it may carry envelopes
    draining: bool = False  # told to `disconnect`: gets no new envelopes
    envelopes: list[str] = field(default_factory=list)
    acks: int = 0
    send_lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def open(self) -> bool:
        return self.closed_at is None


def envelope_of(body: str, content_type: str) -> tuple[str, JSON, bool]:
    """(envelope type, payload, accepts_response_payload) for what would have been an HTTP request body."""
    if content_type.split(";")[0].strip().lower() == "application/json":
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("an Events API body is a JSON object")
        return "events_api", payload, False
    fields = dict(parse_qsl(body, keep_blank_values=True))
    if set(fields) == {"payload"}:
        interaction = json.loads(fields["payload"])
        if not isinstance(interaction, dict):
            raise ValueError("an interactive payload is a JSON object")
        return "interactive", interaction, interaction.get("type") in ANSWERED_INTERACTIONS
    return "slash_commands", dict(fields), True


class SocketMode:
    """The sandbox's Socket Mode endpoint (started on the first `apps.connections.open`)."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        ack_timeout: float = ACK_TIMEOUT,
        max_retries: int = 3,
        connect_timeout: float = 20.0,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.sandbox = sandbox
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._cond = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._tickets: set[str] = set()
        self._links: list[Link] = []
        self._numbers = itertools.count(1)
        self._turn = 0
        self._by_id: dict[str, Envelope] = {}
        self._envelopes: list[Envelope] = []
        self._lose_acks = 0
        self._cut_after_send: list[bool] = []  # one entry per envelope to come: reset (True) or close frame
        self.urls_issued = 0
        self.deliveries = 0
        self.undelivered = 0
        self.problems: list[str] = []

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> SocketMode:
        from websockets.sync.server import serve

        with self._cond:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = serve(
                self._serve, "127.0.0.1", 0, process_request=self._check_ticket, max_size=2**24, close_timeout=2
            )
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, name="slack-sandbox-socket", daemon=True)
            self._thread.start()
            return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
            links = [link for link in self._links if link.open]
            self._cond.notify_all()
        for link in links:
            self._abort(link)
        if server is not None:
            server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def url(self) -> str:
        """The WebSocket root, e.g. `ws://127.0.0.1:54322`."""
        if self._server is None:
            raise RuntimeError("socket mode is not started")
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host!s}:{port}"

    # --- apps.connections.open ----------------------------------------------------------------------
    def open_url(self) -> JSON:
        """The answer of `apps.connections.open`: a fresh URL with a one-use ticket."""
        self.start()
        ticket = secrets.token_hex(16)
        with self._cond:
            self._tickets.add(ticket)
            self.urls_issued += 1
        return {"url": f"{self.url}/link/?ticket={ticket}&app_id={self.sandbox.app_id}"}

    def _check_ticket(self, ws: ServerConnection, request: Request) -> Response | None:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self._cond:
            if ticket in self._tickets:
                self._tickets.discard(ticket)
                return None
        return ws.respond(HTTPStatus.UNAUTHORIZED, "invalid or already used ticket\n")

    # --- connections --------------------------------------------------------------------------------
    def _serve(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        link = Link(id=f"ws-{next(self._numbers)}", ws=ws, opened_at=time.monotonic())
        with self._cond:
            live = [x for x in self._links if x.open]
            refused = len(live) >= self.max_connections
            self._links.append(link)
        if refused:
            self._frame(link, self._disconnect_frame("too_many_websockets", len(live)))
            self._abort(link, "refused")
            return
        with link.send_lock:  # ready once its hello is on the way, and no envelope before it
            with self._cond:
                link.ready = True
                self._cond.notify_all()
            self._frame(link, self._hello(len(live) + 1))
        try:
            for message in ws:
                self._on_message(link, message if isinstance(message, str) else message.decode("utf-8", "replace"))
        except ConnectionClosed:
            pass
        finally:
            self._closed(link, "app")

    def _hello(self, num_connections: int) -> JSON:
        return {
            "type": "hello",
            "num_connections": num_connections,
            "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.sandbox.app_id},
        }

    def _disconnect_frame(self, reason: str, num_connections: int) -> JSON:
        return {
            "type": "disconnect",
            "reason": reason,
            "num_connections": num_connections,
            "debug_info": {"host": HOST},
            "connection_info": {"app_id": self.sandbox.app_id},
        }

    def _frame(self, link: Link, body: JSON) -> bool:
        from websockets.exceptions import ConnectionClosed

        try:
            with link.send_lock:
                link.ws.send(json.dumps(body))
            return True
        except (ConnectionClosed, OSError):
            self._closed(link, "app")
            return False

    def _closed(self, link: Link, by: str) -> None:
        with self._cond:
            if link.closed_at is None:
                link.closed_at = time.monotonic()
                link.closed_by = by
            self._cond.notify_all()

    def _abort(self, link: Link, by: str = "sandbox") -> None:
        """Cut the TCP connection with a reset, as a network failure does (no close frame)."""
        self._closed(link, by)
        with suppress(OSError):  # closed here, before websockets could shut it down (a FIN) on its way out
            link.ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            link.ws.socket.close()
        link.ws.close_socket()

    def _link(self, connection: str | None) -> Link:
        with self._cond:
            live = self._ready()
            if connection is None and live:
                return live[0]
            for link in live:
                if link.id == connection:
                    return link
        raise LookupError(f"no open connection {connection or ''}".strip())

    def disconnect(self, reason: str = "warning", connection: str | None = None) -> str:
        """Send `{"type": "disconnect", "reason": …}` on a connection (the oldest open one by default).

        It gets no new envelopes after that; the app is expected to open a new connection and close it.
        """
        link = self._link(connection)
        with self._cond:
            link.draining = True
            count = sum(1 for x in self._links if x.open)
        self._frame(link, self._disconnect_frame(reason, count))
        return link.id

    def drop(self, connection: str | None = None) -> str:
        """The connection fails: a TCP reset, no close frame (a network failure); unacked envelopes go out again.

        slack_sdk's built-in client reconnects at its next ping check (every 10 s in Bolt); when an ack or ping
        it sends meets the reset before its reader does, it notices only after five failed pings (~50 s).
        """
        link = self._link(connection)
        self._abort(link)
        return link.id

    def close(self, connection: str | None = None, code: int = 1011, reason: str = "connection lost") -> str:
        """Slack closes the connection with a close frame and no `disconnect` message first."""
        link = self._link(connection)
        self._shut(link, code, reason)
        return link.id

    def _shut(self, link: Link, code: int = 1011, reason: str = "connection lost") -> None:
        self._closed(link, "sandbox")
        threading.Thread(target=link.ws.close, args=(code, reason), name=f"close-{link.id}", daemon=True).start()

    def lose_acks(self, times: int = 1) -> None:
        """Throw away the next `times` acks, as if lost on the way: their envelopes time out."""
        with self._cond:
            self._lose_acks += times

    def drop_after_send(self, times: int = 1, *, reset: bool = False) -> None:
        """End the connection right after each of the next `times` envelopes goes out on it, before any ack.

        With a close frame (see `close`), or with `reset` a TCP reset (see `drop`).
        """
        with self._cond:
            self._cut_after_send += [reset] * times

    def wait_for_connections(self, count: int = 1, timeout: float = 20.0, *, fresh: bool = True) -> list[str]:
        """Wait until `count` connections are open (only ones not told to disconnect, with `fresh`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                ready = [x.id for x in self._ready() if not (fresh and x.draining)]
                if len(ready) >= count:
                    return ready
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    raise TimeoutError(f"{len(ready)} of {count} Socket Mode connections after {timeout} s")
                self._cond.wait(left)

    def _ready(self) -> list[Link]:
        return [x for x in self._links if x.open and x.ready]

    # --- envelopes ----------------------------------------------------------------------------------
    def target(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        """A `Deliverer` target: the request Slack would POST goes out as an envelope; the ack is the answer.

        Answers 200 with the ack's payload (JSON, or empty), or 504 when no attempt was acknowledged.
        """
        kind, payload, accepts = envelope_of(body, headers.get("Content-Type", ""))
        retry_num = headers.get("X-Slack-Retry-Num")
        acked = self.deliver(
            kind,
            payload,
            accepts_response_payload=accepts,
            retry_attempt=int(retry_num or 0),
            retry_reason=headers.get("X-Slack-Retry-Reason", "") if retry_num else "",
        )
        if acked is None:
            return 504, ""
        return 200, json.dumps(acked.response) if acked.response is not None else ""

    def deliverer(self, workspace: Sandbox | None = None, **kwargs: Any) -> Deliverer:
        """The people API (post, react, command, click, submit, …) of `workspace` (default: the primary)
        delivering through the socket."""
        from sandbox.people import Deliverer

        return Deliverer(workspace or self.sandbox, self.target, **kwargs)

    def deliver(
        self,
        kind: str,
        payload: JSON,
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> Envelope | None:
        """Send one envelope and wait for its ack; `events_api` ones go out again while unacknowledged.

        Returns the acknowledged attempt, or None (no ack after the retries, or no connection in time).
        """
        with self._cond:
            self.deliveries += 1
        retries = self.max_retries if kind == "events_api" else 0
        attempt, reason, redelivery = retry_attempt, retry_reason, False
        while True:
            sent = self._send(kind, payload, accepts_response_payload, attempt, reason, redelivery)
            if sent is None:
                with self._cond:
                    self.undelivered += 1
                return None
            if self._await_ack(sent):
                return sent
            if retries == 0:
                with self._cond:
                    self.undelivered += 1
                return None
            retries -= 1
            attempt, reason, redelivery = attempt + 1, RETRY_REASON, True

    def _send(
        self, kind: str, payload: JSON, accepts: bool, attempt: int, reason: str, redelivery: bool
    ) -> Envelope | None:
        deadline = time.monotonic() + self.connect_timeout
        while True:
            link = self._next_link(deadline)
            if link is None:
                return None
            envelope = Envelope(
                envelope_id=str(uuid.uuid4()),
                type=kind,
                payload=payload,
                accepts_response_payload=accepts,
                retry_attempt=attempt,
                retry_reason=reason,
                connection=link.id,
                sent_at=time.monotonic(),
                redelivery=redelivery,
            )
            with self._cond:
                self._by_id[envelope.envelope_id] = envelope
            if not self._frame(link, envelope.frame()):  # it went away meanwhile: pick another
                with self._cond:
                    del self._by_id[envelope.envelope_id]
                continue
            with self._cond:
                self._envelopes.append(envelope)
                link.envelopes.append(envelope.envelope_id)
                cut = self._cut_after_send.pop(0) if self._cut_after_send else None
            if cut is True:
                self._abort(link)
            elif cut is False:
                self._shut(link)
            return envelope

    def _next_link(self, deadline: float) -> Link | None:
        """The next open connection, round-robin (ones told to disconnect only when there is no other)."""
        with self._cond:
            while not self._stopping.is_set():
                links = self._ready()
                fresh = [x for x in links if not x.draining]
                left = deadline - time.monotonic()
                choice = fresh or (links if left <= 0 else [])
                if choice:
                    self._turn += 1
                    return choice[self._turn % len(choice)]
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))
            return None

    def _await_ack(self, envelope: Envelope) -> bool:
        deadline = envelope.sent_at + self.ack_timeout
        with self._cond:
            while envelope.acked_at is None and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if envelope.acked_at is None:
                envelope.timed_out = True
                return False
            return True

    def _on_message(self, link: Link, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not message.get("envelope_id"):
            with self._cond:
                self.problems.append(f"{link.id}: a message that is no ack: {raw[:200]}")
            return
        with self._cond:
            envelope = self._by_id.get(str(message["envelope_id"]))
            if envelope is None:
                self.problems.append(f"{link.id}: ack for an unknown envelope {message['envelope_id']}")
                return
            if envelope.connection != link.id or not link.open:
                envelope.stray_acks += 1
                return
            if self._lose_acks > 0:
                self._lose_acks -= 1
                envelope.lost_acks += 1
                return
            if envelope.acked_at is not None:
                self.problems.append(f"{link.id}: envelope {envelope.envelope_id} acknowledged twice")
                return
            answer = message.get("payload")
            if answer is not None and not envelope.accepts_response_payload:
                self.problems.append(f"{link.id}: a payload in the ack of {envelope.type} that accepts none")
            envelope.acked_at = time.monotonic()
            envelope.response = answer if isinstance(answer, dict) else None
            envelope.late = envelope.timed_out
            link.acks += 1
            self._cond.notify_all()

    # --- readers ------------------------------------------------------------------------------------
    @property
    def envelopes(self) -> list[Envelope]:
        """Every envelope sent, oldest first (retries are envelopes of their own)."""
        with self._cond:
            return list(self._envelopes)

    @property
    def connections(self) -> list[Link]:
        """Every connection the app opened, oldest first (open or closed)."""
        with self._cond:
            return list(self._links)

    def open_connections(self) -> list[str]:
        with self._cond:
            return [x.id for x in self._ready()]

    def stats(self) -> dict[str, int]:
        """Counts for reports: envelopes sent, acked in time, redelivered, lost or late acks, connections."""
        with self._cond:
            sent = self._envelopes
            return {
                "deliveries": self.deliveries,
                "sent": len(sent),
                "acked": sum(1 for e in sent if e.acked),
                "redelivered": sum(1 for e in sent if e.redelivery),
                "late_acks": sum(1 for e in sent if e.late),
                "lost_acks": sum(e.lost_acks for e in sent),
                "stray_acks": sum(e.stray_acks for e in sent),
                "unacked": sum(1 for e in sent if e.acked_at is None),
                "undelivered": self.undelivered,
                "urls_issued": self.urls_issued,
                "connections": len(self._links),
                "closed_by_sandbox": sum(1 for x in self._links if x.closed_by == "sandbox"),
            }
