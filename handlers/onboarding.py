"""Onboarding in Slack: enrolment (team_join, the new-hires channel, /peerbot onboard), nudges and their buttons."""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import onboarding
from bot.deps import Deps
from bot.journeys import Journey
from handlers import blocks, ids
from handlers.common import claim, deps_of, slack_call, tell_clicker, workspace_of
from storage import queries
from storage.models import Enrolment, EnrolmentStatus, Nudge, NudgeStatus, Workspace

log = logging.getLogger("peerbot.onboarding")

UNREACHABLE = {"cannot_dm_bot", "user_not_found", "account_inactive", "user_disabled"}
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def register(app: App) -> None:
    app.event("team_join")(handle_team_join)
    app.event("member_joined_channel")(handle_member_joined)
    app.action(ids.NUDGE_DONE)(handle_done)
    app.action(ids.NUDGE_SNOOZE)(handle_snooze)
    app.action(ids.NUDGE_STOP)(handle_stop)
    app.action(ids.ONBOARD_TOPICS)(handle_topics)


# --- Enrolment ---


def enrol_person(
    deps: Deps, ws: Workspace, profile: dict[str, Any], *, journey: Journey, by: str, start: date | None = None
) -> tuple[Enrolment | None, Enrolment | None]:
    """(the new enrolment, None) or (None, the existing one). Bots and deactivated people are never enrolled."""
    user_id = str(profile.get("id", ""))
    now = deps.clock()
    tz = str(profile.get("tz") or "UTC")[:64]
    with deps.db() as s:
        queries.save_user(
            s, ws=ws, user_id=user_id, now=now, name=str(profile.get("name", ""))[:200],
            real_name=str(profile.get("real_name") or (profile.get("profile") or {}).get("real_name") or "")[:200],
            tz=tz, is_bot=bool(profile.get("is_bot")), deleted=bool(profile.get("deleted")),
        )  # fmt: skip
        row = onboarding.enrol(s, ws=ws, user_id=user_id, journey=journey, tz=tz, by=by, now=now, start=start)
        existing = None if row else queries.enrolment(s, ws=ws, user_id=user_id)
        s.commit()
        if row is not None:
            log.info("enrolled %s in journey %s (by %s)", user_id, journey.name, by)
        return row, existing


def _newcomer(profile: dict[str, Any]) -> bool:
    return bool(profile.get("id")) and not profile.get("is_bot") and not profile.get("deleted")


