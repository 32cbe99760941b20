"""The sandbox Slack Web API server: auth, catalog checks, faults, call recording, readers for tests.

One server can hold several workspaces (`add_workspace`): each is a linked `Sandbox` with its own World,
people, calls, faults and readers; the primary's HTTP server routes each Web API call to the workspace
that owns its token (for an org-wide token, to the workspace the call names). OAuth v2, token rotation,
Enterprise Grid installs, uninstalls and Slack Connect channels are played here too.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

from slack_sdk import WebClient

from sandbox import api_files, oauth
from sandbox.catalog import MethodCatalog
from sandbox.delivery import Delivery, SendOptions, Target
from sandbox.faults import Faults
from sandbox.hooks import Hooks
from sandbox.httpd import Reply, json_reply, make_handler
from sandbox.methods import decode_args, dispatch, error_body
from sandbox.oauth import Approval, Installation, OAuthState, Token
from sandbox.readers import Readers
from sandbox.socket_mode import SocketMode
from sandbox.world import JSON, SlackError, World

if TYPE_CHECKING:
    from sandbox.people import Deliverer

log = logging.getLogger(__name__)

# Methods whose `team_id` the catalog marks "required if org token is used" (the fallback without a catalog).
ORG_TEAM_REQUIRED = frozenset({"conversations.list", "users.conversations", "users.list"})
# Bot scopes `install()` asks for unless told otherwise.
DEFAULT_SCOPES = (
    "app_mentions:read,channels:history,channels:join,channels:read,chat:write,commands,groups:history,"
    "groups:read,im:history,im:write,mpim:history,reactions:read,reactions:write,team:read,users:read,"
    "users:read.email"
)
INSTALL_REDIRECT = "https://peerbot.example.com/slack/oauth_redirect"


@dataclass(frozen=True)
class Call:
    """One Web API call the sandbox answered (args as sent, JSON strings decoded; no token)."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int


@dataclass(frozen=True)
class _Access:
    """Who a call is made as: the fixed bot token, the app-level token, an issued token, or an auth error."""

    token: Token | None = None
    app_level: bool = False
    error: str | None = None
    basic: tuple[str, str] | None = None


