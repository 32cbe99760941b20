"""The sandbox Slack with several workspaces: OAuth v2 installs, token rotation, Enterprise Grid, uninstall,
Slack Connect; through a real WebClient, a real HTTP client on the approval page, and real Bolt pieces."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator

from sandbox import DEFAULT_SPECS_DIR, Deliverer, MethodCatalog, Sandbox
from sandbox.methods import HANDLERS
from sandbox.oauth import TOKEN_LIFETIME, code_of
from sandbox.server import ORG_TEAM_REQUIRED

JSON = dict[str, Any]
REDIRECT = "https://peerbot.example.com/slack/oauth_redirect"
ALICE, DANA = "UALICE001", "UDANA0001"
HELP = "CHELP0001"
# A second workspace (Globex), an Enterprise Grid org with two workspaces (Initech), another org outside.
GLOBEX, GX_ADMIN, GX_BOB, GX_OPS = "T0GLOBEX1", "UGXADMIN1", "UGXBOB001", "CGXOPS001"
ORG, ORG_NAME = "E0INITECH", "Initech"
EAST, WEST = "T0EAST001", "T0WEST001"
W_ADMIN, W_RITA, W_SAM = "W0ADMIN01", "W0RITA001", "W0SAM0001"
EAST_GEN, WEST_GEN = "CEASTGEN1", "CWESTGEN1"
PARTNER, PARTNER_ORG, KAZ = "T0PARTNER", "E0PARTNER", "W0KAZ0001"


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[JSON] = []

    def __call__(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        if headers.get("Content-Type") == "application/json":
            self.bodies.append(json.loads(body))
        return 200, ""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def catalog() -> MethodCatalog | None:
    return MethodCatalog.load()


@pytest.fixture
def sandbox(catalog: MethodCatalog | None, clock: FakeClock) -> Iterator[Sandbox]:
    with Sandbox(catalog=catalog, strict=True, clock=clock) as sb:
        sb.add_user(ALICE, "alice", real_name="Alice Chen")
        sb.add_user(DANA, "dana", real_name="Dana Ortiz", is_admin=True)
        sb.add_channel(HELP, "help-platform", members=[ALICE, DANA, sb.bot_user_id])
        yield sb
        assert sb.violations == [], "calls that differ from Slack's method catalog"


@pytest.fixture
def globex(sandbox: Sandbox) -> Sandbox:
    gx = sandbox.add_workspace(GLOBEX, "globex")
    gx.add_user(GX_ADMIN, "gina", real_name="Gina Admin", is_admin=True)
    gx.add_user(GX_BOB, "bob", real_name="Bob Stone")
    gx.add_channel(GX_OPS, "ops", members=[GX_ADMIN, GX_BOB, gx.bot_user_id])
    return gx


@pytest.fixture
def grid(sandbox: Sandbox) -> tuple[Sandbox, Sandbox]:
    east = sandbox.add_workspace(EAST, "initech-east", enterprise_id=ORG, enterprise_name=ORG_NAME)
    west = sandbox.add_workspace(WEST, "initech-west", enterprise_id=ORG)
    east.add_user(W_ADMIN, "admin", real_name="Ada Min", is_admin=True)
    east.add_user(W_RITA, "rita", real_name="Rita Moss")
    west.add_user(W_SAM, "sam", real_name="Sam Wu")
    east.add_channel(EAST_GEN, "general", members=[W_ADMIN, W_RITA, east.bot_user_id])
    west.add_channel(WEST_GEN, "general", members=[W_SAM, west.bot_user_id])
    return east, west


def _specs() -> Path:
    if not DEFAULT_SPECS_DIR.is_dir():
        pytest.skip("Slack reference data not found")
    return DEFAULT_SPECS_DIR


def _sample(relative: str) -> Any:
    return json.loads((_specs() / relative).read_text())


def extra_keys(actual: Any, sample: Any, allowed: frozenset[str] = frozenset(), path: str = "") -> list[str]:
    """Keys of `actual` (recursively) that the superset `sample` does not have."""
    found: list[str] = []
    if isinstance(actual, dict) and isinstance(sample, dict) and sample:
        for key, value in actual.items():
            if key in allowed:
                continue
            if key not in sample:
                found.append(f"{path}.{key}")
            else:
                found += extra_keys(value, sample[key], allowed, f"{path}.{key}")
    elif isinstance(actual, list) and isinstance(sample, list) and sample:
        for index, item in enumerate(actual):
            found += extra_keys(item, sample[0], allowed, f"{path}[{index}]")
    return found


def visit(url: str) -> tuple[int, str]:
    """GET a URL with a plain HTTP client, as a browser would; the redirect is not followed: (status, Location)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=5)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        connection.close()


