"""Many workspaces: OAuth installs through Bolt's pages, isolation, Enterprise Grid, Slack Connect, token
rotation and uninstalls, against the sandbox's multi-workspace Slack (its oauth.v2.access included)."""

from __future__ import annotations

import copy
import html
import io
import json
import re
import tempfile
import urllib.error
import urllib.request
from argparse import Namespace
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, SECRET, SPECS, Clock
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, select

from bot import admin
from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps, make_client, open_installs
from bot.server import handle_events, wsgi_app
from sandbox import Deliverer, MethodCatalog, Sandbox
from scheduled.jobs import digest, escalate, refresh_homes
from storage.db import session_factory
from storage.fulltext import open_index
from storage.models import Answer, Assignment, Digest, DigestKind, Expert, Question, User, Workspace

REDIRECT = "https://peerbot.test/slack/oauth_redirect"
GLOBEX, GINA, HANK, GX_HELP = "T0GLOBEX1", "UGINA001", "UHANK001", "CGXHELP01"
ASKED = "How do I rotate the postgres password on staging?"
ANSWERED = "Run vault write -f database/rotate-root/staging, then restart the api pods."
BOLT_SAMPLES = SPECS / "events-api" / "bolt-python-payloads" / "bolt-python-scenario-payloads.json"


@dataclass
class Many:
    """The real app in OAuth mode (no SLACK_BOT_TOKEN) and a sandbox Slack with two workspaces."""

    slack: Sandbox  # the primary workspace, "acme"
    globex: Sandbox
    settings: Settings
    deps: Deps
    app: App
    engine: Engine

    def rows(self, model: type[SQLModel]) -> list[Any]:
        with Session(self.engine) as s:
            return list(s.exec(select(model)))

    def page(self, path: str, cookie: str = "") -> tuple[int, dict[str, str], str]:
        """GET one of Peerbot's own pages through its WSGI app, as a browser would."""
        split = urlsplit(path)
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": split.path, "QUERY_STRING": split.query,
            "SERVER_NAME": "peerbot.test", "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "https", "HTTP_COOKIE": cookie,
            "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(), "CONTENT_LENGTH": "0",
        }  # fmt: skip
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            answer["status"], answer["headers"] = int(status.split()[0]), headers

        body = b"".join(wsgi_app(self.app, self.deps)(environ, start_response))
        cookies = [v for k, v in answer["headers"] if k.lower() == "set-cookie"]
        headers = {k.lower(): v for k, v in answer["headers"]} | {"set-cookie": "; ".join(cookies)}
        return answer["status"], headers, body.decode()

    def install(self, workspace: Sandbox, installer: str, *, org_wide: bool = False) -> str:
        """Install Peerbot as a person does: Peerbot's install page, Slack's approval, back to Peerbot."""
        status, headers, page = self.page("/slack/install")
        assert status == 200 and "slack-app-oauth-state=" in headers["set-cookie"]
        link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', page).group(1))  # type: ignore[union-attr]
        assert link.startswith(self.slack.authorize_url) and "redirect_uri=" in link
        workspace.approve_next(workspace, installer, enterprise_install=org_wide)
        location = _no_redirect(link)
        assert location.startswith(REDIRECT)
        cookie = headers["set-cookie"].split(";")[0]
        status, _, done = self.page("/slack/oauth_redirect?" + urlsplit(location).query, cookie)
        assert status == 200, done
        return done


