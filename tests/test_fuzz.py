"""Fuzzing the HTTP front with mutated, correctly signed Slack requests; signatures; quoting; admins; secrets.

A mutated request is *garbage* when its body does not parse, or when a field the bot relies on is missing,
empty or of the wrong type (see `broken`): garbage must write no row. Every other mutation is a *valid
variant* (other ids, other text, junk in fields the bot does not read): it may be stored like any request.
Either way the answer is 2xx or 4xx, never 5xx, and no exception escapes `handle_events`.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from conftest import ALICE, BOB, DANA, HELP, PRIYA, RANDOM, SPECS, Clock, Rig, make_rig
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from slack_bolt.context import BoltContext
from slack_bolt.request import payload_utils
from slack_bolt.request.internals import build_context, extract_team_id
from sqlalchemy import Engine, text

from bot.server import handle_events, parse
from handlers import ids
from sandbox.delivery import FORM, JSON_TYPE, sign
from scheduled.jobs import digest, escalate

JSON = dict[str, Any]
COUNTED = ("questions", "answers", "followups", "votes", "experts", "expert_topics", "assignments", "enrolments")
HIRE = "UNEWHIRE1"
FIGURES: Counter[str] = Counter()  # kind/status/garbage tallies, printed with -s


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # a Tuesday: 10:00 in New York, Dana is at work


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    env = {"PEERBOT_EXPERTS_PER_ROUND": "1", "PEERBOT_ADMINS": PRIYA, "PEERBOT_SEARCH_ENGINE": "database"}
    for r in make_rig(engine, clock, **env):
        r.slack.add_user(HIRE, "sam", real_name="Sam Rivera")
        yield r


FUZZ = settings(
    max_examples=700,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- what Slack sends, and what counts as garbage ----------------------------------------------


def scenario(rig: Rig) -> None:
    """Real traffic through the real app: every request the sandbox sends becomes a seed."""
    rig.people.command(DANA, HELP, "/peerbot", "expert add postgres, kubernetes")
    q = rig.people.post(ALICE, HELP, "How do I rotate the #postgres password on staging?")
    a = rig.people.post(BOB, HELP, "Use vault write -f database/rotate-root/staging.", thread_ts=q)
    rig.people.post(ALICE, HELP, "Thanks, and for prod?", thread_ts=q)
    rig.people.react(ALICE, HELP, a, "+1")
    rig.people.unreact(ALICE, HELP, a, "+1")
    rig.people.edit(BOB, HELP, a, "Use vault write -f database/rotate-root/staging, then restart.")
    rig.people.post(ALICE, RANDOM, f"<@{rig.slack.bot_user_id}> where are the #kubernetes dashboards?")
    rig.people.message_shortcut(BOB, RANDOM, rig.slack.messages(RANDOM)[-1]["ts"], ids.ASK_SHORTCUT)
    rig.people.open_home(ALICE)
    rig.people.team_join(HIRE)
    dm = rig.slack.dm_channel(DANA)
    assert dm is not None
    asked = [m for m in rig.slack.messages(dm) if ids.ANSWER in str(m.get("blocks"))]
    rig.people.click(DANA, ids.ANSWER, message=(dm, asked[-1]["ts"]))
    [modal] = rig.slack.open_modals(DANA)
    rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: "Ask #db-admins."}})
    rig.people.command(ALICE, HELP, "/peerbot", "search postgres")
    last = rig.slack.messages(HELP)[-1]["ts"]
    rig.people.delete(ALICE, HELP, last)


def seeds_from(rig: Rig) -> dict[str, list[JSON]]:
    """The scenario's requests by kind (event, command, interactive), plus Slack's own published samples."""
    scenario(rig)
    found: dict[str, list[JSON]] = {k: [] for k in ("event", "command", "interactive")}
    found.update({f"{k}_sample": [] for k in found})
    for d in rig.people.events:
        kind = "event" if d.content_type == JSON_TYPE else "command" if d.kind == "command" else "interactive"
        found[kind].append(copy.deepcopy(d.payload))
    samples = SPECS / "events-api" / "java-sdk-samples"
    for path in sorted((samples / "events").glob("*.json"))[::4]:
        found["event_sample"].append(_sample(rig, json.loads(path.read_text())))
    for path in sorted((samples / "app-backend").glob("*/*.json")):
        payload = json.loads(path.read_text())
        if "command" in payload:
            found["command_sample"].append({k: str(v) for k, v in _sample(rig, payload).items()})
        else:
            found["interactive_sample"].append(_sample(rig, payload))
    bolt_samples = SPECS / "events-api" / "bolt-python-payloads" / "bolt-python-scenario-payloads.json"
    bolt = json.loads(bolt_samples.read_text())
    for entry in list(bolt["payloads"].values())[::6]:
        value = entry["value"]
        if isinstance(value, dict) and value.get("type") == "event_callback":
            found["event_sample"].append(_sample(rig, value))
    return found


def _sample(rig: Rig, payload: JSON) -> JSON:
    """A published sample with our workspace's ids, so it reaches the listeners."""
    payload = copy.deepcopy(payload)
    if "team_id" in payload:
        payload["team_id"] = rig.slack.team_id
    if "event_id" in payload:
        payload["event_id"] = "EvSAMPLE"
    return payload


