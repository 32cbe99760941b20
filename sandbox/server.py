"""The sandbox Slack Web API server: auth, catalog checks, faults, call recording, readers for tests."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from slack_sdk import WebClient

from sandbox import api_files
from sandbox.catalog import MethodCatalog
from sandbox.faults import Faults
from sandbox.hooks import Hooks
from sandbox.httpd import Reply, json_reply, make_handler
from sandbox.methods import decode_args, dispatch
from sandbox.readers import Readers
from sandbox.socket_mode import SocketMode
from sandbox.world import JSON, World

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One Web API call the sandbox answered (args as sent, JSON strings decoded; no token)."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int


class Sandbox(Readers):
    """A local stand-in for Slack's Web API with a believable workspace behind it."""

    def __init__(
        self,
        *,
        team_id: str = "TSANDBOX1",
        team_domain: str = "acme",
        enterprise_id: str | None = None,
        bot_user_id: str = "UPEERBOT1",
        bot_id: str = "BPEERBOT1",
        app_id: str = "APEERBOT1",
        bot_token: str = "xoxb-sandbox-token",
        app_token: str = "xapp-sandbox-token",
        signing_secret: str = "sandbox-signing-secret",
        verification_token: str = "sandbox-verification-token",
        catalog: MethodCatalog | None = None,
        strict: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = World(
            team_id=team_id,
            team_domain=team_domain,
            enterprise_id=enterprise_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            clock=clock,
        )
        self.bot_token = bot_token
        self.app_token = app_token  # app-level: apps.connections.open only
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.catalog = catalog
        self.strict = strict
        self.faults = Faults()
        self.hooks = Hooks(self.world)
        self.socket_mode = SocketMode(self)
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._violations: list[str] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- identity -----------------------------------------------------------------------------------
    @property
    def team_id(self) -> str:
        return str(self.world.team["id"])

    @property
    def team_domain(self) -> str:
        return self.world.domain

    @property
    def enterprise_id(self) -> str | None:
        return self.world.enterprise_id

    @property
    def bot_user_id(self) -> str:
        return self.world.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.world.bot_id

    @property
    def app_id(self) -> str:
        return self.world.app_id

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self))
        server.daemon_threads = True
        self._server = server
        api_files.serve_uploads_at(self.world, f"{self.url}/upload")
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="slack-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases delayed (faulted) answers
        self.socket_mode.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:54321`."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL for `WebClient(base_url=...)` (ends with `/`)."""
        return f"{self.url}/api/"

    def client(self, **kwargs: Any) -> WebClient:
        """A slack_sdk WebClient pointed at this sandbox with the bot token."""
        return WebClient(token=self.bot_token, base_url=self.base_url, **kwargs)

    # --- setup --------------------------------------------------------------------------------------
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
    ) -> JSON:
        return copy.deepcopy(
            self.world.add_user(
                user_id, name, real_name=real_name, tz=tz, is_admin=is_admin, is_bot=is_bot, deleted=deleted
            )
        )

    def add_channel(self, channel_id: str, name: str, *, is_private: bool = False, members: Iterable[str] = ()) -> JSON:
        return copy.deepcopy(self.world.add_channel(channel_id, name, is_private=is_private, members=members))

    def new_trigger(self, user: str) -> str:
        """A fresh trigger_id for `user` (what Slack sends with a command or click)."""
        return self.world.new_trigger(user)

    def response_url(
        self,
        kind: str = "commands",
        *,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """A fresh response_url on this server; what is POSTed there becomes messages."""
        hook_id = self.hooks.register(
            kind, channel=channel, user=user, message_ts=message_ts, is_ephemeral=is_ephemeral
        )
        return f"{self.url}/response/{hook_id}"

    # --- faults, calls, violations ------------------------------------------------------------------
    def inject(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` (or `*`) fail (or wait `delay` s), as Slack can."""
        self.faults.add(method, status=status, error=error, retry_after=retry_after, delay=delay, times=times)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    @property
    def responses(self) -> list[JSON]:
        """Everything POSTed to response_urls: `{"id", "kind", "json"}` each."""
        return copy.deepcopy(self.hooks.responses)

    def _record(self, method: str, args: dict[str, Any], status: int, body: JSON) -> None:
        ok = bool(body.get("ok"))
        error = None if ok else str(body.get("error"))
        with self._lock:
            self._calls.append(Call(method, args, ok, error, status))

    # --- HTTP backend -------------------------------------------------------------------------------
    def handle_api(self, method: str, args: dict[str, Any], token: str | None) -> Reply:
        decoded = decode_args(args)
        fault = self.faults.take(method)
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.status is not None or fault.error is not None:
                status, headers, body = fault.reply()
                self._record(method, decoded, status, body)
                return json_reply(status, body, headers)
        body = self._answer(method, decoded, token)
        self._record(method, decoded, 200, body)
        return json_reply(200, body)

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> JSON:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token not in (self.bot_token, self.app_token):
            return {"ok": False, "error": "invalid_auth"}
        if (token == self.app_token) != (method == "apps.connections.open"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if self.catalog is not None:
            problems = self.catalog.check(method, args)
            with self._lock:
                self._violations.extend(problems)
            if method not in self.catalog:
                return {"ok": False, "error": "unknown_method"}
            # Slack's own answer to a missing text/blocks/attachments is `no_text`: let the fake give it.
            hard = [p for p in problems if not p.endswith("(no_text)")]
            if hard and self.strict:
                return {
                    "ok": False,
                    "error": "invalid_arguments",
                    "response_metadata": {"messages": problems},
                }
        try:
            if method == "apps.connections.open":
                return {"ok": True, **self.socket_mode.open_url()}
            return dispatch(self.world, method, args)
        except Exception:  # a sandbox bug must not look like a Slack answer
            log.exception("sandbox failed on %s", method)
            with self._lock:
                self._violations.append(f"{method}: the sandbox crashed (see log)")
            return {"ok": False, "error": "internal_error"}

    def handle_response_url(self, hook_id: str, payload: Any) -> Reply:
        fault = self.faults.take("response_url")
        if fault is not None and (fault.status is not None or fault.error is not None):
            status, headers, body = fault.reply()
            self.hooks.responses.append({"id": hook_id, "kind": None, "json": payload})
            return json_reply(status, body, headers)
        status, body = self.hooks.post(hook_id, payload)
        return json_reply(status, body)

    def handle_upload(self, file_id: str, data: bytes) -> Reply:
        """The bytes of a file POSTed to the upload URL files.getUploadURLExternal handed out."""
        status, text = api_files.receive(self.world, file_id, data)
        return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode()