def approve(sb: Sandbox, *, state: str = "s-1", user_scopes: list[str] | None = None) -> str:
    """The person opens the app's install link and approves: the code the redirect carries."""
    url = AuthorizeUrlGenerator(
        client_id=sb.client_id,
        scopes=["chat:write", "channels:history", "users:read"],
        user_scopes=user_scopes,
        redirect_uri=REDIRECT,
        authorization_url=sb.authorize_url,
    ).generate(state)
    status, location = visit(url)
    assert status == 302 and location.startswith(f"{REDIRECT}?")
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    code = code_of(location)
    assert code
    return code


def exchange(sb: Sandbox, code: str, **kwargs: Any) -> JSON:
    client = WebClient(base_url=sb.base_url)
    answer = client.oauth_v2_access(
        client_id=sb.client_id, client_secret=sb.client_secret, code=code, redirect_uri=REDIRECT, **kwargs
    )
    return answer.data  # type: ignore[return-value]


def error_of(call: Callable[[], Any]) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


# --- the whole OAuth flow -------------------------------------------------------------------------
def test_authorize_redirect_exchange_and_call(sandbox: Sandbox, globex: Sandbox) -> None:
    sandbox.approve_next(globex, GX_ADMIN)
    code = approve(sandbox, user_scopes=["search:read"])
    answer = exchange(sandbox, code)
    assert answer["ok"] and answer["token_type"] == "bot" and answer["access_token"].startswith("xoxb-")
    assert answer["scope"] == "chat:write,channels:history,users:read" and answer["app_id"] == sandbox.app_id
    assert answer["bot_user_id"] == globex.bot_user_id != sandbox.bot_user_id
    assert answer["team"] == {"id": GLOBEX, "name": "Globex"} and answer["enterprise"] is None
    assert answer["is_enterprise_install"] is False and "expires_in" not in answer
    authed = answer["authed_user"]
    assert authed["id"] == GX_ADMIN and authed["scope"] == "search:read" and authed["token_type"] == "user"
    assert authed["access_token"].startswith("xoxp-")
    assert extra_keys(answer, _sample("web-api/response-samples/oauth.v2.access.json")) == []
    # slack_sdk sends the client credentials as HTTP Basic auth: the call's args carry none of them.
    exchanged = sandbox.calls_to("oauth.v2.access")[-1]
    assert exchanged.ok and set(exchanged.args) == {"code", "redirect_uri"}

    bot = WebClient(token=answer["access_token"], base_url=sandbox.base_url)
    who = bot.auth_test()
    assert (who["team_id"], who["user_id"], who["bot_id"], who["url"]) == (
        GLOBEX,
        globex.bot_user_id,
        globex.bot_id,
        "https://globex.slack.com/",
    )
    assert who["is_enterprise_install"] is False and "enterprise_id" not in who.data
    bot.chat_postMessage(channel=GX_OPS, text="Hello Globex")
    assert [m["text"] for m in globex.messages(GX_OPS)] == ["Hello Globex"]
    assert [c.method for c in globex.calls] == ["auth.test", "chat.postMessage"]
    assert [c.method for c in sandbox.calls] == ["oauth.v2.access"]  # the primary only sees its own
    assert globex.installation is not None and globex.installation.installer == GX_ADMIN
    assert globex.installed_bot_token == answer["access_token"] and globex.client().auth_test()["ok"]
    assert sandbox.authorize_requests[-1]["redirect_uri"] == REDIRECT


def test_bolt_oauth_flow_installs_against_the_sandbox(sandbox: Sandbox, globex: Sandbox, tmp_path: Path) -> None:
    from slack_bolt import BoltRequest
    from slack_bolt.oauth import OAuthFlow
    from slack_bolt.oauth.oauth_settings import OAuthSettings
    from slack_sdk.oauth.installation_store import FileInstallationStore
    from slack_sdk.oauth.state_store import FileOAuthStateStore

    store = FileInstallationStore(base_dir=str(tmp_path / "installs"))
    settings = OAuthSettings(
        state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path / "states")),
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        scopes=["chat:write"],
        redirect_uri=REDIRECT,
        installation_store=store,
        authorization_url=sandbox.authorize_url,
    )
    flow = OAuthFlow(client=WebClient(base_url=sandbox.base_url), settings=settings)
    sandbox.approve_next(globex)
    status, location = visit(flow.build_authorize_url("st-9", BoltRequest(body="", query={})))
    code = code_of(location)
    assert status == 302 and code
    installation = flow.run_installation(code)
    assert installation is not None
    assert (installation.team_id, installation.bot_user_id, installation.bot_id) == (
        GLOBEX,
        globex.bot_user_id,
        globex.bot_id,
    )
    assert installation.user_id == GX_ADMIN and installation.bot_token
    flow.store_installation(BoltRequest(body=""), installation)
    found = store.find_installation(enterprise_id=None, team_id=GLOBEX)
    assert found is not None and found.bot_token == installation.bot_token