_S, _L, _D = str, list, dict
EVENT_FIELDS: dict[str, dict[str, tuple[type, bool]]] = {  # event type -> field -> (type, required)
    "message": {"channel": (_S, True), "ts": (_S, False), "text": (_S, False), "user": (_S, False),
                "thread_ts": (_S, False), "subtype": (_S, False), "bot_id": (_S, False), "files": (_L, False),
                "message": (_D, False), "previous_message": (_D, False), "deleted_ts": (_S, False),
                "blocks": (_L, False), "edited": (_D, False)},
    "app_mention": {"channel": (_S, True), "ts": (_S, True), "user": (_S, True), "text": (_S, True),
                    "thread_ts": (_S, False), "blocks": (_L, False), "files": (_L, False)},
    "reaction_added": {"user": (_S, True), "reaction": (_S, True), "item": (_D, True), "item_user": (_S, False)},
    "reaction_removed": {"user": (_S, True), "reaction": (_S, True), "item": (_D, True), "item_user": (_S, False)},
    "team_join": {"user": (_D, True)},
    "member_joined_channel": {"user": (_S, True), "channel": (_S, True), "inviter": (_S, False)},
    "app_home_opened": {"user": (_S, True), "tab": (_S, True), "channel": (_S, False), "view": (_D, False)},
}  # fmt: skip
NESTED: dict[str, dict[str, tuple[type, bool]]] = {  # dicts inside events, checked the same way
    "item": {"type": (_S, False), "channel": (_S, True), "ts": (_S, True)},
    "user": {"id": (_S, True), "tz": (_S, False), "real_name": (_S, False), "name": (_S, False)},
    "message": {"ts": (_S, True), "text": (_S, False), "user": (_S, False), "thread_ts": (_S, False),
                "subtype": (_S, False), "bot_id": (_S, False), "files": (_L, False), "blocks": (_L, False)},
    "previous_message": {"ts": (_S, True), "text": (_S, False), "user": (_S, False), "thread_ts": (_S, False)},
}  # fmt: skip
INTERACTIVE_FIELDS: dict[str, tuple[type, bool]] = {
    "type": (_S, True), "user": (_D, True), "team": (_D, False), "trigger_id": (_S, True), "actions": (_L, False),
    "view": (_D, False), "callback_id": (_S, False), "message": (_D, False), "channel": (_D, False),
    "container": (_D, False), "response_url": (_S, False), "message_ts": (_S, False), "state": (_D, False),
}  # fmt: skip
INTERACTIVE_KINDS = {"block_actions": "actions", "view_submission": "view", "message_action": "message"}
VIEW_FIELDS: dict[str, tuple[type, bool]] = {
    "id": (_S, True), "callback_id": (_S, True), "private_metadata": (_S, False), "state": (_D, True),
    "hash": (_S, False), "blocks": (_L, False), "type": (_S, False),
}  # fmt: skip
COMMAND_FIELDS = ("command", "user_id", "channel_id", "team_id", "trigger_id", "response_url")


