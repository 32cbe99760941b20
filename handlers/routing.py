"""Routing in Slack: DMs to experts, their buttons and modals, answers posted to the thread."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import col

from bot import assignments
from bot import experts as experts_domain
from bot import topics as topics_domain
from bot.capture import Message, record_reply
from bot.deps import Deps
from bot.text import quote
from handlers import blocks, ids
from handlers.common import deps_of, permalink, slack_call, tell_clicker
from storage import queries
from storage.models import Assignment, AssignmentStatus, Question, QuestionStatus, Workspace

log = logging.getLogger("peerbot.routing")

# The person cannot receive a DM at all: ask someone else instead of retrying.
UNREACHABLE = {"cannot_dm_bot", "user_not_found", "account_inactive", "user_disabled", "not_allowed_token_type"}
MAX_ANSWER = 3000


def register(app: App) -> None:
    app.action(ids.ANSWER)(handle_answer_button)
    app.action(ids.PASS)(handle_pass_button)
    app.action(ids.SNOOZE)(handle_snooze)
    app.action(ids.SUGGEST)(handle_suggest)
    app.view(ids.ANSWER_MODAL)(handle_answer_submit)
    app.view(ids.PASS_MODAL)(handle_pass_submit)
    app.action(ids.EDIT_TOPICS)(handle_edit_topics)
    app.view(ids.EDIT_TOPICS_MODAL)(handle_topics_submit)


def rules(deps: Deps) -> assignments.RoutingRules:
    s = deps.settings
    return assignments.RoutingRules(
        per_round=s.experts_per_round, rounds=s.routing_rounds, answer_hours=s.answer_hours,
        fallback_channel=s.fallback_channel,
    )  # fmt: skip


def route_question(
    client: WebClient, deps: Deps, question_id: int, *, announce: bool = False, topics: list[str] | None = None
) -> None:
    """Run one routing step for a question and do in Slack what it decided.

    With `announce` (a new capture), the asker gets one ephemeral note: the topics found, what
    happens next, and an "Edit topics" button.
    """
    with deps.db() as s:
        question = s.get(Question, question_id)
        if question is None:
            return
        members = channel_members(client, question.channel) if question.is_private else set()
        routed = assignments.route(
            s, question=question, rules=rules(deps), now=deps.clock(), topics=topics, members=members
        )
        s.commit()
        asked = [a.id for a in routed.asked if a.id is not None]
        experts = [a.expert for a in routed.asked]
        q = question.model_copy()
        if announce and topics is None:
            topics = queries.question_tags(s, question_id=question_id)
    for assignment_id in asked:
        send_dm(client, deps, assignment_id)
    status = ""
    if routed.wait_until is not None:
        # Slack shows the time in the reader's own time zone; the fallback text is for old clients.
        fallback = f"{routed.wait_until:%a %d %b %H:%M} UTC"
        when = f"<!date^{int(routed.wait_until.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"
        status = f"No expert in these topics is at work right now; expect help from {when}."
    elif experts:
        status = "I've asked " + ", ".join(f"<@{e}>" for e in experts) + " to help."
    elif routed.fallback:
        _post_fallback(client, deps, q)
    elif announce:
        status = "Nobody has these topics yet; colleagues can still answer in the thread."
    if announce:
        announce_capture(client, q, topics or [], status)
    elif status and routed.wait_until is not None:
        _tell_asker(client, q, status)


def channel_members(client: WebClient, channel: str) -> set[str]:
    """Who is in a (private) channel; when Slack won't say, nobody: its content goes to no one outside."""
    members: set[str] = set()
    cursor = ""
    while True:
        page = slack_call(client.conversations_members, channel=channel, limit=1000, cursor=cursor or None)
        if page is None:
            return members
        members.update(str(m) for m in page.get("members") or [])
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return members


def announce_capture(client: WebClient, q: Question, topics: list[str], status: str) -> None:
    """The asker alone sees what Peerbot kept: the topics, what happens next, and "Edit topics"."""
    note = blocks.capture_note(question_id=q.id or 0, topics=topics, status=status)
    slack_call(
        client.chat_postEphemeral, channel=q.channel, user=q.author, text=status or "Question kept.", blocks=note
    )


