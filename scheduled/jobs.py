"""Jobs: plain functions that ask the database what is due now and record what they did."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient

from bot import onboarding as journeys
from bot.assignments import OPEN
from bot.deps import Deps
from handlers import onboarding, routing
from handlers.common import slack_call
from storage import queries
from storage.fulltext import prune_changes
from storage.models import Assignment, AssignmentStatus, Enrolment, EnrolmentStatus, Nudge, NudgeStatus

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


def workspace_url(client: WebClient) -> str:
    """The workspace's URL (for permalinks built without a Web API call each), or "" when Slack won't say."""
    info = slack_call(client.auth_test)
    return str(info.get("url") or "") if info else ""


def nudge(deps: Deps, client: WebClient | None = None) -> dict[str, int]:
    """The onboarding sweep: deliver due steps inside each hire's working hours, exactly once.

    A step is claimed (status sent, no ts yet) and committed before its DM goes out, and its ts is
    recorded after; a claimed step without a ts is sent again by the next sweep. Several steps due
    at once (after downtime) go out as one catch-up message.
    """
    client = client or deps.client
    now = deps.clock()
    done = {"sent": 0, "caught_up": 0, "deferred": 0, "resent": 0}
    batches: list[tuple[int, list[int]]] = []
    with deps.db() as s:
        for enrolment_id, group in _by_enrolment(queries.unsent_nudges(s)).items():
            batches.append((enrolment_id, [n.id for n in group if n.id is not None]))
            done["resent"] += 1
        for enrolment_id, group in _by_enrolment(queries.due_nudges(s, now=now)).items():
            row = s.get(Enrolment, enrolment_id)
            if row is None or row.status != EnrolmentStatus.ACTIVE:
                continue
            if journeys.defer_to_working_hours(group, row.tz, now) is not None:
                done["deferred"] += len(group)
            else:
                for n in group:
                    n.status, n.sent_at, n.caught_up = NudgeStatus.SENT, now, len(group) > 1
                batches.append((enrolment_id, [n.id for n in group if n.id is not None]))
                done["sent" if len(group) == 1 else "caught_up"] += len(group)
            for n in group:
                s.add(n)
        s.commit()
    base_url = workspace_url(client) if batches else ""
    for enrolment_id, ids in batches:
        onboarding.deliver(client, deps, enrolment_id, ids, base_url=base_url)
        with deps.db() as s:
            row = s.get(Enrolment, enrolment_id)
            if row is not None:
                journeys.finish_if_complete(s, row=row, now=now)
                s.commit()
    if any(done.values()):
        log.info("nudge sweep: %s", done)
    return done


def _by_enrolment(nudges: list[Nudge]) -> dict[int, list[Nudge]]:
    groups: dict[int, list[Nudge]] = {}
    for n in nudges:
        groups.setdefault(n.enrolment_id, []).append(n)
    return groups