def _bad_fields(obj: JSON, schema: dict[str, tuple[type, bool]]) -> bool:
    for name, (kind, required) in schema.items():
        value = obj.get(name)
        if value is None:
            if required:
                return True
            continue
        if not isinstance(value, kind) or (kind is str and required and not value):
            return True
    return False


STATE_FIELDS: dict[str, tuple[type, bool]] = {
    "type": (_S, False), "selected_date": (_S, False), "value": (_S, False), "selected_option": (_D, False),
    "selected_options": (_L, False), "selected_users": (_L, False), "selected_user": (_S, False),
}  # fmt: skip


def bad_state(state: JSON) -> bool:
    """A view's state: {block_id: {action_id: {"value": str} or selected options}}, as Slack sends it."""
    values = state.get("values")
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        return True
    for entry in (e for by_action in values.values() for e in by_action.values()):
        if not isinstance(entry, dict) or _bad_fields(entry, STATE_FIELDS):
            return True
        options = [entry.get("selected_option"), *(entry.get("selected_options") or [])]
        if not all(o is None or (isinstance(o, dict) and isinstance(o.get("value"), str)) for o in options):
            return True
        if not all(isinstance(u, str) for u in entry.get("selected_users") or []):
            return True
    return False


TOKEN = re.compile(r"[A-Za-z0-9._-]{0,32}")
ID_FIELDS = {"user", "user_id", "channel", "channel_id", "team", "team_id", "enterprise_id", "ts", "thread_ts",
             "event_ts", "deleted_ts", "message_ts", "item_user", "inviter", "bot_id", "parent_user_id"}  # fmt: skip


OWNERS = ("user", "channel", "team", "enterprise")  # these may be objects, with an "id"


def bad_ids(value: Any) -> bool:
    """Slack's ids and timestamps are short ASCII tokens (event ids and reaction names up to 64); no text has NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(bad_ids(v) for v in value)
    if not isinstance(value, dict):
        return False
    for key, inner in value.items():
        if "\x00" in key:
            return True
        if key in ID_FIELDS and not (inner is None or isinstance(inner, dict) or TOKEN.fullmatch(str(inner))):
            return True
        if key in ID_FIELDS and not (isinstance(inner, str | None) or (isinstance(inner, dict) and key in OWNERS)):
            return True
        if (
            isinstance(inner, str)
            and key in ("event_id", "reaction")
            and (len(inner) > 64 or any(c.isspace() for c in inner))
        ):
            return True
        owner = isinstance(inner, dict) and key in OWNERS
        if owner and not (isinstance(inner.get("id"), str) and TOKEN.fullmatch(inner["id"]) and inner["id"]):
            return True
        if bad_ids(inner):
            return True
    return False


def foreign_metadata(view: Any) -> bool:
    """The bot's modals carry a JSON object in private_metadata; Slack hands it back unchanged."""
    metadata = view.get("private_metadata") if isinstance(view, dict) else None
    if metadata in (None, ""):
        return False
    try:
        return not isinstance(json.loads(metadata), dict)
    except (TypeError, ValueError):
        return True


def not_url(payload: JSON) -> bool:
    url = payload.get("response_url")
    return "response_url" in payload and not (isinstance(url, str) and url.startswith(("http://", "https://")))


# What Bolt reads before any listener, with the types Slack documents (None: absent).
_ID, _OBJ = (str, type(None)), (str, dict, type(None))
BOLT_FIELDS: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("type", "team_id", "enterprise_id", "api_app_id", "event_id", "user_id", "channel_id",
                     "callback_id", "command", "thread_ts", "user_team", "id", "app_installed_team_id"), _ID),
    **dict.fromkeys(("team", "enterprise", "user", "channel"), _OBJ),
    **dict.fromkeys(("message", "previous_message", "item"), (dict, type(None))),
    "event": (dict,), "view": (dict,), "authorizations": (list, type(None)), "actions": (list, type(None)),
    "is_enterprise_install": (bool, str, type(None)), "is_ext_shared_channel": (bool, type(None)),
}  # fmt: skip
BOLT_NESTED = ("event", "message", "previous_message", "item", "view", "team", "enterprise", "user", "channel")


