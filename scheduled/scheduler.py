"""build_scheduler: APScheduler in UTC ticking the sweeps in scheduled.jobs."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from bot.deps import Deps
from scheduled import jobs


def build_scheduler(deps: Deps) -> BackgroundScheduler:
    """Every job has a stable id and never runs twice at once; a missed tick runs once, late."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        jobs.prune_processed_events,
        "interval",
        hours=1,
        args=[deps],
        id="prune-processed-events",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=600,
    )
    scheduler.add_job(
        jobs.prune_search_changes,
        "interval",
        hours=6,
        args=[deps],
        id="prune-search-changes",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    scheduler.add_job(
        jobs.escalate,
        "interval",
        minutes=1,
        args=[deps],
        id="routing-sweep",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=60,
    )
    return scheduler


def build_index_sync(deps: Deps, *, seconds: float = 2.0) -> BackgroundScheduler | None:
    """Every replica keeps its own search index files current from the database (none to keep: None)."""
    if deps.search is None:
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        deps.search.sync,
        "interval",
        seconds=seconds,
        id="search-index-sync",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=30,
    )
    return scheduler