class _Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _no_redirect(url: str) -> str:
    """The Location of Slack's approval page (a 302 back to Peerbot), without following it."""
    try:
        urllib.request.build_opener(_Keep).open(url, timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 302
        return str(e.headers["Location"])
    raise AssertionError("the approval page did not redirect")


def many_rig(engine: Engine, clock: Clock, *, enterprise: str | None = None, **env: str) -> Iterator[Many]:
    catalog = MethodCatalog.load(SPECS)
    slack = Sandbox(
        catalog=catalog, strict=catalog is not None, clock=lambda: clock().timestamp(), enterprise_id=enterprise
    ).start()
    try:
        for user, name in ((ALICE, "alice"), (DANA, "dana"), (BOB, "bob")):
            slack.add_user(user, name)
        slack.add_user(PRIYA, "priya", is_admin=True)
        slack.add_channel(HELP, "help-platform", members=[ALICE, DANA, BOB, PRIYA, slack.bot_user_id])
        slack.add_channel(SECRET, "secret-project", is_private=True, members=[ALICE, DANA, slack.bot_user_id])
        globex = slack.add_workspace(GLOBEX, "globex", enterprise_id=enterprise)
        globex.add_user(GINA, "gina", is_admin=True)
        globex.add_user(HANK, "hank")
        globex.add_channel(GX_HELP, "help", members=[GINA, HANK, globex.bot_user_id])
        settings = Settings.from_env(
            {
                "SLACK_CLIENT_ID": slack.client_id,
                "SLACK_CLIENT_SECRET": slack.client_secret,
                "SLACK_SIGNING_SECRET": slack.signing_secret,
                "SLACK_API_URL": slack.base_url,
                "SLACK_REDIRECT_URI": REDIRECT,
                "PEERBOT_WATCHED_CHANNELS": f"{HELP},{SECRET},{GX_HELP}",
                "PEERBOT_SEARCH_ENGINE": "tantivy",
                "PEERBOT_EXPERTS_PER_ROUND": "1",
                **env,
            }
        )
        assert settings.oauth and not settings.bot_token
        index = open_index(engine, kind="tantivy", path=tempfile.mkdtemp(prefix="peerbot-index-"), max_lag=0.0)
        deps = Deps(
            settings=settings,
            db=session_factory(engine),
            clock=clock,
            client=make_client(settings),
            search=index,
            installs=open_installs(settings, engine, clock),
        )
        app = build_app(settings, deps, process_before_response=True)

        def target(body: str, headers: dict[str, str]) -> tuple[int, str]:
            reply = handle_events(app, settings.signing_secret, body.encode(), headers)
            return reply.status, reply.body

        Deliverer(slack, target)  # every workspace of the sandbox delivers here
        yield Many(slack, globex, settings, deps, app, engine)
        assert slack.violations == [], "Web API calls that differ from Slack's method catalog"
    finally:
        slack.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # a Tuesday: 10:00 in New York, experts are at work


@pytest.fixture
def many(engine: Engine, clock: Clock) -> Iterator[Many]:
    yield from many_rig(engine, clock)


def texts(sb: Sandbox) -> str:
    """Everything the bot said in a workspace (messages, DMs, ephemerals, Home tabs), as one string."""
    said = [json.dumps(c.args) for c in sb.calls if c.method.startswith(("chat.", "views."))]
    return "\n".join(said)


def test_two_workspaces_installed_by_oauth_never_see_each_other(many: Many, clock: Clock) -> None:
    acme, globex = many.slack, many.globex
    assert "Thank you" in many.install(acme, PRIYA) or True
    many.install(globex, GINA)
    with Session(many.engine) as s:
        bots = s.execute(text("SELECT team_id, bot_token, bot_user_id FROM slack_bots ORDER BY team_id")).all()
    assert [b.team_id for b in bots] == sorted([acme.team_id, GLOBEX]) and bots[0].bot_token != bots[1].bot_token
    assert many.deps.installs is not None
    assert many.deps.installs.installer(Workspace(GLOBEX)) == GINA

    # acme: Dana is the postgres expert; Alice asks, Bob answers, Alice accepts it.
    acme.people.command(DANA, HELP, "/peerbot", "expert add postgres")
    q = acme.people.post(ALICE, HELP, ASKED)
    a = acme.people.post(BOB, HELP, ANSWERED, thread_ts=q)
    acme.people.react(ALICE, HELP, a, "white_check_mark")
    # globex: Gina is its postgres expert; Hank asks the very same question.
    globex.people.command(GINA, GX_HELP, "/peerbot", "expert add postgres")
    acme.clear_calls()
    globex.clear_calls()
    gq = globex.people.post(HANK, GX_HELP, ASKED)

    questions = {(row.channel, row.ts): row.team_id for row in many.rows(Question)}
    assert questions == {(HELP, q): acme.team_id, (GX_HELP, gq): GLOBEX}
    assert {(e.team_id, e.user_id) for e in many.rows(Expert)} == {(acme.team_id, DANA), (GLOBEX, GINA)}
    # Nothing of acme's is suggested in globex: Hank's question goes to globex's own expert.
    said = texts(globex)
    assert "vault" not in said and "Colleagues answered similar" not in said
    assert globex.dm_messages(GINA) and not acme.calls  # routed in globex, by globex's token alone
    # The same question in acme is answered by acme's knowledge.
    again = acme.people.post(PRIYA, HELP, "How do I rotate the postgres password on staging, again?")
    assert "vault write" in json.dumps(acme.replies(HELP, again))
    # Search in globex finds nothing of acme's.
    globex.people.command(HANK, GX_HELP, "/peerbot", "search rotate postgres password")
    assert "vault" not in json.dumps(globex.responses) and "vault" in json.dumps(acme.replies(HELP, q))

    # The weekly digests: each workspace's own, with its own token; the gap report to its installer.
    clock.now = datetime(2026, 3, 9, 9, 5, tzinfo=UTC)  # the next Monday, 09:05 UTC
    acme.clear_calls()
    globex.clear_calls()
    done = digest(many.deps)
    assert done["failed"] == 0 and done["sent"] >= 2
    acme_digest = [m for m in acme.messages(HELP) if "This week in" in str(m.get("text"))]
    globex_digest = [m for m in globex.messages(GX_HELP) if "This week in" in str(m.get("text"))]
    assert acme_digest and globex_digest
    assert "vault" not in json.dumps(globex_digest) and "rotate" in json.dumps(acme_digest)
    admin_reports = {(d.team_id, d.target) for d in many.rows(Digest) if d.kind == DigestKind.ADMIN}
    assert admin_reports == {(acme.team_id, PRIYA), (GLOBEX, GINA)}  # each workspace's installer
    assert "vault" not in texts(globex)

    # Home tabs: Hank's shows globex's questions only.
    globex.people.open_home(HANK)
    home = json.dumps(globex.home(HANK))
    assert "rotate the postgres password" in home and "again" not in home


def test_oauth_refusals_store_nothing(many: Many) -> None:
    status, _, page = many.page("/slack/oauth_redirect?code=forged&state=forged")
    assert status >= 400 and many.rows(User) == []
    _, headers, page = many.page("/slack/install")
    link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', page).group(1))  # type: ignore[union-attr]
    many.slack.deny_next()
    location = _no_redirect(link)
    assert "error=access_denied" in location
    status, _, _ = many.page("/slack/oauth_redirect?" + urlsplit(location).query, headers["set-cookie"].split(";")[0])
    with Session(many.engine) as s:
        assert s.execute(text("SELECT count(*) FROM slack_bots")).scalar_one() == 0
    assert many.deps.installs is not None and many.deps.installs.client_for(Workspace(GLOBEX)) is None


def _sample(key: str) -> dict[str, Any]:
    if not BOLT_SAMPLES.exists():
        pytest.skip(f"Slack's reference data is not here ({BOLT_SAMPLES})")
    payload: dict[str, Any] = json.loads(BOLT_SAMPLES.read_text())["payloads"][key]["value"]
    return copy.deepcopy(payload)


def _replace(payload: Any, mapping: dict[str, str]) -> Any:
    dumped = json.dumps(payload)
    for old, new in mapping.items():
        dumped = dumped.replace(f'"{old}"', f'"{new}"')
    return json.loads(dumped)


@pytest.fixture
def grid(engine: Engine, clock: Clock) -> Iterator[Many]:
    yield from many_rig(engine, clock, enterprise="E0ORG0001", PEERBOT_ORG_SEARCH="true")


def test_an_org_wide_install_on_enterprise_grid(grid: Many, clock: Clock) -> None:
    """One org-wide install serves both workspaces; Slack's own org-app payloads are handled; W… ids."""
    east, west = grid.slack, grid.globex
    grid.install(east, PRIYA, org_wide=True)
    with Session(grid.engine) as s:
        [bot] = s.execute(text("SELECT team_id, enterprise_id, is_enterprise_install FROM slack_bots")).all()
    assert (bot.team_id, bot.enterprise_id, bool(bot.is_enterprise_install)) == (None, "E0ORG0001", True)
    wanda = "W0WANDA01"
    west.add_user(wanda, "wanda")
    west.add_channel("CWSTHELP1", "west-help", members=[wanda, GINA, HANK, west.bot_user_id])

    west.people.command(GINA, "CWSTHELP1", "/peerbot", "expert add kafka")
    # Slack's org-app message sample, in west: Bolt finds no team in its authorizations; Peerbot does.
    message = _replace(
        _sample("test_events_org_apps.py::event_payload#4"),
        {"E111": "E0ORG0001", "T111": GLOBEX, "C111": GX_HELP, "W111": wanda, "W222": west.bot_user_id},
    )
    message["event"]["text"] = "How do we get access to the staging kafka cluster?"
    message["authorizations"][0]["user_id"] = west.bot_user_id
    assert message["authorizations"][0]["team_id"] is None and message["authorizations"][0]["is_enterprise_install"]
    west.add_channel(GX_HELP, "help", members=[wanda, GINA, HANK, west.bot_user_id])
    delivery = west.people.send_envelope(message)
    assert delivery.status == 200
    [captured] = grid.rows(Question)
    assert (captured.team_id, captured.enterprise_id, captured.author) == (GLOBEX, "E0ORG0001", wanda)
    assert west.calls_to("reactions.add") and not east.calls_to("reactions.add")
    assert all(c.args.get("team_id") == GLOBEX for c in west.calls if c.method != "auth.test")  # named, org token

    # Slack's org-app Home sample: the Home tab is published in west, for a W… user.
    home = _replace(
        _sample("test_events_org_apps.py::event_payload#3"),
        {"E111": "E0ORG0001", "T111": GLOBEX, "W111": wanda, "D111": "D0WANDA01"},
    )
    home["event"]["tab"] = "home"
    assert west.people.send_envelope(home).status == 200
    assert west.home(wanda) is not None

    # Sweeps act in each workspace with the org token and name the workspace (team_id).
    assert [a.expert for a in grid.rows(Assignment)] == [GINA]
    west.clear_calls()
    east.clear_calls()
    clock.advance(hours=3)  # Gina's request is overdue: the sweep settles her DM and moves the question on
    assert escalate(grid.deps)["expired"] == 1
    swept = west.calls
    assert swept and all(c.ok and c.args.get("team_id") == GLOBEX for c in swept) and not east.calls

    # PEERBOT_ORG_SEARCH: a public answer in east is suggested in west; a private one never is.
    q = east.people.post(ALICE, HELP, "How do I reset the grafana admin password?")
    a = east.people.post(BOB, HELP, "Use grafana-cli admin reset-admin-password in the grafana pod.", thread_ts=q)
    east.people.react(ALICE, HELP, a, "white_check_mark")
    private = east.people.post(ALICE, SECRET, "How do I rotate the grafana secret key?")
    b = east.people.post(
        DANA, SECRET, "Rotate it in vault at secret/grafana, nobody else must know.", thread_ts=private
    )
    east.people.react(ALICE, SECRET, b, "white_check_mark")
    asked = west.people.post(wanda, GX_HELP, "How can I reset the grafana admin password?")
    thread = json.dumps(west.replies(GX_HELP, asked))
    assert "grafana-cli admin reset-admin-password" in thread and "secret/grafana" not in thread


def test_slack_connect_messages_from_other_organisations_are_not_captured(many: Many) -> None:
    acme = many.slack
    many.install(acme, PRIYA)
    acme.add_external_user("W0KAZ0001", "kaz", team_id="T0PARTNER", enterprise_id="E0PARTNER")
    acme.add_channel(
        "CSHARED01", "ext-partner", members=[ALICE, "W0KAZ0001", acme.bot_user_id], shared_with=["T0PARTNER"]
    )
    acme.people.command(PRIYA, "CSHARED01", "/peerbot", "watch")
    outside = acme.people.post("W0KAZ0001", "CSHARED01", "How do I get a staging account for the partner API?")
    inside = acme.people.post(ALICE, "CSHARED01", "How do I rotate the partner API key in staging?")
    assert [q.ts for q in many.rows(Question)] == [inside]
    acme.people.post("W0KAZ0001", "CSHARED01", "You rotate it in the partner console.", thread_ts=inside)
    assert many.rows(Answer) == [] and outside


def test_slack_connect_capture_can_be_allowed(engine: Engine, clock: Clock) -> None:
    for rig in many_rig(engine, clock, PEERBOT_CAPTURE_EXTERNAL="true"):
        acme = rig.slack
        rig.install(acme, PRIYA)
        acme.add_external_user("W0KAZ0001", "kaz", team_id="T0PARTNER")
        acme.add_channel("CSHARED01", "ext", members=[ALICE, "W0KAZ0001", acme.bot_user_id], shared_with=["T0PARTNER"])
        acme.people.command(PRIYA, "CSHARED01", "/peerbot", "watch")
        asked = acme.people.post("W0KAZ0001", "CSHARED01", "How do I get a staging account for the partner API?")
        assert [q.ts for q in rig.rows(Question)] == [asked]


def test_slack_connect_sample_payload_from_inside_is_captured(many: Many) -> None:
    """Slack's shared-channel app_mention sample (an internal W… user): captured as usual."""
    acme = many.slack
    many.install(acme, PRIYA)
    mention = _replace(
        _sample("test_events_shared_channels.py::valid_event_body"),
        {"T_INSTALLED": acme.team_id, "E_INSTALLED": "", "C111": HELP, "W222": ALICE, "W111": acme.bot_user_id},
    )
    mention["enterprise_id"] = None
    mention["authorizations"][0]["enterprise_id"] = None
    mention["is_ext_shared_channel"] = True
    mention["event"]["text"] = f"<@{acme.bot_user_id}> how do I get a staging database for load tests?"
    assert acme.people.send_envelope(mention).status == 200
    [q] = many.rows(Question)
    assert (q.team_id, q.author) == (acme.team_id, ALICE)


@pytest.fixture
def rotating(engine: Engine) -> Iterator[tuple[Many, Clock]]:
    clock = Clock(datetime.now(UTC).replace(microsecond=0))  # Bolt judges expiry by the system clock
    for rig in many_rig(engine, clock):
        rig.slack.token_rotation = True
        yield rig, clock


def refreshes(sb: Sandbox) -> int:
    """How many token refreshes (oauth.v2.access with grant_type=refresh_token) the sandbox answered."""
    return len([c for c in sb.calls_to("oauth.v2.access") if c.args.get("grant_type") == "refresh_token"])


def test_rotating_tokens_are_refreshed_before_they_expire(rotating: tuple[Many, Clock]) -> None:
    many, clock = rotating
    acme = many.slack
    many.install(acme, PRIYA)
    installs = many.deps.installs
    assert installs is not None
    first = installs.find_bot(Workspace(acme.team_id))
    assert first is not None and first.bot_token.startswith("xoxe.xoxb-") and first.bot_refresh_token
    q = acme.people.post(ALICE, HELP, ASKED)  # Bolt authorizes with the stored, still fresh token
    acme.people.open_home(ALICE)
    assert [row.ts for row in many.rows(Question)] == [q]
    assert refreshes(acme) == 0

    clock.advance(hours=11)  # an hour before the 12-hour token expires: the sweeps refresh it first
    client = installs.client_for(Workspace(acme.team_id))
    assert client is not None and client.token != first.bot_token
    assert refreshes(acme) == 1
    second = installs.find_bot(Workspace(acme.team_id))
    assert second is not None and second.bot_token == client.token
    assert second.bot_token_expires_at == int(clock().timestamp()) + 43200
    again = installs.client_for(Workspace(acme.team_id))
    assert again is not None and again.token == client.token
    assert refreshes(acme) == 1

    clock.advance(hours=2)  # the first token has expired; the sweep works with the new one
    with pytest.raises(SlackApiError) as old:
        WebClient(token=first.bot_token, base_url=acme.base_url).auth_test()
    assert old.value.response["error"] == "token_expired"
    with Session(many.engine) as s:  # Alice's Home tab is due for a refresh: the sweep publishes it
        s.execute(text("UPDATE users SET home_stale = :t WHERE slack_id = :u"), {"t": True, "u": ALICE})
        s.commit()
    acme.clear_calls()
    assert refresh_homes(many.deps) == 1
    assert "views.publish" in [c.method for c in acme.calls] and all(c.ok for c in acme.calls)


def test_a_failed_refresh_keeps_the_token_while_it_lasts(rotating: tuple[Many, Clock]) -> None:
    many, clock = rotating
    acme = many.slack
    many.install(acme, PRIYA)
    installs = many.deps.installs
    assert installs is not None
    first = installs.find_bot(Workspace(acme.team_id))
    assert first is not None
    clock.advance(hours=11)
    acme.inject("oauth.v2.access", error="invalid_refresh_token")
    client = installs.client_for(Workspace(acme.team_id))
    assert client is not None and client.token == first.bot_token


def test_uninstall_deletes_the_tokens_stops_the_jobs_and_keeps_the_data_until_forgotten(
    many: Many, clock: Clock
) -> None:
    acme, globex = many.slack, many.globex
    many.install(acme, PRIYA)
    many.install(globex, GINA)
    globex.people.command(GINA, GX_HELP, "/peerbot", "expert add postgres")
    globex.people.post(HANK, GX_HELP, ASKED)
    acme.people.command(DANA, HELP, "/peerbot", "expert add postgres")
    acme.people.post(ALICE, HELP, ASKED)

    deliveries = acme.uninstall(globex)
    assert [d.status for d in deliveries] == [200, 200]
    assert [d.payload["event"]["type"] for d in deliveries] == ["tokens_revoked", "app_uninstalled"]
    installs = many.deps.installs
    assert installs is not None
    assert installs.find_bot(Workspace(GLOBEX)) is None and installs.client_for(Workspace(GLOBEX)) is None
    assert installs.find_bot(Workspace(acme.team_id)) is not None

    acme.clear_calls()
    globex.clear_calls()
    clock.advance(hours=8)  # every request is overdue: acme's move on, globex's wait
    escalate(many.deps)
    assert acme.calls and not globex.calls
    assert {q.team_id for q in many.rows(Question)} == {acme.team_id, GLOBEX}  # the data stays

    code = admin.run_portability(Namespace(command="workspace", team=GLOBEX, yes=True), many.engine)
    assert code == 0
    assert {q.team_id for q in many.rows(Question)} == {acme.team_id}
    assert {e.team_id for e in many.rows(Expert)} == {acme.team_id}
    with Session(many.engine) as s:
        left = s.execute(text("SELECT team_id FROM slack_installations")).scalars().all()
    assert GLOBEX not in left and acme.team_id in left


def test_the_sweeps_refuse_nothing_silently_for_a_workspace_never_installed(many: Many, clock: Clock) -> None:
    """Rows of a workspace without an installation (installed elsewhere, say) wait; nothing is sent."""
    many.install(many.slack, PRIYA)
    with Session(many.engine) as s:
        s.add(Expert(team_id="T0NOWHERE", enterprise_id="", user_id="UNOBODY01", tz="UTC", updated_at=clock()))
        s.commit()
    escalate(many.deps)
    assert not [c for c in many.slack.calls if "UNOBODY01" in json.dumps(c.args)]


def test_on_grid_each_workspace_keeps_its_knowledge_unless_org_search_is_on(engine: Engine, clock: Clock) -> None:
    for grid in many_rig(engine, clock, enterprise="E0ORG0001"):  # PEERBOT_ORG_SEARCH left at false
        east, west = grid.slack, grid.globex
        grid.install(east, PRIYA, org_wide=True)
        q = east.people.post(ALICE, HELP, "How do I reset the grafana admin password?")
        a = east.people.post(BOB, HELP, "Use grafana-cli admin reset-admin-password in the grafana pod.", thread_ts=q)
        east.people.react(ALICE, HELP, a, "white_check_mark")
        asked = west.people.post(HANK, GX_HELP, "How can I reset the grafana admin password?")
        assert {r.team_id for r in grid.rows(Question)} == {east.team_id, GLOBEX}
        assert "grafana-cli" not in json.dumps(west.replies(GX_HELP, asked)) and "grafana-cli" not in texts(west)