def test_default_approval_is_the_primarys_first_admin(sandbox: Sandbox) -> None:
    answer = exchange(sandbox, approve(sandbox))
    assert answer["team"]["id"] == sandbox.team_id and answer["authed_user"] == {"id": DANA}
    assert answer["access_token"] != sandbox.bot_token  # a new installation; the fixed token stays good
    assert sandbox.client().auth_test()["ok"] and WebClient(answer["access_token"], sandbox.base_url).auth_test()


def test_an_install_link_naming_a_workspace(sandbox: Sandbox, globex: Sandbox) -> None:
    generator = AuthorizeUrlGenerator(
        client_id=sandbox.client_id,
        scopes=["chat:write"],
        redirect_uri=REDIRECT,
        authorization_url=sandbox.authorize_url,
    )
    status, location = visit(generator.generate("s-3", team=GLOBEX))
    answer = exchange(sandbox, str(code_of(location)))
    assert status == 302 and answer["team"]["id"] == GLOBEX and answer["authed_user"]["id"] == GX_ADMIN


def test_codes_and_credentials_are_checked(sandbox: Sandbox, globex: Sandbox) -> None:
    sandbox.approve_next(globex)
    code = approve(sandbox)
    client = WebClient(base_url=sandbox.base_url)
    wrong_secret = lambda: client.oauth_v2_access(client_id=sandbox.client_id, client_secret="nope", code=code)  # noqa: E731
    assert error_of(wrong_secret) == "bad_client_secret"
    wrong_id = lambda: client.oauth_v2_access(client_id="nope", client_secret=sandbox.client_secret, code=code)  # noqa: E731
    assert error_of(wrong_id) == "invalid_client_id"
    credentials = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret, "code": code}
    other_redirect = lambda: client.oauth_v2_access(**credentials, redirect_uri=REDIRECT + "x")  # noqa: E731
    assert error_of(other_redirect) == "bad_redirect_uri"
    # One was sent to the approval page: it must come again.
    assert error_of(lambda: client.oauth_v2_access(**credentials)) == "bad_redirect_uri"
    # The credentials may also come as arguments (the catalog allows it, though it prefers Basic auth).
    answer = client.api_call(
        "oauth.v2.access",
        params={
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "code": code,
            "redirect_uri": REDIRECT,
        },
    )
    assert answer["team"]["id"] == GLOBEX
    assert error_of(lambda: exchange(sandbox, code)) == "invalid_code"  # a code is good once
    assert error_of(lambda: exchange(sandbox, "123.456.bogus")) == "invalid_code"


def test_codes_expire_after_ten_minutes(sandbox: Sandbox, clock: FakeClock) -> None:
    code = approve(sandbox)
    clock.advance(601)
    assert error_of(lambda: exchange(sandbox, code)) == "invalid_code"


def test_denied_and_bad_approval_requests(sandbox: Sandbox) -> None:
    sandbox.deny_next()
    url = AuthorizeUrlGenerator(
        client_id=sandbox.client_id,
        scopes=["chat:write"],
        redirect_uri=REDIRECT,
        authorization_url=sandbox.authorize_url,
    ).generate("s-2")
    status, location = visit(url)
    assert status == 302 and parse_qs(urlsplit(location).query) == {"error": ["access_denied"], "state": ["s-2"]}
    assert code_of(location) is None
    assert visit(url.replace(sandbox.client_id, "someone-else"))[0] == 400
    no_redirect = f"{sandbox.authorize_url}?client_id={sandbox.client_id}&scope=chat:write&state=x"
    assert visit(no_redirect)[0] == 400  # no redirect_uri and none configured for the app
    sandbox.redirect_uri = REDIRECT
    status, location = visit(no_redirect)
    assert status == 302 and location.startswith(REDIRECT)
    answer = WebClient(base_url=sandbox.base_url).oauth_v2_access(
        client_id=sandbox.client_id, client_secret=sandbox.client_secret, code=str(code_of(location))
    )
    assert answer["ok"]