class Sandbox(Readers):
    """A local stand-in for Slack's Web API with a believable workspace behind it."""

    def __init__(
        self,
        *,
        team_id: str = "TSANDBOX1",
        team_domain: str = "acme",
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        bot_user_id: str = "UPEERBOT1",
        bot_id: str = "BPEERBOT1",
        app_id: str = "APEERBOT1",
        bot_token: str = "xoxb-sandbox-token",
        app_token: str = "xapp-sandbox-token",
        signing_secret: str = "sandbox-signing-secret",
        verification_token: str = "sandbox-verification-token",
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        redirect_uri: str | None = None,
        token_rotation: bool = False,
        catalog: MethodCatalog | None = None,
        strict: bool = False,
        clock: Callable[[], float] = time.time,
        _primary: Sandbox | None = None,
    ) -> None:
        self._primary: Sandbox = _primary or self
        self.world = World(
            team_id=team_id,
            team_domain=team_domain,
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            clock=clock,
            ids=_primary.world._counter if _primary else None,  # ids (events, files, views) unique server-wide
        )
        self.bot_token = bot_token
        self.app_token = app_token  # app-level: apps.connections.open only
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.catalog = catalog
        self.strict = strict
        self.faults = Faults()
        self.hooks = Hooks(self.world)
        self.socket_mode: SocketMode = _primary.socket_mode if _primary else SocketMode(self)
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._violations: list[str] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._target: Target | None = None
        self._people: Deliverer | None = None
        self._chosen: Installation | None = None  # the installation this workspace's events are for, if told
        self._fixed_token_error: str | None = None  # set when the fixed bot token was revoked by auth.revoke
        if _primary is None:
            self._client_id, self._client_secret = client_id, client_secret
            self._redirect_uri, self._token_rotation = redirect_uri, token_rotation
            self.oauth = OAuthState()
            self.builtin = Installation(
                id="builtin",
                team_id=team_id,
                home=team_id,
                enterprise_id=enterprise_id,
                is_enterprise_install=False,
                bot_user_id=bot_user_id,
                bot_id=bot_id,
                installer="",
                scope="",
                user_scope="",
                approved_at=float(clock()),
                builtin=True,
            )
            self.oauth.installations.append(self.builtin)
            self._workspaces: dict[str, Sandbox] = {team_id: self}
        else:
            self.oauth = _primary.oauth
            self.builtin = _primary.builtin

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

    # --- the app's OAuth settings (kept by the primary, the same for every workspace) ----------------
    @property
    def primary(self) -> Sandbox:
        """The workspace whose server this one is served by (itself for the primary)."""
        return self._primary

    @property
    def client_id(self) -> str:
        return self._primary._client_id

    @client_id.setter
    def client_id(self, value: str) -> None:
        self._primary._client_id = value

    @property
    def client_secret(self) -> str:
        return self._primary._client_secret

    @client_secret.setter
    def client_secret(self, value: str) -> None:
        self._primary._client_secret = value

    @property
    def redirect_uri(self) -> str | None:
        """The app's configured redirect URL (used when the approval page is opened without one)."""
        return self._primary._redirect_uri

    @redirect_uri.setter
    def redirect_uri(self, value: str | None) -> None:
        self._primary._redirect_uri = value

    @property
    def token_rotation(self) -> bool:
        """With rotation on, issued access tokens expire after 12 hours and come with a refresh token."""
        return self._primary._token_rotation

    @token_rotation.setter
    def token_rotation(self, value: bool) -> None:
        self._primary._token_rotation = value

    # --- workspaces ---------------------------------------------------------------------------------
    def add_workspace(
        self,
        team_id: str,
        domain: str,
        *,
        name: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
    ) -> Sandbox:
        """Another workspace on this server: a linked Sandbox with its own World, people, calls and faults.

        It shares the primary's base_url, signing secret, app id, app token and delivery target. The app's
        bot user is one per org: a workspace of an enterprise already here gets that bot user by default.
        """
        primary = self._primary
        with primary._lock:
            if team_id in primary._workspaces:
                raise ValueError(f"workspace {team_id} is already on this server")
            peer = next(
                (w for w in primary._workspaces.values() if enterprise_id and w.enterprise_id == enterprise_id), None
            )
            number = len(primary._workspaces) + 1
            linked = Sandbox(
                team_id=team_id,
                team_domain=domain,
                enterprise_id=enterprise_id,
                enterprise_name=enterprise_name or (peer.world.enterprise_name if peer else None),
                bot_user_id=bot_user_id or (peer.bot_user_id if peer else f"UPEERBOT{number}"),
                bot_id=bot_id or (peer.bot_id if peer else f"BPEERBOT{number}"),
                app_id=primary.app_id,
                bot_token="",
                app_token=primary.app_token,
                signing_secret=primary.signing_secret,
                verification_token=primary.verification_token,
                catalog=primary.catalog,
                strict=primary.strict,
                clock=primary.world.clock,
                _primary=primary,
            )
            if name:
                linked.world.team["name"] = name
            primary._workspaces[team_id] = linked
        if primary._server is not None:
            api_files.serve_uploads_at(linked.world, f"{primary.url}/upload")
        return linked

    @property
    def workspaces(self) -> list[Sandbox]:
        """Every workspace on this server, the primary first."""
        with self._primary._lock:
            return list(self._primary._workspaces.values())

    def workspace(self, team_id: str) -> Sandbox:
        found = self._primary._workspaces.get(team_id)
        if found is None:
            raise LookupError(f"no workspace {team_id} on this server")
        return found

    def _pick(self, workspace: Sandbox | str | None) -> Sandbox:
        if workspace is None:
            return self
        if isinstance(workspace, Sandbox):
            if workspace._primary is not self._primary:
                raise LookupError(f"workspace {workspace.team_id} is on another server")
            return workspace
        return self.workspace(workspace)

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Start the server (a linked workspace starts its primary's)."""
        if self._primary is not self:
            self._primary.start()
            return self
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self))
        server.daemon_threads = True
        self._server = server
        for workspace in self.workspaces:
            workspace._stopping.clear()
            api_files.serve_uploads_at(workspace.world, f"{self.url}/upload")
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="slack-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server (for a linked workspace: nothing, its primary owns the server)."""
        if self._primary is not self:
            return
        for workspace in self.workspaces:
            workspace._stopping.set()  # releases delayed (faulted) answers
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
        server = self._primary._server
        if server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL for `WebClient(base_url=...)` (ends with `/`)."""
        return f"{self.url}/api/"

    @property
    def authorize_url(self) -> str:
        """The approval page, as `AuthorizeUrlGenerator(authorization_url=...)` takes it."""
        return f"{self.url}/oauth/v2/authorize"

    def client(self, token: str | None = None, **kwargs: Any) -> WebClient:
        """A slack_sdk WebClient pointed at this sandbox: the given token, else this workspace's bot token."""
        return WebClient(token=token or self.bot_token or self.installed_bot_token, base_url=self.base_url, **kwargs)

    # --- where people's events go -------------------------------------------------------------------
    @property
    def delivery_target(self) -> Target | None:
        """Where events are delivered: this workspace's target, else the primary's (None: not told yet)."""
        if self._target is not None:
            return self._target
        return self._primary._target

    def deliver_to(self, target: Target | None) -> None:
        """Set where this workspace's events go (on the primary: every workspace that has none of its own)."""
        self._target = target

    @property
    def people(self) -> Deliverer:
        """People acting in this workspace, delivering to `delivery_target` (looked up at each send)."""
        if self._people is None:
            from sandbox.people import Deliverer

            self._people = Deliverer(self)
        return self._people

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
        """A member of this workspace (`U…`, or `W…` as Enterprise Grid ids go)."""
        return copy.deepcopy(
            self.world.add_user(
                user_id, name, real_name=real_name, tz=tz, is_admin=is_admin, is_bot=is_bot, deleted=deleted
            )
        )

    def add_external_user(
        self,
        user_id: str,
        name: str,
        *,
        team_id: str,
        enterprise_id: str | None = None,
        domain: str | None = None,
        real_name: str | None = None,
        tz: str = "America/New_York",
    ) -> JSON:
        """A person of another organisation (`team_id`), met in this workspace's Slack Connect channels."""
        external = (team_id, domain or re.sub(r"[^a-z0-9-]", "", team_id.lower()), enterprise_id)
        return copy.deepcopy(self.world.add_user(user_id, name, real_name=real_name, tz=tz, external_team=external))

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        members: Iterable[str] = (),
        shared_with: Iterable[str] = (),
    ) -> JSON:
        """A channel of this workspace; with `shared_with` (other teams' ids), a Slack Connect channel."""
        return copy.deepcopy(
            self.world.add_channel(channel_id, name, is_private=is_private, members=members, shared_with=shared_with)
        )

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

    # --- installations ------------------------------------------------------------------------------
    @property
    def installations(self) -> list[Installation]:
        """Every installation of the app on this server (the built-in fixed-token one first), revoked too."""
        with self.oauth.lock:
            return list(self.oauth.installations)

    @property
    def installation(self) -> Installation | None:
        """The installation this workspace's events are for: as told (`use_installation`), else the last
        approved one of this workspace or its org, else the primary's built-in one (None: not installed)."""
        chosen = self._chosen
        if chosen is not None and not chosen.revoked:
            return chosen
        with self.oauth.lock:
            for installation in reversed(self.oauth.installations):
                if installation.covers(self.team_id, self.enterprise_id):
                    return installation
        return None

    def use_installation(self, installation: Installation | None) -> None:
        """Deliver this workspace's events for `installation` (None: back to the last approved one)."""
        if installation is not None and not installation.covers(self.team_id, self.enterprise_id):
            raise ValueError(f"installation {installation.id} does not reach workspace {self.team_id}")
        self._chosen = installation

    def authorization(self) -> JSON:
        """`authorizations[0]` of this workspace's events, for the installation they are for."""
        installation = self.installation
        if installation is None or installation.builtin:
            return {
                "enterprise_id": self.enterprise_id,
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        return installation.authorization()

    @property
    def installed_bot_token(self) -> str:
        """The newest good bot token of the installation this workspace's events are for."""
        installation = self.installation
        if installation is not None and installation.builtin:
            return self._primary.bot_token
        now = self.world.now()
        with self.oauth.lock:
            for token in reversed(list(self.oauth.tokens.values())):
                if token.installation is installation and token.kind == "bot" and token.problem(now) is None:
                    return token.value
        raise LookupError(f"the app has no good bot token in workspace {self.team_id}: install() it first")

    def _installer(self) -> str:
        """The person who installs by default: the first admin, or a new one."""
        world = self.world
        with world.lock:
            for user_id, user in world.users.items():
                external = user_id in world.external_users
                if user.get("is_admin") and not user.get("is_bot") and not user.get("deleted") and not external:
                    return user_id
            user_id = ("W" if self.enterprise_id else "U") + "INSTALL1"
            world.add_user(user_id, "installer", real_name="Ines Taller", is_admin=True)
            return user_id

    def default_approval(self, team_id: str | None = None) -> Approval:
        """What the approval page does when told nothing: the first admin of the workspace the link names
        (`team=`), else of the primary, approves."""
        chosen = self._primary._workspaces.get(team_id or "", self._primary)
        return Approval(chosen.team_id, chosen._installer())

    def approve_next(
        self, workspace: Sandbox | str | None = None, user_id: str | None = None, *, enterprise_install: bool = False
    ) -> None:
        """The next visit to the approval page approves for `workspace` (default: this one) as `user_id`
        (default: its first admin); with `enterprise_install`, org-wide for the workspace's enterprise."""
        chosen = self._pick(workspace)
        if enterprise_install and not chosen.enterprise_id:
            raise ValueError(f"workspace {chosen.team_id} is in no Enterprise Grid org: no org-wide install")
        user = user_id or chosen._installer()
        if user not in chosen.world.users or user in chosen.world.external_users:
            raise LookupError(f"no member {user} in workspace {chosen.team_id}")
        with self.oauth.lock:
            self.oauth.approvals.append(Approval(chosen.team_id, user, enterprise_install))

    def deny_next(self) -> None:
        """The next visit to the approval page is denied: a redirect with `error=access_denied`."""
        with self.oauth.lock:
            self.oauth.approvals.append(Approval(self._primary.team_id, "", deny=True))

    def install(
        self,
        workspace: Sandbox | str | None = None,
        user_id: str | None = None,
        *,
        enterprise_install: bool = False,
        scope: str = DEFAULT_SCOPES,
        user_scope: str = "",
    ) -> JSON:
        """Approve and exchange at once, without the HTTP round trip: the oauth.v2.access answer."""
        chosen = self._pick(workspace)
        if enterprise_install and not chosen.enterprise_id:
            raise ValueError(f"workspace {chosen.team_id} is in no Enterprise Grid org: no org-wide install")
        approval = Approval(chosen.team_id, user_id or chosen._installer(), enterprise_install)
        code = oauth.issue_code(self._primary, approval, scope, user_scope, INSTALL_REDIRECT)
        args = {"code": code, "redirect_uri": INSTALL_REDIRECT}
        try:
            return oauth.access(self._primary, args, (self.client_id, self.client_secret))
        except SlackError as error:
            raise RuntimeError(f"install failed: {error.code}") from error

    @property
    def authorize_requests(self) -> list[JSON]:
        """The query of every visit to the approval page, oldest first."""
        with self.oauth.lock:
            return copy.deepcopy(self.oauth.requests)

    def uninstall(self, workspace: Sandbox | str | None = None, **opts: Unpack[SendOptions]) -> list[Delivery]:
        """The app is removed from `workspace` (default: this one): the tokens of the installation its
        events are for stop working, and `tokens_revoked` then `app_uninstalled` are delivered (when a
        delivery target is known). An org-wide install goes for every workspace of the org."""
        chosen = self._pick(workspace)
        installation = chosen.installation
        if installation is None:
            raise LookupError(f"the app is not installed in workspace {chosen.team_id}")
        return chosen._remove(installation, **opts)

    def _remove(self, installation: Installation, **opts: Unpack[SendOptions]) -> list[Delivery]:
        authorization = installation.authorization() if not installation.builtin else self.authorization()
        users, bots = oauth.revoke_installation(self._primary, installation)
        for each in self.workspaces:
            if each._chosen is installation:
                each._chosen = None
        if self.delivery_target is None:
            return []
        revoked: JSON = {"type": "tokens_revoked", "tokens": {"oauth": users, "bot": bots}}
        return [
            self.people.send_event(revoked, authorization=authorization, **opts),
            self.people.send_event({"type": "app_uninstalled"}, authorization=authorization, **opts),
        ]

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
        """Calls that differ from the catalog (on the primary: those of every workspace of the server)."""
        with self._lock:
            found = list(self._violations)
        if self._primary is self:
            for workspace in self.workspaces[1:]:
                found += workspace.violations
        return found

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
    def handle_api(
        self, method: str, args: dict[str, Any], token: str | None, basic: tuple[str, str] | None = None
    ) -> Reply:
        decoded = decode_args(args)
        owner, access = self._route(method, decoded, token, basic)
        fault = owner.faults.take(method)
        if fault is not None:
            if fault.delay:
                owner._stopping.wait(fault.delay)
            if fault.status is not None or fault.error is not None:
                status, headers, body = fault.reply()
                owner._record(method, decoded, status, body)
                return json_reply(status, body, headers)
        body = owner._answer(method, decoded, access)
        owner._record(method, decoded, 200, body)
        return json_reply(200, body)

    def _route(
        self, method: str, args: dict[str, Any], token: str | None, basic: tuple[str, str] | None
    ) -> tuple[Sandbox, _Access]:
        """The workspace a call is for, and who it is made as (or the auth error it gets)."""
        primary = self._primary
        if method == "oauth.v2.access":  # client credentials, no token
            return primary, _Access(basic=basic)
        if not token:
            return primary, _Access(error="not_authed")
        if token == primary.app_token:
            return primary, _Access(app_level=True)
        if primary.bot_token and token == primary.bot_token:
            error = primary._fixed_token_error or ("account_inactive" if primary.builtin.revoked else None)
            return primary, _Access(error=error)
        with self.oauth.lock:
            issued = self.oauth.tokens.get(token)
        if issued is None or issued.kind == "refresh":
            return primary, _Access(error="invalid_auth")
        installation = issued.installation
        home = self.workspace(installation.home)
        problem = issued.problem(self.world.now())
        if problem:
            return home, _Access(error=problem)
        if not installation.is_enterprise_install:
            return self.workspace(str(installation.team_id)), _Access(token=issued)
        routed = self._org_route(method, args, installation)
        if isinstance(routed, str):
            return home, _Access(error=routed)
        return routed, _Access(token=issued)

    def _org_route(self, method: str, args: dict[str, Any], installation: Installation) -> Sandbox | str:
        """The workspace of the org an org-wide token's call is for: the one owning the channel, view or
        trigger it names, else its `team_id`, else the one owning the user it names, else the install's own
        (methods that need `team_id` with an org token answer `missing_argument` instead)."""
        members = [w for w in self.workspaces if w.enterprise_id == installation.enterprise_id]
        for name in ("channel", "view_id", "trigger_id"):
            ref = args.get(name)
            if isinstance(ref, str) and ref:
                owner = next((w for w in members if _holds(w.world, name, ref)), None)
                if owner is not None:
                    return owner
        team_id = args.get("team_id")
        if team_id:
            named = next((w for w in members if w.team_id == team_id), None)
            return named if named is not None else "team_access_not_granted"
        for name in ("user", "users", "user_id", "channel"):
            ref = args.get(name)
            first = str(ref).split(",")[0].strip() if ref else ""
            owner = next((w for w in members if first and first in w.world.users), None)
            if owner is not None:
                return owner
        needs_team = self.catalog.org_team_required() if self.catalog is not None else ORG_TEAM_REQUIRED
        if method in needs_team:
            return "missing_argument"
        return self.workspace(installation.home)

    def _answer(self, method: str, args: dict[str, Any], access: _Access) -> JSON:
        if access.error:
            return {"ok": False, "error": access.error}
        oauth_call = method == "oauth.v2.access"
        if not oauth_call and access.app_level != (method == "apps.connections.open"):
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
            if oauth_call:
                return oauth.access(self._primary, {k: str(v) for k, v in args.items()}, access.basic)
            if method == "apps.connections.open":
                return {"ok": True, **self.socket_mode.open_url()}
            if method == "auth.test" and access.token is not None:
                return self._auth_test(access.token)
            if method == "auth.revoke":
                return self._auth_revoke(args, access.token)
            if method == "apps.uninstall":
                return self._apps_uninstall(args, access.token)
            return dispatch(self.world, method, args)
        except SlackError as error:
            return error_body(error)
        except Exception:  # a sandbox bug must not look like a Slack answer
            log.exception("sandbox failed on %s", method)
            with self._lock:
                self._violations.append(f"{method}: the sandbox crashed (see log)")
            return {"ok": False, "error": "internal_error"}

    def _auth_test(self, token: Token) -> JSON:
        """auth.test for an issued token: its workspace (or org), its user, its bot, its expiry."""
        installation = token.installation
        home = self.workspace(installation.home).world
        user = home.users.get(token.user_id) or self.world.users.get(token.user_id) or {}
        result: JSON
        if installation.is_enterprise_install:
            slug = re.sub(r"[^a-z0-9]+", "-", home.enterprise_name.lower()).strip("-")
            result = {"url": f"https://{slug}.enterprise.slack.com/", "team": home.enterprise_name}
            result.update(user=user.get("name", token.user_id), team_id=installation.enterprise_id)
        else:
            world = self.world
            result = {"url": f"https://{world.domain}.slack.com/", "team": world.team["name"]}
            result.update(user=user.get("name", token.user_id), team_id=world.team["id"])
        result["user_id"] = token.user_id
        if token.kind == "bot":
            result["bot_id"] = installation.bot_id
        result["is_enterprise_install"] = installation.is_enterprise_install
        if installation.enterprise_id:
            result["enterprise_id"] = installation.enterprise_id
        if token.expires_at is not None:
            result["expires_in"] = max(0, int(token.expires_at - self.world.now()))
        return {"ok": True, **result}

    def _auth_revoke(self, args: dict[str, Any], token: Token | None) -> JSON:
        if str(args.get("test", "")).lower() in ("1", "true"):
            return {"ok": True, "revoked": False}
        if token is None:  # the fixed token of the built-in install
            self._primary._fixed_token_error = "invalid_auth"
            kind, user_id = "bot", self._primary.bot_user_id
        else:
            with self.oauth.lock:
                token.revoked = "invalid_auth" if token.kind == "bot" else "token_revoked"
            kind, user_id = ("bot" if token.kind == "bot" else "oauth"), token.user_id
        if self.delivery_target is not None:
            tokens: JSON = {"oauth": [], "bot": []}
            tokens[kind] = [user_id]
            self.people.send_event({"type": "tokens_revoked", "tokens": tokens})
        return {"ok": True, "revoked": True}

    def _apps_uninstall(self, args: dict[str, Any], token: Token | None) -> JSON:
        if args.get("client_id") != self.client_id:
            raise SlackError("invalid_client_id")
        if args.get("client_secret") != self.client_secret:
            raise SlackError("bad_client_secret")
        installation = token.installation if token is not None else self.builtin
        self.workspace(installation.home)._remove(installation)
        return {"ok": True}

    def handle_authorize(self, query: dict[str, str]) -> Reply:
        """GET /oauth/v2/authorize: the person on the approval page approves or denies."""
        return oauth.authorize(self._primary, query)

    def handle_response_url(self, hook_id: str, payload: Any) -> Reply:
        owner = next((w for w in self.workspaces if hook_id in w.hooks), self)
        fault = owner.faults.take("response_url")
        if fault is not None and (fault.status is not None or fault.error is not None):
            status, headers, body = fault.reply()
            owner.hooks.responses.append({"id": hook_id, "kind": None, "json": payload})
            return json_reply(status, body, headers)
        status, body = owner.hooks.post(hook_id, payload)
        return json_reply(status, body)

    def handle_upload(self, file_id: str, data: bytes) -> Reply:
        """The bytes of a file POSTed to the upload URL files.getUploadURLExternal handed out."""
        owner = next((w for w in self.workspaces if file_id in api_files.files_of(w.world).by_id), self)
        status, text = api_files.receive(owner.world, file_id, data)
        return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode()


def _holds(world: World, kind: str, ref: str) -> bool:
    """Whether a workspace has the channel, view or trigger `ref`."""
    found = {"channel": world.channels, "view_id": world.views, "trigger_id": world.triggers}[kind]
    return ref in found
