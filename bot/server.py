"""HTTP mode: a WSGI front for the Bolt app (401 bad signature, 400 malformed body), served by waitress.

Also /healthz (200 while the database answers) and /metrics (Prometheus text format).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

from bot import metrics
from bot.deps import Deps
from handlers import KIND
from handlers.shape import vet

log = logging.getLogger("peerbot.http")

EVENTS_PATH = "/slack/events"
METRICS_PATH = "/metrics"
MAX_BODY = 1_000_000  # Slack's payloads are far smaller; refuse anything bigger without reading it


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    content_type: str = "application/json"


def _error(status: int, message: str) -> Reply:
    return Reply(status, json.dumps({"error": message}))


def parse(body: str, content_type: str) -> dict[str, Any] | None:
    """The payload, parsed the way Slack sends it (JSON events, form commands, form `payload=` JSON), or None."""
    try:
        if content_type.startswith("application/json") or body.lstrip().startswith("{"):
            parsed = json.loads(body)
        else:
            form = dict(parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body)))
            parsed = json.loads(form["payload"]) if "payload" in form else form or None
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def well_formed(body: str, content_type: str) -> bool:
    """Does the body parse the way Slack sends it?"""
    return parse(body, content_type) is not None


def handle_events(app: App, secret: str, body: bytes, headers: Mapping[str, str]) -> Reply:
    """Check and dispatch one request from Slack. Used by the WSGI app and, in process, by tests."""
    reply = _check_and_dispatch(app, secret, body, headers)
    metrics.REQUESTS.inc(status=str(reply.status))
    return reply


def _check_and_dispatch(app: App, secret: str, body: bytes, headers: Mapping[str, str]) -> Reply:
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _rejected(400, "body is not UTF-8")
    if not signed(secret, text, lower.get("x-slack-request-timestamp", ""), lower.get("x-slack-signature", "")):
        return _rejected(401, "invalid signature or stale timestamp")
    payload = parse(text, lower.get("content-type", ""))
    if payload is None:
        return _rejected(400, "malformed body")
    kind = vet(payload)
    if kind is None:
        return _rejected(400, "unexpected payload shape")
    started = time.perf_counter()
    try:
        request = bolt_request(payload, lower, kind)
    except Exception:
        log.warning("request rejected status=400 reason=unreadable_payload", exc_info=True)
        return _error(400, "unexpected payload shape")
    try:
        response = app.dispatch(request)
    except Exception:
        # Bolt catches listener errors itself; this is a last resort, answered like them so Slack retries.
        metrics.ERRORS.inc(type="dispatch")
        log.exception("request failed outside the listeners after %.1f ms", (time.perf_counter() - started) * 1000)
        return _error(500, "internal error")
    content_type = (response.headers.get("content-type") or ["application/json"])[0]
    return Reply(response.status, response.body or "", content_type)


def bolt_request(payload: dict[str, Any], headers: dict[str, str], kind: str) -> BoltRequest:
    """The request for Bolt, with the body `parse` read (not parsed a second time) and the kind `vet` found."""
    request = BoltRequest(body="", headers={k: [v] for k, v in headers.items()}, context={KIND: kind})
    request.body = payload
    request.context = build_context(request.context, payload)
    return request


def signed(secret: str, body: str, timestamp: str, signature: str) -> bool:
    """Slack's signature over the body, made within the last five minutes (a missing or odd timestamp: no)."""
    if not timestamp.strip().isdigit():
        return False
    try:
        return SignatureVerifier(secret).is_valid(body, timestamp.strip(), signature)
    except ValueError:
        return False


def _rejected(status: int, message: str) -> Reply:
    log.info("request rejected status=%s reason=%s", status, message.replace(" ", "_"))
    return _error(status, message)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(app: App, deps: Deps) -> WSGIApp:
    """/slack/events for Slack, /healthz for load balancers (200 when the database answers), /metrics; with
    OAuth, /slack/install and /slack/oauth_redirect."""
    secret = deps.settings.signing_secret
    flow = app.oauth_flow
    # Many workspaces: Bolt's own WSGI adapter serves its install page and OAuth redirect.
    install_pages = {flow.install_path, flow.redirect_uri_path} if flow is not None else set()
    bolt_wsgi = SlackRequestHandler(app)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path in install_pages and method == "GET":
            return bolt_wsgi(environ, start_response)
        if path == "/healthz" and method == "GET":
            reply = Reply(200, '{"ok": true}') if _db_ok(deps) else _error(503, "database unreachable")
        elif path == METRICS_PATH and method == "GET":
            reply = Reply(200, metrics.REGISTRY.render(), metrics.CONTENT_TYPE)
        elif path != EVENTS_PATH:
            reply = _error(404, "not found")
        elif method != "POST":
            reply = _error(405, "POST only")
        else:
            reply = _read_and_handle(app, secret, environ)
        payload = reply.body.encode("utf-8")
        start_response(
            f"{reply.status} {_REASONS.get(reply.status, 'Status')}",
            [("Content-Type", reply.content_type), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return application


def _read_and_handle(app: App, secret: str, environ: dict[str, Any]) -> Reply:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "bad Content-Length")
    if length > MAX_BODY:
        return _error(413, "body too large")
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
    headers["content-type"] = environ.get("CONTENT_TYPE", "")
    return handle_events(app, secret, body, headers)


def _db_ok(deps: Deps) -> bool:
    from sqlalchemy import text

    try:
        with deps.db() as s:
            s.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
        return False


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def serve(app: App, deps: Deps, *, host: str = "0.0.0.0", port: int | None = None, threads: int = 8) -> None:
    """Serve HTTP mode with waitress, a production WSGI server."""
    from waitress import serve as waitress_serve

    log.info("Peerbot listening on http://%s:%s%s", host, port or deps.settings.port, EVENTS_PATH)
    if app.oauth_flow is not None:
        log.info(
            "install Peerbot in a workspace from http://%s:%s%s",
            host,
            port or deps.settings.port,
            app.oauth_flow.install_path,
        )
    waitress_serve(wsgi_app(app, deps), host=host, port=port or deps.settings.port, threads=threads, ident="peerbot")