def test_reinstalling_keeps_the_bot_token_without_rotation(sandbox: Sandbox, globex: Sandbox) -> None:
    first = globex.install(scope="chat:write")
    second = globex.install(scope="users:read")
    assert first["access_token"] == second["access_token"] and second["scope"] == "chat:write,users:read"
    assert len([i for i in sandbox.installations if not i.builtin]) == 1


# --- token rotation --------------------------------------------------------------------------------
def test_rotation_refresh_and_expiry(sandbox: Sandbox, globex: Sandbox, clock: FakeClock) -> None:
    sandbox.token_rotation = True
    sandbox.approve_next(globex)
    answer = exchange(sandbox, approve(sandbox, user_scopes=["search:read"]))
    token, refresh = answer["access_token"], answer["refresh_token"]
    assert token.startswith("xoxe.xoxb-1-") and refresh.startswith("xoxe-1-") and answer["expires_in"] == 43200
    user = answer["authed_user"]
    assert user["access_token"].startswith("xoxe.xoxp-1-") and user["refresh_token"].startswith("xoxe-1-")
    assert extra_keys(answer, _sample("web-api/response-samples/oauth.v2.access.json")) == []
    bot = WebClient(token=token, base_url=sandbox.base_url)
    clock.advance(TOKEN_LIFETIME - 100)
    assert bot.auth_test()["expires_in"] == 100

    client = WebClient(base_url=sandbox.base_url)
    refreshed = client.oauth_v2_access(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        grant_type="refresh_token",
        refresh_token=refresh,
    )
    assert refreshed["token_type"] == "bot" and refreshed["expires_in"] == 43200
    assert refreshed["access_token"] not in (token, None) and refreshed["refresh_token"] != refresh
    assert refreshed["team"] == {"id": GLOBEX, "name": "Globex"} and refreshed["bot_user_id"] == globex.bot_user_id
    assert bot.auth_test()["ok"]  # the old access token lives until its own expiry
    again = lambda: client.oauth_v2_access(  # noqa: E731
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        grant_type="refresh_token",
        refresh_token=refresh,
    )
    assert error_of(again) == "invalid_refresh_token"  # a refresh token is good once

    clock.advance(100)
    assert error_of(lambda: bot.chat_postMessage(channel=GX_OPS, text="late")) == "token_expired"
    assert globex.calls[-1].error == "token_expired"
    fresh = WebClient(token=refreshed["access_token"], base_url=sandbox.base_url)
    assert fresh.chat_postMessage(channel=GX_OPS, text="on time")["ok"]
    assert globex.installed_bot_token == refreshed["access_token"]
    user_refreshed = client.oauth_v2_access(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        grant_type="refresh_token",
        refresh_token=user["refresh_token"],
    )
    assert user_refreshed["token_type"] == "user" and user_refreshed["access_token"].startswith("xoxe.xoxp-1-")
    bad_grant = lambda: client.oauth_v2_access(  # noqa: E731
        client_id=sandbox.client_id, client_secret=sandbox.client_secret, grant_type="password"
    )
    assert error_of(bad_grant) == "invalid_grant_type"


def test_slack_sdk_token_rotator_refreshes_a_sandbox_installation(sandbox: Sandbox, globex: Sandbox) -> None:
    from slack_sdk.oauth.installation_store import Installation
    from slack_sdk.oauth.token_rotation import TokenRotator

    sandbox.token_rotation = True
    answer = globex.install()
    installation = Installation(
        app_id=answer["app_id"],
        team_id=GLOBEX,
        bot_token=answer["access_token"],
        bot_refresh_token=answer["refresh_token"],
        bot_token_expires_in=60,  # about to expire: the rotator refreshes
        bot_user_id=answer["bot_user_id"],
        user_id=answer["authed_user"]["id"],
    )
    rotator = TokenRotator(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        client=WebClient(base_url=sandbox.base_url),
    )
    rotated = rotator.perform_token_rotation(installation=installation)
    assert rotated is not None and rotated.bot_token != answer["access_token"]
    assert WebClient(token=rotated.bot_token, base_url=sandbox.base_url).auth_test()["team_id"] == GLOBEX


