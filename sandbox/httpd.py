"""The HTTP side of the sandbox: parse what slack_sdk sends (form, JSON, query, multipart) and reply."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from sandbox.oauth import basic_credentials

Reply = tuple[int, dict[str, str], bytes]


class Backend(Protocol):
    """What the HTTP handler calls: the sandbox."""

    def handle_api(
        self, method: str, args: dict[str, Any], token: str | None, basic: tuple[str, str] | None = None
    ) -> Reply: ...

    def handle_authorize(self, query: dict[str, str]) -> Reply: ...

    def handle_response_url(self, hook_id: str, payload: Any) -> Reply: ...

    def handle_upload(self, file_id: str, data: bytes) -> Reply: ...


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return status, all_headers, json.dumps(body).encode()


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        is_file = part.get_filename() is not None
        fields[name] = f"<{len(data)} bytes>" if is_file else data.decode("utf-8", "replace")
    return fields


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], Any]:
    """(form-like args, raw JSON value or None) for a request body."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        value = json.loads(body.decode("utf-8")) if body.strip() else {}
        return (dict(value) if isinstance(value, dict) else {}), value
    if kind == "multipart/form-data":
        return _multipart(content_type, body), None
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), None


def make_handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `backend`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SlackSandbox/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read calls, not logs
            return

        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = [p for p in url.path.split("/") if p]
            if len(parts) == 2 and parts[0] == "upload" and self.command == "POST":  # raw bytes, not a form
                self._send(backend.handle_upload(parts[1], body))
                return
            try:
                args, raw_json = parse_body(self.headers.get("Content-Type", ""), body)
            except (ValueError, UnicodeDecodeError):
                self._send(json_reply(400, {"ok": False, "error": "invalid_json"}))
                return
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            if len(parts) == 2 and parts[0] == "api":
                token = None
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("bearer "):
                    token = auth[7:].strip()
                merged = {**query, **args}
                token = token or (str(merged["token"]) if merged.get("token") else None)
                merged.pop("token", None)
                self._send(backend.handle_api(parts[1], merged, token, basic_credentials(auth)))
            elif parts == ["oauth", "v2", "authorize"] and self.command == "GET":
                self._send(backend.handle_authorize(query))
            elif len(parts) == 2 and parts[0] == "response" and self.command == "POST":
                self._send(backend.handle_response_url(parts[1], raw_json if raw_json is not None else args))
            else:
                self._send(json_reply(404, {"ok": False, "error": "not_found"}))

        def _send(self, reply: Reply) -> None:
            status, headers, payload = reply
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
                pass

        do_GET = _handle
        do_POST = _handle

    return Handler