def bolt_unreadable(obj: JSON, depth: int = 0) -> bool:
    """Would Bolt's own readers (before any listener) trip over this payload?"""
    if any(key in obj and not isinstance(obj[key], allowed) for key, allowed in BOLT_FIELDS.items()):
        return True
    event, authorizations = obj.get("event"), obj.get("authorizations") or []
    if isinstance(event, dict) and not isinstance(event.get("type"), str):
        return True
    if authorizations and (not isinstance(authorizations[0], dict) or bolt_unreadable(authorizations[0], depth + 1)):
        return True
    if depth < 3 and any(bolt_unreadable(obj[k], depth + 1) for k in BOLT_NESTED if isinstance(obj.get(k), dict)):
        return True
    if depth > 0 or obj.get("type") == "event_callback":
        return False
    try:
        for reader in (
            "to_options",
            "to_shortcut",
            "to_action",
            "to_view",
            "to_command",
            "to_event",
            "to_message",
            "to_step",
        ):
            getattr(payload_utils, reader)(obj)
        build_context(BoltContext(), obj)
    except (LookupError, TypeError, AttributeError, ValueError):
        return True
    return False


def broken(body: str, content_type: str) -> bool:
    """Is this request garbage (nothing may be stored from it)? Parsed as the server does (`bot.server.parse`)."""
    parsed = parse(body, content_type)
    if parsed is None or bad_ids(parsed):
        return True
    kind = "command" if "command" in parsed else "event" if parsed.get("type") == "event_callback" else "interactive"
    if kind == "command":
        return any(not parsed.get(f) for f in COMMAND_FIELDS) or parsed["command"] != ids.COMMAND or not_url(parsed)
    try:
        no_team = bolt_unreadable(parsed) or not extract_team_id(parsed)
    except Exception:
        no_team = True
    if no_team:
        return True
    if kind == "interactive":
        if not_url(parsed) or foreign_metadata(parsed.get("view")):
            return True
        inner = INTERACTIVE_KINDS.get(str(parsed.get("type")))
        if _bad_fields(parsed, INTERACTIVE_FIELDS) or inner is None or parsed.get(inner) is None:
            return True
        if _bad_fields(parsed["user"], {"id": (_S, True)}):
            return True
        if inner == "actions" and (
            not parsed["actions"]
            or not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in parsed["actions"])
        ):
            return True
        if inner == "message":
            shortcut = {"callback_id": (_S, True), "channel": (_D, True), "response_url": (_S, True)}
            return _bad_fields(parsed, shortcut)
        return inner == "view" and (_bad_fields(parsed["view"], VIEW_FIELDS) or bad_state(parsed["view"]["state"]))
    event = parsed.get("event")
    if parsed.get("type") != "event_callback" or not isinstance(event, dict):
        return True
    if not isinstance(parsed.get("event_id"), str) or not parsed["event_id"]:
        return True
    schema = EVENT_FIELDS.get(str(event.get("type")))
    if schema is None:
        return True  # no listener stores anything for other event types
    if _bad_fields(event, schema):
        return True
    if (
        event.get("type") == "message"
        and event.get("subtype") in (None, "thread_broadcast", "file_share")  # written just now: Slack sends both
        and not (event.get("ts") and (event.get("user") or event.get("bot_id")))
    ):
        return True
    return any(isinstance(event.get(k), dict) and _bad_fields(event[k], s) for k, s in NESTED.items())


# --- mutations ----------------------------------------------------------------------------------