def send_dm(client: WebClient, deps: Deps, assignment_id: int) -> None:
    """Send (or resend) an assignment's DM; record where it went. Unreachable people are skipped."""
    with deps.db() as s:
        a = s.get(Assignment, assignment_id)
        q = s.get(Question, a.question_id) if a else None
        if a is None or q is None or not queries.claim_dm(s, assignment_id=assignment_id, now=deps.clock()):
            return  # sent already, closed, or being sent right now by another request or the sweep
        s.commit()
        topics = queries.question_tags(s, question_id=q.id or 0)
        earlier = queries.assignments_to(s, ws=Workspace.of(q), expert=a.expert)
        known = next((x.dm_channel for x in earlier if x.dm_channel), "")  # DM channel ids never change
    try:
        dm = known or client.conversations_open(users=a.expert)["channel"]["id"]
        dm_blocks = blocks.expert_dm(
            assignment_id=assignment_id, asker=q.author, channel=q.channel, text=q.text, topics=topics,
            permalink=permalink(client, q.channel, q.ts), suggested_by=a.suggested_by,
        )  # fmt: skip
        fallback = f"Can you help with a question in topics {', '.join(topics)}?"
        posted = client.chat_postMessage(channel=dm, text=fallback, blocks=dm_blocks)
    except SlackApiError as e:
        error = str(e.response.get("error"))
        log.warning("DM to %s failed: %s", a.expert, error)
        if error in UNREACHABLE:
            _unreachable(client, deps, assignment_id, error)
        else:  # retried by the next sweep: the DM is still unsent, and no longer claimed
            with deps.db() as s:
                s.execute(update(Assignment).where(col(Assignment.id) == assignment_id).values(dm_claimed_at=None))
                s.commit()
        return
    with deps.db() as s:
        a = s.get(Assignment, assignment_id)
        if a is not None:
            a.dm_channel, a.dm_ts = dm, str(posted["ts"])
            s.add(a)
            queries.mark_homes_stale(s, ws=Workspace.of(a), users=[a.expert])
            s.commit()


def _unreachable(client: WebClient, deps: Deps, assignment_id: int, error: str) -> None:
    with deps.db() as s:
        a = s.get(Assignment, assignment_id)
        if a is None:
            return
        a.status, a.reason, a.closed_at = AssignmentStatus.FAILED, error, deps.clock()
        row = queries.expert(s, ws=Workspace.of(a), user_id=a.expert)
        if row is not None and error in {"user_not_found", "account_inactive", "user_disabled"}:
            row.deleted = True  # never routed to again
            s.add(row)
        s.add(a)
        question_id = a.question_id
        s.commit()
    route_question(client, deps, question_id)


def on_answered(client: WebClient, deps: Deps, question_id: int, answered_by: str | None, outcome: str) -> None:
    """Close the question's open assignments and turn their DMs into a settled note."""
    with deps.db() as s:
        closed = assignments.close(s, question_id=question_id, now=deps.clock(), answered_by=answered_by)
        q = s.get(Question, question_id)
        if q is not None:  # their Home tabs: the asker's question, the experts' waiting list
            queries.mark_homes_stale(
                s, ws=Workspace.of(q), users=[q.author, answered_by or "", *[a.expert for a in closed]]
            )
        s.commit()
    for a in closed:
        settle_dm(client, deps, a, outcome)


def _assignment(body: dict[str, Any], deps: Deps) -> tuple[Assignment, Question] | None:
    value = (body.get("actions") or [{}])[0].get("value") or json.loads(
        (body.get("view") or {}).get("private_metadata") or "{}"
    ).get("assignment")
    try:
        assignment_id = int(value)
    except (TypeError, ValueError):
        return None
    with deps.db() as s:
        a = s.get(Assignment, assignment_id)
        q = s.get(Question, a.question_id) if a else None
        return (a, q) if a is not None and q is not None else None


def _still_open(found: tuple[Assignment, Question] | None, user: str) -> str | None:
    """None when the expert may act; otherwise a polite note why not."""
    if found is None:
        return "That question is no longer here (it may have been deleted)."
    a, q = found
    if a.expert != user:
        return "This request was for someone else."
    if q.status != QuestionStatus.OPEN:
        return "Thanks! This question has been answered already."
    if a.status not in assignments.OPEN:
        return "You already responded to this one; nothing changed."
    return None


def _open_request(body: dict[str, Any], context: BoltContext, client: WebClient) -> tuple[Assignment, Question] | None:
    """The assignment a DM button is about, if its expert may still act on it; else a polite note, None."""
    found = _assignment(body, deps_of(context))
    user = str(body.get("user", {}).get("id", ""))
    note = _still_open(found, user)
    if note or found is None:
        tell_clicker(client, body, note or "")
        return None
    return found


