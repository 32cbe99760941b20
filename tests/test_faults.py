"""Faults: Slack's 429 storms, 5xx and timeouts, a database outage; every message still goes out exactly once.

Also /metrics (Prometheus text through the WSGI app) and the one structured log line per request.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import ALICE, DANA, HELP, PRIYA, Clock, Rig, make_rig
from sqlalchemy import Engine

from bot import metrics
from bot.server import wsgi_app
from handlers import ids
from scheduled.jobs import digest, escalate, nudge
from storage.db import make_engine, session_factory
from storage.models import Answer, Assignment, Digest, Nudge, ProcessedEvent, Question

QUESTION = "How do I rotate the #postgres password on staging?"
DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
HIRE = "UNEWHIRE1"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # a Tuesday: 10:00 in New York, Dana is at work


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    env = {"PEERBOT_EXPERTS_PER_ROUND": "1", "PEERBOT_ADMINS": PRIYA, "PEERBOT_DIGEST_DAY": "tuesday",
           "PEERBOT_DIGEST_TIME": "16:00"}  # fmt: skip
    for r in make_rig(engine, clock, **env):
        r.slack.add_user(HIRE, "sam", real_name="Sam Rivera", tz="America/New_York")
        yield r


def expert(rig: Rig) -> None:
    rig.people.command(DANA, HELP, "/peerbot", "expert add postgres")
    rig.slack.clear_calls()


def statuses(rig: Rig, method: str) -> list[int]:
    return [c.status for c in rig.slack.calls_to(method)]


def bot_dms(rig: Rig, user: str) -> list[dict[str, Any]]:
    return [m for m in rig.slack.dm_messages(user) if m.get("user") == rig.slack.bot_user_id]


def answer_from_the_dm(rig: Rig, text: str) -> None:
    dm = rig.slack.dm_channel(DANA)
    assert dm is not None
    rig.people.click(DANA, ids.ANSWER, message=(dm, bot_dms(rig, DANA)[-1]["ts"]))
    [modal] = rig.slack.open_modals(DANA)
    assert rig.people.submit(DANA, modal, {ids.ANSWER_BLOCK: {ids.ANSWER_INPUT: text}}).status == 200


def short_timeouts(rig: Rig, seconds: float) -> Callable[[], None]:
    """Make the bot's Web client give up after `seconds` (Bolt's per-request clients copy it); returns the undo."""
    before = rig.deps.client.timeout
    rig.deps.client.timeout = rig.app.client.timeout = seconds  # type: ignore[misc]

    def undo() -> None:
        rig.deps.client.timeout = rig.app.client.timeout = before  # type: ignore[misc]

    return undo


def test_a_429_storm_during_routing_and_answers_delivers_each_message_once(rig: Rig) -> None:
    expert(rig)
    retries = metrics.API_RETRIES.value(method="chat.postMessage", reason="rate_limited")
    rig.slack.inject("chat.postMessage", status=429, retry_after=0, times=3)  # as many as the client retries
    q = rig.people.post(ALICE, HELP, QUESTION)
    assert rig.people.last is not None and rig.people.last.status == 200
    assert statuses(rig, "chat.postMessage") == [429, 429, 429, 200]
    assert len(bot_dms(rig, DANA)) == 1  # the routing DM, once
    rig.slack.inject("chat.postMessage", status=429, retry_after=0, times=3)
    rig.slack.inject("chat.update", status=429, retry_after=0, times=2)
    answer_from_the_dm(rig, "Use vault write -f database/rotate-root/staging.")
    replies = [m for m in rig.slack.replies(HELP, q) if "answered via Peerbot" in m.get("text", "")]
    assert len(replies) == 1 and len(rig.rows(Answer)) == 1
    assert len([m for m in bot_dms(rig, ALICE) if "answered your question" in m["text"]]) == 1
    assert statuses(rig, "chat.update").count(429) == 2 and statuses(rig, "chat.update")[-1] == 200
    posted = statuses(rig, "chat.postMessage")
    assert posted.count(429) == 6 and posted.count(200) == 3  # DM, thread answer, the asker's DM: once each
    assert metrics.API_RETRIES.value(method="chat.postMessage", reason="rate_limited") - retries == 6


def test_a_storm_longer_than_the_retries_leaves_the_dm_to_the_sweep_which_sends_it_once(rig: Rig) -> None:
    expert(rig)
    rig.slack.inject("chat.postMessage", status=429, retry_after=0, times=4)
    rig.people.post(ALICE, HELP, QUESTION)
    assert rig.people.last is not None and rig.people.last.status == 200  # stored; the DM waits for the sweep
    assert bot_dms(rig, DANA) == [] and rig.rows(Assignment)[0].dm_ts == ""
    assert escalate(rig.deps)["resent"] == 1
    assert escalate(rig.deps)["resent"] == 0
    assert len(bot_dms(rig, DANA)) == 1


@pytest.mark.parametrize(
    "method", ["chat.postMessage", "reactions.add", "conversations.open", "chat.getPermalink", "chat.postEphemeral"]
)
def test_5xx_on_any_method_is_retried_and_the_question_routed_once(rig: Rig, method: str) -> None:
    expert(rig)
    rig.slack.inject(method, status=503, times=2)  # within the client's retries
    rig.people.post(ALICE, HELP, QUESTION)
    assert rig.people.last is not None and rig.people.last.status == 200
    assert statuses(rig, method)[:3] == [503, 503, 200]
    assert len(rig.rows(Question)) == 1 and len(bot_dms(rig, DANA)) == 1
    assert escalate(rig.deps)["resent"] == 0 and len(bot_dms(rig, DANA)) == 1


def test_a_timed_out_dm_is_answered_500_then_resent_once_by_the_sweep(rig: Rig, clock: Clock) -> None:
    expert(rig)
    undo = short_timeouts(rig, 0.3)
    rig.slack.inject("chat.postMessage", delay=1.0, status=503, times=3)  # Slack never answers in time
    rig.people.post(ALICE, HELP, QUESTION)
    undo()
    first = rig.people.last
    assert first is not None and first.status == 500  # the client gave up: Slack is asked to retry
    assert len(rig.rows(Question)) == 1 and bot_dms(rig, DANA) == []
    assert rig.people.redeliver(first).status == 200  # Slack's retry stores nothing twice
    assert len(rig.rows(Question)) == 1 and len(rig.rows(Assignment)) == 1
    clock.advance(minutes=5)  # the claim of the DM lapses: the sweep sends it
    escalate(rig.deps)
    escalate(rig.deps)
    assert len(bot_dms(rig, DANA)) == 1


def test_onboarding_nudges_survive_5xx_and_timeouts_exactly_once(rig: Rig, clock: Clock) -> None:
    rig.people.team_join(HIRE)  # 10:00 in New York: the welcome is due at once
    rig.slack.inject("chat.postMessage", status=500, times=3)  # beyond the client's retries
    nudge(rig.deps)
    assert bot_dms(rig, HIRE) == []
    undo = short_timeouts(rig, 0.3)
    rig.slack.inject("chat.postMessage", delay=1.0, status=503)  # the sweep's resend times out
    with contextlib.suppress(Exception):  # the scheduler logs a failed sweep and ticks again
        nudge(rig.deps)
    undo()
    clock.advance(minutes=5)
    nudge(rig.deps)
    nudge(rig.deps)
    assert len(bot_dms(rig, HIRE)) == 1
    assert [n.status for n in rig.rows(Nudge) if n.step == "welcome"] == ["sent"]


def test_digests_survive_a_5xx_storm_and_go_out_once(rig: Rig, clock: Clock) -> None:
    expert(rig)
    q = rig.people.post(ALICE, HELP, QUESTION)
    rig.people.post(DANA, HELP, "Use vault.", thread_ts=q)
    clock.now = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    rig.slack.clear_calls()
    rig.slack.inject("chat.postMessage", status=503, times=3)  # the first digest fails after the retries
    rig.slack.inject("chat.postMessage", status=502, times=2)  # not retried by the client: left for the sweep
    failed = [digest(rig.deps)["failed"]]
    while failed[-1] and len(failed) < 5:
        clock.advance(minutes=5)
        failed.append(digest(rig.deps)["failed"])
    assert failed[0] >= 1 and failed[-1] == 0
    assert digest(rig.deps) == {"sent": 0, "empty": 0, "failed": 0}
    weekly = [m for m in rig.slack.messages(HELP) if "This week in" in m.get("text", "")]
    assert len(weekly) == 1
    sent = [(d.kind, d.target) for d in rig.rows(Digest) if d.status == "sent"]
    assert len(sent) == len(set(sent)) and ("channel", HELP) in sent


def test_a_database_outage_is_a_500_with_a_clear_log_line_and_the_retry_stores_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    working = rig.deps.db
    dead = make_engine(DEAD_DATABASE, connect_args={"connect_timeout": 2})
    object.__setattr__(rig.deps, "db", session_factory(dead))  # Deps is frozen: as if the database went away
    try:
        rig.people.post(ALICE, HELP, QUESTION)
        failed = rig.people.last
        assert failed is not None and failed.status == 500  # Slack will retry
        health = call(rig, "/healthz")
        assert health[0].startswith("503")
    finally:
        object.__setattr__(rig.deps, "db", working)
        dead.dispose()
    line = next(r for r in caplog.records if "database unavailable" in r.getMessage())
    assert line.levelno == logging.ERROR and failed.payload["event_id"] in line.getMessage()
    assert "answering 500 for Slack to retry" in line.getMessage()
    assert f"event_id={failed.payload['event_id']} outcome=error status=500" in caplog.text
    assert rig.rows(Question) == []
    again = rig.people.redeliver(failed, retry_num=1, retry_reason="http_error")
    assert again.status == 200
    assert rig.people.redeliver(failed, retry_num=2, retry_reason="http_error").status == 200
    assert len(rig.rows(Question)) == 1 and len(rig.slack.calls_to("reactions.add")) == 1
    assert [e.event_id for e in rig.rows(ProcessedEvent)] == [failed.payload["event_id"]]
    assert call(rig, "/healthz")[0].startswith("200")


# --- /metrics and the structured log line -------------------------------------------------------


def call(rig: Rig, path: str, method: str = "GET") -> tuple[str, dict[str, str], str]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method}
    body = b"".join(wsgi_app(rig.app, rig.deps)(environ, lambda s, h: seen.append((s, h))))
    return seen[0][0], dict(seen[0][1]), body.decode()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + ("{" + wanted + "}" if wanted else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_in_prometheus_text(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="peerbot.events")
    before = call(rig, "/metrics")[2]
    expert(rig)
    rig.slack.inject("chat.postMessage", status=429, retry_after=0)
    rig.slack.inject("reactions.add", error="too_many_reactions")
    rig.people.post(ALICE, HELP, QUESTION)
    rig.people.send_event({"type": "message"}, raw_body="{oops")  # 400, before any listener
    with metrics.timed_sweep("routing-sweep"):
        escalate(rig.deps)
    status, headers, after = call(rig, "/metrics")
    assert status == "200 OK" and headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE peerbot_events_total counter" in after
    assert "# TYPE peerbot_sweep_duration_seconds histogram" in after

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("peerbot_events_total", type="message", outcome="ok") == 1
    assert grew("peerbot_events_total", type="slash_command", outcome="ok") == 1
    assert grew("peerbot_event_duration_seconds_count", type="message") == 1
    assert grew("peerbot_http_requests_total", status="200") == 2 and grew("peerbot_http_requests_total", status="400")
    assert grew("peerbot_slack_api_calls_total", method="chat.postMessage", status="429") == 1
    assert grew("peerbot_slack_api_calls_total", method="chat.postMessage", status="200") == 1
    assert grew("peerbot_slack_api_retries_total", method="chat.postMessage", reason="rate_limited") == 1
    assert grew("peerbot_slack_api_errors_total", method="reactions.add", error="too_many_reactions") == 1
    assert grew("peerbot_sweep_duration_seconds_count", job="routing-sweep") == 1
    assert grew("peerbot_sweeps_total", job="routing-sweep", outcome="ok") == 1
    assert sample(after, "peerbot_sweep_duration_seconds_bucket", job="routing-sweep", le="+Inf") >= 1
    [line] = [r for r in caplog.records if r.name == "peerbot.events" and "type=message" in r.getMessage()]
    assert re.fullmatch(
        r"event type=message event_id=Ev\w+ outcome=ok status=200 duration_ms=\d+\.\d retry=0", line.getMessage()
    )
    assert line.levelno == logging.INFO


def test_errors_are_counted_and_logged_once_per_request(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    before = metrics.ERRORS.value(type="message")
    working = rig.deps.db
    object.__setattr__(rig.deps, "db", broken)
    try:
        rig.people.post(ALICE, HELP, QUESTION)
    finally:
        object.__setattr__(rig.deps, "db", working)
    assert rig.people.last is not None and rig.people.last.status == 500
    assert metrics.ERRORS.value(type="message") - before == 1
    lines = [r for r in caplog.records if r.name == "peerbot.events"]
    assert len(lines) == 1 and "outcome=error status=500" in lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING


def test_unknown_paths_and_methods_on_the_metrics_endpoint(rig: Rig) -> None:
    assert call(rig, "/metrics", "POST")[0].startswith("404")
    assert call(rig, "/metricsx")[0].startswith("404")
    assert call(rig, "/metrics")[2].endswith("\n")


def test_a_second_app_on_a_dead_database_answers_500_not_an_exception(engine: Engine, clock: Clock) -> None:
    for rig in make_rig(engine, clock):
        object.__setattr__(rig.deps, "db", session_factory(make_engine(DEAD_DATABASE)))
        rig.people.command(ALICE, HELP, "/peerbot", "expert add postgres")
        assert rig.people.last is not None and rig.people.last.status == 500
        assert "something went wrong" in rig.slack.responses[-1]["json"]["text"]