def handle_team_join(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    profile = event.get("user") if isinstance(event.get("user"), dict) else {}
    if not deps.settings.onboard_new_members or not _newcomer(profile or {}):
        return
    with deps.db() as s:
        if not claim(s, body, context):
            return
        s.commit()
    enrol_person(deps, workspace_of(context), profile or {}, journey=deps.settings.journeys["default"], by="team_join")


def handle_member_joined(body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    if not deps.settings.new_hires_channel or event.get("channel") != deps.settings.new_hires_channel:
        return
    info = slack_call(client.users_info, user=str(event.get("user", "")))
    profile = dict(info["user"]) if info else {}
    if not _newcomer(profile):
        return
    with deps.db() as s:
        if not claim(s, body, context):
            return
        s.commit()
    enrol_person(deps, workspace_of(context), profile, journey=deps.settings.journeys["default"], by="channel")


def onboard_command(client: WebClient, context: BoltContext, text: str, respond: Respond) -> None:
    """`/peerbot onboard @user [journey] [YYYY-MM-DD]` (admins): enrol someone by hand."""
    deps = deps_of(context)
    journeys = deps.settings.journeys
    words = text.split()
    usage = (
        "Usage: `/peerbot onboard @person [journey] [start date as YYYY-MM-DD]`. "
        f"Journeys: {', '.join(f'`{j}`' for j in journeys)}."
    )
    match = _MENTION.match(words[0]) if words else None
    if match is None:
        respond(text=usage, response_type="ephemeral")
        return
    journey, start = journeys["default"], None
    for word in words[1:]:
        if word in journeys:
            journey = journeys[word]
            continue
        try:
            start = date.fromisoformat(word)
        except ValueError:
            respond(text=f"`{word[:40]}` is neither a journey nor a date. {usage}", response_type="ephemeral")
            return
    info = slack_call(client.users_info, user=match.group(1))
    profile = dict(info["user"]) if info else {}
    if not _newcomer(profile):
        respond(text="I can only onboard active people (not bots).", response_type="ephemeral")
        return
    row, existing = enrol_person(
        deps, workspace_of(context), profile, journey=journey, by=str(context.user_id or ""), start=start
    )
    if row is None and existing is not None:
        with deps.db() as s:
            p = onboarding.progress(s, row=existing)
        respond(
            text=f"<@{existing.user_id}> is already on the `{existing.journey}` journey ({existing.status}, "
            f"{p.delivered} of {p.total} steps delivered); nothing changed.",
            response_type="ephemeral",
        )
        return
    assert row is not None
    respond(
        text=f"<@{row.user_id}> starts the `{journey.name}` journey on {row.start_date:%a %d %b}: "
        f"{len(journey.steps)} steps, each on a working day in their time zone ({row.tz}).",
        response_type="ephemeral",
    )


# --- Delivery (called by the nudge sweep) ---


def deliver(client: WebClient, deps: Deps, enrolment_id: int, nudge_ids: list[int], *, base_url: str) -> bool:
    """Send claimed steps as one DM (several after downtime: one catch-up message); record where it went."""
    with deps.db() as s:
        row = s.get(Enrolment, enrolment_id)
        nudges = [n for n in queries.nudges_of(s, enrolment_id=enrolment_id) if n.id in nudge_ids]
        if row is None or not nudges:
            return False
        journey = deps.settings.journeys.get(row.journey)
        steps = [journey.step(n.step) if journey else None for n in nudges]
        needed = set().union(*(step.placeholders for step in steps if step is not None))
        material = onboarding.material(s, row=row, needed=needed)
        parts = [onboarding.render(step, material, base_url=base_url) for step in steps if step is not None]
        ask = any(step is not None and step.ask_topics for step in steps)
        choices = queries.tag_names_by_use(s, ws=Workspace.of(row)) if ask else None
        known = next((n.dm_channel for n in queries.nudges_of(s, enrolment_id=enrolment_id) if n.dm_channel), "")
    if not parts:  # steps no longer in the journey file: nothing to say
        _record(deps, nudge_ids, status=NudgeStatus.SKIPPED)
        return False
    try:
        dm = known or client.conversations_open(users=row.user_id)["channel"]["id"]
        posted = client.chat_postMessage(
            channel=dm,
            text=parts[0][:300],
            blocks=blocks.nudge_message(
                parts=parts, nudge_ids=nudge_ids, enrolment_id=enrolment_id, topic_choices=choices,
                chosen=onboarding.topics_of(row),
            ),
        )  # fmt: skip
    except SlackApiError as e:
        error = str(e.response.get("error"))
        log.warning("onboarding DM to %s failed: %s", row.user_id, error)
        if error in UNREACHABLE:
            _record(deps, nudge_ids, status=NudgeStatus.FAILED)
        return False  # anything else: still claimed and unsent, so the next sweep tries again
    _record(deps, nudge_ids, dm_channel=dm, dm_ts=str(posted["ts"]))
    return True


def _record(deps: Deps, nudge_ids: list[int], **values: Any) -> None:
    with deps.db() as s:
        queries.set_nudges(s, ids=nudge_ids, **values)
        hires = {(Workspace.of(e), e.user_id) for e in (s.get(Enrolment, n.enrolment_id) for n in
                 (s.get(Nudge, i) for i in nudge_ids[:1]) if n is not None) if e is not None}  # fmt: skip
        for ws, hire in hires:  # their Home tab shows the journey's progress
            queries.mark_homes_stale(s, ws=ws, users=[hire])
        s.commit()


# --- The hire's buttons ---


def _clicked(body: dict[str, Any], context: BoltContext, client: WebClient) -> tuple[Enrolment, list[Nudge]] | None:
    """The enrolment and steps a nudge's button is about, if the person clicking is that hire (else a note)."""
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    wanted = {int(v) for v in value.split(",") if v.strip().isdigit()}
    user = str(body.get("user", {}).get("id", ""))
    with deps_of(context).db() as s:
        nudges = [n for n in (s.get(Nudge, i) for i in wanted) if n is not None]
        row = s.get(Enrolment, nudges[0].enrolment_id) if nudges else None
    if row is None or row.user_id != user:
        tell_clicker(client, body, "This onboarding step is not yours, or it is gone.")
        return None
    return row, nudges


def _settle(client: WebClient, body: dict[str, Any], outcome: str) -> None:
    message = body.get("message") or {}
    container = body.get("container") or {}
    parts = [
        str(b["text"]["text"])
        for b in message.get("blocks") or []
        if b.get("type") == "section" and isinstance(b.get("text"), dict)
    ]
    channel, ts = str(container.get("channel_id") or ""), str(container.get("message_ts") or "")
    if channel and ts:
        settled = blocks.nudge_settled(parts=parts, outcome=outcome)
        slack_call(client.chat_update, channel=channel, ts=ts, text=outcome, blocks=settled)


def handle_done(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps = deps_of(context)
    found = _clicked(body, context, client)
    if found is None:
        return
    row, nudges = found
    now = deps.clock()
    with deps.db() as s:
        queries.set_nudges(s, ids=[n.id for n in nudges if n.id is not None], status=NudgeStatus.DONE, done_at=now)
        onboarding.finish_if_complete(s, row=row, now=now)
        p = onboarding.progress(s, row=row)
        queries.mark_homes_stale(s, ws=Workspace.of(row), users=[row.user_id])
        s.commit()
    _settle(client, body, f":white_check_mark: Done. {p.done} of {p.total} onboarding steps done.")


def handle_snooze(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps = deps_of(context)
    found = _clicked(body, context, client)
    if found is None:
        return
    row, nudges = found
    with deps.db() as s:
        if row.status != EnrolmentStatus.ACTIVE or any(n.status != NudgeStatus.SENT for n in nudges):
            tell_clicker(client, body, "Nothing to snooze here any more.")
            return
        again = onboarding.snooze(nudges, row.tz, deps.clock())
        for n in nudges:
            s.add(n)
        queries.mark_homes_stale(s, ws=Workspace.of(row), users=[row.user_id])
        s.commit()
    when = f"<!date^{int(again.timestamp())}^{{date_short_pretty}} at {{time}}|{again:%a %d %b %H:%M} UTC>"
    _settle(client, body, f"Snoozed: I'll bring this back {when}.")


def handle_stop(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps = deps_of(context)
    found = _clicked(body, context, client)
    if found is None:
        return
    with deps.db() as s:
        row = s.get(Enrolment, found[0].id)
        if row is None or row.status == EnrolmentStatus.STOPPED:
            return
        skipped = onboarding.stop(s, row=row, now=deps.clock())
        queries.mark_homes_stale(s, ws=Workspace.of(row), users=[row.user_id])
        s.commit()
    log.info("onboarding stopped by %s, %d steps skipped", found[0].user_id, skipped)
    _settle(client, body, "Journey stopped: no more onboarding nudges. Ask in any channel whenever you like!")


def handle_topics(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The hire picks their topics: later steps use them, and a buddy is proposed from those topics' experts."""
    ack()
    deps = deps_of(context)
    action = (body.get("actions") or [{}])[0]
    block_id = str(action.get("block_id") or "")
    enrolment_id = block_id.removeprefix(ids.ONBOARD_TOPICS_BLOCK)
    user = str(body.get("user", {}).get("id", ""))
    topics = [str(o.get("value")) for o in action.get("selected_options") or [] if o.get("value")][:20]
    with deps.db() as s:
        row = s.get(Enrolment, int(enrolment_id)) if enrolment_id.isdigit() else None
        if row is None or row.user_id != user:
            tell_clicker(client, body, "These topics belong to someone else's onboarding.")
            return
        before = row.buddy
        buddy = onboarding.set_topics(s, row=row, topics=topics, now=deps.clock())
        s.commit()
    if not topics:
        tell_clicker(client, body, "No topics for now: I'll keep the next steps general.")
        return
    line = f"Thanks! The next steps will be about {', '.join(topics)}."
    line += f" Your buddy: <@{buddy}>. Say hi!" if buddy else " Nobody has signed up as an expert in these yet."
    tell_clicker(client, body, line)
    if buddy and buddy != before:
        slack_call(
            client.chat_postMessage,
            channel=buddy,
            text=f"<@{user}> just started and works in {', '.join(topics)}. You're their onboarding buddy: "
            "a short hello this week would help them a lot.",
        )
