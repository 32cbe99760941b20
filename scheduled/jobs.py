"""Jobs: plain functions that ask the database what is due now and record what they did."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import digest as digests
from bot import onboarding as journeys
from bot.assignments import OPEN
from bot.chart import weekly_activity_png
from bot.deps import Deps
from handlers import blocks, home, onboarding, questions, routing
from handlers.common import slack_call, workspace_url
from storage import queries
from storage.fulltext import prune_changes
from storage.models import (
    Assignment,
    AssignmentStatus,
    Digest,
    DigestKind,
    DigestStatus,
    Enrolment,
    EnrolmentStatus,
    Nudge,
    NudgeStatus,
    Question,
    Workspace,
)

log = logging.getLogger("peerbot.jobs")

# Slack retries a failed delivery for about an hour; a day of event ids covers every retry.
EVENT_ID_RETENTION = timedelta(days=1)


class Clients:
    """Each workspace's client, looked up once per sweep: its installation's, or the one token's.

    `client` (tests, one workspace) answers for every workspace. None: Peerbot is no longer installed
    there (uninstalled, tokens revoked), so that workspace's jobs wait and nothing is sent.
    """

    def __init__(self, deps: Deps, client: WebClient | None = None) -> None:
        self.deps, self.client = deps, client
        self._found: dict[Workspace, WebClient | None] = {}

    def __call__(self, ws: Workspace) -> WebClient | None:
        if self.client is not None:
            return self.client
        if ws not in self._found:
            self._found[ws] = self.deps.client_for(ws)
            if self._found[ws] is None:
                log.info("skipping %s this sweep: Peerbot is not installed there", ws.team_id or ws.enterprise_id)
        return self._found[ws]


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
    clients = Clients(deps, client)
    now = deps.clock()
    done = {"resent": 0, "expired": 0, "woken": 0, "routed": 0}
    with deps.db() as s:
        unsent = [(Workspace.of(a), a.id) for a in queries.unsent_assignments(s, now=now) if a.id is not None]
    for ws, assignment_id in unsent:
        if (c := clients(ws)) is not None:
            routing.send_dm(c, deps, assignment_id)
            done["resent"] += 1
    overdue: set[int] = set()
    stale: list[Assignment] = []
    with deps.db() as s:
        for a in queries.due_assignments(s, now=now):
            if clients(Workspace.of(a)) is None:
                continue  # not installed there any more: nothing moves on until it is
            if a.status == AssignmentStatus.SNOOZED:  # the hour is up: ask again, with a fresh DM
                a.status, a.dm_ts, a.due_at = AssignmentStatus.PENDING, "", now + timedelta(hours=1)
                a.dm_claimed_at = None
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
        woken = [(Workspace.of(a), a.id) for a in queries.unsent_assignments(s, now=now) if a.id is not None]
    for a in stale:
        if (c := clients(Workspace.of(a))) is not None:
            routing.settle_dm(c, deps, a, "No answer in time, so I've passed it on. No worries!")
    for ws, assignment_id in woken:
        if (c := clients(ws)) is not None:
            routing.send_dm(c, deps, assignment_id)
    for question_id in sorted((overdue - still_open) | set(waiting)):
        with deps.db() as s:
            q = s.get(Question, question_id)
            unfinished = q is not None and q.followed_up_at is None
            tags = queries.question_tags(s, question_id=question_id) if unfinished else []
        c = clients(Workspace.of(q)) if q is not None else None
        if q is None or c is None:
            continue
        if unfinished:  # its capturing request died before following it up: do it now
            log.warning("question %s was never followed up by the request that captured it: doing it now", q.id)
            questions.follow_up(c, deps, q, tags, react=True)
        else:
            routing.route_question(c, deps, question_id)
        done["routed"] += 1
    if any(done.values()):
        log.info("routing sweep: %s", done)
    return done


def nudge(deps: Deps, client: WebClient | None = None) -> dict[str, int]:
    """The onboarding sweep: deliver due steps inside each hire's working hours, exactly once.

    A step is claimed (status sent, no ts yet) and committed before its DM goes out, and its ts is
    recorded after; a claimed step without a ts is sent again by the next sweep. Several steps due
    at once (after downtime) go out as one catch-up message.
    """
    clients = Clients(deps, client)
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
    for enrolment_id, ids in batches:
        with deps.db() as s:
            enrolment = s.get(Enrolment, enrolment_id)
        c = clients(Workspace.of(enrolment)) if enrolment is not None else None
        if c is None:
            continue  # claimed but unsent: the sweep after a reinstall sends it
        onboarding.deliver(c, deps, enrolment_id, ids, base_url=workspace_url(c))
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


DIGEST_ATTEMPTS = 5  # a digest Slack keeps refusing (a channel archived, the bot removed) is given up on


def digest(deps: Deps, client: WebClient | None = None) -> dict[str, int]:
    """The digest sweep: after this week's digest time, each channel, expert and admin gets theirs once.

    A digest with nothing to say is recorded as empty and not sent. A failed send stays pending and
    is tried again by the next sweep; one target failing never stops the others.
    """
    clients = Clients(deps, client)
    settings = deps.settings
    now = deps.clock()
    done = {"sent": 0, "empty": 0, "failed": 0}
    moment = digests.this_week(now, day=settings.digest_day, at=settings.digest_time, tz=settings.digest_tz)
    if now < moment:
        return done
    period = digests.period_of(moment, settings.digest_tz)
    start, week = moment - timedelta(days=7), digests.week_label(moment, settings.digest_tz)
    recent = moment - digests.UNANSWERED_WINDOW  # open questions stay worth an expert's look for four weeks
    with deps.db() as s:
        settled = queries.settled_digest_targets(s, kind=DigestKind.CHANNEL, period=period)
        rows = queries.all_watched_channels(s)
        channels = [(Workspace.of(c), c.slack_id, c.name) for c in rows if (c.team_id, c.slack_id) not in settled]
        # PEERBOT_WATCHED_CHANNELS are watched without a row saying so; they belong to this token's workspace.
        configured = sorted(settings.watched_channels - {c.slack_id for c in rows} - {t for _, t in settled})
        settled = queries.settled_digest_targets(s, kind=DigestKind.EXPERT, period=period)
        experts = [
            e.model_copy()
            for e in queries.all_experts(s)
            if (e.team_id, e.user_id) not in settled
            and not (e.deleted or e.paused or e.digest_opt_out)
            and not (e.on_leave_until and e.on_leave_until >= digests.local_date(now, e.tz))
        ]
        admins_settled = queries.settled_digest_targets(s, kind=DigestKind.ADMIN, period=period)
    if deps.installs is None:  # one workspace, the token's
        if not channels and not configured and not experts and settings.admins <= {t for _, t in admins_settled}:
            return done  # everything went out this week: no need to ask Slack which workspace this is
        info = slack_call((client or deps.client).auth_test)
        homes = [Workspace(str(info.get("team_id") or ""), str(info.get("enterprise_id") or ""))] if info else []
        homes = [ws for ws in homes if ws.team_id]
    else:  # many workspaces: a configured channel id belongs to the workspace Peerbot saw it in
        with deps.db() as s:
            for channel_id in configured:
                channels += [(ws, channel_id, name) for ws, name in queries.channel_workspaces(s, channel_id)]
        configured = []
        homes = sorted({ws for ws, _, _ in channels} | {Workspace.of(c) for c in rows}, key=lambda w: w.team_id)
    admins = {ws: sorted(settings.admins | _installer(deps, ws)) for ws in homes}
    if (
        not channels
        and not configured
        and not experts
        and all((ws.team_id, a) in admins_settled for ws, people in admins.items() for a in people)
    ):
        return done
    if configured and homes:
        with deps.db() as s:
            for channel_id in configured:
                row = queries.channel(s, ws=homes[0], channel_id=channel_id)
                channels.append((homes[0], channel_id, row.name if row else channel_id))
    send = _Sender(deps, period, done)
    for ws, channel_id, name in channels:
        if (c := clients(ws)) is None:
            continue
        with deps.db() as s:
            d = digests.channel_digest(s, ws=ws, channel=channel_id, start=start, end=moment)
        text = f"This week in #{name}: what colleagues asked and answered"
        shown = [] if d.empty else blocks.channel_digest(d, base_url=workspace_url(c), week=week)
        send(c, ws, DigestKind.CHANNEL, channel_id, text, shown)
    members: dict[str, set[str]] = {}
    for e in experts:
        ws = Workspace.of(e)
        if (c := clients(ws)) is None:
            continue

        def may_see(channel: str, who: str = e.user_id, c: WebClient = c) -> bool:
            return who in _members(c, members, channel)

        with deps.db() as s:
            topics = queries.expert_topics(s, expert_ids=[e.id or 0]).get(e.id or 0, [])
            items = digests.expert_digest(s, ws=ws, expert=e.user_id, topics=topics, since=recent, may_see=may_see)
        text = f"{len(items)} open questions in your topics could use your help"
        shown = blocks.expert_digest(items, base_url=workspace_url(c)) if items else []
        send(c, ws, DigestKind.EXPERT, e.user_id, text, shown)
    for ws, people in admins.items():
        if (c := clients(ws)) is None or all((ws.team_id, a) in admins_settled for a in people):
            continue
        with deps.db() as s:
            report = digests.gap_report(s, ws=ws, start=start, end=moment)
        chart: bytes | None = None  # the weekly activity chart, drawn once for the workspace's admins
        for admin in people:
            if (ws.team_id, admin) in admins_settled:
                continue
            shown = [] if report.empty else blocks.gap_report(report, week=week, min_group=digests.MIN_GROUP)
            if shown and chart is None:
                with deps.db() as s:
                    chart = weekly_activity_png(s, ws=ws, now=moment) or b""
            send(c, ws, DigestKind.ADMIN, admin, "Peerbot's weekly knowledge-gap report", shown, attachment=chart)
    if any(done.values()):
        log.info("digest sweep for %s: %s", period, done)
    return done


def _installer(deps: Deps, ws: Workspace) -> set[str]:
    """With OAuth installs, whoever installed Peerbot in a workspace gets its gap report too."""
    installer = deps.installs.installer(ws) if deps.installs is not None else ""
    return {installer} if installer else set()


def _members(client: WebClient, cache: dict[str, set[str]], channel: str) -> set[str]:
    """A private channel's members (asked once per sweep); unknown counts as nobody."""
    if channel not in cache:
        cache[channel] = routing.channel_members(client, channel)
    return cache[channel]