HUGE = "x" * 200_000
UNICODE = "\u202e\u0000\ud7ff\ufeff\U0001f600 Z\u0345\u0361\u0489 \u05d0\u05d1 \u0000"
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", HUGE, UNICODE, "null", "{}", "<!channel>", "UALICE01", "1700000000.000100", "%00"]),
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from([HUGE, UNICODE, "<!channel> <@UHACKER>", "UALICE01", "CHELP001", "1772550000.000100", "help"]),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in items:
        found.append((*prefix, key))
        if len(found) < 400:
            found += _paths(value, (*prefix, key))
    return found


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _apply(obj: Any, path: tuple[Any, ...], op: str, value: Any) -> None:
    *parents, last = path
    for key in parents:
        obj = obj[key]
    if op == "drop":
        del obj[last]
    elif op == "replace":
        obj[last] = value
    elif op == "wrap":
        obj[last] = [obj[last], obj[last]]
    elif op == "nest":
        obj[last] = {"value": obj[last], "extra": value}


@st.composite
def mutated_json(draw: st.DrawFn, seed: JSON) -> JSON:
    payload = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["retext"] * 4 + ["replace"] * 3 + ["drop"] * 2 + ["wrap", "nest"]))
        if op == "retext":  # a valid variant, as long as the field held a string
            op = "replace" if isinstance(_at(payload, path), str) else "drop"
            value: Any = draw(texts)
        else:
            value = draw(garbage) if op in ("replace", "nest") else None
        _apply(payload, path, op, value)
    return payload


@st.composite
def raw_body(draw: st.DrawFn, body: str, kind: str) -> tuple[str, str]:
    """Body-level damage: truncation, a duplicated key, the other content type, junk bytes around it."""
    content_type = JSON_TYPE if kind == "event" else FORM
    how = draw(st.sampled_from(["as_is"] * 6 + ["truncate", "duplicate", "content_type", "junk"]))
    if how == "truncate":
        body = body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    elif how == "duplicate" and kind == "event":
        key = draw(st.sampled_from(["event_id", "team_id", "type", "event"]))
        body = body[:-1] + f", {json.dumps(key)}: {json.dumps(draw(garbage))}}}"
    elif how == "duplicate":
        key = draw(st.sampled_from(["payload", "user_id", "command", "text", "team_id"]))
        body += f"&{key}={quote_plus(json.dumps(draw(garbage)))}"
    elif how == "content_type":
        content_type = draw(st.sampled_from([FORM, JSON_TYPE, "text/plain", "", "multipart/form-data"]))
    elif how == "junk":
        body = draw(st.sampled_from(["\ufeff", " ", "\n", "[", "payload=", "&"])) + body
    return body, content_type


def deliver(rig: Rig, body: str, content_type: str, **headers: str) -> int:
    timestamp = str(int(time.time()))
    sent = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(rig.settings.signing_secret, timestamp, body),
        **headers,
    }
    return handle_events(rig.app, rig.settings.signing_secret, body.encode(), sent).status


def row_counts(rig: Rig) -> tuple[int, ...]:
    query = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in COUNTED)
    with rig.engine.connect() as conn:
        return tuple(conn.execute(text(query)).one())


_fresh = iter(range(10**9))


def fresh_event(seed: JSON) -> JSON:
    """A new delivery: its own event_id and message ts, so dedupe by event id does not hide what it does."""
    payload = copy.deepcopy(seed)
    n = next(_fresh)
    payload["event_id"] = f"EvFUZZ{n:08d}"
    event = payload.get("event")
    if isinstance(event, dict) and event.get("type") in ("message", "app_mention") and "ts" in event:
        event["ts"] = event["event_ts"] = f"{1772550000 + n}.000100"
    return payload


def check(rig: Rig, kind: str, body: str, content_type: str) -> None:
    before = row_counts(rig)
    status = deliver(rig, body, content_type)
    bad = broken(body, content_type)
    FIGURES[f"{kind} {'garbage' if bad else 'variant'} {status}"] += 1
    assert 200 <= status < 500, f"{status} for {content_type} {body[:2000]!r}"
    if bad:
        assert row_counts(rig) == before, f"garbage stored: {content_type} {body[:2000]!r}"


@pytest.fixture
def seeds(rig: Rig) -> dict[str, list[JSON]]:
    found = seeds_from(rig)
    assert all(d.status == 200 for d in rig.people.events), [(d.kind, d.status) for d in rig.people.events]
    return found


