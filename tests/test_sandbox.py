"""The sandbox Slack: Web API fakes through a real WebClient, faults, signing, payload shapes, transcript."""

from __future__ import annotations

import functools
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier

from sandbox import DEFAULT_SPECS_DIR, Deliverer, Delivery, MethodCatalog, Sandbox

JSON = dict[str, Any]
BOT = "UPEERBOT1"
ALICE, DANA, EVE = "UALICE001", "UDANA0001", "UEVE00001"
HELP, SECRET, NEWS = "CHELP0001", "GSECRET01", "CNEWS0001"
SPECS_MISSING = "Slack reference data not found at ../shared/slack-specs (DEFAULT_SPECS_DIR)"


class FakeClock:
    """Time that moves only when told (a frozen start in Nov 2023)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sandbox_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def catalog() -> MethodCatalog | None:
    return MethodCatalog.load()


def _populate(sb: Sandbox) -> Sandbox:
    sb.add_user(ALICE, "alice", real_name="Alice Chen", tz="Europe/Berlin")
    sb.add_user(DANA, "dana", real_name="Dana Ortiz", tz="America/New_York", is_admin=True)
    sb.add_user(EVE, "eve", real_name="Eve Park", tz="Asia/Tokyo")
    sb.add_channel(HELP, "help-platform", members=[ALICE, DANA, BOT])
    sb.add_channel(SECRET, "secret-project", is_private=True, members=[ALICE])
    sb.add_channel(NEWS, "news", members=[ALICE, DANA])
    return sb


@pytest.fixture
def sandbox(catalog: MethodCatalog | None, sandbox_clock: FakeClock) -> Iterator[Sandbox]:
    with Sandbox(catalog=catalog, strict=True, clock=sandbox_clock) as sb:
        yield _populate(sb)


@pytest.fixture
def client(sandbox: Sandbox) -> WebClient:
    return sandbox.client(retry_handlers=[])


class Recorder:
    """An in-process target: records each request and answers like a bot that just acks."""

    def __init__(self, answer: Callable[[str, dict[str, str]], tuple[int, str]] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.answer = answer

    def __call__(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        self.requests.append((body, headers))
        return self.answer(body, headers) if self.answer else (200, "")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def people(sandbox: Sandbox, recorder: Recorder) -> Deliverer:
    return Deliverer(sandbox, recorder)


def _specs() -> Path:
    if not DEFAULT_SPECS_DIR.is_dir():
        pytest.skip(SPECS_MISSING)
    return DEFAULT_SPECS_DIR


# --- superset-shape checks ------------------------------------------------------------------------
def _merge(values: list[Any]) -> Any:
    """Merge sample values: dicts by key union, list items into one merged item."""
    dicts = [v for v in values if isinstance(v, dict)]
    if dicts:
        grouped: dict[str, list[Any]] = {}
        for d in dicts:
            for key, value in d.items():
                grouped.setdefault(key, []).append(value)
        return {key: _merge(vs) for key, vs in grouped.items()}
    lists = [v for v in values if isinstance(v, list)]
    if lists:
        items = [item for lst in lists for item in lst]
        return [_merge(items)] if items else []
    return values[0] if values else None


@functools.cache
def _sample(relative: str) -> Any:
    path = _specs() / relative
    if not path.is_file():
        pytest.skip(f"no sample {relative}")
    return _merge([json.loads(path.read_text())])


def extra_keys(actual: Any, sample: Any, allowed: frozenset[str] = frozenset(), path: str = "") -> list[str]:
    """Keys of `actual` (recursively) that the merged superset `sample` does not have."""
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


# --- the Web API through a real WebClient ---------------------------------------------------------
def test_base_url_and_auth_test(sandbox: Sandbox, client: WebClient) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:") and sandbox.base_url.endswith("/api/")
    answer = client.auth_test()
    assert answer["user_id"] == BOT and answer["bot_id"] == "BPEERBOT1" and answer["team_id"] == "TSANDBOX1"
    assert answer["url"] == "https://acme.slack.com/" and "enterprise_id" not in answer.data
    assert sandbox.calls[-1].method == "auth.test" and sandbox.calls[-1].ok


def test_enterprise_id_in_auth_test() -> None:
    with Sandbox(enterprise_id="E0ACME001") as sb:
        assert sb.client().auth_test()["enterprise_id"] == "E0ACME001"


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), (None, "not_authed")])
def test_bad_or_missing_token(sandbox: Sandbox, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=token, base_url=sandbox.base_url).chat_postMessage(channel=HELP, text="hi")
    assert raised.value.response["error"] == error
    assert sandbox.calls[-1].error == error and sandbox.messages(HELP) == []


def _round_trips() -> dict[str, Callable[[Sandbox, WebClient, Deliverer], JSON]]:
    def question(people: Deliverer) -> str:
        return people.post(ALICE, HELP, "How do I rotate the staging DB password?")

    def modal(sb: Sandbox, c: WebClient) -> str:
        view = {"type": "modal", "title": {"type": "plain_text", "text": "Answer"}, "blocks": []}
        return str(c.views_open(trigger_id=sb.new_trigger(DANA), view=view)["view"]["id"])

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}]
    home = {"type": "home", "blocks": blocks}
    return {
        "auth.test": lambda sb, c, p: c.auth_test().data,
        "api.test": lambda sb, c, p: c.api_test().data,
        "chat.postMessage": lambda sb, c, p: c.chat_postMessage(channel=HELP, text="hi", blocks=blocks).data,
        "chat.postEphemeral": lambda sb, c, p: c.chat_postEphemeral(channel=HELP, user=ALICE, text="psst").data,
        "chat.update": lambda sb, c, p: (
            c.chat_update(channel=HELP, ts=c.chat_postMessage(channel=HELP, text="v1")["ts"], text="v2").data
        ),
        "chat.delete": lambda sb, c, p: (
            c.chat_delete(channel=HELP, ts=c.chat_postMessage(channel=HELP, text="oops")["ts"]).data
        ),
        "chat.getPermalink": lambda sb, c, p: c.chat_getPermalink(channel=HELP, message_ts=question(p)).data,
        "reactions.add": lambda sb, c, p: c.reactions_add(channel=HELP, timestamp=question(p), name="eyes").data,
        "reactions.remove": lambda sb, c, p: _react_then_remove(c, question(p)),
        "reactions.get": lambda sb, c, p: _react_then_get(c, question(p)),
        "conversations.history": lambda sb, c, p: _history_with_a_broadcast(c, p, question(p)),
        "conversations.replies": lambda sb, c, p: _thread(c, question(p)),
        "conversations.info": lambda sb, c, p: c.conversations_info(channel=HELP, include_num_members=True).data,
        "conversations.open": lambda sb, c, p: c.conversations_open(users=DANA).data,
        "conversations.members": lambda sb, c, p: c.conversations_members(channel=HELP).data,
        "conversations.list": lambda sb, c, p: (
            c.conversations_open(users=DANA),
            c.conversations_list(types="public_channel,im").data,
        )[1],
        "conversations.join": lambda sb, c, p: c.conversations_join(channel=NEWS).data,
        "users.conversations": lambda sb, c, p: c.users_conversations().data,
        "users.info": lambda sb, c, p: c.users_info(user=ALICE, include_locale=True).data,
        "users.list": lambda sb, c, p: c.users_list(limit=2).data,
        "users.lookupByEmail": lambda sb, c, p: c.users_lookupByEmail(email="dana@acme.example.com").data,
        "team.info": lambda sb, c, p: c.team_info().data,
        "files.getUploadURLExternal": lambda sb, c, p: c.files_getUploadURLExternal(filename="a.txt", length=2).data,
        "files.completeUploadExternal": lambda sb, c, p: (
            c.files_upload_v2(channel=HELP, content="hi", filename="a.txt", title="A").data
        ),
        "views.open": lambda sb, c, p: (
            c.views_open(
                trigger_id=sb.new_trigger(DANA),
                view=home
                | {
                    "type": "modal",
                    "title": {"type": "plain_text", "text": "Answer"},
                    "callback_id": "answer",
                },
            ).data
        ),
        "views.push": lambda sb, c, p: (
            modal(sb, c),
            c.views_push(
                trigger_id=sb.new_trigger(DANA),
                view={"type": "modal", "title": {"type": "plain_text", "text": "More"}, "blocks": []},
            ).data,
        )[1],
        "views.update": lambda sb, c, p: (
            c.views_update(
                view_id=modal(sb, c),
                view={"type": "modal", "title": {"type": "plain_text", "text": "Answered"}, "blocks": blocks},
            ).data
        ),
        "views.publish": lambda sb, c, p: c.views_publish(user_id=ALICE, view=home).data,
    }


def _react_then_remove(c: WebClient, ts: str) -> JSON:
    c.reactions_add(channel=HELP, timestamp=ts, name="eyes")
    return c.reactions_remove(channel=HELP, timestamp=ts, name="eyes").data  # type: ignore[return-value]


def _react_then_get(c: WebClient, ts: str) -> JSON:
    c.reactions_add(channel=HELP, timestamp=ts, name="eyes")
    return c.reactions_get(channel=HELP, timestamp=ts).data  # type: ignore[return-value]


def _history_with_a_broadcast(c: WebClient, people: Deliverer, ts: str) -> JSON:
    people.post(DANA, HELP, "for everyone", thread_ts=ts, broadcast=True)
    c.chat_postMessage(channel=HELP, thread_ts=ts, text="me too", reply_broadcast=True)
    history = c.conversations_history(channel=HELP)
    assert [m.get("subtype") for m in history["messages"]] == ["thread_broadcast", "thread_broadcast", None]
    return history.data  # type: ignore[return-value]


def _thread(c: WebClient, ts: str) -> JSON:
    c.chat_postMessage(channel=HELP, thread_ts=ts, text="an answer")
    return c.conversations_replies(channel=HELP, ts=ts).data  # type: ignore[return-value]


ROUND_TRIPS = _round_trips()
# conversations.replies really carries subtype/client_msg_id (its sample lacks them), and the samples' blocks
# hold no rich_text (what people type): Block Kit content is echoed, not checked here.
RESPONSE_ALLOWED = frozenset({"subtype", "client_msg_id", "blocks"})


@pytest.mark.parametrize("method", sorted(ROUND_TRIPS))
def test_method_round_trips_with_sample_shape(
    method: str, sandbox: Sandbox, client: WebClient, people: Deliverer
) -> None:
    answer = ROUND_TRIPS[method](sandbox, client, people)
    assert answer["ok"] is True
    assert sandbox.calls_to(method)[-1].ok
    assert sandbox.violations == []
    sample = _sample(f"web-api/response-samples/{method}.json")
    assert extra_keys(answer, sample, RESPONSE_ALLOWED) == []


def test_every_implemented_method_is_in_the_catalog(catalog: MethodCatalog | None) -> None:
    from sandbox.methods import HANDLERS

    if catalog is None:
        pytest.skip(SPECS_MISSING)
    assert [m for m in HANDLERS if m not in catalog] == []
    assert set(ROUND_TRIPS) == set(HANDLERS)


def test_unimplemented_real_method(sandbox: Sandbox, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("pins.add", params={"channel": HELP, "timestamp": "1.2"})
    assert raised.value.response["error"] == "not_implemented_in_sandbox"


def test_form_json_and_get_requests_are_all_understood(sandbox: Sandbox, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "form blocks"}}]
    client.api_call("chat.postMessage", params={"channel": HELP, "text": "f", "blocks": json.dumps(blocks)})
    assert sandbox.calls[-1].args["blocks"] == blocks  # decoded from the form string
    client.api_call("chat.postMessage", json={"channel": HELP, "text": "j", "blocks": blocks})
    assert sandbox.calls[-1].args["blocks"] == blocks
    request = urllib.request.Request(
        f"{sandbox.base_url}conversations.history?channel={HELP}&limit=1",
        headers={"Authorization": f"Bearer {sandbox.bot_token}"},
    )
    with urllib.request.urlopen(request) as response:
        body = json.loads(response.read())
    assert body["ok"] and body["messages"][0]["text"] == "j" and body["has_more"] is True
    assert sandbox.calls[-1].args == {"channel": HELP, "limit": "1"}
    assert "token" not in sandbox.calls[-1].args


# --- catalog checks and strict mode ---------------------------------------------------------------
def test_catalog_loading_and_checks(catalog: MethodCatalog | None, tmp_path: Path) -> None:
    if catalog is None:
        pytest.skip(SPECS_MISSING)
    assert MethodCatalog.load(tmp_path) is None
    assert catalog.check("chat.postMessage", {"channel": "C1", "text": "hi", "token": "x"}) == []
    assert catalog.check("chat.postMessage", {"channel": "C1"}) == [
        "chat.postMessage: one of 'text', 'blocks' or 'attachments' is required (no_text)"
    ]
    assert catalog.check("chat.update", {"channel": "C1", "ts": "1.2", "blocks": []}) != []
    assert catalog.check("chat.fly", {}) == ["chat.fly: unknown method (not in Slack's method catalog)"]
    assert "chat:write" in catalog.scopes("chat.postMessage")
    assert {"channel_not_found", "invalid_auth", "ratelimited"} & catalog.errors("chat.postMessage")


def test_strict_mode_rejects_calls_that_differ_from_the_catalog(sandbox: Sandbox, client: WebClient) -> None:
    if sandbox.catalog is None:
        pytest.skip(SPECS_MISSING)
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMessage", json={"text": "no channel"})
    assert raised.value.response["error"] == "invalid_arguments"
    assert "required argument 'channel' is missing" in raised.value.response["response_metadata"]["messages"][0]
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=HELP, text="hi", bogus=1)
    assert raised.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.fly")
    assert raised.value.response["error"] == "unknown_method"
    assert sandbox.violations == [
        "chat.postMessage: required argument 'channel' is missing",
        "chat.postMessage: argument 'bogus' is not documented",
        "chat.fly: unknown method (not in Slack's method catalog)",
    ]
    assert sandbox.messages(HELP) == []


def test_lenient_mode_records_violations_but_answers_like_slack(catalog: MethodCatalog | None) -> None:
    if catalog is None:
        pytest.skip(SPECS_MISSING)
    with Sandbox(catalog=catalog) as sb:
        _populate(sb)
        with pytest.raises(SlackApiError) as raised:
            sb.client().api_call("chat.postMessage", json={"text": "no channel"})
        assert raised.value.response["error"] == "channel_not_found"
        assert sb.client().chat_postMessage(channel=HELP, text="hi", bogus=1)["ok"]
        assert len(sb.violations) == 2


# --- faults and slack_sdk's retry handlers --------------------------------------------------------
def test_429_is_retried_by_the_rate_limit_handler(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []  # the handler sleeps Retry-After (+ jitter): record it instead of waiting
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=waits.append))
    sandbox.inject("chat.postMessage", status=429, retry_after=3)
    client = sandbox.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert client.chat_postMessage(channel=HELP, text="eventually")["ok"]
    assert len(waits) == 1 and 3 <= waits[0] < 4
    first, second = sandbox.calls_to("chat.postMessage")
    assert (first.status, first.ok, first.error) == (429, False, "ratelimited")
    assert (second.status, second.ok) == (200, True)
    assert len(sandbox.messages(HELP)) == 1


def test_429_without_handler_surfaces_retry_after(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.inject("*", status=429, retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.users_info(user=ALICE)
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "7"
    assert client.users_info(user=ALICE)["ok"]


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retried_by_the_server_error_handler(sandbox: Sandbox, status: int) -> None:
    sandbox.inject("conversations.history", status=status)
    no_wait = FixedValueRetryIntervalCalculator(fixed_internal=0)
    client = sandbox.client(retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=no_wait)])
    client.conversations_history(channel=HELP)
    assert [c.status for c in sandbox.calls_to("conversations.history")] == [status, 200]


def test_injected_error_raises_slack_api_error(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.inject("chat.postMessage", error="fatal_error")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=HELP, text="x")
    assert raised.value.response["error"] == "fatal_error" and raised.value.response.status_code == 200
    assert sandbox.calls[-1].ok is False and sandbox.messages(HELP) == []


def test_delay_makes_the_client_time_out(sandbox: Sandbox) -> None:
    sandbox.inject("users.info", delay=5.0)
    client = sandbox.client(timeout=0.2, retry_handlers=[])
    with pytest.raises(OSError):  # urllib's TimeoutError / URLError
        client.users_info(user=ALICE)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.chat_postMessage(channel="CNOPE", text="x"), "channel_not_found"),
        (lambda c: c.chat_postMessage(channel=SECRET, text="x"), "not_in_channel"),
        (lambda c: c.api_call("chat.postMessage", json={"channel": HELP}), "no_text"),
        (lambda c: c.chat_postMessage(channel=HELP, text="x" * 40_001), "msg_too_long"),
        (
            lambda c: c.chat_postMessage(channel=HELP, text="x", blocks=[{"type": "divider"}] * 51),
            "invalid_blocks",
        ),
        (lambda c: c.chat_postEphemeral(channel=HELP, user=EVE, text="x"), "user_not_in_channel"),
        (lambda c: c.chat_update(channel=HELP, ts="1.000001", text="x"), "message_not_found"),
        (lambda c: c.conversations_history(channel=NEWS), "not_in_channel"),
        (lambda c: c.conversations_history(channel=HELP, cursor="bm9wZQ=="), "invalid_cursor"),
        (lambda c: c.conversations_replies(channel=HELP, ts="1.000001"), "thread_not_found"),
        (lambda c: c.conversations_info(channel=SECRET), "channel_not_found"),
        (lambda c: c.users_info(user="UNOBODY01"), "user_not_found"),
        (lambda c: c.users_lookupByEmail(email="nobody@example.com"), "users_not_found"),
        (lambda c: c.reactions_add(channel=HELP, timestamp="1.000001", name="eyes"), "message_not_found"),
        (
            lambda c: c.views_open(
                trigger_id="12345.98765.abcd",
                view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []},
            ),
            "invalid_trigger_id",
        ),
        (lambda c: c.views_update(view_id="VNOPE", view={"type": "modal", "blocks": []}), "not_found"),
    ],
)
def test_slack_errors(client: WebClient, call: Callable[[WebClient], Any], error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        call(client)
    assert raised.value.response["error"] == error


def test_errors_on_existing_messages(sandbox: Sandbox, client: WebClient, people: Deliverer) -> None:
    ts = people.post(ALICE, HELP, "a question")
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: client.chat_update(channel=HELP, ts=ts, text="hijack"), "cant_update_message"),
        (lambda: client.chat_delete(channel=HELP, ts=ts), "cant_delete_message"),
        (lambda: client.reactions_add(channel=HELP, timestamp=ts, name="not an emoji!"), "invalid_name"),
        (lambda: client.reactions_remove(channel=HELP, timestamp=ts, name="eyes"), "no_reaction"),
    ]
    for call, error in cases:
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == error
    client.reactions_add(channel=HELP, timestamp=ts, name=":eyes:")
    with pytest.raises(SlackApiError) as raised:
        client.reactions_add(channel=HELP, timestamp=ts, name="eyes")
    assert raised.value.response["error"] == "already_reacted"
    sandbox.world.channels[HELP]["is_archived"] = True
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=HELP, text="late")
    assert raised.value.response["error"] == "is_archived"


# --- believable state -----------------------------------------------------------------------------
def test_ts_unique_and_increasing_with_a_frozen_clock(sandbox: Sandbox, client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel=HELP, text=str(i))["ts"] for i in range(5)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5
    assert stamps[0].startswith("1700000000.") and len(stamps[0].split(".")[1]) == 6
    results: list[str] = []

    def post() -> None:
        results.extend(sandbox.client().chat_postMessage(channel=HELP, text="t")["ts"] for _ in range(5))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 20 and len(sandbox.calls_to("chat.postMessage")) == 25


def test_users_have_time_zones_and_profiles(client: WebClient, sandbox: Sandbox) -> None:
    alice = client.users_info(user=ALICE)["user"]
    assert (alice["tz"], alice["tz_label"], alice["tz_offset"]) == (
        "Europe/Berlin",
        "Central European Time",
        3600,
    )
    assert alice["profile"]["email"] == "alice@acme.example.com" and alice["real_name"] == "Alice Chen"
    bot = client.users_info(user=BOT)["user"]
    assert bot["is_bot"] and bot["profile"]["bot_id"] == "BPEERBOT1"
    assert client.users_info(user=DANA)["user"]["is_admin"] is True
    assert [m["id"] for m in client.users_list()["members"]] == [BOT, ALICE, DANA, EVE]
    page = client.users_list(limit=3)
    rest = client.users_list(limit=3, cursor=page["response_metadata"]["next_cursor"])
    assert len(page["members"]) == 3 and [m["id"] for m in rest["members"]] == [EVE]


def test_dm_ids_are_stable_and_user_ids_post_to_the_dm(sandbox: Sandbox, client: WebClient) -> None:
    dm = client.conversations_open(users=DANA)["channel"]["id"]
    assert dm.startswith("D") and client.conversations_open(users=DANA)["channel"]["id"] == dm
    answer = client.chat_postMessage(channel=DANA, text="New question for you")
    assert answer["channel"] == dm and sandbox.dm_channel(DANA) == dm
    assert [m["text"] for m in sandbox.dm_messages(DANA)] == ["New question for you"]
    assert client.conversations_info(channel=dm)["channel"]["is_im"] is True
    assert sandbox.dm_channel(EVE) is None


def test_threads_reply_counts_and_permalinks(sandbox: Sandbox, client: WebClient, people: Deliverer) -> None:
    ts = people.post(ALICE, HELP, "How do I deploy?")
    reply = client.chat_postMessage(channel=HELP, thread_ts=ts, text="Like this")["ts"]
    people.post(DANA, HELP, "Or like that", thread_ts=reply)  # a reply to a reply joins the thread
    parent = sandbox.messages(HELP)[0]
    assert (parent["reply_count"], parent["reply_users"], parent["thread_ts"]) == (2, [BOT, DANA], ts)
    assert [m["text"] for m in sandbox.replies(HELP, ts)] == ["Like this", "Or like that"]
    thread = client.conversations_replies(channel=HELP, ts=ts)["messages"]
    assert thread[0]["ts"] == ts and thread[1]["parent_user_id"] == ALICE
    link = client.chat_getPermalink(channel=HELP, message_ts=reply)["permalink"]
    assert link == f"https://acme.slack.com/archives/{HELP}/p{reply.replace('.', '')}?thread_ts={ts}&cid={HELP}"
    assert client.chat_getPermalink(channel=HELP, message_ts=ts)["permalink"].endswith(ts.replace(".", ""))
    assert len(client.conversations_history(channel=HELP)["messages"]) == 1  # replies stay in the thread


def test_history_paging_and_windows(sandbox: Sandbox, client: WebClient, sandbox_clock: FakeClock) -> None:
    stamps = []
    for i in range(5):
        sandbox_clock.advance(60)
        stamps.append(client.chat_postMessage(channel=HELP, text=f"m{i}")["ts"])
    first = client.conversations_history(channel=HELP, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    second = client.conversations_history(channel=HELP, limit=2, cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    window = client.conversations_history(channel=HELP, oldest=stamps[1], latest=stamps[3])["messages"]
    assert [m["text"] for m in window] == ["m2"]
    inclusive = client.conversations_history(channel=HELP, oldest=stamps[1], latest=stamps[3], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    assert [m["text"] for m in sandbox.messages(HELP)] == ["m0", "m1", "m2", "m3", "m4"]


def test_update_delete_and_tombstones(sandbox: Sandbox, client: WebClient, people: Deliverer) -> None:
    ts = client.chat_postMessage(channel=HELP, text="draft", blocks=[{"type": "divider"}])["ts"]
    updated = client.chat_update(channel=HELP, ts=ts, text="final")
    assert updated["message"]["edited"]["user"] == BOT and updated["message"]["blocks"][0]["type"] == "divider"
    client.chat_update(channel=HELP, ts=ts, text="no blocks", blocks=[])
    assert "blocks" not in sandbox.messages(HELP)[0]
    parent = people.post(ALICE, HELP, "question")
    client.chat_postMessage(channel=HELP, thread_ts=parent, text="answer")
    people.delete(ALICE, HELP, parent)
    tombstone = sandbox.messages(HELP)[1]
    assert (tombstone["subtype"], tombstone["reply_count"]) == ("tombstone", 1)
    client.chat_delete(channel=HELP, ts=sandbox.replies(HELP, parent)[0]["ts"])
    assert len(sandbox.messages(HELP)) == 1  # the last reply gone, the tombstone goes too
    client.chat_delete(channel=HELP, ts=ts)
    assert sandbox.messages(HELP) == []


def test_reactions_state(sandbox: Sandbox, client: WebClient, people: Deliverer) -> None:
    ts = client.chat_postMessage(channel=HELP, text="an answer")["ts"]
    people.react(ALICE, HELP, ts, "thumbsup")
    people.react(DANA, HELP, ts, "thumbsup")
    client.reactions_add(channel=HELP, timestamp=ts, name="white_check_mark")
    assert sandbox.reactions(HELP, ts) == [
        {"name": "thumbsup", "users": [ALICE, DANA], "count": 2},
        {"name": "white_check_mark", "users": [BOT], "count": 1},
    ]
    people.unreact(DANA, HELP, ts, "thumbsup")
    assert client.reactions_get(channel=HELP, timestamp=ts)["message"]["reactions"][0]["count"] == 1


def test_ephemerals_are_not_in_history(sandbox: Sandbox, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel=HELP, user=ALICE, text="only you")
    assert sandbox.ephemerals(ALICE)[0]["text"] == "only you" and sandbox.ephemerals(DANA) == []
    assert sandbox.ephemerals(ALICE)[0]["ts"] == answer["message_ts"]
    assert client.conversations_history(channel=HELP)["messages"] == []


def test_views_open_push_update_publish(sandbox: Sandbox, client: WebClient, sandbox_clock: FakeClock) -> None:
    trigger = sandbox.new_trigger(DANA)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Answer"}, "blocks": []}
    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    assert opened["id"].startswith("V") and opened["root_view_id"] == opened["id"]
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id=trigger, view=modal)
    assert raised.value.response["error"] == "exchanged_trigger_id"
    late = sandbox.new_trigger(DANA)
    sandbox_clock.advance(4)
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id=late, view=modal)
    assert raised.value.response["error"] == "expired_trigger_id"
    pushed = client.views_push(trigger_id=sandbox.new_trigger(DANA), view=modal)["view"]
    assert pushed["previous_view_id"] == opened["id"]
    assert [v["id"] for v in sandbox.open_modals(DANA)] == [opened["id"], pushed["id"]]
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id=opened["id"], hash="stale", view=modal)
    assert raised.value.response["error"] == "hash_conflict"
    client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal | {"callback_id": "done"})
    assert sandbox.views[opened["id"]]["callback_id"] == "done"
    with pytest.raises(SlackApiError) as raised:
        client.views_open(
            trigger_id=sandbox.new_trigger(DANA),
            view=modal | {"title": {"type": "plain_text", "text": "x" * 25}},
        )
    assert "must be less than 25 characters" in raised.value.response["response_metadata"]["messages"][0]
    home_blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Your questions"}}]
    first = client.views_publish(user_id=ALICE, view={"type": "home", "blocks": home_blocks})["view"]
    again = client.views_publish(user_id=ALICE, view={"type": "home", "blocks": []})["view"]
    assert first["id"] == again["id"] and sandbox.home(ALICE) is not None and sandbox.home(DANA) is None


def test_response_url_messages(sandbox: Sandbox, client: WebClient) -> None:
    def post(url: str, body: JSON) -> int:
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request) as response:
            return int(response.status)

    url = sandbox.response_url("commands", channel=HELP, user=ALICE)
    assert url.startswith(sandbox.url + "/response/")
    assert post(url, {"text": "just for you"}) == 200
    assert sandbox.ephemerals(ALICE)[-1]["text"] == "just for you"
    post(url, {"text": "for everyone", "response_type": "in_channel"})
    assert sandbox.messages(HELP)[-1]["text"] == "for everyone"
    ts = client.chat_postMessage(channel=HELP, text="pick one")["ts"]
    action_url = sandbox.response_url("actions", channel=HELP, user=ALICE, message_ts=ts)
    post(action_url, {"text": "picked", "replace_original": True})
    assert sandbox.message(HELP, ts)["text"] == "picked"  # type: ignore[index]
    post(action_url, {"delete_original": True})
    assert sandbox.message(HELP, ts) is None
    assert [r["json"].get("text") for r in sandbox.responses] == [
        "just for you",
        "for everyone",
        "picked",
        None,
    ]


# --- signed delivery ------------------------------------------------------------------------------
def test_signatures_verify_with_slack_sdk(sandbox: Sandbox, people: Deliverer, recorder: Recorder) -> None:
    people.post(ALICE, HELP, "hello")
    body, headers = recorder.requests[-1]
    verifier = SignatureVerifier(sandbox.signing_secret)
    assert headers["Content-Type"] == "application/json"
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert verifier.is_valid_request(body, headers)
    people.post(ALICE, HELP, "forged", signing_secret="not-the-secret")
    people.post(ALICE, HELP, "stale", timestamp_offset=-600)
    assert not verifier.is_valid_request(*recorder.requests[-2])
    assert not verifier.is_valid_request(*recorder.requests[-1])
    delivery = people.send_event({"type": "app_uninstalled"}, raw_body="{not json")
    assert recorder.requests[-1][0] == "{not json" and delivery.request_body == "{not json"
    assert verifier.is_valid_request(*recorder.requests[-1])  # signed as sent


def test_redelivery_keeps_the_event_id_and_adds_retry_headers(people: Deliverer, recorder: Recorder) -> None:
    first = people.open_home(ALICE)
    again = people.redeliver(first, retry_num=2, retry_reason="http_error")
    assert again.payload["event_id"] == first.payload["event_id"] and again.request_body == first.request_body
    headers = recorder.requests[-1][1]
    assert (headers["X-Slack-Retry-Num"], headers["X-Slack-Retry-Reason"]) == ("2", "http_error")
    assert "X-Slack-Retry-Num" not in recorder.requests[0][1]
    people.post(ALICE, HELP, "again", retry_num=1)
    assert recorder.requests[-1][1]["X-Slack-Retry-Reason"] == "http_timeout"
    assert len({json.loads(b)["event_id"] for b, _ in recorder.requests}) == 2


def test_delivery_over_real_http(sandbox: Sandbox) -> None:
    received: list[tuple[str, dict[str, str]]] = []

    class Bot(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((body, dict(self.headers)))
            answer = b'{"response_action": "clear"}' if "view_submission" in body else b""
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Bot)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        people = Deliverer(sandbox, f"http://127.0.0.1:{server.server_address[1]}/slack/events")
        delivery = people.command(ALICE, HELP, "/peerbot", "ask How do I deploy?")
    finally:
        server.shutdown()
        server.server_close()
    body, headers = received[0]
    assert delivery.status == 200 and headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(sandbox.signing_secret).is_valid_request(body, headers)
    form = {k: v[0] for k, v in parse_qs(body).items()}
    assert (form["command"], form["text"], form["channel_name"]) == (
        "/peerbot",
        "ask How do I deploy?",
        "help-platform",
    )
    assert form["response_url"].startswith(sandbox.url) and form["trigger_id"]


def test_only_channels_with_the_bot_deliver_events(sandbox: Sandbox, people: Deliverer, recorder: Recorder) -> None:
    people.post(ALICE, NEWS, "the bot is not here")
    assert recorder.requests == [] and len(sandbox.messages(NEWS)) == 1
    people.join(BOT, NEWS)
    people.post(ALICE, NEWS, "now it is")
    kinds = [(json.loads(b)["event"]["type"], json.loads(b)["event"].get("subtype")) for b, _ in recorder.requests]
    assert kinds == [("message", "channel_join"), ("member_joined_channel", None), ("message", None)]
    with pytest.raises(LookupError):
        people.post(EVE, HELP, "Eve is not a member")


# --- payload shapes -------------------------------------------------------------------------------
EVENT_SAMPLES = {
    ("message", None): "MessagePayload",
    ("message", "bot_message"): "MessageBotPayload",
    ("message", "message_changed"): "MessageChangedPayload",
    ("message", "message_deleted"): "MessageDeletedPayload",
    ("message", "thread_broadcast"): "MessageThreadBroadcastPayload",
    ("message", "file_share"): "MessageFileSharePayload",
    ("message", "channel_join"): "MessageChannelJoinPayload",
    ("app_mention", None): "AppMentionPayload",
    ("reaction_added", None): "ReactionAddedPayload",
    ("reaction_removed", None): "ReactionRemovedPayload",
    ("member_joined_channel", None): "MemberJoinedChannelPayload",
    ("team_join", None): "TeamJoinPayload",
    ("app_home_opened", None): "AppHomeOpenedPayload",
}
# As the specs README says: keep an allow-list. Slack sends event_ts on every event (team_join's sample
# lacks it) and the Java samples drop a view's blocks.
EVENT_ALLOWED = frozenset({"event_ts", "blocks"})


def _play_everything(sandbox: Sandbox, people: Deliverer, client: WebClient) -> None:
    ts = people.post(ALICE, HELP, "How do I rotate <@UPEERBOT1> keys? <https://wiki.example.com|wiki>")
    reply = people.post(DANA, HELP, "Like this", thread_ts=ts)
    people.post(DANA, HELP, "Everyone should know", thread_ts=ts, broadcast=True)
    people.post(ALICE, HELP, "logs attached", files=["trace.log"])
    people.edit(DANA, HELP, reply, "Like this, edited")
    people.react(ALICE, HELP, reply, "thumbsup")
    people.unreact(ALICE, HELP, reply, "thumbsup")
    people.delete(DANA, HELP, reply)
    people.delete(ALICE, HELP, ts)  # parent with a reply left: a tombstone
    client.chat_postMessage(channel=HELP, text="bot says hi")
    people.bot_post(HELP, "Deploy finished")
    people.join(EVE, HELP)
    people.team_join(EVE)
    client.views_publish(user_id=EVE, view={"type": "home", "blocks": [{"type": "divider"}]})
    people.open_home(EVE)
    people.post(EVE, BOT, "hi Peerbot, in my DM")


def test_every_event_has_slacks_shape(sandbox: Sandbox, people: Deliverer, client: WebClient) -> None:
    import jsonschema

    schema = json.loads((_specs() / "events-api/asyncapi/slack_common_event_wrapper_schema.json").read_text())
    schema["required"] = [r for r in schema["required"] if r != "authed_users"]
    _play_everything(sandbox, people, client)
    seen = set()
    for delivery in people.events:
        body = json.loads(delivery.request_body)
        jsonschema.validate(body, schema)
        event = body["event"]
        key = (event["type"], event.get("subtype"))
        seen.add(key)
        sample = _sample(f"events-api/java-sdk-samples/events/{EVENT_SAMPLES[key]}.json")
        assert extra_keys({k: v for k, v in body.items() if k != "event"}, sample) == [], key
        assert extra_keys(event, sample["event"], EVENT_ALLOWED) == [], key
    assert seen == set(EVENT_SAMPLES)
    assert len({d.payload["event_id"] for d in people.events}) == len(people.events)
    changed = [d.payload["event"] for d in people.events if d.payload["event"].get("subtype") == "message_changed"]
    assert changed[-1]["message"]["subtype"] == "tombstone" and changed[0]["message"]["edited"]["user"] == DANA
    dm_event = people.events[-1].payload["event"]
    assert dm_event["channel_type"] == "im" and dm_event["channel"] == sandbox.dm_channel(EVE)


def test_mentions_deliver_message_then_app_mention(people: Deliverer) -> None:
    people.post(ALICE, HELP, "<@UPEERBOT1> can you help?")
    assert [d.payload["event"]["type"] for d in people.events] == ["message", "app_mention"]
    people.post(ALICE, BOT, "<@UPEERBOT1> in a DM")  # no app_mention in DMs
    assert [d.payload["event"]["type"] for d in people.events][2:] == ["message"]


def _bolt_like(answer: JSON | None = None) -> Recorder:
    return Recorder(lambda body, headers: (200, json.dumps(answer) if answer else ""))


def test_interactive_payloads_have_slacks_shape(sandbox: Sandbox, client: WebClient) -> None:
    _specs()
    blocks = [
        {
            "type": "actions",
            "block_id": "act",
            "elements": [
                {
                    "type": "button",
                    "action_id": "answer",
                    "text": {"type": "plain_text", "text": "Answer"},
                    "value": "q1",
                },
                {
                    "type": "static_select",
                    "action_id": "snooze",
                    "placeholder": {"type": "plain_text", "text": "Snooze"},
                    "options": [{"text": {"type": "plain_text", "text": "1 hour"}, "value": "1h"}],
                },
            ],
        }
    ]
    ts = client.chat_postMessage(channel=DANA, text="New question", blocks=blocks)["ts"]
    people = Deliverer(sandbox, _bolt_like({"response_action": "errors", "errors": {"text": "Too short"}}))
    command = people.command(ALICE, HELP, "/peerbot", "ask hi")
    assert (
        extra_keys(
            command.payload,
            _sample("events-api/java-sdk-samples/app-backend/slash-commands/SlashCommandPayload.json"),
        )
        == []
    )
    click = people.click(DANA, "answer")
    assert click.payload["actions"][0]["value"] == "q1" and click.payload["container"]["channel_id"].startswith("D")
    select = people.click(DANA, "snooze", "1h", message=(sandbox.dm_channel(DANA) or "", ts))
    assert select.payload["actions"][0]["selected_option"]["value"] == "1h"
    block_sample = _sample("events-api/java-sdk-samples/app-backend/interactive-components/BlockActionPayload.json")
    for delivery in (click, select):
        assert extra_keys(delivery.payload, block_sample, frozenset({"blocks"})) == []
    shortcut = people.message_shortcut(DANA, HELP, people.post(ALICE, HELP, "q?"), "ask_peerbot")
    assert (
        extra_keys(
            shortcut.payload,
            _sample("events-api/java-sdk-samples/app-backend/interactive-components/MessageShortcutPayload.json"),
            frozenset({"blocks"}),
        )
        == []
    )
    modal = {
        "type": "modal",
        "callback_id": "answer_modal",
        "title": {"type": "plain_text", "text": "Answer"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": {"type": "plain_text", "text": "Answer"},
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }
    view_id = client.views_open(trigger_id=click.payload["trigger_id"], view=modal)["view"]["id"]
    submitted = people.submit(DANA, view_id, {"answer": {"text": "Use vault"}})
    assert submitted.payload["view"]["state"]["values"] == {
        "answer": {"text": {"type": "plain_text_input", "value": "Use vault"}}
    }
    submission_sample = _sample("events-api/java-sdk-samples/app-backend/views/ViewSubmissionPayload.json")
    assert extra_keys(submitted.payload, submission_sample, frozenset({"blocks", "response_urls"})) == []
    assert [v["id"] for v in sandbox.open_modals(DANA)] == [view_id]  # errors keep the modal open
    with pytest.raises(ValueError):
        people.submit(DANA, view_id, {})
    with pytest.raises(LookupError):
        people.click(DANA, "no_such_button")


def test_view_submission_closes_or_updates_the_modal(sandbox: Sandbox, client: WebClient) -> None:
    recorder = _bolt_like(None)
    people = Deliverer(sandbox, recorder)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Ask"}, "blocks": []}
    view_id = client.views_open(trigger_id=sandbox.new_trigger(ALICE), view=modal)["view"]["id"]
    people.submit(ALICE, view_id, {})
    assert sandbox.open_modals(ALICE) == []
    view_id = client.views_open(trigger_id=sandbox.new_trigger(ALICE), view=modal)["view"]["id"]
    recorder.answer = lambda body, headers: (
        200,
        json.dumps(
            {
                "response_action": "update",
                "view": modal | {"title": {"type": "plain_text", "text": "Thanks!"}},
            }
        ),
    )
    people.submit(ALICE, view_id, {})
    assert sandbox.open_modals(ALICE)[0]["title"]["text"] == "Thanks!"


def test_command_ack_body_is_shown_to_the_user(sandbox: Sandbox) -> None:
    people = Deliverer(sandbox, _bolt_like({"text": "Looking for answers…"}))
    people.command(ALICE, HELP, "/peerbot", "ask How?")
    assert sandbox.ephemerals(ALICE)[-1]["text"] == "Looking for answers…"


# --- with a real Bolt app -------------------------------------------------------------------------
def test_a_bolt_app_runs_against_the_sandbox(sandbox: Sandbox) -> None:
    from slack_bolt import App, BoltRequest

    app = App(client=sandbox.client(), signing_secret=sandbox.signing_secret, process_before_response=True)

    @app.event("message")
    def on_message(event: JSON, client: WebClient) -> None:
        if event.get("subtype") is None and "thread_ts" not in event:
            client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text="Looking into it")

    @app.event("reaction_added")
    def on_reaction(event: JSON, client: WebClient) -> None:
        client.reactions_add(channel=event["item"]["channel"], timestamp=event["item"]["ts"], name="eyes")

    @app.command("/peerbot")
    def on_command(ack: Any, respond: Any) -> None:
        ack()
        respond(text="Asked!", response_type="in_channel")

    def dispatch(body: str, headers: dict[str, str]) -> tuple[int, str]:
        response = app.dispatch(BoltRequest(body=body, headers=headers))
        return response.status, response.body

    people = Deliverer(sandbox, dispatch)
    ts = people.post(ALICE, HELP, "How do I rotate keys?")
    people.react(DANA, HELP, ts, "raising_hand")
    people.command(ALICE, HELP, "/peerbot", "ask something")
    assert all(d.status == 200 for d in people.events)
    assert sandbox.replies(HELP, ts)[0]["text"] == "Looking into it"
    assert [r["name"] for r in sandbox.reactions(HELP, ts)] == ["raising_hand", "eyes"]
    assert sandbox.messages(HELP)[-1]["text"] == "Asked!"
    forged = people.post(ALICE, HELP, "forged", signing_secret="wrong")
    assert forged and people.events[-1].status == 401
    assert sandbox.violations == []


def test_people_can_only_change_what_slack_lets_them(sandbox: Sandbox, people: Deliverer) -> None:
    ts = people.post(ALICE, HELP, "mine")
    with pytest.raises(PermissionError):
        people.edit(DANA, HELP, ts, "not yours")
    people.delete(DANA, HELP, ts)  # Dana is an admin
    assert sandbox.messages(HELP) == []
    with pytest.raises(LookupError):
        people.post("UNOBODY01", BOT, "who am I?")
    assert sandbox.dm_channel("UNOBODY01") is None


def test_home_opened_carries_the_published_view(sandbox: Sandbox, client: WebClient, people: Deliverer) -> None:
    first = people.open_home(ALICE).payload["event"]
    assert "view" not in first and first["channel"] == sandbox.dm_channel(ALICE) and first["tab"] == "home"
    client.views_publish(user_id=ALICE, view={"type": "home", "blocks": []})
    assert people.open_home(ALICE).payload["event"]["view"]["type"] == "home"
    assert "view" not in people.open_home(ALICE, tab="messages").payload["event"]


def test_calls_can_be_filtered_and_cleared(sandbox: Sandbox, client: WebClient) -> None:
    client.auth_test()
    client.users_info(user=ALICE)
    assert [c.method for c in sandbox.calls] == ["auth.test", "users.info"]
    assert sandbox.calls_to("users.info")[0].args == {"user": ALICE}
    sandbox.clear_calls()
    assert sandbox.calls == []


# --- the transcript -------------------------------------------------------------------------------
def test_transcript_reads_like_slack(sandbox: Sandbox, client: WebClient, people: Deliverer) -> None:
    ts = people.post(ALICE, HELP, "How do I rotate the <@UDANA0001> &lt;staging&gt; password?")
    client.chat_postMessage(
        channel=HELP,
        thread_ts=ts,
        text="fallback",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "I found *1* similar question"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "asked in <#CHELP0001>"}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "solved",
                        "text": {"type": "plain_text", "text": "This solved it"},
                    }
                ],
            },
        ],
    )
    client.reactions_add(channel=HELP, timestamp=ts, name="eyes")
    client.chat_postEphemeral(channel=HELP, user=ALICE, text="Routing to experts")
    client.chat_postMessage(channel=DANA, text="New question from <@UALICE001>")
    people.post(DANA, BOT, "On it")
    client.views_publish(
        user_id=DANA,
        view={
            "type": "home",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Questions waiting for you"}}],
        },
    )
    people.post(DANA, HELP, "Use vault rotate", thread_ts=ts)
    lines = sandbox.render_transcript().splitlines()
    assert lines[0] == "#help-platform  Alice Chen: How do I rotate the @Dana Ortiz <staging> password?"
    assert lines[1] == "#help-platform    ↳ Peerbot: I found *1* similar question"
    assert lines[2].endswith("asked in #help-platform") and lines[3].strip() == "[This solved it]"
    assert lines[4].startswith("#help-platform    :eyes: added by Peerbot on Alice Chen's message")
    assert lines[5] == "(only visible to Alice Chen) #help-platform  Peerbot: Routing to experts"
    assert lines[6] == "DM Peerbot → Dana Ortiz: New question from @Alice Chen"
    assert lines[7] == "DM Dana Ortiz → Peerbot: On it"
    assert lines[8] == "[Home tab of Dana Ortiz, published by Peerbot] Questions waiting for you"
    assert lines[9].startswith('#help-platform    ↳ Dana Ortiz (in the thread of Alice Chen: "How do I rotate')
    assert lines[9].endswith(": Use vault rotate")
    entry = sandbox.timeline[0]
    assert (entry["kind"], entry["who"], entry["where"]) == ("message", ALICE, "#help-platform")
    assert sandbox.render_transcript(sandbox.timeline[-1:]).count("\n") == 1


def test_delivery_json_helper() -> None:
    assert Delivery(200, '{"a": 1}', {}).json() == {"a": 1} and Delivery(200, "", {}).json() is None
