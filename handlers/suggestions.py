"""Suggestions in a new question's thread ("This solved it" / "Still need help") and answer freshness checks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot import knowledge, search
from bot.deps import Deps, search_index
from bot.text import archive_link, escape, truncate
from handlers import blocks, ids
from handlers.common import deps_of, permalink, slack_call, tell_clicker, workspace_url
from handlers.routing import route_question
from storage import queries
from storage.models import Answer, Question, QuestionStatus, Workspace

log = logging.getLogger("peerbot.suggestions")


def register(app: App) -> None:
    app.action(ids.SOLVED)(handle_solved)
    app.action(ids.STILL_NEED_HELP)(handle_still_need_help)
    app.action(ids.STILL_RIGHT)(handle_freshness)
    app.action(ids.NEEDS_UPDATE)(handle_freshness)


def offer(client: WebClient, deps: Deps, question_id: int, tags: list[str], question: Question | None = None) -> bool:
    """Offer up to 3 past Q&As in the new question's thread; True when offered (routing then waits).

    `question` is the row just captured, when the caller has it (saves reading it again).
    """
    now = deps.clock()
    with deps.db() as s:
        q = question if question is not None and question.id == question_id else s.get(Question, question_id)
        if q is None:
            return False
        found = search.suggest(
            s, search_index(deps, s), ws_team_id=q.team_id, text=q.text, tags=tags, channel=q.channel,
            channel_is_private=q.is_private, member_channels=None, now=now, exclude=[question_id],
        )  # fmt: skip
        if deps.settings.org_search and q.enterprise_id:  # Enterprise Grid: the organisation's public Q&As too
            for team in _org_teams(deps, s, q.enterprise_id, q.team_id, now):
                found += search.suggest(
                    s, search_index(deps, s), ws_team_id=team, text=q.text, tags=tags, channel=q.channel,
                    channel_is_private=False, member_channels=None, now=now,
                )  # fmt: skip
            found = sorted(found, key=lambda f: (-f.score, -f.question_id))[:3]
        if not found:
            return False
        held = list(s.exec(select(Answer).where(col(Answer.id).in_([f.answer_id for f in found]))))
        # The answers are now in the session: due_for_check reads none of them again.
        stale = knowledge.due_for_check(s, found, now=now, max_age=timedelta(days=deps.settings.freshness_days))
        del held
        route_at = now + timedelta(minutes=deps.settings.suggest_wait_minutes)
        marked = s.execute(
            update(Question).where(col(Question.id) == question_id).values(suggested_at=now, route_at=route_at)
        )
        if not marked.rowcount:  # type: ignore[attr-defined]  # deleted meanwhile
            s.rollback()
            return False
        threads = _threads(s, [f.question_id for f in found] + [a.question_id for a in stale])
        s.commit()
        stale_checks = [(a.id or 0, a.author, a.text, a.channel, a.ts, _question_text(s, a)) for a in stale]
        q = q.model_copy(update={"suggested_at": now, "route_at": route_at})
    base = workspace_url(client)
    links = {f.question_id: _link(client, base, f.channel, f.ts, threads.get(f.question_id, "")) for f in found}
    text = "Colleagues answered similar questions before: " + "; ".join(escape(truncate(f.title, 80)) for f in found)
    offered = blocks.suggestions(question_id=question_id, found=found, permalinks=links)
    slack_call(client.chat_postMessage, channel=q.channel, thread_ts=q.thread_ts, text=text, blocks=offered)
    for (answer_id, author, answer, channel, ts, asked), a in zip(stale_checks, stale, strict=True):
        link = _link(client, base, channel, ts, threads.get(a.question_id, ""))
        _ask_freshness(client, deps, q, answer_id, author, answer, asked, link, tags)
    return True


ORG_TEAMS_FOR = timedelta(minutes=10)  # how long the list of an organisation's workspaces is kept
_org_cache: dict[tuple[int, str], tuple[datetime, list[str]]] = {}


def _org_teams(deps: Deps, s: Session, enterprise_id: str, team_id: str, now: datetime) -> list[str]:
    """The organisation's other workspaces, looked up at most every ten minutes per database."""
    key = (id(deps.db), enterprise_id)
    cached = _org_cache.get(key)
    if cached is None or cached[0] <= now:
        teams = queries.org_teams(s, enterprise_id=enterprise_id, besides="")
        cached = _org_cache[key] = (now + ORG_TEAMS_FOR, teams)
    return [t for t in cached[1] if t != team_id]


def _threads(s: Session, question_ids: list[int]) -> dict[int, str]:
    """The thread_ts of each question."""
    stmt = select(Question.id, Question.thread_ts).where(col(Question.id).in_(question_ids))
    return {int(i or 0): thread_ts for i, thread_ts in s.exec(stmt)}


