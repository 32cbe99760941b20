"""Scheduled sweeps at scale on SQLite: the nudge sweep and the weekly digests, beside plain counts, with peak RSS.

python -m bench.sweeps [--scale small|full] [--hires N] [--questions N] [--channels N] [--workdir DIR] [--json]

Builds a database with the real schema (migrations, FTS5 triggers included): hires on onboarding journeys with
their nudges, a year of questions over watched channels with tags, answers and votes, experts and their topics.
Then times the real scheduled.jobs.nudge and bot.digest functions, each beside a plain SELECT count(*) over the
same rows measured in the same run, records the queries each sweep issues (with SQLite's query plans), and
reads the peak RSS of every phase.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any, ClassVar

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine, event, func, insert, select, update
from sqlmodel import col

from bench import common
from bot import digest as digests
from bot.config import Settings
from bot.deps import Deps
from bot.journeys import default_journeys, due_at
from scheduled import jobs
from storage import queries
from storage.db import make_engine, session_factory, upgrade
from storage.models import (
    Answer,
    Channel,
    Digest,
    Enrolment,
    Expert,
    ExpertTopic,
    Nudge,
    NudgeStatus,
    Question,
    QuestionTag,
    Tag,
    Vote,
    Workspace,
)

TEAM = "T0BENCH"
WS = Workspace(TEAM)
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # a Tuesday: working hours in UTC and Berlin, night in New York, Tokyo
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata")
AWAKE = ("UTC", "Europe/Berlin")  # zones where NOW is inside working hours: a due step is sent, not deferred
TAGS = tuple(f"topic-{i:03d}" for i in range(200))
TAG_WEIGHTS = list(itertools.accumulate(1.0 / rank for rank in range(1, len(TAGS) + 1)))  # Zipf, like real tags
ADMIN = "UADMIN001"
DEAD_URL = "http://127.0.0.1:9/"  # nothing listens there: a real call would fail
BATCH = 10_000
BIG_TABLES = ("questions", "answers", "votes", "question_tags", "nudges", "enrolments", "search_fts")
COARSE = {"team_id", "status", "channel"}  # one team, a few statuses, the watched channels: no real narrowing
TARGET_IDLE_MS, TARGET_DIGEST_S, TARGET_GROWTH_MB = 100.0, 5.0, 100.0
PHASE_BUDGET_S = 60.0  # timed runs of one figure stop after this long (at least one run)


@dataclass(frozen=True)
class Size:
    hires: int
    questions: int
    channels: int
    experts: int
    due: int  # hires given a due step, for the "some due" sweep
    repeats: int  # timed runs of the fast figures
    digest_repeats: int  # timed runs of the digest figures


SCALES = {
    "small": Size(hires=2_000, questions=20_000, channels=10, experts=50, due=50, repeats=30, digest_repeats=5),
    "full": Size(hires=100_000, questions=1_000_000, channels=100, experts=300, due=50, repeats=20, digest_repeats=3),
}


def _log(message: str) -> None:
    print(f"[bench.sweeps {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- memory --------------------------------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def rss_mb() -> float:
    """Resident memory now (VmRSS); the peak when /proc is not there."""
    kb = _status_kb("VmRSS")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def peak_mb() -> float:
    """Peak resident memory since the last reset_peak (VmHWM), else since the start (ru_maxrss)."""
    kb = _status_kb("VmHWM")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def reset_peak() -> bool:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@contextmanager
def memory_window(out: dict[str, float]) -> Iterator[None]:
    """Fill `out` with RSS before, peak during and the growth over before, for the block inside."""
    out["reset"] = float(reset_peak())
    out["before_mb"] = rss_mb()
    yield
    out["peak_mb"] = peak_mb()
    out["growth_mb"] = max(0.0, out["peak_mb"] - out["before_mb"])


# --- Web API clients -----------------------------------------------------------------------------


class NoCallsClient(WebClient):
    """A client pointed at a dead URL whose api_call fails loudly: a sweep with nothing to do must not call."""

    calls: ClassVar[Counter[str]] = Counter()

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        NoCallsClient.calls[api_method] += 1
        raise AssertionError(f"a sweep with nothing due called {api_method}")

    def files_upload_v2(self, **kwargs: Any) -> SlackResponse:
        return self.api_call("files.upload_v2")


class RecordingClient(WebClient):
    """Records each Web API method and answers as Slack would (ok, a DM channel, a message ts), without I/O."""

    calls: ClassVar[Counter[str]] = Counter()

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        RecordingClient.calls[api_method] += 1
        n = sum(RecordingClient.calls.values())
        data: dict[str, Any] = {"ok": True}
        if api_method == "auth.test":
            data.update(url="https://bench.slack.com/", team="Bench", team_id=TEAM, user_id="UBOT0001", bot_id="B1")
        elif api_method == "conversations.open":
            data["channel"] = {"id": f"DBENCH{n:06d}"}
        elif api_method == "chat.postMessage":
            channel = str((kwargs.get("json") or kwargs.get("params") or {}).get("channel", ""))
            data.update(channel=channel, ts=f"{NOW.timestamp():.0f}.{n:06d}")
        elif api_method == "conversations.members":
            data["members"] = []
        elif api_method == "files.upload_v2":
            data["files"] = [{"id": f"FBENCH{n:06d}"}]
        url = f"{self.base_url}{api_method}"
        return SlackResponse(
            client=self, http_verb="POST", api_url=url, req_args={}, data=data, headers={}, status_code=200
        )

    def files_upload_v2(self, **kwargs: Any) -> SlackResponse:
        """Recorded as one call: the real one also PUTs the file to an upload URL, outside api_call."""
        return self.api_call("files.upload_v2", params={k: v for k, v in kwargs.items() if k != "file"})


def make_deps(engine: Engine, client: WebClient) -> Deps:
    settings = Settings(bot_token="xoxb-bench", signing_secret="bench", admins=frozenset({ADMIN}))
    return Deps(settings=settings, db=session_factory(engine), clock=lambda: NOW, client=client, search=None)


# --- the database --------------------------------------------------------------------------------


def _week_start(moment: datetime) -> datetime:
    return digests.this_week(moment, day=0, at=clock_time(9), tz="UTC")


def _tags(rng: random.Random, most: int = 3) -> list[str]:
    return list(dict.fromkeys(rng.choices(TAGS, cum_weights=TAG_WEIGHTS, k=rng.randint(1, most))))


def _insert(engine: Engine, rows: dict[Any, list[dict[str, Any]]]) -> None:
    """One transaction, Core executemany per table (in the order given: parents first)."""
    with engine.begin() as conn:
        for model, values in rows.items():
            if values:
                conn.execute(insert(model), values)


def build(engine: Engine, size: Size, *, seed: int = 7) -> dict[str, Any]:
    """Fill a migrated database; seconds per part and rows per table."""
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    fill_workspace(engine, size, rng)
    timings["channels, tags, experts"] = time.perf_counter() - started
    started = time.perf_counter()
    fill_hires(engine, size, rng)
    timings["enrolments and nudges"] = time.perf_counter() - started
    started = time.perf_counter()
    fill_questions(engine, size, rng)
    timings["questions (FTS5 triggers), tags, answers, votes"] = time.perf_counter() - started
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        counted = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in _tables()}
    return {"seconds": timings, "total_s": sum(timings.values()), "rows": counted}


def _tables() -> tuple[str, ...]:
    return ("channels", "tags", "experts", "expert_topics", "enrolments", "nudges", "questions", "question_tags",
            "answers", "votes")  # fmt: skip


def channel_ids(n: int) -> list[str]:
    return [f"CBENCH{i:05d}" for i in range(n)]


def fill_workspace(engine: Engine, size: Size, rng: random.Random) -> None:
    base = {"team_id": TEAM, "enterprise_id": ""}
    channels = [
        {**base, "slack_id": c, "name": f"help-{i:03d}", "is_private": i % 10 == 9, "watched": True,
         "default_tags": "", "updated_at": NOW - timedelta(days=400)}
        for i, c in enumerate(channel_ids(size.channels))
    ]  # fmt: skip
    tags = [{**base, "name": t, "alias_of": "", "uses": size.questions // (i + 1) // 5} for i, t in enumerate(TAGS)]
    experts, topics = [], []
    for i in range(1, size.experts + 1):
        experts.append({**base, "id": i, "user_id": f"UEXP{i:05d}", "capacity": 3, "tz": rng.choice(ZONES),
                        "work_start": 9, "work_end": 17, "work_days": "0,1,2,3,4", "on_leave_until": None,
                        "paused": False, "deleted": False, "digest_opt_out": i % 20 == 0, "last_asked_at": None,
                        "updated_at": NOW - timedelta(days=rng.randint(1, 300))})  # fmt: skip
        topics += [{**base, "expert_id": i, "tag": t} for t in _tags(rng, 4)]
    _insert(engine, {Channel: channels, Tag: tags, Expert: experts, ExpertTopic: topics})


def fill_hires(engine: Engine, size: Size, rng: random.Random) -> None:
    """Hires who started over the last 60 days, each with the default journey's steps: delivered ones sent or
    done, later ones pending with their due time still to come (so a sweep at NOW finds nothing due)."""
    steps = default_journeys()["default"].steps
    base = {"team_id": TEAM, "enterprise_id": ""}
    enrolment_id = nudge_id = 0
    while enrolment_id < size.hires:
        enrolments: list[dict[str, Any]] = []
        nudges: list[dict[str, Any]] = []
        for _ in range(min(BATCH, size.hires - enrolment_id)):
            enrolment_id += 1
            tz, start = rng.choice(ZONES), (NOW - timedelta(days=rng.randint(0, 59))).date()
            created = datetime.combine(start, clock_time(8), tzinfo=UTC) - timedelta(days=1)
            dues = [due_at(step, start=start, tz=tz) for step in steps]
            chose = dues[0] <= NOW and rng.random() < 0.7  # most pick topics in the first nudge
            enrolments.append({**base, "id": enrolment_id, "user_id": f"UHIRE{enrolment_id:07d}", "journey": "default",
                               "start_date": start, "tz": tz, "status": "active",
                               "topics": ",".join(_tags(rng)) if chose else "", "buddy": "",
                               "enrolled_by": "team_join", "created_at": created, "updated_at": created})  # fmt: skip
            for position, (step, due) in enumerate(zip(steps, dues, strict=True)):
                nudge_id += 1
                row = {**base, "id": nudge_id, "enrolment_id": enrolment_id, "step": step.id, "position": position,
                       "status": NudgeStatus.PENDING, "due_at": due, "sent_at": None, "caught_up": False,
                       "snoozes": 0, "dm_channel": "", "dm_ts": "", "done_at": None}  # fmt: skip
                if due <= NOW:
                    sent = due + timedelta(seconds=rng.randint(0, 60))
                    finished = sent + timedelta(hours=rng.uniform(0.1, 48))
                    done = finished <= NOW and rng.random() < 0.65
                    row.update(status=NudgeStatus.DONE if done else NudgeStatus.SENT, sent_at=sent,
                               dm_channel=f"DHIRE{enrolment_id:07d}", dm_ts=f"{sent.timestamp():.0f}.{nudge_id:06d}",
                               done_at=finished if done else None)  # fmt: skip
                nudges.append(row)
        _insert(engine, {Enrolment: enrolments, Nudge: nudges})


def fill_questions(engine: Engine, size: Size, rng: random.Random) -> None:
    """A year of questions in chronological order over the channels; 60% answered, a third of answers voted on."""
    channels = channel_ids(size.channels)
    private = {c for i, c in enumerate(channels) if i % 10 == 9}
    span = timedelta(weeks=52).total_seconds()
    first = NOW - timedelta(weeks=52)
    askers = [f"UASK{i:06d}" for i in range(max(100, size.hires // 5))]
    helpers = [f"UEXP{i:05d}" for i in range(1, size.experts + 1)] + [f"UHELP{i:05d}" for i in range(2000)]
    words = ("rotate", "deploy", "debug", "configure", "migrate", "restart", "monitor", "scale", "roll back", "test")
    things = ("database password", "feature flag", "cron job", "dashboard", "queue", "certificate", "build cache")
    answer_id = vote_id = 0
    base = {"team_id": TEAM, "enterprise_id": ""}
    for lo in range(0, size.questions, BATCH):
        qs: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        votes: list[dict[str, Any]] = []
        for i in range(lo + 1, min(size.questions, lo + BATCH) + 1):
            created = first + timedelta(seconds=(i - rng.random()) * span / size.questions)
            channel, author = rng.choice(channels), rng.choice(askers)
            ts = f"{created.timestamp():.0f}.{i:07d}"
            topic = _tags(rng)
            text = (f"How do I {rng.choice(words)} the {rng.choice(things)} for {topic[0]}? "
                    f"It fails with error E{rng.randint(100, 999)} since the last release ({i})")  # fmt: skip
            reply = created + timedelta(minutes=rng.randint(5, 2880))
            answered = rng.random() < 0.6 and reply < NOW
            accepted = answered and rng.random() < 0.4
            status = "resolved" if accepted else "answered" if answered else "open"
            qs.append({**base, "id": i, "channel": channel, "ts": ts, "thread_ts": ts, "author": author, "text": text,
                       "status": status, "source": "implicit", "is_private": channel in private, "route_round": 0,
                       "route_at": None, "escalated": False, "duplicate_of": None, "reused_answer_id": None,
                       "suggested_at": None, "created_at": created,
                       "updated_at": reply if answered else created})  # fmt: skip
            tags += [{**base, "question_id": i, "tag": t} for t in topic]
            if not answered:
                continue
            answer_id += 1
            helper = rng.choice([h for h in rng.sample(helpers, 2) if h != author])
            answers.append({**base, "id": answer_id, "question_id": i, "channel": channel,
                            "ts": f"{reply.timestamp():.0f}.{answer_id:07d}", "author": helper,
                            "text": f"Use the {topic[0]} runbook: it covers this step by step.", "via": "thread",
                            "accepted": accepted, "needs_update": False, "checked_at": None, "created_at": reply,
                            "updated_at": reply})  # fmt: skip
            if rng.random() < 0.35:
                for voter in rng.sample(askers, rng.randint(1, 3)):
                    vote_id += 1
                    votes.append({**base, "id": vote_id, "answer_id": answer_id, "voter": voter, "emoji": "+1",
                                  "weight": 1.0, "created_at": reply + timedelta(hours=1)})  # fmt: skip
        _insert(engine, {Question: qs, QuestionTag: tags, Answer: answers, Vote: votes})
        if (lo // BATCH) % 10 == 9:
            _log(f"  {lo + len(qs):,} questions stored")


def table_sizes(database: Path) -> dict[str, float]:
    """MB on disk per table and index (SQLite's dbstat), or the whole file when dbstat is not compiled in."""
    try:
        with sqlite3.connect(database) as conn:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        return {str(name): int(n) / 1e6 for name, n in rows}
    except sqlite3.Error:
        return {"(database file)": database.stat().st_size / 1e6}


# --- queries issued, and their plans -------------------------------------------------------------


@dataclass
class Issued:
    origin: str
    statement: str
    parameters: Any
    count: int = 0
    seconds: float = 0.0


@dataclass
class QueryLog:
    """Every statement an engine runs while recording, with the storage.queries function that issued it."""

    engine: Engine
    issued: dict[tuple[str, str], Issued] = field(default_factory=dict)
    _started: list[float] = field(default_factory=list)

    @contextmanager
    def recording(self) -> Iterator[QueryLog]:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self._before)
            event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        key = (_origin(), statement)
        found = self.issued.setdefault(key, Issued(key[0], statement, None if many else parameters))
        found.count += 1
        found.seconds += elapsed

    def heaviest(self, n: int = 8) -> list[Issued]:
        return sorted(self.issued.values(), key=lambda q: -q.seconds)[:n]


