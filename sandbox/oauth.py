"""OAuth v2 for the sandbox: the approval page, codes, installations and their tokens (with rotation).

`/oauth/v2/authorize` stands for the person approving the app on slack.com: it redirects to the app's
redirect URL with a one-time `code` (or `error=access_denied`). `oauth.v2.access` exchanges that code for
tokens, or (`grant_type=refresh_token`) a refresh token for a fresh pair when token rotation is on.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
import string
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from sandbox.world import JSON, SlackError

if TYPE_CHECKING:
    from sandbox.server import Sandbox

TOKEN_LIFETIME = 43_200  # seconds an access token lives with token rotation (12 hours)
CODE_LIFETIME = 600  # seconds a code can be exchanged (10 minutes)
_ALNUM = string.ascii_letters + string.digits

TokenKind = Literal["bot", "user", "refresh"]


@dataclass
class Installation:
    """The app installed in one workspace, or org-wide in every workspace of an Enterprise Grid org."""

    id: str
    team_id: str | None  # None for an org-wide install
    home: str  # the workspace it was approved in
    enterprise_id: str | None
    is_enterprise_install: bool
    bot_user_id: str
    bot_id: str
    installer: str
    scope: str
    user_scope: str
    approved_at: float
    builtin: bool = False  # the fixed-token install the primary workspace starts with
    revoked: bool = False

    def covers(self, team_id: str, enterprise_id: str | None) -> bool:
        """Whether this installation reaches the workspace `team_id` (of `enterprise_id`)."""
        if self.revoked:
            return False
        if self.is_enterprise_install:
            return enterprise_id is not None and enterprise_id == self.enterprise_id
        return team_id == self.team_id

    def authorization(self) -> JSON:
        """The `authorizations[0]` of the events delivered for this installation."""
        return {
            "enterprise_id": self.enterprise_id,
            "team_id": None if self.is_enterprise_install else self.team_id,
            "user_id": self.bot_user_id,
            "is_bot": True,
            "is_enterprise_install": self.is_enterprise_install,
        }


@dataclass
class Token:
    """One issued token: an access token (bot or user) or a refresh token."""

    value: str
    kind: TokenKind
    installation: Installation
    user_id: str  # the bot user for bot tokens, the installing person for user tokens
    expires_at: float | None = None
    renews: Literal["bot", "user"] | None = None  # refresh tokens: which kind of access token they renew
    revoked: str | None = None  # the error calls get once revoked

    def problem(self, now: float) -> str | None:
        """The error a call with this token gets, or None when it is good."""
        if self.revoked:
            return self.revoked
        if self.expires_at is not None and now >= self.expires_at:
            return "token_expired"
        return None


@dataclass(frozen=True)
class Approval:
    """What the person on the approval page does next: approve for a workspace (or org), or deny."""

    team_id: str
    user_id: str
    enterprise_install: bool = False
    deny: bool = False


@dataclass
class Code:
    """A code handed to the redirect URL, exchangeable once within CODE_LIFETIME."""

    value: str
    approval: Approval
    scope: str
    user_scope: str
    redirect_uri: str | None  # as sent to the approval page (None: the app's configured one)
    created: float
    used: bool = False


@dataclass
class OAuthState:
    """Every approval queued, code issued, installation made and token issued (shared by linked workspaces)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    approvals: deque[Approval] = field(default_factory=deque)
    codes: dict[str, Code] = field(default_factory=dict)
    installations: list[Installation] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    requests: list[JSON] = field(default_factory=list)  # query strings the approval page was opened with
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def _random(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _digits(length: int) -> str:
    return _random(length, string.digits)


def new_token(kind: TokenKind, rotating: bool) -> str:
    """A token that looks like Slack's: xoxb-/xoxp- (or xoxe.xoxb-1-/xoxe.xoxp-1- when rotating), xoxe-1-."""
    if kind == "refresh":
        return f"xoxe-1-{_random(96)}"
    prefix = "xoxb" if kind == "bot" else "xoxp"
    if rotating:
        return f"xoxe.{prefix}-1-{_random(96)}"
    if kind == "bot":
        return f"xoxb-{_digits(13)}-{_digits(13)}-{_random(24)}"
    return f"xoxp-{_digits(13)}-{_digits(13)}-{_digits(13)}-{secrets.token_hex(16)}"


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(client_id, client_secret) from an `Authorization: Basic …` header."""
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


# --- the approval page --------------------------------------------------------------------------------
def _with_query(url: str, **params: str | None) -> str:
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _page(status: int, text: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, f"{text}\n".encode()


def authorize(app: Sandbox, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """GET /oauth/v2/authorize: the person approves (302 to the redirect URL with a code) or denies."""
    state = app.oauth
    with state.lock:
        state.requests.append(dict(query))
    if query.get("client_id") != app.client_id:
        return _page(400, "invalid_client_id")
    given = query.get("redirect_uri") or None
    redirect = given or app.redirect_uri
    if not redirect or (app.redirect_uri and not redirect.startswith(app.redirect_uri)):
        return _page(400, "bad_redirect_uri")
    scope, user_scope = query.get("scope", ""), query.get("user_scope", "")
    if not scope and not user_scope:
        return _page(400, "invalid_scope")
    with state.lock:
        approval = state.approvals.popleft() if state.approvals else None
    approval = approval or app.default_approval(query.get("team"))
    if approval.deny:
        location = _with_query(redirect, error="access_denied", state=query.get("state"))
    else:
        code = issue_code(app, approval, scope, user_scope, given)
        location = _with_query(redirect, code=code, state=query.get("state"))
    return 302, {"Location": location, "Content-Type": "text/html; charset=utf-8"}, b""


def issue_code(app: Sandbox, approval: Approval, scope: str, user_scope: str, redirect_uri: str | None) -> str:
    """A fresh code for an approval (what the redirect URL gets)."""
    state, now = app.oauth, app.world.now()
    with state.lock:
        value = f"{int(now)}.{next(state.numbers)}.{secrets.token_hex(32)}"
        state.codes[value] = Code(value, approval, scope, user_scope, redirect_uri, now)
    return value


def code_of(location: str) -> str | None:
    """The `code` in a redirect URL the approval page answered with (None for a denial)."""
    found = parse_qs(urlsplit(location).query).get("code")
    return found[0] if found else None


# --- oauth.v2.access ----------------------------------------------------------------------------------
def access(app: Sandbox, args: dict[str, str], basic: tuple[str, str] | None) -> JSON:
    """oauth.v2.access: a code for tokens, or (grant_type=refresh_token) a refresh token for a new pair."""
    client_id, secret = basic or (args.get("client_id") or "", args.get("client_secret") or "")
    if not client_id or client_id != app.client_id:
        raise SlackError("invalid_client_id")
    if secret != app.client_secret:
        raise SlackError("bad_client_secret")
    grant_type = args.get("grant_type") or "authorization_code"
    if grant_type == "refresh_token":
        return _refresh(app, args.get("refresh_token") or "")
    if grant_type != "authorization_code":
        raise SlackError("invalid_grant_type")
    state, now = app.oauth, app.world.now()
    with state.lock:
        code = state.codes.get(args.get("code") or "")
        if code is None or code.used or now - code.created > CODE_LIFETIME:
            raise SlackError("invalid_code")
        redirect = args.get("redirect_uri") or None
        expected = code.redirect_uri
        if (expected is not None and redirect != expected) or (
            expected is None and redirect is not None and redirect != app.redirect_uri
        ):
            raise SlackError("bad_redirect_uri")
        approval = code.approval
        workspace = app.workspace(approval.team_id)
        org_wide = _org_install(state, workspace.enterprise_id)
        if not approval.enterprise_install and org_wide is not None:
            raise SlackError("cannot_install_an_org_installed_app")
        code.used = True
        installation = _install(app, approval, code.scope, code.user_scope, now)
        answer: JSON = {"ok": True}
        if code.scope:
            answer.update(_issue(app, installation, "bot", installation.bot_user_id, now))
            answer.update(scope=installation.scope, bot_user_id=installation.bot_user_id)
        answer.update(_where(app, installation))
        authed: JSON = {"id": installation.installer}
        if code.user_scope:
            user = _issue(app, installation, "user", installation.installer, now)
            authed.update(scope=code.user_scope, **user)
        answer["authed_user"] = authed
        answer["is_enterprise_install"] = installation.is_enterprise_install
        return _ordered(answer)


def _org_install(state: OAuthState, enterprise_id: str | None) -> Installation | None:
    if enterprise_id is None:
        return None
    return next(
        (
            i
            for i in state.installations
            if i.is_enterprise_install and i.enterprise_id == enterprise_id and not i.revoked
        ),
        None,
    )


def _union(*scopes: str) -> str:
    return ",".join(dict.fromkeys(s for group in scopes for s in group.split(",") if s))


def _install(app: Sandbox, approval: Approval, scope: str, user_scope: str, now: float) -> Installation:
    """The installation an approval makes: a new one, or the workspace's (org's) current one, re-approved."""
    state = app.oauth
    workspace = app.workspace(approval.team_id)
    org = approval.enterprise_install
    for existing in state.installations:
        same = existing.enterprise_id == workspace.enterprise_id if org else existing.team_id == workspace.team_id
        if same and existing.is_enterprise_install == org and not existing.revoked and not existing.builtin:
            existing.scope = _union(existing.scope, scope)
            existing.user_scope = _union(existing.user_scope, user_scope)
            existing.installer = approval.user_id
            existing.approved_at = now
            state.installations.remove(existing)
            state.installations.append(existing)  # the last approved one
            return existing
    installation = Installation(
        id=f"I{next(state.numbers):08X}",
        team_id=None if org else workspace.team_id,
        home=workspace.team_id,
        enterprise_id=workspace.enterprise_id,
        is_enterprise_install=org,
        bot_user_id=workspace.bot_user_id,
        bot_id=workspace.bot_id,
        installer=approval.user_id,
        scope=_union(scope),
        user_scope=_union(user_scope),
        approved_at=now,
    )
    state.installations.append(installation)
    return installation


def _issue(app: Sandbox, installation: Installation, kind: Literal["bot", "user"], user_id: str, now: float) -> JSON:
    """An access token (and with rotation its refresh token): the fields of the answer that carry them."""
    state = app.oauth
    rotating = app.token_rotation
    if not rotating:  # without rotation a re-approval hands back the token already issued
        for token in state.tokens.values():
            same = token.installation is installation and token.kind == kind and token.user_id == user_id
            if same and token.revoked is None and token.expires_at is None:
                return {"access_token": token.value, "token_type": kind}
    expires = now + TOKEN_LIFETIME if rotating else None
    access_token = Token(new_token(kind, rotating), kind, installation, user_id, expires)
    state.tokens[access_token.value] = access_token
    fields: JSON = {"access_token": access_token.value, "token_type": kind}
    if rotating:
        refresh = Token(new_token("refresh", True), "refresh", installation, user_id, renews=kind)
        state.tokens[refresh.value] = refresh
        fields.update(refresh_token=refresh.value, expires_in=TOKEN_LIFETIME)
    return fields


def _where(app: Sandbox, installation: Installation) -> JSON:
    home = app.workspace(installation.home)
    team = None if installation.is_enterprise_install else {"id": home.team_id, "name": home.world.team["name"]}
    enterprise = None
    if installation.enterprise_id:
        enterprise = {"id": installation.enterprise_id, "name": home.world.enterprise_name}
    return {"app_id": app.app_id, "team": team, "enterprise": enterprise}


_ORDER = [
    "ok",
    "access_token",
    "token_type",
    "scope",
    "bot_user_id",
    "app_id",
    "team",
    "enterprise",
    "authed_user",
    "is_enterprise_install",
    "refresh_token",
    "expires_in",
]


def _ordered(answer: JSON) -> JSON:
    """The answer's keys in the order Slack's documentation shows them."""
    return {key: answer[key] for key in [*[k for k in _ORDER if k in answer], *[k for k in answer if k not in _ORDER]]}


def _refresh(app: Sandbox, value: str) -> JSON:
    state, now = app.oauth, app.world.now()
    with state.lock:
        refresh = state.tokens.get(value)
        if refresh is None or refresh.kind != "refresh" or refresh.renews is None or refresh.problem(now):
            raise SlackError("invalid_refresh_token")
        refresh.revoked = "invalid_refresh_token"  # a refresh token is good for one refresh
        installation = refresh.installation
        fresh = Token(new_token(refresh.renews, True), refresh.renews, installation, refresh.user_id)
        fresh.expires_at = now + TOKEN_LIFETIME
        state.tokens[fresh.value] = fresh
        renewed = Token(new_token("refresh", True), "refresh", installation, refresh.user_id, renews=refresh.renews)
        state.tokens[renewed.value] = renewed
        answer: JSON = {"ok": True, "access_token": fresh.value, "token_type": refresh.renews}
        if refresh.renews == "bot":
            answer.update(scope=installation.scope, bot_user_id=installation.bot_user_id)
        else:
            answer.update(scope=installation.user_scope, user_id=installation.installer)
        answer.update(_where(app, installation))
        answer.update(
            is_enterprise_install=installation.is_enterprise_install,
            refresh_token=renewed.value,
            expires_in=TOKEN_LIFETIME,
        )
        return _ordered(answer)


# --- revocation ---------------------------------------------------------------------------------------
_REVOKED: dict[TokenKind, str] = {
    "bot": "account_inactive",
    "user": "token_revoked",
    "refresh": "invalid_refresh_token",
}


def revoke_installation(app: Sandbox, installation: Installation) -> tuple[list[str], list[str]]:
    """Revoke every token of an installation: (user ids whose user tokens went, bot user ids whose tokens went)."""
    state = app.oauth
    users: list[str] = []
    bots: list[str] = [installation.bot_user_id]
    with state.lock:
        installation.revoked = True
        for token in state.tokens.values():
            if token.installation is not installation or token.revoked:
                continue
            # Slack's answers for tokens of a removed app: the bot user is deactivated, user tokens are revoked.
            token.revoked = _REVOKED[token.kind]
            if token.kind == "user" and token.user_id not in users:
                users.append(token.user_id)
    return users, bots
