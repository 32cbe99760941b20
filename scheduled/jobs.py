"""Jobs: plain functions that ask the database what is due now and record what they did."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient

from bot.assignments import OPEN
from bot.deps import Deps
from handlers import routing
from storage import queries
from storage.fulltext import prune_changes
from storage.models import Assignment, AssignmentStatus

log = logging.getLogger("peerbot.jobs")

# Slack retries a failed delivery for about an hour; a day of event ids covers every retry.
EVENT_ID_RETENTION = timedelta(days=1)


def prune_processed_events(deps: Deps) -> int:
    """Forget event ids too old for Slack to retry, so the table stays small."""
    with deps.db() as s:
        removed = queries.forget_events_before(s, cutoff=deps.clock() - EVENT_ID_RETENTION)
        s.commit()
    if removed:
        log.info("pruned %d processed event ids", removed)
    return removed


def prune_search_changes(deps: Deps) -> int:
    """The search change log only needs to cover how far a replica's index can fall behind: a week."""
    with deps.db() as s:
        engine = s.get_bind().engine
    return prune_changes(engine, keep_seconds=7 * 86400)


def escalate(deps: Deps, client: WebClient | None = None) -> dict[str, int]:
    """The routing sweep: resend unsent DMs, wake snoozes, move overdue requests on, route waiting questions."""
    client = client or deps.client
    now = deps.clock()
    done = {"resent": 0, "expired": 0, "woken": 0, "routed": 0}
    with deps.db() as s:
        unsent = [a.id for a in queries.unsent_assignments(s) if a.id is not None]
    for assignment_id in unsent:
        routing.send_dm(client, deps, assignment_id)
        done["resent"] += 1
    overdue: set[int] = set()
    stale: list[Assignment] = []
    with deps.db() as s:
        for a in queries.due_assignments(s, now=now):
            if a.status == AssignmentStatus.SNOOZED:  # the hour is up: ask again, with a fresh DM
                a.status, a.dm_ts, a.due_at = AssignmentStatus.PENDING, "", now + timedelta(hours=1)
                done["woken"] += 1
            else:
                a.status, a.closed_at, a.reason = AssignmentStatus.EXPIRED, now, "no answer in time"
                stale.append(a.model_copy())
                overdue.add(a.question_id)
                done["expired"] += 1
            s.add(a)
        s.commit()
        still_open = {
            a.question_id for q in overdue for a in queries.assignments_for(s, question_id=q) if a.status in OPEN
        }
        waiting = [q.id for q in queries.questions_to_route(s, now=now) if q.id is not None]
        woken = [a.id for a in queries.unsent_assignments(s) if a.id is not None]
    for a in stale:
        routing.settle_dm(client, deps, a, "No answer in time, so I've passed it on. No worries!")
    for assignment_id in woken:
        routing.send_dm(client, deps, assignment_id)
    for question_id in sorted((overdue - still_open) | set(waiting)):
        routing.route_question(client, deps, question_id)
        done["routed"] += 1
    if any(done.values()):
        log.info("routing sweep: %s", done)
    return done