# --- several workspaces ----------------------------------------------------------------------------
def test_linked_workspaces_are_isolated(sandbox: Sandbox, globex: Sandbox) -> None:
    assert globex.base_url == sandbox.base_url and globex.signing_secret == sandbox.signing_secret
    assert globex.app_id == sandbox.app_id and globex.primary is sandbox and sandbox.workspaces == [sandbox, globex]
    token = globex.install()["access_token"]
    theirs = WebClient(token=token, base_url=sandbox.base_url)
    ours = sandbox.client()
    assert error_of(lambda: theirs.conversations_history(channel=HELP)) == "channel_not_found"
    assert error_of(lambda: theirs.users_info(user=ALICE)) == "user_not_found"
    assert error_of(lambda: ours.conversations_history(channel=GX_OPS)) == "channel_not_found"
    assert [u["id"] for u in theirs.users_list()["members"]] == [globex.bot_user_id, GX_ADMIN, GX_BOB]
    assert ours.team_info()["team"]["id"] == sandbox.team_id and theirs.team_info()["team"]["id"] == GLOBEX
    globex.inject("chat.postMessage", error="fatal_error")
    assert ours.chat_postMessage(channel=HELP, text="unaffected")["ok"]
    assert error_of(lambda: theirs.chat_postMessage(channel=GX_OPS, text="x")) == "fatal_error"
    assert [c.error for c in globex.calls_to("chat.postMessage")] == ["fatal_error"]
    assert [c.ok for c in sandbox.calls_to("chat.postMessage")] == [True]
    # response_urls and uploads of a linked workspace are served by the one server too.
    url = globex.response_url(channel=GX_OPS, user=GX_BOB)
    assert url.startswith(sandbox.url) and globex.hooks.post(url.rsplit("/", 1)[-1], {"text": "hi"})[0] == 200
    assert theirs.files_upload_v2(channel=GX_OPS, content="data", filename="a.txt")["ok"]
    assert [f["name"] for f in globex.files()] == ["a.txt"] and sandbox.files() == []
    with pytest.raises(ValueError):
        sandbox.add_workspace(GLOBEX, "again")


def test_linked_workspaces_deliver_where_the_primary_does(sandbox: Sandbox, globex: Sandbox) -> None:
    late = sandbox.add_workspace("T0LATE001", "late")
    late.add_user("ULATE0001", "lee")
    late.add_channel("CLATE0001", "lobby", members=["ULATE0001", late.bot_user_id])
    with pytest.raises(LookupError):
        late.people.post("ULATE0001", "CLATE0001", "nobody listens yet")
    recorder = Recorder()
    Deliverer(sandbox, recorder)  # the target is given after the workspaces were linked
    globex.people.post(GX_BOB, GX_OPS, "from Globex")
    late.people.post("ULATE0001", "CLATE0001", "from Late")
    sandbox.people.post(ALICE, HELP, "from Acme")
    teams = [(b["team_id"], b["authorizations"][0]["team_id"], b["event"]["text"]) for b in recorder.bodies]
    assert teams == [
        (GLOBEX, GLOBEX, "from Globex"),
        ("T0LATE001", "T0LATE001", "from Late"),
        (sandbox.team_id, sandbox.team_id, "from Acme"),
    ]
    assert recorder.bodies[0]["authorizations"][0]["user_id"] == globex.bot_user_id
    assert len({b["event_id"] for b in recorder.bodies}) == 3
    other = Recorder()
    globex.deliver_to(other)  # a workspace may have a target of its own
    globex.people.post(GX_BOB, GX_OPS, "elsewhere")
    assert len(other.bodies) == 1 and len(recorder.bodies) == 3


def test_events_are_for_the_last_approved_installation(sandbox: Sandbox) -> None:
    recorder = Recorder()
    people = Deliverer(sandbox, recorder)
    people.post(ALICE, HELP, "built-in")
    assert sandbox.installation is sandbox.builtin
    sandbox.install()
    installed = sandbox.installation
    assert installed is not None and not installed.builtin
    sandbox.use_installation(sandbox.builtin)
    assert sandbox.installation is sandbox.builtin
    sandbox.use_installation(None)
    assert sandbox.installation is installed