def _origin() -> str:
    """The storage.queries function (else the first Peerbot function) on the stack that ran this statement."""
    frame = sys._getframe(2)
    fallback = ""
    while frame is not None:
        path = frame.f_code.co_filename.replace(os.sep, "/")
        if path.endswith("storage/queries.py"):
            return f"queries.{frame.f_code.co_name}"
        if not fallback and any(f"/{part}/" in path for part in ("bot", "handlers", "scheduled")):
            fallback = f"{Path(path).parent.name}.{Path(path).stem}.{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return fallback or "?"


def query_plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN as indented lines."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters or ()).all()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


def verdict(plan: list[str]) -> str:
    """ "indexed", or which step reads a big table (or all of an index) end to end, or every row matching only
    columns that barely narrow it here (the one team, a status, the watched channels)."""
    out = []
    for line in plan:
        words = line.split()
        if len(words) < 2 or words[1] not in BIG_TABLES:
            continue
        if words[0] == "SCAN":
            out.append(f"the whole of {words[1]}")
        elif words[0] == "SEARCH" and line.rstrip().endswith(")") and "(rowid" not in line:
            columns = {
                term.split("=")[0].split(">")[0].split("<")[0] for term in line.rsplit("(", 1)[1][:-1].split(" AND ")
            }
            if columns <= COARSE:
                out.append(f"every {words[1]} row with its {', '.join(sorted(columns))}")
    return "; ".join(out) or "indexed"