def handle_answer_button(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    found = _open_request(body, context, client)
    if found is None:
        return
    a, q = found
    client.views_open(trigger_id=body["trigger_id"], view=blocks.answer_modal(assignment_id=a.id or 0, text=q.text))


def handle_pass_button(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    found = _open_request(body, context, client)
    if found is None:
        return
    client.views_open(trigger_id=body["trigger_id"], view=blocks.pass_modal(assignment_id=found[0].id or 0))


def answer_problem(text: str) -> str | None:
    """What is wrong with an answer typed into the modal, if anything (shown inline under the field)."""
    if not text:
        return "Write an answer first."
    if len(text) > MAX_ANSWER:
        return f"Keep it under {MAX_ANSWER:,} characters ({len(text):,} now)."
    return None


def modal_text(view: dict[str, Any]) -> str:
    values = view.get("state", {}).get("values", {})
    return str((values.get(ids.ANSWER_BLOCK, {}).get(ids.ANSWER_INPUT) or {}).get("value") or "").strip()


def post_answer(client: WebClient, deps: Deps, q: Question, user: str, text: str, *, via: str) -> None:
    """An answer typed into Peerbot: posted in the thread under the person's name, recorded, everyone told.

    If Slack refuses the post even after the client's retries, the answer goes back to its author by DM,
    so what they wrote is never lost.
    """
    try:
        posted = client.chat_postMessage(
            channel=q.channel, thread_ts=q.thread_ts, text=blocks.thread_answer(expert=user, text=text)
        )
    except SlackApiError as e:
        error = str(e.response.get("error"))
        log.error("could not post %s's answer to question %s: %s", user, q.id, error)
        slack_call(
            client.chat_postMessage,
            channel=user,
            text=f"Sorry, Slack would not take your answer to <@{q.author}>'s question in <#{q.channel}> ({error})."
            f" Here it is, so nothing is lost; please try again in a moment:\n{quote(text)}",
        )
        return
    msg = Message(
        ws=Workspace.of(q), channel=q.channel, ts=str(posted["ts"]), author=user, text=text, thread_ts=q.thread_ts
    )
    with deps.db() as s:
        record_reply(s, msg=msg, now=deps.clock(), via=via)
        s.commit()
    on_answered(client, deps, q.id or 0, user, f"Answered by <@{user}>. Thank you!")
    _tell_asker(client, q, f"<@{user}> answered your question in the thread.", dm=True)


def handle_answer_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """The expert's answer from the modal: validated inline, posted in the thread, recorded, everyone told."""
    text = modal_text(view)
    problem = answer_problem(text)
    if problem:
        ack(response_action="errors", errors={ids.ANSWER_BLOCK: problem})
        return
    deps = deps_of(context)
    found = _assignment(body, deps)
    user = str(body.get("user", {}).get("id", ""))
    note = _still_open(found, user)
    if note or found is None:
        ack(response_action="errors", errors={ids.ANSWER_BLOCK: note or "This question is gone."})
        return
    ack()
    post_answer(client, deps, found[1], user, text, via="dm")


def handle_pass_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    deps = deps_of(context)
    found = _assignment(body, deps)
    user = str(body.get("user", {}).get("id", ""))
    if _still_open(found, user) or found is None:
        return
    values = view.get("state", {}).get("values", {})
    reason = str((values.get(ids.REASON_BLOCK, {}).get(ids.REASON_INPUT) or {}).get("value") or "")[:500]
    _close_one(client, deps, found, AssignmentStatus.PASSED, reason, "You passed on this one. Thanks for saying so!")
    route_question(client, deps, found[1].id or 0)


def handle_snooze(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    found = _open_request(body, context, client)
    if found is None:
        return
    deps = deps_of(context)
    with deps.db() as s:
        a = s.get(Assignment, found[0].id)
        if a is not None:
            a.status, a.due_at = AssignmentStatus.SNOOZED, deps.clock() + assignments.SNOOZE
            s.add(a)
            s.commit()
    tell_clicker(client, body, "Snoozed: I'll ask you again in an hour.")


def handle_suggest(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The expert points at a colleague: they are asked next, and learn the question's topics."""
    ack()
    deps = deps_of(context)
    found = _assignment_from_block(body, deps)
    user = str(body.get("user", {}).get("id", ""))
    note = _still_open(found, user)
    suggested = str((body.get("actions") or [{}])[0].get("selected_user") or "")
    if note or found is None or not suggested:
        tell_clicker(client, body, note or "Pick a colleague to suggest.")
        return
    q = found[1]
    if suggested in {q.author, user, context.bot_user_id}:
        tell_clicker(client, body, "Suggest someone other than the asker or yourself.")
        return
    if q.is_private and suggested not in channel_members(client, q.channel):
        tell_clicker(client, body, f"<@{suggested}> isn't in that private channel, so I can't show them the question.")
        return
    with deps.db() as s:
        new = assignments.suggest(
            s, question_id=q.id or 0, by=user, person=suggested, rules=rules(deps), now=deps.clock()
        )
        s.commit()
    if new is None:
        tell_clicker(client, body, f"<@{suggested}> has been asked already.")
        return
    _close_one(
        client, deps, found, AssignmentStatus.PASSED, f"suggested {suggested}", f"You suggested <@{suggested}>. Thanks!"
    )
    send_dm(client, deps, new)


def _assignment_from_block(body: dict[str, Any], deps: Deps) -> tuple[Assignment, Question] | None:
    """A users_select carries no value: the assignment is the one whose DM holds the select."""
    message = body.get("message") or {}
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == ids.ANSWER:
                return _assignment({"actions": [{"value": element.get("value")}]}, deps)
    return None


def _close_one(client: WebClient, deps: Deps, found: tuple[Assignment, Question], status: AssignmentStatus,
               reason: str, outcome: str) -> None:  # fmt: skip
    a = found[0]
    with deps.db() as s:
        row = s.get(Assignment, a.id)
        if row is None:
            return
        row.status, row.reason, row.closed_at = status, reason, deps.clock()
        s.add(row)
        s.commit()
    settle_dm(client, deps, a, outcome)


def settle_dm(client: WebClient, deps: Deps, a: Assignment, outcome: str) -> None:
    """Turn an expert's DM into a short note once it needs nothing more from them."""
    if not a.dm_ts:
        return
    with deps.db() as s:
        q = s.get(Question, a.question_id)
    if q is not None:
        settled = blocks.dm_settled(asker=q.author, channel=q.channel, text=q.text, outcome=outcome)
        slack_call(client.chat_update, channel=a.dm_channel, ts=a.dm_ts, text=outcome, blocks=settled)


def _tell_asker(client: WebClient, q: Question, text: str, *, dm: bool = False) -> None:
    if dm:
        link = permalink(client, q.channel, q.ts)
        suffix = f" <{link}|See it>" if link else ""
        slack_call(client.chat_postMessage, channel=q.author, text=text + suffix)
    else:
        slack_call(client.chat_postEphemeral, channel=q.channel, user=q.author, text=text)


def _post_fallback(client: WebClient, deps: Deps, q: Question) -> None:
    if q.is_private:
        log.info("question %s is in a private channel: not posted to the fallback channel", q.id)
        _tell_asker(client, q, "No expert answered yet. Try mentioning a colleague who might know.")
        return
    link = permalink(client, q.channel, q.ts)
    thread = f" (<{link}|open the thread>)" if link else ""
    text = f"Nobody has answered this question in <#{q.channel}> yet{thread}. Can you help?\n{quote(q.text, 1500)}"
    slack_call(client.chat_postMessage, channel=deps.settings.fallback_channel, text=text)
    _tell_asker(client, q, "No expert answered in time, so I've asked a wider group for help.")


def handle_edit_topics(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The asker's "Edit topics" button: a modal with the topics Peerbot found."""
    ack()
    deps = deps_of(context)
    user = str(body.get("user", {}).get("id", ""))
    try:
        question_id = int((body.get("actions") or [{}])[0].get("value") or "")
    except ValueError:
        return
    with deps.db() as s:
        q = s.get(Question, question_id)
        topics = queries.question_tags(s, question_id=question_id) if q else []
    if q is None or q.author != user:
        tell_clicker(client, body, "Only the person who asked can change a question's topics.")
        return
    client.views_open(trigger_id=body["trigger_id"], view=blocks.topics_modal(question_id=question_id, topics=topics))


def handle_topics_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    deps = deps_of(context)
    user = str(body.get("user", {}).get("id", ""))
    values = view.get("state", {}).get("values", {})
    text = str((values.get(ids.TOPICS_BLOCK, {}).get(ids.TOPICS_INPUT) or {}).get("value") or "")
    names, refused = experts_domain.parse_topics(text)
    if refused:
        ack(response_action="errors", errors={ids.TOPICS_BLOCK: "; ".join(refused)[:150]})
        return
    question_id = int(json.loads(view.get("private_metadata") or "{}").get("question", 0))
    with deps.db() as s:
        q = s.get(Question, question_id)
        if q is None or q.author != user:
            ack(response_action="errors", errors={ids.TOPICS_BLOCK: "Only the asker can change these topics."})
            return
        ack()
        ws = Workspace.of(q)
        topics_domain.set_topics(s, question=q, names=names)
        reroute = q.status == QuestionStatus.OPEN and not queries.assignments_for(s, question_id=question_id)
        s.commit()
    if reroute:  # nobody was asked with the old topics: try again with the new ones
        route_question(client, deps, question_id)
    log.info("topics of question %s set to %s in %s", question_id, names, ws.team_id)