def _question_text(s: Any, answer: Answer) -> str:
    question = s.get(Question, answer.question_id)
    return question.text if question else ""


def _link(client: WebClient, base: str, channel: str, ts: str, thread_ts: str) -> str:
    """A message's permalink, as chat.getPermalink gives it, built from the workspace URL (a call when unknown)."""
    if not base:
        return permalink(client, channel, ts)
    link = archive_link(base, channel, ts)
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if link and thread_ts and thread_ts != ts else link


def _ask_freshness(client: WebClient, deps: Deps, q: Question, answer_id: int, author: str, answer: str,
                   asked: str, link: str, tags: list[str]) -> None:  # fmt: skip
    """DM the answer's author, or the topic's top expert when the author has left."""
    person = author
    info = slack_call(client.users_info, user=author)
    if info is None or info["user"].get("deleted"):
        with deps.db() as s:
            experts = queries.experts_in_topics(s, ws=Workspace.of(q), topics=tags)
        active = [e.user_id for e in experts if not e.deleted and not e.paused and e.user_id != author]
        if not active:
            log.info("answer %s is old and its author left; nobody to check it", answer_id)
            return
        person = active[0]
    check = blocks.freshness_check(answer_id=answer_id, question=asked, answer=answer, permalink=link)
    slack_call(client.chat_postMessage, channel=person, text="Is this answer still right?", blocks=check)


def _parse(body: dict[str, Any]) -> list[int]:
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    try:
        return [int(part) for part in value.split(":")]
    except ValueError:
        return []


def _settle_message(client: WebClient, body: dict[str, Any], note: str) -> None:
    """Replace the buttons of the suggestions message with what was decided."""
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id") or "")
    kept = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
    kept = [{k: v for k, v in b.items() if k != "accessory"} for b in kept]
    settled = [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]
    slack_call(client.chat_update, channel=channel, ts=str(message.get("ts", "")), text=note, blocks=settled)


def handle_solved(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The asker says a suggestion solved it: a duplicate, resolved, the answerer credited, no routing."""
    ack()
    deps = deps_of(context)
    user = str(body.get("user", {}).get("id", ""))
    parts = _parse(body)
    if len(parts) != 3:
        return
    with deps.db() as s:
        q, original, answer = s.get(Question, parts[0]), s.get(Question, parts[1]), s.get(Answer, parts[2])
        if q is None or original is None or answer is None or answer.question_id != original.id:
            tell_clicker(client, body, "That suggestion is no longer available.")
            return
        if q.author != user:
            tell_clicker(client, body, "Only the person who asked can say what solved it.")
            return
        if q.status == QuestionStatus.RESOLVED:
            tell_clicker(client, body, "This question is already resolved; nothing changed.")
            return
        count = knowledge.mark_solved(s, question=q, original=original, answer=answer, now=deps.clock())
        s.commit()
        author, title = answer.author, truncate(original.text.splitlines()[0] if original.text else "", 120)
    _settle_message(client, body, f"Solved by <@{author}>'s earlier answer. Thanks for checking!")
    if author != user:
        people = "1 person" if count == 1 else f"{count} people"
        credit = f"Your answer to “{escape(title)}” just helped <@{user}>: it has now helped {people}. Thank you!"
        slack_call(client.chat_postMessage, channel=author, text=credit)
    log.info("question %s solved by answer %s (helped %s)", parts[0], parts[2], count)


def handle_still_need_help(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """None of the suggestions helped: route to experts now."""
    ack()
    deps = deps_of(context)
    user = str(body.get("user", {}).get("id", ""))
    parts = _parse(body)
    with deps.db() as s:
        q = s.get(Question, parts[0]) if parts else None
        if q is None or q.author != user:
            tell_clicker(client, body, "Only the person who asked can ask for more help.")
            return
        if q.status != QuestionStatus.OPEN or q.route_at is None:
            tell_clicker(client, body, "Experts have been asked already, or the question is settled; nothing changed.")
            return
        q.route_at = None
        s.add(q)
        s.commit()
    _settle_message(client, body, f"<@{user}> still needs help: asking colleagues who know the topic.")
    route_question(client, deps, parts[0], announce=True)


def handle_freshness(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps = deps_of(context)
    action = (body.get("actions") or [{}])[0].get("action_id")
    parts = _parse(body)
    with deps.db() as s:
        answer = (
            knowledge.confirm(s, answer_id=parts[0], still_right=action == ids.STILL_RIGHT, now=deps.clock())
            if parts
            else None
        )
        s.commit()
    if answer is None:
        return
    note = (
        "Thanks! It stays among the suggestions."
        if action == ids.STILL_RIGHT
        else "Thanks! It won't be suggested until it is updated: edit it in the thread, or answer again."
    )
    _settle_message(client, body, note)
