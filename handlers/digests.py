"""Digest buttons: answer a waiting question from a digest (the routing modal), and stop the weekly DM."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers import blocks, ids, routing
from handlers.common import deps_of, slack_call, tell_clicker, workspace_of
from storage import queries
from storage.models import Question, QuestionStatus

GONE = "Thanks! That question has been answered (or removed) already."


def register(app: App) -> None:
    app.action(ids.DIGEST_ANSWER)(handle_answer_button)
    app.view(ids.DIGEST_ANSWER_MODAL)(handle_answer_submit)
    app.action(ids.DIGEST_OPT_OUT)(handle_opt_out)


def _open_question(context: BoltContext, value: Any) -> Question | None:
    try:
        question_id = int(value)
    except (TypeError, ValueError):
        return None
    with deps_of(context).db() as s:
        q = s.get(Question, question_id)
    ok = q is not None and q.status == QuestionStatus.OPEN and q.team_id == workspace_of(context).team_id
    return q if ok else None


def handle_answer_button(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    q = _open_question(context, (body.get("actions") or [{}])[0].get("value"))
    if q is None:
        tell_clicker(client, body, GONE)
        return
    client.views_open(trigger_id=body["trigger_id"], view=blocks.answer_modal(question_id=q.id or 0, text=q.text))


def handle_answer_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    text = routing.modal_text(view)
    problem = routing.answer_problem(text)
    if problem:
        ack(response_action="errors", errors={ids.ANSWER_BLOCK: problem})
        return
    q = _open_question(context, json.loads(view.get("private_metadata") or "{}").get("question"))
    if q is None:
        ack(response_action="errors", errors={ids.ANSWER_BLOCK: GONE})
        return
    ack()
    routing.post_answer(client, deps_of(context), q, str(body.get("user", {}).get("id", "")), text, via="digest")


def handle_opt_out(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps = deps_of(context)
    user = str(body.get("user", {}).get("id", ""))
    with deps.db() as s:
        row = queries.expert(s, ws=workspace_of(context), user_id=user)
        if row is not None:
            row.digest_opt_out = True
            s.add(row)
            s.commit()
    note = "No more weekly digests. You'll still be asked about new questions in your topics."
    container = body.get("container") or {}
    channel, ts = str(container.get("channel_id") or ""), str(container.get("message_ts") or "")
    if channel and ts:
        slack_call(client.chat_update, channel=channel, ts=ts, text=note, blocks=[])
    else:
        tell_clicker(client, body, note)