# --- Enterprise Grid ---------------------------------------------------------------------------------
def test_org_wide_install_reaches_every_workspace_of_the_org(
    sandbox: Sandbox, globex: Sandbox, grid: tuple[Sandbox, Sandbox]
) -> None:
    east, west = grid
    assert east.bot_user_id == west.bot_user_id != sandbox.bot_user_id  # one bot user per org
    sandbox.approve_next(east, W_ADMIN, enterprise_install=True)
    answer = exchange(sandbox, approve(sandbox))
    assert answer["team"] is None and answer["enterprise"] == {"id": ORG, "name": ORG_NAME}
    assert answer["is_enterprise_install"] is True and answer["authed_user"]["id"] == W_ADMIN
    assert extra_keys(answer, _sample("web-api/response-samples/oauth.v2.access.json")) == []
    org = WebClient(token=answer["access_token"], base_url=sandbox.base_url)
    who = org.auth_test()
    assert (who["team_id"], who["enterprise_id"], who["is_enterprise_install"]) == (ORG, ORG, True)
    assert who["url"] == "https://initech.enterprise.slack.com/" and who["user_id"] == east.bot_user_id

    # Listing needs team_id with an org token (the catalog says so for these methods).
    assert error_of(lambda: org.users_list()) == "missing_argument"
    assert error_of(lambda: org.conversations_list()) == "missing_argument"
    assert [u["id"] for u in org.users_list(team_id=WEST)["members"]] == [west.bot_user_id, W_SAM]
    assert [c["id"] for c in org.conversations_list(team_id=EAST)["channels"]] == [EAST_GEN]
    assert error_of(lambda: org.users_list(team_id=GLOBEX)) == "team_access_not_granted"
    # Calls that name a channel or a user go to the workspace that has it.
    org.chat_postMessage(channel=WEST_GEN, text="hello west")
    org.chat_postMessage(channel=EAST_GEN, text="hello east")
    assert [m["text"] for m in west.messages(WEST_GEN)] == ["hello west"]
    assert [m["text"] for m in east.messages(EAST_GEN)] == ["hello east"]
    assert org.users_info(user=W_SAM)["user"]["team_id"] == WEST
    assert error_of(lambda: org.conversations_history(channel=HELP)) == "channel_not_found"
    assert [c.method for c in west.calls] == ["users.list", "chat.postMessage", "users.info"]

    # Events of both workspaces are for the org-wide install.
    recorder = Recorder()
    sandbox.deliver_to(recorder)
    west.people.post(W_SAM, WEST_GEN, f"<@{west.bot_user_id}> hi")
    body = recorder.bodies[0]
    assert (body["team_id"], body["enterprise_id"], body["event"]["user"]) == (WEST, ORG, W_SAM)
    assert body["authorizations"] == [
        {
            "enterprise_id": ORG,
            "team_id": None,
            "user_id": west.bot_user_id,
            "is_bot": True,
            "is_enterprise_install": True,
        }
    ]
    assert [b["event"]["type"] for b in recorder.bodies] == ["message", "app_mention"]
    sample = _sample("events-api/bolt-python-payloads/bolt-python-scenario-payloads.json")["payloads"]
    org_sample = sample["test_events_org_apps.py::event_payload#4"]["value"]
    assert set(org_sample) - set(body) <= {"authed_users"}
    assert sandbox.people.command(ALICE, HELP, "/peerbot").payload["is_enterprise_install"] == "false"
    assert west.people.command(W_SAM, WEST_GEN, "/peerbot").payload["is_enterprise_install"] == "true"
    # A workspace install where the app is installed org-wide is refused.
    with pytest.raises(RuntimeError, match="cannot_install_an_org_installed_app"):
        west.install()


