"""The scheduler: stable job ids, no overlap, late ticks coalesced; every replica syncs its own search index."""

from __future__ import annotations

from conftest import Rig

from scheduled import jobs
from scheduled.scheduler import build_index_sync, build_scheduler


def test_jobs_are_registered_with_stable_ids_and_no_overlap(rig: Rig) -> None:
    scheduler = build_scheduler(rig.deps)
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {"prune-processed-events", "prune-search-changes", "routing-sweep"}
    for job in found.values():
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time
    assert found["routing-sweep"].trigger.interval.total_seconds() == 60
    assert found["routing-sweep"].func() == {"resent": 0, "expired": 0, "woken": 0, "routed": 0}  # the real sweep


def test_search_index_sync_runs_on_every_replica(rig: Rig) -> None:
    sync = build_index_sync(rig.deps)
    assert sync is not None
    [job] = sync.get_jobs()
    assert job.id == "search-index-sync" and job.trigger.interval.total_seconds() == 2
    assert jobs.prune_search_changes(rig.deps) == 0  # nothing old enough yet
