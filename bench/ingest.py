"""Ingest benchmark: CPU per event in process (ratios to a bare Bolt app) and p99 ack latency over HTTP.

python -m bench.ingest [--scale small|full] [--events N] [--seconds S] [--rate R] [--part all|cpu|http]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any
from unittest import mock

import slack_bolt.app.app as bolt_app_module
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, MetaData, Table

from bench import common
from bench.common import CHANNEL, PEOPLE, Request, Workload
from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps, make_client, open_search, utc_now
from bot.server import handle_events, well_formed
from sandbox import Sandbox
from storage.db import make_engine, session_factory, upgrade
from storage.models import Question

Send = Callable[[Request], int]


@dataclass(frozen=True)
class Scale:
    events: int  # requests per workload per round
    rounds: int
    warmup: int
    prefill: int  # questions stored before the "many stored" figure
    seconds: float  # length of the HTTP load
    api_calls: int  # direct Web API calls timed for context


SCALES = {
    "small": Scale(events=250, rounds=3, warmup=50, prefill=10_000, seconds=5.0, api_calls=300),
    "full": Scale(events=800, rounds=5, warmup=150, prefill=100_000, seconds=30.0, api_calls=1000),
}
PREFILL_BUDGET = 60.0  # seconds; the prefill stops there and reports how many it stored


# --- the apps under test -------------------------------------------------------------------------


def bare_bolt(slack: Sandbox) -> Send:
    """The baseline: a bare Bolt app with the same signature check and no-op listeners."""
    client = WebClient(token=slack.bot_token, base_url=slack.base_url)
    app = App(signing_secret=slack.signing_secret, client=client, process_before_response=True)
    app.event("message")(lambda: None)
    app.event("reaction_added")(lambda: None)

    def send(request: Request) -> int:
        headers: dict[str, str | Sequence[str]] = {k.lower(): [v] for k, v in request.headers.items()}
        return app.dispatch(BoltRequest(body=request.body.decode(), headers=headers)).status

    return send


def peerbot(slack: Sandbox, database_url: str, *, client: WebClient | None = None) -> tuple[Send, Engine]:
    """The real app (build_app) behind bot.server.handle_events, on a migrated SQLite file."""
    engine = make_engine(database_url)
    upgrade(engine)
    index_dir = tempfile.mkdtemp(prefix="peerbot-bench-index-")  # the default engine, tantivy, as `run` has it
    settings = Settings.from_env({**common.bot_env(slack, database_url), "PEERBOT_SEARCH_INDEX_DIR": index_dir})
    deps = Deps(
        settings=settings,
        db=session_factory(engine),
        clock=utc_now,
        client=client or make_client(settings),
        search=open_search(settings, engine),
    )
    app = build_app(settings, deps, process_before_response=True)

    def send(request: Request) -> int:
        return handle_events(app, settings.signing_secret, request.body, request.headers).status

    return send, engine


def front_only(slack: Sandbox) -> Send:
    """What handle_events does before app.dispatch: its own signature check and the body check."""

    def send(request: Request) -> int:
        text, h = request.body.decode(), request.headers
        verifier = SignatureVerifier(slack.signing_secret)
        ok = verifier.is_valid(text, h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"])
        return 200 if ok and well_formed(text, h["Content-Type"]) else 401

    return send


@contextlib.contextmanager
def no_web_api_io(client_class: type[WebClient]) -> Iterator[None]:
    """Bolt builds a fresh WebClient per request (App._init_context): make that one the canned client."""
    with mock.patch.object(bolt_app_module, "WebClient", client_class):
        yield


def prefill(engine: Engine, team_id: str, count: int) -> tuple[int, float]:
    """Store `count` older questions with bulk INSERTs of 10k rows; stops after PREFILL_BUDGET seconds.

    Rows start from the model's defaults and keep only the columns the migrated table has.
    """
    table = Table("questions", MetaData(), autoload_with=engine)
    when = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    model = Question(
        team_id=team_id, channel="", ts="", thread_ts="", author="", text="", created_at=when, updated_at=when
    )
    template = {k: v for k, v in model.model_dump(exclude={"id"}).items() if k in table.c}
    started, stored = time.perf_counter(), 0
    while stored < count and time.perf_counter() - started < PREFILL_BUDGET:
        rows = []
        for i in range(stored, min(count, stored + 10_000)):
            ts = f"{1_600_000_000 + i}.000100"
            text = f"How do we configure service-{i % 997} in region {i % 7}?"
            status = ("open", "answered", "resolved")[i % 3]
            channel, author = CHANNEL if i % 4 else "CBENCH002", PEOPLE[i % len(PEOPLE)]
            rows.append(dict(template, ts=ts, thread_ts=ts, text=text, status=status, channel=channel, author=author))
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
        stored += len(rows)
    return stored, time.perf_counter() - started


# --- CPU per event -------------------------------------------------------------------------------


def cpu_per_event(send: Send, requests: list[Request]) -> tuple[float, int]:
    """Thread CPU seconds per request in this (the dispatching) thread, and the count of non-2xx."""
    gc.collect()
    bad, start = 0, time.thread_time()
    for request in requests:
        bad += not 200 <= send(request) < 300
    return (time.thread_time() - start) / len(requests), bad


@dataclass(frozen=True)
class Plan:
    name: str
    kind: str  # a Workload kind, or "mixed"
    app: str  # real | canned (no Web API I/O) | stored (canned, prefilled database) | front
    target: str = "—"
    most: int = 1_000_000  # at most this many requests per round (for slow paths)


PLANS = (
    Plan("chatter (not questions)", "chatter", "real", "≤ 1.5×"),
    Plan("question: capture + reactions.add, real Web API calls", "question", "real"),
    Plan("question: the bot's own work, no Web API I/O", "question", "canned", "≤ 10× ¹"),
    Plan("question: no Web API I/O, {stored} questions stored", "question", "stored", "≤ 10× ¹"),
    Plan("thread reply to a question (answer)", "answer", "real"),
    Plan("thread reply, no Web API I/O, {stored} questions stored", "answer", "stored", most=200),
    Plan("reaction :+1: on an answer (vote)", "vote", "real"),
    Plan("mixed 70/15/10/5 chatter/question/reply/vote", "mixed", "real"),
    Plan("front only: handle_events' checks before app.dispatch", "chatter", "front"),
)


def measure_cpu(scale: Scale, events: int) -> list[dict[str, Any]]:
    slack = common.start_sandbox()
    try:
        with tempfile.TemporaryDirectory(prefix="peerbot-bench-") as tmp:
            return _measure_cpu(slack, Path(tmp), scale, events)
    finally:
        slack.stop()


@dataclass
class Samples:
    """Per plan: (baseline, Peerbot) CPU seconds per event of each round; non-2xx; Web API calls on questions."""

    pairs: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {p.name: [] for p in PLANS})
    errors: Counter[str] = field(default_factory=Counter)
    api_calls: Counter[str] = field(default_factory=Counter)


def _measure_cpu(slack: Sandbox, tmp: Path, scale: Scale, events: int) -> list[dict[str, Any]]:
    canned = common.canned_client_class(slack)
    real, _ = peerbot(slack, f"sqlite:///{tmp / 'peerbot.db'}")
    big, big_engine = peerbot(slack, f"sqlite:///{tmp / 'stored.db'}", client=canned(token=slack.bot_token))
    stored, fill_seconds = prefill(big_engine, slack.team_id, scale.prefill)
    apps, base = {"real": real, "canned": real, "stored": big, "front": front_only(slack)}, bare_bolt(slack)
    # Replies and votes must refer to questions in the same database: one Workload per database.
    works = {"peerbot": Workload(slack, seed=7), "stored": Workload(slack, seed=8)}
    samples = Samples()
    for round_no in range(scale.rounds + 1):  # round 0 is the warm-up: every path, untimed
        for work in works.values():
            work.forget()
        for plan in PLANS:
            work = works["stored" if plan.app == "stored" else "peerbot"]
            requests = work.batch(plan.kind, min(plan.most, scale.warmup if round_no == 0 else events))
            slack.clear_calls()
            canned.calls.clear()  # type: ignore[attr-defined]
            baseline = cpu_per_event(base, requests)[0]
            with no_web_api_io(canned) if plan.app in ("canned", "stored") else contextlib.nullcontext():
                cpu, bad = cpu_per_event(apps[plan.app], requests)
            if round_no > 0:
                samples.pairs[plan.name].append((baseline, cpu))
                samples.errors[plan.name] += bad
                if plan.kind == "question":
                    samples.api_calls[plan.app] += len(slack.calls) + canned.calls.total()  # type: ignore[attr-defined]
    context = [["questions prefilled with bulk INSERTs", f"{stored:,} in {fill_seconds:.1f} s"]]
    costs = client_cost(slack, scale.api_calls)
    return _cpu_sections(samples, costs, context, scale.rounds, events, stored)


def _cpu_sections(
    samples: Samples, costs: dict[str, float], context: list[list[str]], rounds: int, events: int, stored: int
) -> list[dict[str, Any]]:
    rows: list[list[object]] = []
    us: dict[str, float] = {}
    for plan in PLANS:
        pairs = samples.pairs[plan.name]
        base_us, us[plan.name] = median(b for b, _ in pairs) * 1e6, median(p for _, p in pairs) * 1e6
        per_round = " ".join(f"{p / b:.2f}" for b, p in pairs)
        ratio, name = f"**{us[plan.name] / base_us:.2f}×**", plan.name.format(stored=f"{stored:,}")
        rows.append(
            [name, f"{base_us:.0f}", f"{us[plan.name]:.0f}", ratio, per_round, plan.target, samples.errors[plan.name]]
        )
    base_us = median(b for pairs in samples.pairs.values() for b, _ in pairs) * 1e6
    in_path = us[PLANS[1].name] - us[PLANS[2].name]
    calls = " / ".join(f"{samples.api_calls[app] / (events * rounds):.2f}" for app in ("real", "canned", "stored"))
    context[:0] = [
        ["Web API calls per question: real / canned / canned with questions stored", calls],
        ["Web API CPU inside the question path (real − no I/O)", f"{in_path:.0f} µs = {in_path / base_us:.1f}×"],
    ]
    for method, cost in costs.items():
        label = f"client CPU per {method} call, direct (WebClient as make_client builds it)"
        context.insert(-1, [label, f"{cost:.0f} µs = {cost / base_us:.1f}×"])
    intro = (
        f"CPU per event in the dispatching thread (time.thread_time), median of {rounds} rounds of {events} "
        "events each, after a warm-up round. Baseline: a bare Bolt app given the same signed requests "
        "(same signature check, no-op listeners). Peerbot: bot.server.handle_events → build_app, SQLite file."
    )
    note = (
        "¹ The ≤ 10× target is meant for the question path at 100k stored questions once search and routing "
        'exist (the "questions stored" row at full scale). Every round adds '
        f"at least {2 * events} questions to the channel, so a ratio that rises round by round is a cost that grows "
        "with the stored rows."
    )
    failed = sum(samples.errors.values())
    notes = [note] + ([f"⚠ {failed} requests were answered non-2xx: those rows time the error path."] if failed else [])
    headers = ["workload", "baseline µs", "Peerbot µs", "ratio", "per round", "target", "non-2xx"]
    context_title = f"Web API context (× = multiples of a baseline event, {base_us:.0f} µs)"
    return [
        {"title": "CPU per event, in process", "intro": intro, "headers": headers, "rows": rows, "notes": notes},
        {"title": context_title, "headers": ["measure", "value"], "rows": context},
    ]


def client_cost(slack: Sandbox, n: int) -> dict[str, float]:
    """Thread CPU µs of one Web API call to the sandbox (reactions.add on messages that exist)."""
    client = make_client(Settings.from_env(common.bot_env(slack, "sqlite:///unused.db")))
    targets = [common.store_message(slack, f"note {i}") for i in range(n)]
    for _ in range(20):
        client.auth_test()
    calls: dict[str, Callable[[str], object]] = {
        "auth.test": lambda _: client.auth_test(),
        "reactions.add": lambda ts: client.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes"),
    }
    costs = {}
    for method, call in calls.items():
        gc.collect()
        start = time.thread_time()
        for ts in targets:
            call(ts)
        costs[method] = (time.thread_time() - start) / n * 1e6
    return costs


# --- p99 acknowledgement latency, HTTP mode ------------------------------------------------------


def measure_http(seconds: float, rate: float) -> dict[str, Any]:
    """A steady mixed load on the real `peerbot run --http` (a subprocess); the sandbox runs here."""
    slack = common.start_sandbox()
    try:
        with common.peerbot_http(slack) as (port, db):
            work = Workload(slack, seed=11, lag=max(1, int(rate)))  # replies and votes ≥ 1 s after their target
            requests = work.batch("mixed", max(1, int(seconds * rate)))
            slack.clear_calls()
            sent = common.open_loop(port, requests, rate)
            time.sleep(0.2)  # the last reactions.add calls land after the bot answered
            with sqlite3.connect(db) as conn:
                count = "SELECT count(*) FROM {}s"
                stored = {t: conn.execute(count.format(t)).fetchone()[0] for t in ("question", "answer", "vote")}
            reactions = slack.calls_to("reactions.add")
    finally:
        slack.stop()
    rows = [_latency_row(kind, [s for s in sent if kind in ("all", s.kind)]) for kind in ("all", *common.KINDS)]
    kept = ", ".join(f"{kind}s {n}/{work.made[kind]}" for kind, n in stored.items())
    ok, lag = sum(c.ok for c in reactions), common.percentile([s.send_lag * 1e3 for s in sent], 99)
    note = (
        f"Sender lag p99 {lag:.1f} ms. Stored by the bot (stored/sent): {kept}. reactions.add ok {ok}, "
        f"failed {len(reactions) - ok}. Errors: non-2xx or no answer."
    )
    intro = (
        f"`peerbot run --http --no-scheduler` (waitress, SQLite) in a subprocess; an open-loop mixed load "
        f"(70% chatter, 15% questions, 10% thread replies, 5% votes) at {rate:g} events/s for {seconds:g} s, "
        "16 sender threads with keep-alive. Latency: from each request's scheduled send to its full response. "
        "Target: p99 < 1/30 of Slack's 3 s deadline, i.e. < 100 ms."
    )
    headers = ["events", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "p99 / 3 s"]
    title = "Acknowledgement latency, HTTP mode"
    return {"title": title, "intro": intro, "headers": headers, "rows": rows, "notes": [note]}


def _latency_row(kind: str, group: list[common.Sent]) -> list[object]:
    ms = [s.latency * 1e3 for s in group if 200 <= s.status < 300]
    p50, p95, p99 = (common.percentile(ms, p) for p in (50, 95, 99))
    share = f"1/{3000 / p99:.0f}" if ms else "—"
    top = f"{max(ms, default=math.nan):.1f}"
    return [kind, len(group), len(group) - len(ms), f"{p50:.1f}", f"{p95:.1f}", f"**{p99:.1f}**", top, share]


# --- entry points --------------------------------------------------------------------------------


def run(
    scale: str = "small",
    *,
    events: int | None = None,
    seconds: float | None = None,
    rate: float = 85.0,
    part: str = "all",
) -> dict[str, Any]:
    """Run at `scale` ("small" ~30 s, "full" a few minutes): {"title", "sections"} for render_markdown."""
    chosen = SCALES[scale]
    sections: list[dict[str, Any]] = []
    if part in ("all", "cpu"):
        sections += measure_cpu(chosen, events or chosen.events)
    if part in ("all", "http"):
        sections.append(measure_http(seconds or chosen.seconds, rate))
    return {"title": f"Ingest benchmark ({scale} scale)", "sections": sections}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--events", type=int, help="requests per workload per round (default: by scale)")
    parser.add_argument("--seconds", type=float, help="length of the HTTP load (default: small 5, full 30)")
    parser.add_argument("--rate", type=float, default=85.0, help="HTTP load in events/s (default 85)")
    parser.add_argument("--part", choices=["all", "cpu", "http"], default="all")
    args = parser.parse_args(argv)
    if any(value is not None and value <= 0 for value in (args.events, args.seconds, args.rate)):
        parser.error("--events, --seconds and --rate must be positive")
    try:
        results = run(args.scale, events=args.events, seconds=args.seconds, rate=args.rate, part=args.part)
    except common.ServerDidNotStart as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(common.render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