def test_workspace_install_in_a_grid_org(sandbox: Sandbox, grid: tuple[Sandbox, Sandbox]) -> None:
    east, west = grid
    answer = east.install(user_id=W_RITA)
    assert answer["team"] == {"id": EAST, "name": "Initech-east"} and answer["enterprise"]["id"] == ORG
    assert answer["is_enterprise_install"] is False
    token = WebClient(token=answer["access_token"], base_url=sandbox.base_url)
    assert token.users_list()["ok"]  # a workspace token needs no team_id
    assert error_of(lambda: token.conversations_history(channel=WEST_GEN)) == "channel_not_found"
    assert token.auth_test()["enterprise_id"] == ORG
    recorder = Recorder()
    sandbox.deliver_to(recorder)
    east.people.post(W_RITA, EAST_GEN, "hi")
    assert recorder.bodies[0]["authorizations"][0] == {
        "enterprise_id": ORG,
        "team_id": EAST,
        "user_id": east.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    with pytest.raises(ValueError):
        sandbox.approve_next(sandbox, enterprise_install=True)  # not on Grid
    with pytest.raises(LookupError):
        sandbox.approve_next(west, W_RITA)  # Rita is not in West


def test_org_team_rule_follows_the_catalog(catalog: MethodCatalog | None) -> None:
    if catalog is None:
        pytest.skip("Slack reference data not found")
    assert catalog.org_team_required() & set(HANDLERS) == ORG_TEAM_REQUIRED
    for method in ORG_TEAM_REQUIRED:
        assert "missing_argument" in catalog.errors(method)
    assert {"team_access_not_granted", "token_expired", "token_revoked", "account_inactive"} <= catalog.common_errors
    for error in ("invalid_code", "bad_client_secret", "bad_redirect_uri", "invalid_refresh_token"):
        assert error in catalog.errors("oauth.v2.access")
    assert "cannot_install_an_org_installed_app" in catalog.errors("oauth.v2.access")


# --- uninstall -------------------------------------------------------------------------------------
def test_uninstall_revokes_tokens_and_tells_the_app(sandbox: Sandbox, globex: Sandbox) -> None:
    recorder = Recorder()
    Deliverer(sandbox, recorder)
    answer = globex.install(user_id=GX_ADMIN, user_scope="search:read")
    bot = WebClient(token=answer["access_token"], base_url=sandbox.base_url)
    user = WebClient(token=answer["authed_user"]["access_token"], base_url=sandbox.base_url)
    deliveries = sandbox.uninstall(globex)
    kinds = [d.payload["event"]["type"] for d in deliveries]
    assert kinds == ["tokens_revoked", "app_uninstalled"]
    revoked, uninstalled = (d.payload for d in deliveries)
    assert revoked["event"]["tokens"] == {"oauth": [GX_ADMIN], "bot": [globex.bot_user_id]}
    assert revoked["team_id"] == GLOBEX and revoked["authorizations"][0]["team_id"] == GLOBEX
    for body, name in ((revoked, "TokensRevokedPayload"), (uninstalled, "AppUninstalledPayload")):
        sample = _sample(f"events-api/java-sdk-samples/events/{name}.json")
        assert extra_keys(body, sample) == [], name
    bolt = _sample("events-api/bolt-python-payloads/bolt-python-scenario-payloads.json")["payloads"]
    for key, body in (("tokens_revoked_body", revoked), ("app_uninstalled_body", uninstalled)):
        assert set(bolt[f"test_events.py::{key}"]["value"]) - {"enterprise_id"} <= set(body)
    assert error_of(lambda: bot.auth_test()) == "account_inactive"
    assert error_of(lambda: user.auth_test()) == "token_revoked"
    assert globex.installation is None
    assert sandbox.client().auth_test()["ok"]  # other workspaces keep theirs
    again = globex.install()  # installing again gives new tokens
    assert again["access_token"] != answer["access_token"]


def test_uninstall_of_an_org_wide_install(sandbox: Sandbox, grid: tuple[Sandbox, Sandbox]) -> None:
    east, west = grid
    recorder = Recorder()
    sandbox.deliver_to(recorder)
    org = WebClient(token=east.install(enterprise_install=True)["access_token"], base_url=sandbox.base_url)
    assert org.chat_postMessage(channel=WEST_GEN, text="hi")["ok"]
    deliveries = west.uninstall()
    assert [d.payload["authorizations"][0]["is_enterprise_install"] for d in deliveries] == [True, True]
    assert deliveries[0].payload["enterprise_id"] == ORG
    assert error_of(lambda: org.chat_postMessage(channel=WEST_GEN, text="x")) == "account_inactive"
    assert error_of(lambda: org.chat_postMessage(channel=EAST_GEN, text="x")) == "account_inactive"
    assert east.installation is None and west.installation is None


def test_uninstall_of_the_built_in_install_and_web_api_ways_out(sandbox: Sandbox, globex: Sandbox) -> None:
    recorder = Recorder()
    Deliverer(sandbox, recorder)
    token = globex.install()["access_token"]
    theirs = WebClient(token=token, base_url=sandbox.base_url)
    assert theirs.apps_uninstall(client_id=sandbox.client_id, client_secret=sandbox.client_secret)["ok"]
    assert [b["event"]["type"] for b in recorder.bodies] == ["tokens_revoked", "app_uninstalled"]
    assert error_of(lambda: theirs.auth_test()) == "account_inactive"
    second = WebClient(token=globex.install()["access_token"], base_url=sandbox.base_url)
    assert second.auth_revoke(test=True)["revoked"] is False and second.auth_test()["ok"]
    assert second.auth_revoke()["revoked"] is True
    assert error_of(lambda: second.auth_test()) == "invalid_auth"
    sandbox.uninstall()
    assert error_of(lambda: sandbox.client().auth_test()) == "account_inactive"
    assert recorder.bodies[-1]["event"]["type"] == "app_uninstalled" and recorder.bodies[-1]["team_id"] == "TSANDBOX1"


# --- Slack Connect -----------------------------------------------------------------------------------
def test_slack_connect_channel_and_external_people(sandbox: Sandbox) -> None:
    shared = "CSHARED01"
    sandbox.add_external_user(KAZ, "kaz", real_name="Kaz Sato", team_id=PARTNER, enterprise_id=PARTNER_ORG)
    sandbox.add_channel(shared, "ext-partner", members=[ALICE, KAZ, sandbox.bot_user_id], shared_with=[PARTNER])
    recorder = Recorder()
    people = Deliverer(sandbox, recorder)
    ts = people.post(KAZ, shared, f"<@{sandbox.bot_user_id}> Hi there!")
    people.react(KAZ, shared, ts, "heart_eyes")
    people.post(ALICE, HELP, "not shared")
    message, mention, reaction, local = recorder.bodies
    assert message["is_ext_shared_channel"] is True and message["team_id"] == sandbox.team_id
    event = message["event"]
    assert (event["user"], event["team"], event["user_team"], event["source_team"]) == (KAZ, PARTNER, PARTNER, PARTNER)
    assert mention["event"]["type"] == "app_mention" and mention["event"]["user_team"] == PARTNER
    assert message["authorizations"][0]["team_id"] == sandbox.team_id
    # A reaction by an external person comes as their team's (the samples show it so).
    assert (reaction["team_id"], reaction["enterprise_id"], reaction["context_team_id"]) == (
        PARTNER,
        PARTNER_ORG,
        sandbox.team_id,
    )
    assert reaction["is_ext_shared_channel"] is True
    assert local["is_ext_shared_channel"] is False and "user_team" not in local["event"]
    samples = _sample("events-api/bolt-python-payloads/bolt-python-scenario-payloads.json")["payloads"]
    shared_mention = samples["test_events_shared_channels.py::valid_event_body"]["value"]
    assert set(shared_mention["event"]) <= set(mention["event"]) | {"client_msg_id"}
    allowed = frozenset({"event_ts", "blocks", "user_team", "source_team"})
    for body, name in ((message, "MessagePayload"), (reaction, "ReactionAddedPayload")):
        sample = _sample(f"events-api/java-sdk-samples/events/{name}.json")
        assert extra_keys(body, sample, allowed) == [], name

    client = sandbox.client()
    info = client.conversations_info(channel=shared)["channel"]
    assert info["is_ext_shared"] is True and info["is_shared"] is True
    assert info["shared_team_ids"] == [sandbox.team_id, PARTNER] and info["conversation_host_id"] == sandbox.team_id
    channel_sample = _sample("web-api/response-samples/conversations.info.json")["channel"]
    assert extra_keys(info, channel_sample) == []
    assert client.conversations_info(channel=HELP)["channel"]["is_ext_shared"] is False
    assert KAZ not in [u["id"] for u in client.users_list()["members"]]
    assert client.users_info(user=KAZ)["user"]["team_id"] == PARTNER
    assert client.conversations_history(channel=shared)["messages"][0]["team"] == PARTNER


def test_oauth_calls_are_checked_against_the_catalog(catalog: MethodCatalog | None) -> None:
    if catalog is None:
        pytest.skip("Slack reference data not found")
    for method in ("oauth.v2.access", "apps.uninstall", "auth.revoke", "apps.connections.open"):
        assert method in catalog  # answered by the server itself, outside the method table
    with Sandbox(catalog=catalog, strict=True) as sb:
        client = WebClient(base_url=sb.base_url)
        bogus = lambda: client.oauth_v2_access(  # noqa: E731
            client_id=sb.client_id, client_secret=sb.client_secret, code="1.2.3", scopes="chat:write"
        )
        assert error_of(bogus) == "invalid_arguments"
        assert sb.violations == ["oauth.v2.access: argument 'scopes' is not documented"]


def test_a_linked_workspace_delivers_through_the_one_socket(sandbox: Sandbox, globex: Sandbox) -> None:
    import threading

    from websockets.sync.client import connect

    url = WebClient(base_url=globex.base_url).apps_connections_open(app_token=sandbox.app_token)["url"]
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        people = sandbox.socket_mode.deliverer(globex)
        done = threading.Thread(target=people.post, args=(GX_BOB, GX_OPS, "over the socket"))
        done.start()
        envelope = json.loads(ws.recv(timeout=5))
        ws.send(json.dumps({"envelope_id": envelope["envelope_id"]}))
        done.join(timeout=5)
    payload = envelope["payload"]
    assert envelope["type"] == "events_api" and payload["team_id"] == GLOBEX
    assert payload["authorizations"][0]["user_id"] == globex.bot_user_id and people.events[-1].status == 200
