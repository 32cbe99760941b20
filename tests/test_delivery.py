"""Delivery: Slack's retries change nothing twice; bad requests get 401/400, never 500; Slack errors are survived."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from conftest import ALICE, BOB, DANA, HELP, Rig
from sqlalchemy.exc import OperationalError
from waitress.server import create_server

from bot.deps import Deps
from bot.server import wsgi_app
from sandbox import Deliverer
from storage.models import ProcessedEvent, Question, Vote


def test_slack_retry_of_a_question_changes_nothing(rig: Rig) -> None:
    rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    first = rig.people.last
    assert first is not None
    again = rig.people.redeliver(first, retry_num=1, retry_reason="http_timeout")
    assert again.status == 200
    assert len(rig.rows(Question)) == 1
    assert len(rig.slack.calls_to("reactions.add")) == 1
    assert [e.event_id for e in rig.rows(ProcessedEvent)] == [first.payload["event_id"]]


def test_late_retry_of_a_reaction_does_not_restore_a_removed_vote(rig: Rig) -> None:
    q = rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    a = rig.people.post(DANA, HELP, "Use vault.", thread_ts=q)
    rig.people.react(BOB, HELP, a, "+1")
    added = rig.people.last
    rig.people.unreact(BOB, HELP, a, "+1")
    assert added is not None and rig.rows(Vote) == []
    rig.people.redeliver(added, retry_num=2, retry_reason="http_error")
    assert rig.rows(Vote) == []


def test_bad_signature_and_stale_timestamp_are_401_and_store_nothing(rig: Rig) -> None:
    text = "How do I rotate the staging database password?"
    rig.people.post(ALICE, HELP, text, signing_secret="not-the-secret")
    assert rig.people.last is not None and rig.people.last.status == 401
    rig.people.post(ALICE, HELP, text, timestamp_offset=-6 * 60)
    assert rig.people.last is not None and rig.people.last.status == 401
    assert rig.rows(Question) == []


@pytest.mark.parametrize(
    "body",
    ['{"type": "event_callback", "event": ', "[1, 2, 3]", "", "payload=%7Bnot-json", "payload=[1]", "\x00\x01"],
)
def test_malformed_bodies_are_400(rig: Rig, body: str) -> None:
    d = rig.people.send_event({"type": "message", "text": "x"}, raw_body=body)
    assert d.status == 400
    assert rig.rows(Question) == []


def test_unknown_events_and_subtypes_are_acknowledged_and_ignored(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="peerbot")
    assert rig.people.send_event({"type": "emoji_changed", "subtype": "add", "name": "party"}).status == 200
    d = rig.people.send_event({"type": "message", "subtype": "channel_topic", "channel": HELP, "user": BOB})
    assert d.status == 200
    assert "ignored event type=emoji_changed" in caplog.text
    assert rig.slack.calls == []


def test_url_verification(rig: Rig) -> None:
    d = rig.people.url_verification("abc123")
    assert d.status == 200 and "abc123" in d.body


@pytest.mark.parametrize("fault", [{"error": "channel_not_found"}, {"status": 500, "times": 5}])
def test_slack_error_while_reacting_is_logged_and_the_question_kept(
    rig: Rig, caplog: pytest.LogCaptureFixture, fault: dict[str, object]
) -> None:
    rig.slack.inject("reactions.add", **fault)  # type: ignore[arg-type]
    rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    assert rig.people.last is not None and rig.people.last.status == 200
    assert len(rig.rows(Question)) == 1
    assert "reactions_add failed" in caplog.text


def test_rate_limited_reaction_is_retried_after_retry_after(rig: Rig) -> None:
    rig.slack.inject("reactions.add", status=429, retry_after=0, times=2)
    rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    calls = rig.slack.calls_to("reactions.add")
    assert [c.status for c in calls] == [429, 429, 200]
    assert rig.slack.reactions(HELP, calls[-1].args["timestamp"])


def test_database_outage_is_a_5xx_and_the_retry_stores_it_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    working = rig.deps.db
    object.__setattr__(rig.deps, "db", broken)
    rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    failed = rig.people.last
    assert failed is not None and failed.status == 500  # Slack will retry
    object.__setattr__(rig.deps, "db", working)
    assert rig.people.redeliver(failed).status == 200
    assert rig.people.redeliver(failed, retry_num=2).status == 200
    assert len(rig.rows(Question)) == 1 and len(rig.slack.calls_to("reactions.add")) == 1


@pytest.fixture
def http_url(rig: Rig) -> Iterator[str]:
    server = create_server(wsgi_app(rig.app, rig.deps), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    server.close()


def test_real_http_server(rig: Rig, http_url: str) -> None:
    import urllib.error
    import urllib.request

    people = Deliverer(rig.slack, f"{http_url}/slack/events")
    people.post(ALICE, HELP, "How do I rotate the staging database password?")
    assert people.last is not None and people.last.status == 200
    assert len(rig.rows(Question)) == 1
    people.post(ALICE, HELP, "How do I rotate the prod database password?", signing_secret="wrong")
    assert people.last is not None and people.last.status == 401
    assert people.send_event({"type": "message"}, raw_body="{oops").status == 400
    with urllib.request.urlopen(f"{http_url}/healthz") as r:
        assert r.status == 200
    for path, status in (("/slack/events", 405), ("/nope", 404)):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{http_url}{path}")
        assert info.value.code == status


def test_healthz_reports_a_dead_database(rig: Rig) -> None:
    deps = Deps(settings=rig.settings, db=lambda: (_ for _ in ()).throw(OSError("down")), clock=rig.deps.clock,
                client=rig.deps.client)  # fmt: skip
    statuses: list[str] = []
    body = b"".join(wsgi_app(rig.app, deps)({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"},
                                            lambda s, h: statuses.append(s)))  # fmt: skip
    assert statuses == ["503 Service Unavailable"] and b"database unreachable" in body
