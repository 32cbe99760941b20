"""The scheduler: stable job ids, no overlap, late ticks coalesced; every replica syncs its own search index."""

from __future__ import annotations

import pytest
from conftest import Rig
from sqlalchemy import Engine

from scheduled import jobs
from scheduled.scheduler import build_index_sync, build_scheduler


def test_jobs_are_registered_with_stable_ids_and_no_overlap(rig: Rig) -> None:
    from scheduled.leader import Leadership

    leadership = Leadership(rig.engine)
    scheduler = build_scheduler(rig.deps, leadership)
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {
        "prune-processed-events", "prune-search-changes", "routing-sweep",
        "nudge-sweep", "digest-sweep", "home-refresh",
    }  # fmt: skip
    for job in found.values():
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time
    assert found["routing-sweep"].trigger.interval.total_seconds() == 60
    try:  # the leader runs the real sweep
        assert found["routing-sweep"].func() == {"resent": 0, "expired": 0, "woken": 0, "routed": 0}
    finally:
        leadership.release()


def test_search_index_sync_runs_on_every_replica(rig: Rig) -> None:
    sync = build_index_sync(rig.deps)
    assert sync is not None
    [job] = sync.get_jobs()
    assert job.id == "search-index-sync" and job.trigger.interval.total_seconds() == 2
    assert jobs.prune_search_changes(rig.deps) == 0  # nothing old enough yet


def test_only_one_replica_leads_the_sweeps_and_another_takes_over(engine: Engine) -> None:
    from scheduled.leader import Leadership

    if engine.dialect.name != "postgresql":
        assert Leadership(engine).is_leader()  # SQLite serves one host
        pytest.skip("leader hand-over needs PostgreSQL (TEST_DATABASE_URL)")
    other = same_schema(engine)
    first, second = Leadership(engine), Leadership(other)
    try:
        assert first.is_leader() and first.is_leader()
        assert not second.is_leader()
        first.release()  # the leader dies: its session, and the lock, are gone
        assert second.is_leader() and not first.is_leader()
    finally:
        first.release()
        second.release()
        other.dispose()


def test_a_follower_skips_the_sweeps(rig: Rig) -> None:
    class Follower:
        def is_leader(self) -> bool:
            return False

    scheduler = build_scheduler(rig.deps, Follower())  # type: ignore[arg-type]
    assert all(job.func() is None for job in scheduler.get_jobs())


def test_a_failing_job_is_logged_with_its_traceback_and_the_next_tick_runs(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def flaky(deps: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return "ok"

    monkeypatch.setattr(jobs, "nudge", flaky)
    scheduler = build_scheduler(rig.deps, AlwaysLeader())  # type: ignore[arg-type]
    tick = scheduler.get_job("nudge-sweep").func
    assert tick() is None
    [record] = [r for r in caplog.records if "scheduled job" in r.getMessage()]
    assert "flaky failed" in record.getMessage() and record.exc_info and "database went away" in caplog.text
    assert tick() == "ok" and len(calls) == 2


class AlwaysLeader:
    def is_leader(self) -> bool:
        return True


def test_two_schedulers_on_postgresql_hand_over_the_sweeps(rig: Rig) -> None:
    from scheduled.leader import Leadership

    if rig.engine.dialect.name != "postgresql":
        pytest.skip("leader hand-over needs PostgreSQL (TEST_DATABASE_URL)")
    other = same_schema(rig.engine)
    first, second = Leadership(rig.engine), Leadership(other)
    try:
        a = build_scheduler(rig.deps, first).get_job("nudge-sweep").func
        b = build_scheduler(rig.deps, second).get_job("nudge-sweep").func
        assert a() is not None and b() is None  # one replica sweeps
        first.release()  # its process dies: PostgreSQL drops the session and the lock
        assert b() is not None and a() is None  # the other takes over at its next tick
    finally:
        first.release()
        second.release()
        other.dispose()


def same_schema(engine: Engine) -> Engine:
    """A second engine (another replica) on the same database and schema as `engine`."""
    from sqlalchemy import text

    from storage.db import make_engine

    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
