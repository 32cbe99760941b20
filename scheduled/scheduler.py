"""build_scheduler: APScheduler in UTC ticking the sweeps in scheduled.jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.deps import Deps
from scheduled import jobs
from scheduled.leader import Leadership


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


def build_scheduler(deps: Deps, leadership: Leadership | None = None) -> BackgroundScheduler:
    """The sweeps: the database says what is due; these only tick, on the one replica that leads."""
    if leadership is None:
        with deps.db() as s:
            leadership = Leadership(s.get_bind().engine)
    lead = leadership

    def led(job: Callable[[Deps], Any]) -> Callable[[], Any]:
        return lambda: job(deps) if lead.is_leader() else None

    scheduler = BackgroundScheduler(timezone="UTC")
    _every(scheduler, led(jobs.prune_processed_events), "prune-processed-events", grace=600, hours=1)
    _every(scheduler, led(jobs.prune_search_changes), "prune-search-changes", grace=3600, hours=6)
    _every(scheduler, led(jobs.escalate), "routing-sweep", grace=60, minutes=1)
    return scheduler


def build_index_sync(deps: Deps, *, seconds: float = 2.0) -> BackgroundScheduler | None:
    """Every replica keeps its own search index files current from the database (none to keep: None)."""
    if deps.search is None:
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    _every(scheduler, deps.search.sync, "search-index-sync", grace=30, seconds=seconds)
    return scheduler
