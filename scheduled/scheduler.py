"""build_scheduler: APScheduler in UTC ticking the sweeps in scheduled.jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from bot import metrics
from bot.deps import Deps
from scheduled import jobs
from scheduled.leader import Leadership

log = logging.getLogger("peerbot.scheduler")


class Leader(Protocol):
    """Asked before every sweep: does this replica run them now? (Leadership, on PostgreSQL.)"""

    def is_leader(self) -> bool: ...


# What each job does, for `peerbot jobs`.
DESCRIPTIONS = {
    "routing-sweep": "routing: resend unsent DMs, move unanswered requests on, escalate",
    "nudge-sweep": "onboarding: deliver due steps in each hire's working hours",
    "digest-sweep": "digests: channel, expert and admin digests once the week's digest time has passed",
    "home-refresh": "App Home: republish the Home tabs of people whose data changed",
    "prune-processed-events": "forget event ids older than Slack's retries",
    "prune-search-changes": "trim the search change log",
    "search-index-sync": "keep this replica's search index files in step with the database",
}


def _every(
    scheduler: BackgroundScheduler, job: Callable[..., Any], job_id: str, *, grace: int, **interval: float
) -> None:
    """A job with a stable id that never runs twice at once; missed ticks run once, late, within `grace` s."""
    scheduler.add_job(
        job,
        "interval",
        **interval,
        id=job_id,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=grace,
    )


def build_scheduler(deps: Deps, leadership: Leader | None = None) -> BackgroundScheduler:
    """The sweeps: the database says what is due; these only tick, on the one replica that leads."""
    if leadership is None:
        with deps.db() as s:
            leadership = Leadership(s.get_bind().engine)
    lead: Leader = leadership

    def led(job: Callable[[Deps], Any]) -> Callable[[], Any]:
        def tick() -> Any:
            if not lead.is_leader():
                return None
            try:
                with metrics.timed_sweep(getattr(job, "__name__", "sweep")):  # /metrics: sweep durations
                    return job(deps)
            except Exception:
                # Logged with its traceback; the next tick runs as usual (the database says what is still due).
                log.exception("scheduled job %s failed", getattr(job, "__name__", job))
                return None

        return tick

    scheduler = BackgroundScheduler(timezone="UTC")
    _every(scheduler, led(jobs.prune_processed_events), "prune-processed-events", grace=600, hours=1)
    _every(scheduler, led(jobs.prune_search_changes), "prune-search-changes", grace=3600, hours=6)
    _every(scheduler, led(jobs.escalate), "routing-sweep", grace=60, minutes=1)
    _every(scheduler, led(jobs.nudge), "nudge-sweep", grace=60, minutes=1)
    _every(scheduler, led(jobs.digest), "digest-sweep", grace=300, minutes=5)
    _every(scheduler, led(jobs.refresh_homes), "home-refresh", grace=60, minutes=1)
    return scheduler


def describe(deps: Deps, now: datetime) -> list[tuple[str, str, str]]:
    """(job id, next run, what it does) for every job of a replica, without running any: `peerbot jobs`."""
    from bot.digest import this_week

    found = []
    for scheduler in (build_scheduler(deps, _NotLeading()), build_index_sync(deps)):
        if scheduler is None:
            continue
        for job in scheduler.get_jobs():
            nxt = job.trigger.get_next_fire_time(None, now)
            found.append((job.id, f"{nxt:%Y-%m-%d %H:%M:%S} UTC" if nxt else "-", DESCRIPTIONS.get(job.id, "")))
    s = deps.settings
    moment = this_week(now, day=s.digest_day, at=s.digest_time, tz=s.digest_tz)
    if moment <= now:
        moment = this_week(moment + timedelta(days=7), day=s.digest_day, at=s.digest_time, tz=s.digest_tz)
    found.append(("(weekly digests)", f"{moment:%Y-%m-%d %H:%M} UTC", "when the next digests are due"))
    return sorted(found)


class _NotLeading:
    def is_leader(self) -> bool:
        return False


def build_index_sync(deps: Deps, *, seconds: float = 2.0) -> BackgroundScheduler | None:
    """Every replica keeps its own search index files current from the database (none to keep: None)."""
    if deps.search is None:
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    _every(scheduler, deps.search.sync, "search-index-sync", grace=30, seconds=seconds)
    return scheduler