def seed(seeds: dict[str, list[JSON]], kind: str) -> st.SearchStrategy[JSON]:
    """Mostly the scenario's own requests; one in four from Slack's published samples."""
    return st.sampled_from([kind] * 3 + [f"{kind}_sample"]).flatmap(lambda key: st.sampled_from(seeds[key]))


def test_mutated_events(rig: Rig, seeds: dict[str, list[JSON]]) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        payload = data.draw(mutated_json(fresh_event(data.draw(seed(seeds, "event")))))
        body, content_type = data.draw(raw_body(json.dumps(payload), "event"))
        check(rig, "event", body, content_type)

    run()


def test_mutated_commands(rig: Rig, seeds: dict[str, list[JSON]]) -> None:
    fields = st.sampled_from(["command", "user_id", "channel_id", "team_id", "text", "trigger_id", "response_url"])
    text_values = st.one_of(st.text(max_size=60), st.sampled_from(["", HUGE, UNICODE, "payload", "expert add ☃"]))

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        form = dict(data.draw(seed(seeds, "command")))
        for _ in range(data.draw(st.integers(1, 3))):
            field = data.draw(fields)
            if data.draw(st.booleans()):
                form.pop(field, None)
            else:
                form[field] = data.draw(text_values)
        body, content_type = data.draw(raw_body(urlencode(form), "command"))
        check(rig, "command", body, content_type)

    run()


def test_mutated_interactions(rig: Rig, seeds: dict[str, list[JSON]]) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        payload = data.draw(mutated_json(data.draw(seed(seeds, "interactive"))))
        inner = json.dumps(payload)
        if data.draw(st.integers(0, 9)) == 0:  # a broken `payload=`
            inner = inner[: data.draw(st.integers(0, len(inner) - 1))]
        body, content_type = data.draw(raw_body(urlencode({"payload": inner}), "interactive"))
        check(rig, "interactive", body, content_type)

    run()


# --- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "{now}"},
        {"X-Slack-Request-Timestamp": "{now}", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "{now}", "X-Slack-Signature": "{wrong}"},
        {"X-Slack-Request-Timestamp": "{old}", "X-Slack-Signature": "{old_sig}"},  # a replay, 6 minutes on
        {"X-Slack-Request-Timestamp": "{future}", "X-Slack-Signature": "{future_sig}"},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "{now_sig}"},
    ],
)
def test_unsigned_badly_signed_and_replayed_requests_are_401(rig: Rig, headers: dict[str, str]) -> None:
    event = {"type": "message", "channel": HELP, "user": ALICE, "text": "How do I reset my VPN token?", "ts": "1.2"}
    body = json.dumps({"type": "event_callback", "team_id": rig.slack.team_id, "event_id": "EvREPLAY", "event": event})
    now = int(time.time())
    secret = rig.settings.signing_secret
    values = {
        "now": str(now),
        "old": str(now - 6 * 60),
        "future": str(now + 6 * 60),
        "wrong": sign("not-the-secret", str(now), body),
        "now_sig": sign(secret, str(now), body),
        "old_sig": sign(secret, str(now - 6 * 60), body),
        "future_sig": sign(secret, str(now + 6 * 60), body),
    }
    sent = {"Content-Type": JSON_TYPE, **{k: v.format(**values) for k, v in headers.items()}}
    assert handle_events(rig.app, secret, body.encode(), sent).status == 401
    assert row_counts(rig) == (0,) * len(COUNTED) and rig.slack.calls == []


@given(body=st.binary(max_size=300))
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_bytes_signed_are_400_and_unsigned_are_401(rig: Rig, body: bytes) -> None:
    timestamp = str(int(time.time()))
    signature = sign(rig.settings.signing_secret, timestamp, body.decode("utf-8", "replace"))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature, "Content-Type": JSON_TYPE}
    status = handle_events(rig.app, rig.settings.signing_secret, body, headers).status
    assert status in (400, 401) or (status < 500 and body.startswith(b"{"))
    assert handle_events(rig.app, rig.settings.signing_secret, body, {"Content-Type": JSON_TYPE}).status in (400, 401)