# --- timing --------------------------------------------------------------------------------------


def timed(
    fn: Callable[[], object],
    repeats: int,
    *,
    before: Callable[[], object] | None = None,
    log: QueryLog | None = None,
    budget_s: float = PHASE_BUDGET_S,
) -> list[float]:
    """Milliseconds of up to `repeats` runs of `fn`, after one untimed run (recorded in `log`); `before` runs
    untimed ahead of each. Timed runs stop once they used `budget_s`; when the untimed run alone took that long,
    its time is the figure (one run)."""
    if before is not None:
        before()
    started = time.perf_counter()
    with log.recording() if log is not None else nullcontext():
        fn()
    first = time.perf_counter() - started
    if first > budget_s:
        return [first * 1000]
    out: list[float] = []
    spent = 0.0
    while len(out) < repeats and (spent < budget_s or not out):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
        spent += out[-1] / 1000
    return out


def stats(ms: list[float]) -> dict[str, Any]:
    return {"median_ms": median(ms), "p95_ms": common.percentile(ms, 95), "runs": float(len(ms))}


def count(engine: Engine, stmt: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


# --- the sweeps ----------------------------------------------------------------------------------


def baselines(engine: Engine, size: Size, repeats: int) -> dict[str, dict[str, float]]:
    """Plain counts over the rows each sweep reads, through the same indexes, measured now."""
    moment = _week_start(NOW)
    start, recent = moment - timedelta(days=7), moment - digests.UNANSWERED_WINDOW
    channels = channel_ids(size.channels)
    due = select(func.count()).select_from(Nudge).where(col(Nudge.status) == "pending", col(Nudge.due_at) <= NOW)

    def channel_week(channel: str, lo: datetime, hi: datetime) -> Any:
        return (
            select(func.count())
            .select_from(Question)
            .where(col(Question.team_id) == TEAM, col(Question.channel) == channel)
            .where(col(Question.created_at) >= lo, col(Question.created_at) < hi)
        )

    def per_channel() -> None:
        with engine.connect() as conn:
            for c in channels:
                conn.execute(channel_week(c, start, moment)).scalar_one()

    with session_factory(engine)() as s:
        topics = list(queries.expert_topics(s, expert_ids=list(range(1, size.experts + 1))).values())

    def per_expert() -> None:
        with engine.connect() as conn:
            for tags in topics:
                stmt = select(func.count()).select_from(QuestionTag).where(col(QuestionTag.tag).in_(tags))
                conn.execute(stmt).scalar_one()

    out = {
        "due nudges": stats(timed(lambda: count(engine, due), repeats)),
        "one channel's week": stats(timed(lambda: count(engine, channel_week(channels[0], start, moment)), repeats)),
        "each channel's week": stats(timed(per_channel, repeats)),
        "each expert's topics": stats(timed(per_expert, max(3, repeats // 4))),
    }
    out["due nudges"]["rows"] = count(engine, due)
    out["one channel's week"]["rows"] = count(engine, channel_week(channels[0], start, moment))
    out["one channel's 4 weeks"] = {"rows": count(engine, channel_week(channels[0], recent, moment))}
    return out


def due_candidates(engine: Engine, n: int, *, with_topics: bool) -> list[tuple[int, int, datetime]]:
    """(enrolment, its next pending nudge, that nudge's due time) for `n` hires in a zone that is at work now."""
    stmt = (
        select(col(Enrolment.id), func.min(col(Nudge.id)))
        .join(Nudge, col(Nudge.enrolment_id) == col(Enrolment.id))
        .where(col(Nudge.status) == NudgeStatus.PENDING, col(Enrolment.tz).in_(AWAKE))
        .where((col(Enrolment.topics) != "") if with_topics else (col(Enrolment.topics) == ""))
        .group_by(col(Enrolment.id))
        .order_by(col(Enrolment.id))
        .limit(n)
    )
    with engine.connect() as conn:
        pairs = [(int(e or 0), int(m or 0)) for e, m in conn.execute(stmt)]
        found = select(col(Nudge.id), col(Nudge.due_at)).where(col(Nudge.id).in_([m for _, m in pairs]))
        dues = {int(i or 0): due for i, due in conn.execute(found)}
    return [(e, m, dues[m]) for e, m in pairs]


def make_due(engine: Engine, picked: list[tuple[int, int, datetime]]) -> None:
    """Their next step becomes due five minutes ago, as if never claimed."""
    with engine.begin() as conn:
        conn.execute(
            update(Nudge)
            .where(col(Nudge.id).in_([m for _, m, _ in picked]))
            .values(
                status=NudgeStatus.PENDING,
                due_at=NOW - timedelta(minutes=5),
                sent_at=None,
                caught_up=False,
                dm_channel="",
                dm_ts="",
            )
        )
        conn.execute(update(Enrolment).where(col(Enrolment.id).in_([e for e, _, _ in picked])).values(status="active"))


def restore(engine: Engine, picked: list[tuple[int, int, datetime]]) -> None:
    with engine.begin() as conn:
        for _, nudge_id, due in picked:
            conn.execute(
                update(Nudge)
                .where(col(Nudge.id) == nudge_id)
                .values(status=NudgeStatus.PENDING, due_at=due, sent_at=None, caught_up=False, dm_channel="", dm_ts="")
            )


def measure_nudges(engine: Engine, size: Size, log: QueryLog) -> dict[str, Any]:
    """The nudge sweep with nothing due (no Web API call allowed), then with hires due: some who chose topics in
    their first nudge, fewer who did not."""
    out: dict[str, Any] = {}
    idle = make_deps(engine, NoCallsClient(token="xoxb-x", base_url=DEAD_URL))
    NoCallsClient.calls.clear()
    memory: dict[str, float] = {}
    with memory_window(memory):
        result = jobs.nudge(idle)
        assert not any(result.values()), f"the nothing-due sweep did something: {result}"
        runs = timed(lambda: jobs.nudge(idle), size.repeats, log=log)
    assert not NoCallsClient.calls, f"the nothing-due sweep called the Web API: {dict(NoCallsClient.calls)}"
    out["idle"] = {**stats(runs), "api_calls": 0, "memory": memory}
    deps = make_deps(engine, RecordingClient(token="xoxb-x", base_url=DEAD_URL))
    for label, with_topics, n in (("topics chosen", True, size.due), ("no topics chosen", False, size.due // 5)):
        picked = due_candidates(engine, n, with_topics=with_topics)
        if not picked:
            continue
        RecordingClient.calls.clear()
        results: list[dict[str, int]] = []

        def sweep(into: list[dict[str, int]] = results) -> None:
            into.append(jobs.nudge(deps))

        memory = {}
        with memory_window(memory):
            runs = timed(sweep, max(3, size.repeats // 6), before=partial(make_due, engine, picked), log=log)
        restore(engine, picked)
        calls = {"runs": len(results), **RecordingClient.calls}
        assert all(r["sent"] == len(picked) for r in results), f"not every due step was sent: {results}"
        figure = stats(runs)
        figure.update(hires=len(picked), per_hire_ms=figure["median_ms"] / len(picked), calls=calls, memory=memory)
        out[label] = figure
        _log(f"  nudge sweep, {len(picked)} due ({label}): median {figure['median_ms']:.0f} ms")
    return out


def measure_digests(engine: Engine, size: Size, log: QueryLog) -> dict[str, Any]:
    """The digest builds the weekly sweep makes: every watched channel, every expert, the gap report; then the
    real scheduled.jobs.digest end to end (building, rendering and posting, to a recording client)."""
    moment = _week_start(NOW)
    start, recent = moment - timedelta(days=7), moment - digests.UNANSWERED_WINDOW
    sessions = session_factory(engine)
    channels = channel_ids(size.channels)
    with sessions() as s:
        experts = [(e.id or 0, e.user_id) for e in queries.all_experts(s) if not e.digest_opt_out]
    shown: Counter[str] = Counter()

    def channel_digests() -> None:
        for c in channels:
            with sessions() as s:
                d = digests.channel_digest(s, ws=WS, channel=c, start=start, end=moment)
            shown["channel items"] += len(d.top) + len(d.answered) + len(d.unanswered)

    def expert_digests() -> None:
        for expert_id, user_id in experts:
            with sessions() as s:
                topics = queries.expert_topics(s, expert_ids=[expert_id]).get(expert_id, [])
                items = digests.expert_digest(s, ws=WS, expert=user_id, topics=topics, since=recent,
                                              may_see=lambda _: True)  # fmt: skip
            shown["expert items"] += len(items)

    def gap() -> None:
        with sessions() as s:
            shown["gap questions"] += digests.gap_report(s, ws=WS, start=start, end=moment).questions

    deps = make_deps(engine, RecordingClient(token="xoxb-x", base_url=DEAD_URL))

    def clear() -> None:
        with engine.begin() as conn:
            conn.execute(Digest.__table__.delete())  # type: ignore[attr-defined]

    sweep_result: list[dict[str, int]] = []
    out: dict[str, Any] = {}
    for name, fn, before in (
        ("channel digests", channel_digests, None),
        ("gap report", gap, None),
        ("expert digests", expert_digests, None),
        ("digest sweep", lambda: sweep_result.append(jobs.digest(deps)), clear),
    ):
        shown.clear()
        memory: dict[str, float] = {}
        with memory_window(memory):
            runs = timed(fn, size.digest_repeats, before=before, log=log)
        out[name] = {**stats(runs), "memory": memory, "shown": {k: v / (len(runs) + 1) for k, v in shown.items()}}
        _log(f"  {name}: median {out[name]['median_ms']:.0f} ms over {len(runs)} runs")
    clear()
    out["sweep result"] = sweep_result[-1] if sweep_result else {}
    out["targets"] = {"channels": len(channels), "experts": len(experts)}
    return out


# --- the run -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), "0") if Path("/proc/meminfo").exists() else "0"  # fmt: skip
    return {"cpus": os.cpu_count(), "memory_gb": int(mem) / 1024 / 1024, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}  # fmt: skip


SWEEPS = ("channel digests", "gap report", "expert digests", "digest sweep")
MAIN_QUERIES = ("queries.due_nudges", "queries.unsent_nudges", "queries.channel_answers", "queries.channel_questions")


def run(
    scale: str = "full",
    *,
    hires: int | None = None,
    questions: int | None = None,
    channels: int | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Build and measure at `scale` (sizes overridable): the figures, and {"title", "sections"} for rendering."""
    size = SCALES[scale]
    size = replace(size, hires=hires or size.hires, questions=questions or size.questions,
                   channels=channels or size.channels)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="peerbot-sweeps-", dir=workdir) as tmp:
        database = Path(tmp) / "peerbot.db"
        url = f"sqlite:///{database}"
        _log(f"building {size.hires:,} hires, {size.questions:,} questions, {size.channels} channels in {database}")
        builder = make_engine(url)
        upgrade(builder)
        built = build(builder, size)
        builder.dispose()
        _log(f"built in {built['total_s']:.0f} s")
        engine = make_engine(url)
        figures: dict[str, Any] = {"scale": scale, "size": size.__dict__, "machine": machine(), "build": built}
        figures["build"]["db_mb"] = sum(f.stat().st_size for f in Path(tmp).glob("peerbot.db*")) / 1e6
        figures["build"]["tables_mb"] = table_sizes(database)
        figures["rss_after_build_mb"] = rss_mb()
        figures["peak_during_build_mb"] = peak_mb()
        log = QueryLog(engine)
        figures["baselines"] = baselines(engine, size, size.repeats)
        _log("baselines measured; the nudge sweep next")
        figures["nudge"] = measure_nudges(engine, size, log)
        _log("nudge sweep measured; the digests next")
        figures["digests"] = measure_digests(engine, size, log)
        plans: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        for q in log.issued.values():
            if not q.statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = query_plan(engine, q.statement, q.parameters)
            found = plans.setdefault((q.origin, tuple(plan)), {"origin": q.origin, "plan": plan, "count": 0, "ms": 0.0,
                                                                "verdict": verdict(plan)})  # fmt: skip
            found["count"] += q.count
            found["ms"] += q.seconds * 1000
        order = sorted(plans.values(), key=lambda p: (p["origin"] not in MAIN_QUERIES, -p["ms"]))
        figures["plans"] = order
        figures["rss_end_mb"] = rss_mb()
        engine.dispose()
    figures["title"] = f"Scheduled sweeps on SQLite ({scale} scale: {size.hires:,} hires, {size.questions:,} questions)"
    figures["sections"] = sections(figures)
    return figures


# --- the report ----------------------------------------------------------------------------------


def _ms(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def _ratio(x: float, base: float) -> str:
    return f"{x / base:,.0f}×" if base > 0 else "–"


def sections(f: dict[str, Any]) -> list[dict[str, Any]]:
    m, b, size, built = f["machine"], f["baselines"], f["size"], f["build"]
    nudge, dig = f["nudge"], f["digests"]
    context = [
        ["machine", f"{m['cpus']} CPUs, {m['memory_gb']:.0f} GB RAM, {m['platform']}"],
        ["software", f"Python {m['python']}, SQLite {m['sqlite']}"],
        ["date", m["date"]],
        ["rows", ", ".join(f"{t} {n:,}" for t, n in built["rows"].items())],
        ["database", f"{built['db_mb']:,.0f} MB on disk"],
        *[[f"build: {part}", f"{s:,.1f} s"] for part, s in built["seconds"].items()],
        ["build: total", f"**{built['total_s']:,.1f} s**"],
    ]
    base_due, base_week = b["due nudges"]["median_ms"], b["each channel's week"]["median_ms"]
    base_experts = b["each expert's topics"]["median_ms"]
    idle = nudge["idle"]
    due_rows = b["due nudges"]["rows"]
    rows = [["nudge sweep, nothing due (0 Web API calls, asserted)", f"{idle['runs']:.0f}", _ms(idle["median_ms"]),
             _ms(idle["p95_ms"]),
             f"count of due nudges ({due_rows} rows): {_ms(base_due)}", _ratio(idle["median_ms"], base_due),
             f"< {TARGET_IDLE_MS:.0f} ms: {'met' if idle['p95_ms'] < TARGET_IDLE_MS else '**missed**'}"]]  # fmt: skip
    for label in ("topics chosen", "no topics chosen"):
        if label in nudge:
            d = nudge[label]
            made = {k: v for k, v in d["calls"].items() if k != "runs"}
            calls = f"Web API calls over all {d['calls']['runs']} runs: " + ", ".join(
                f"{k} {v}" for k, v in sorted(made.items())
            )
            rows.append([f"nudge sweep, {d['hires']} hires due ({label}; {calls})", f"{d['runs']:.0f}",
                         _ms(d["median_ms"]),
                         _ms(d["p95_ms"]), f"same count: {_ms(base_due)}", _ratio(d["median_ms"], base_due),
                         f"{_ms(d['per_hire_ms'])} ms per hire"])  # fmt: skip
    targets = dig["targets"]
    for name, base, what, goal in (
        ("channel digests", base_week, f"count of each channel's week ({targets['channels']} counts)",
         f"≤ {TARGET_DIGEST_S:.0f} s for 100 channels"),
        ("gap report", base_week, f"count of each channel's week ({targets['channels']} counts)", ""),
        ("expert digests", base_experts, f"count of each expert's tagged questions ({targets['experts']} counts)", ""),
        ("digest sweep", base_week + base_experts, "the two loops of counts above", ""),
    ):  # fmt: skip
        d = dig[name]
        if name == "channel digests":
            per100 = d["median_ms"] / targets["channels"] * 100 / 1000
            goal += f": {per100:.1f} s, {'met' if per100 <= TARGET_DIGEST_S else '**missed**'}"
        label = {"channel digests": f"bot.digest.channel_digest × {targets['channels']} channels",
                 "gap report": "bot.digest.gap_report × 1",
                 "expert digests": f"bot.digest.expert_digest × {targets['experts']} experts",
                 "digest sweep": "scheduled.jobs.digest end to end (build, render, post)"}[name]  # fmt: skip
        rows.append([label, f"{d['runs']:.0f}", _ms(d["median_ms"]), _ms(d["p95_ms"]), f"{what}: {_ms(base)}",
                     _ratio(d["median_ms"], base), goal])  # fmt: skip
    intro = (
        f"Median and p95 of up to {size['repeats']} runs (nudge sweep, nothing due), {max(3, size['repeats'] // 6)} "
        f"(hires due) and {size['digest_repeats']} (digests), after one untimed run; the timed runs of a figure stop "
        f"after {PHASE_BUDGET_S:.0f} s, and a figure whose untimed run alone took longer is that one run. "
        "Baselines: plain `SELECT count(*)` (SQLAlchemy Core, no ORM) over the same rows through the "
        "same indexes, measured in the same run; ratio = median ÷ baseline median. The clock is fixed at "
        f"{NOW:%a %Y-%m-%d %H:%M} UTC; digests cover the week before {_week_start(NOW):%a %d %b %H:%M}."
    )
    shown = ", ".join(f"{k} {v:,.0f}" for name in SWEEPS for k, v in dig[name]["shown"].items())
    notes = [f"Shown per run: {shown}. Digest sweep outcome: {dig['sweep result']}."]
    memory_rows = [
        ["after the build", _ms(f["rss_after_build_mb"]), "–", f"build peak {_ms(f['peak_during_build_mb'])}"]
    ]
    phases = [("nudge sweep, nothing due", idle["memory"])]
    phases += [(f"nudge sweep, {label}", nudge[label]["memory"]) for label in ("topics chosen", "no topics chosen")
               if label in nudge]  # fmt: skip
    phases += [(name, dig[name]["memory"]) for name in SWEEPS]
    growths = []
    for name, mem in phases:
        growths.append(mem["growth_mb"])
        window = "peak since the phase began" if mem["reset"] else "process peak (VmHWM could not be reset)"
        memory_rows.append([name, _ms(mem["before_mb"]), _ms(mem["peak_mb"]), f"+{_ms(mem['growth_mb'])} ({window})"])
    tables = built["tables_mb"]
    big = ", ".join(f"{name} {mb:,.0f} MB" for name, mb in list(tables.items())[:6])
    worst = max(growths)
    memory_notes = [
        f"Largest tables and indexes on disk: {big}. A sweep that loaded a whole table would grow by at least that "
        f"(ORM rows take several times their size on disk). Largest growth over a phase: {worst:,.0f} MB; target "
        f"< {TARGET_GROWTH_MB:.0f} MB: {'met' if worst < TARGET_GROWTH_MB else '**missed**'}."
    ]
    plan_rows = []
    for p in f["plans"]:
        plan = "<br>".join(line.replace(" ", "\u00a0", len(line) - len(line.lstrip())).replace("|", "\\|")
                           for line in p["plan"])  # fmt: skip
        flag = p["verdict"] if p["verdict"] == "indexed" else f"**reads {p['verdict']}**"
        plan_rows.append([f"`{p['origin']}`", p["count"], _ms(p["ms"]), plan, flag])
    plan_notes = [
        "Every SELECT the measured sweeps issued (one recorded run of each), with the storage.queries function that "
        "issued it (runs, and milliseconds until SQLite returned the first row, summed over statements with the same "
        "plan: all of the work for a sort or an aggregate, the start of it for a plain scan); the plan is SQLite's "
        "EXPLAIN QUERY PLAN with the parameters of a first run. The verdict names any step that reads a big table, "
        "all of one of its indexes, or every row of the one team or status (as good as all of them here)."
    ]
    per100 = dig["channel digests"]["median_ms"] / targets["channels"] * 100 / 1000
    reading = [p for p in f["plans"] if p["verdict"] != "indexed"]
    summary = [
        ["a nudge sweep that finds nothing due: under 1/10 s", f"p95 {_ms(idle['p95_ms'])} ms",
         "met" if idle["p95_ms"] < TARGET_IDLE_MS else "**missed**"],
        [f"digest builds for 100 channels: a few seconds (≤ {TARGET_DIGEST_S:.0f} s)",
         f"{per100:.1f} s (channel digests; the whole digest sweep with experts and the gap report: "
         f"{dig['digest sweep']['median_ms'] / 1000:,.1f} s)", "met" if per100 <= TARGET_DIGEST_S else "**missed**"],
        ["no sweep loads whole tables into memory", f"largest RSS growth over a phase {worst:,.0f} MB",
         "met" if worst < TARGET_GROWTH_MB else "**missed**"],
        ["(context) queries that read every row of a big table", f"{len(reading)}: "
         + (", ".join(sorted({f"`{p['origin']}`" for p in reading})) or "none"), "–"],
    ]  # fmt: skip
    return [
        {"title": "Machine and database", "headers": ["", ""], "rows": context},
        {"title": "Targets", "headers": ["target", "measured", "verdict"], "rows": summary},
        {"title": "Sweeps beside plain counts", "intro": intro,
         "headers": ["measure", "runs", "median ms", "p95 ms", "baseline (median ms)", "ratio", "target"], "rows": rows,
         "notes": notes},
        {"title": "Memory (RSS, MB)", "headers": ["phase", "RSS before", "peak during", "growth"], "rows": memory_rows,
         "notes": memory_notes},
        {"title": "Queries issued and their plans", "rows": plan_rows, "notes": plan_notes,
         "headers": ["issued by", "runs", "ms to first row", "plan", "verdict"]},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sweeps", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full", help="sizes preset (default: full)")
    parser.add_argument("--hires", type=int, help="enrolled hires, 5 nudges each (full: 100000)")
    parser.add_argument("--questions", type=int, help="stored questions (full: 1000000)")
    parser.add_argument("--channels", type=int, help="watched channels (full: 100)")
    parser.add_argument("--workdir", type=Path, help="where the temporary database goes (default: the temp dir)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON as well")
    args = parser.parse_args(argv)
    if any(n is not None and n <= 0 for n in (args.hires, args.questions, args.channels)):
        parser.error("--hires, --questions and --channels must be positive")
    results = run(args.scale, hires=args.hires, questions=args.questions, channels=args.channels, workdir=args.workdir)
    if args.json:
        print(json.dumps({k: v for k, v in results.items() if k != "sections"}, indent=1, default=str))
    print(common.render_markdown(results))


if __name__ == "__main__":
    main()