class _Sender:
    """Claims a digest row, posts it, records the outcome: sent once, empty not sent, failures retried later."""

    def __init__(self, deps: Deps, period: str, done: dict[str, int]) -> None:
        self.deps, self.period, self.done = deps, period, done

    def __call__(
        self,
        client: WebClient,
        ws: Workspace,
        kind: DigestKind,
        target: str,
        text: str,
        shown: list[Any],
        *,
        attachment: bytes | None = None,
    ) -> None:
        """Send `shown` (blocks) to `target`; no blocks means nothing to say: recorded as empty, not sent."""
        now = self.deps.clock()
        with self.deps.db() as s:
            queries.insert_ignoring_duplicates(s, Digest, {
                "team_id": ws.team_id, "enterprise_id": ws.enterprise_id, "kind": kind, "target": target,
                "period": self.period, "status": DigestStatus.PENDING, "attempts": 0, "error": "", "channel": "",
                "ts": "", "created_at": now,
            })  # fmt: skip
            row = queries.digest(s, ws=ws, kind=kind, target=target, period=self.period)
            if row is None or row.status != DigestStatus.PENDING or row.attempts >= DIGEST_ATTEMPTS:
                s.commit()
                return
            if not shown:
                row.status = DigestStatus.EMPTY
                self.done["empty"] += 1
                s.add(row)
                s.commit()
                return
            row.attempts += 1
            s.add(row)
            s.commit()
            row_id = row.id
        try:
            posted = client.chat_postMessage(channel=target, text=text, blocks=shown)
        except SlackApiError as e:
            error = str(e.response.get("error"))
            log.warning("%s digest to %s failed (%s); the next sweep tries again", kind, target, error)
            self._record(row_id, error=error[:200])
            self.done["failed"] += 1
            return
        channel = str(posted.get("channel") or target)
        if attachment:  # the admins' chart, in the same DM; a failed upload does not unsend the digest
            slack_call(client.files_upload_v2, channel=channel, file=attachment, filename="activity.png",
                       title="Questions asked and answered per week (public channels)")  # fmt: skip
        self._record(row_id, status=DigestStatus.SENT, channel=str(posted.get("channel") or target),
                     ts=str(posted["ts"]), sent_at=now, error="")  # fmt: skip
        self.done["sent"] += 1

    def _record(self, row_id: int | None, **values: Any) -> None:
        with self.deps.db() as s:
            row = s.get(Digest, row_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)
                s.add(row)
                s.commit()


def refresh_homes(deps: Deps, client: WebClient | None = None) -> int:
    """The Home sweep: republish the Home tabs of people whose questions, requests, votes or journey changed."""
    published = home.refresh(Clients(deps, client), deps)
    if published:
        log.info("refreshed %d Home tabs", published)
    return published