# --- quoting: user text never pings, links or mentions anyone ----------------------------------

HOSTILE = [
    "<!channel>", "<!here>", "<!everyone>", "<@UHACKER>", "<@UHACKER|admin>", "<!subteam^SHACKERS>",
    "<!subteam^SHACKERS|@oncall>", "<https://evil.example|click>", "<#CEVIL|general>", "<!date^0^{date}|x>",
]  # fmt: skip
FORBIDDEN = ["<!channel", "<!here", "<!everyone", "<@UHACKER", "<!subteam", "<https://evil", "<#CEVIL", "<!date^0^"]


def _mrkdwn_texts(value: Any, top: bool = True) -> Iterator[str]:
    """Every text Slack would render as mrkdwn: `text` of a message, and mrkdwn text objects in blocks."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        if top and isinstance(value.get("text"), str):
            yield value["text"]
        for key, inner in value.items():
            if key not in ("private_metadata",):
                yield from _mrkdwn_texts(inner, top=False)
    elif isinstance(value, list):
        for inner in value:
            yield from _mrkdwn_texts(inner, top=False)
    elif isinstance(value, str) and value.startswith(("[", "{")):
        try:
            yield from _mrkdwn_texts(json.loads(value), top=False)
        except ValueError:
            return


def bot_texts(rig: Rig) -> list[str]:
    """What the bot sent to Slack: messages, updates, ephemerals, DMs, views (Home, modals), response_url posts."""
    found = [t for call in rig.slack.calls for t in _mrkdwn_texts(call.args)]
    found += [t for response in rig.slack.responses for t in _mrkdwn_texts(response["json"])]
    return found


hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)),
    min_size=1,
    max_size=5,
).map(" ".join)


@given(question=hostile_text, answer=hostile_text)
@settings(
    max_examples=12,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failing example is shown as found: shrinking costs minutes here
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_quoted_user_text_never_pings_or_links(engine: Engine, question: str, answer: str) -> None:
    clock = Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))
    env = {"PEERBOT_EXPERTS_PER_ROUND": "1", "PEERBOT_ADMINS": PRIYA, "PEERBOT_DIGEST_DAY": "monday",
           "PEERBOT_DIGEST_TIME": "09:00"}  # fmt: skip
    rigs = make_rig(engine, clock, **env)
    rig = next(rigs)
    try:
        question = f"How do I rotate the #postgres password <!channel> {question}?"
        _hostile_flows(rig, clock, question, f"Use vault, <@UHACKER> <https://evil.example|click> {answer}")
        texts = bot_texts(rig)
        assert [t for t in texts for bad in FORBIDDEN if bad in t] == []
        for place, method in PLACES.items():  # the hostile text was quoted (escaped) in every place
            sent = ["\n".join(_mrkdwn_texts(c.args)) for c in rig.slack.calls_to(method)]
            assert any(place in t and "&lt;" in t for t in sent), f"nothing quoted in {method} ({place})"
        next(rigs, None)  # the rig's own checks: every Web API call matched Slack's catalog
    finally:
        rigs.close()
        with rig.engine.begin() as conn:  # the next example starts from an empty database
            for table in CLEANUP:
                conn.execute(text(f"DELETE FROM {table}"))


PLACES = {  # a phrase of each place the bot quotes people -> the Web API method it goes out with
    "asked in": "chat.postMessage",  # the expert's DM
    "answered via Peerbot": "chat.postMessage",  # the answer from the DM, in the thread
    "similar questions": "chat.postMessage",  # suggestions in a repeat question's thread
    "This week in": "chat.postMessage",  # the channel digest
    "Your questions": "views.publish",  # the Home tab
}
CLEANUP = (
    "votes", "followups", "assignments", "question_tags", "answers", "questions", "nudges", "enrolments",
    "expert_topics", "experts", "digests", "tags", "processed_events", "channels", "users", "search_changes",
)  # fmt: skip


def _hostile_flows(rig: Rig, clock: Clock, question: str, answer: str) -> None:
    people = rig.people
    people.command(DANA, HELP, "/peerbot", "expert add postgres")
    people.command(DANA, HELP, "/peerbot", f"expert add {answer}")  # refused topics are echoed back
    people.command(ALICE, HELP, "/peerbot", f"search {answer}")
    q = people.post(ALICE, HELP, f"<@{rig.slack.bot_user_id}> {question}")  # captured, routed: the DM quotes it
    dm = rig.slack.dm_channel(DANA)
    assert dm is not None
    asked = [m for m in rig.slack.messages(dm) if ids.ANSWER in str(m.get("blocks"))]
    people.click(DANA, ids.ANSWER, message=(dm, asked[-1]["ts"]))
    [modal] = rig.slack.open_modals(DANA)
    people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: answer}})  # posted in the thread
    people.post(BOB, HELP, answer, thread_ts=q)
    people.react(ALICE, HELP, rig.slack.replies(HELP, q)[-1]["ts"], "white_check_mark")
    people.post(BOB, HELP, question)  # a repeat: the past answer is suggested in its thread
    people.command(ALICE, HELP, "/peerbot", f"ask {question}")
    people.open_home(ALICE)
    people.open_home(DANA)
    clock.now = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    escalate(rig.deps)
    digest(rig.deps)  # channel, expert and admin digests
    people.open_home(PRIYA)


# --- admins, secrets ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["watch", "watch postgres", "unwatch", f"onboard <@{HIRE}>"])
def test_admin_commands_are_refused_to_non_admins(rig: Rig, command: str) -> None:
    before = row_counts(rig)
    rig.people.command(BOB, RANDOM, "/peerbot", command)
    assert "admins" in rig.slack.responses[-1]["json"]["text"]
    assert row_counts(rig) == before
    with rig.engine.connect() as conn:
        watched = conn.execute(text("SELECT count(*) FROM channels WHERE watched")).scalar()
    assert watched == 0
    rig.people.command(PRIYA, RANDOM, "/peerbot", command)  # an admin may
    assert "admins" not in rig.slack.responses[-1]["json"]["text"]


def test_tokens_and_secrets_never_reach_the_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.slack.inject("chat.postMessage", status=500, times=4)
    rig.slack.inject("reactions.add", error="invalid_auth")
    rig.slack.inject("conversations.info", status=429, retry_after=0)
    scenario(rig)
    deliver(rig, '{"type": "event_callback", "event": ', JSON_TYPE)
    rig.people.post(ALICE, HELP, "How do I rotate the VPN token?", signing_secret="wrong")
    object.__setattr__(rig.deps, "db", _broken_db)
    rig.people.post(ALICE, HELP, "How do I rotate the staging password?")
    rig.people.command(ALICE, HELP, "/peerbot", "expert add postgres")
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert "Slack call" in logged or "failed" in logged
    assert "database unavailable" in logged
    for secret in (rig.settings.bot_token, rig.settings.signing_secret, rig.slack.verification_token):
        assert secret not in logged
        assert secret not in caplog.text


def _broken_db() -> Any:
    from sqlalchemy.exc import OperationalError

    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a check: prints what the fuzzers above tried (run with -s), when they ran in this process."""
    if FIGURES:
        with capsys.disabled():
            for key, n in sorted(FIGURES.items()):
                print(f"fuzz {key}: {n}")


@pytest.mark.parametrize(
    "body", ["[" * 100_000, '{"a":' * 100_000, '{"type": "event_callback", "event": ' + "[" * 50_000]
)
def test_absurdly_nested_bodies_are_400(rig: Rig, body: str) -> None:
    assert deliver(rig, body, JSON_TYPE) == 400


def test_a_command_whose_words_include_payload_is_still_a_command(rig: Rig) -> None:
    """Bolt takes any form containing the text "payload" for an interactivity payload; the server prevents that."""
    rig.people.command(ALICE, HELP, "/peerbot", "search webhook payload")
    assert rig.people.last is not None and rig.people.last.status == 200
    assert "answered questions found" in rig.slack.responses[-1]["json"]["text"]  # the search answered
