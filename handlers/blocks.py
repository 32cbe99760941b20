"""Pure Block Kit builders: data in, blocks out; every quoted user text escaped and cut to fit."""

from __future__ import annotations

import json
from typing import Any

from bot.digest import ChannelDigest, GapReport
from bot.home import Home
from bot.text import archive_link, escape, quote, truncate
from handlers import ids
from storage.models import Question

Block = dict[str, Any]
SECTION_LIMIT = 3000


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}
    button["value"] = value
    if style:
        button["style"] = style
    return button


def expert_dm(
    *, assignment_id: int, asker: str, channel: str, text: str, topics: list[str], permalink: str, suggested_by: str
) -> list[Block]:
    """The DM asking an expert for help: the question quoted safely, where, topics, and what they can do."""
    lead = f"<@{asker}> asked in <#{channel}>"
    if suggested_by:
        lead = f"<@{suggested_by}> thinks you can help. {lead}"
    where = f"<{permalink}|Open the thread>" if permalink else ""
    tags = "Topics: " + ", ".join(escape(t) for t in topics) if topics else "No topics yet"
    value = str(assignment_id)
    return [
        _section(f"{lead}:\n{quote(text)}"),
        _context(" · ".join(part for part in (tags, where) if part)),
        {
            "type": "actions",
            "block_id": "routing",
            "elements": [
                _button("Answer", ids.ANSWER, value, "primary"),
                _button("Pass", ids.PASS, value),
                _button("Snooze 1h", ids.SNOOZE, value),
                {
                    "type": "users_select",
                    "action_id": ids.SUGGEST,
                    "placeholder": {"type": "plain_text", "text": "Suggest someone"},
                },
            ],
        },
    ]


def dm_settled(*, asker: str, channel: str, text: str, outcome: str) -> list[Block]:
    """What the expert's DM becomes once it needs nothing more from them."""
    return [_section(f"<@{asker}> asked in <#{channel}>:\n{quote(text, 500)}"), _context(outcome)]


def answer_modal(*, text: str, assignment_id: int = 0, question_id: int = 0) -> Block:
    """The Answer modal: from an expert's DM (an assignment) or from a digest (a question)."""
    return {
        "type": "modal",
        "callback_id": ids.ANSWER_MODAL if assignment_id else ids.DIGEST_ANSWER_MODAL,
        "private_metadata": json.dumps({"assignment": assignment_id} if assignment_id else {"question": question_id}),
        "title": {"type": "plain_text", "text": "Answer"},
        "submit": {"type": "plain_text", "text": "Post answer"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _section(f"The question:\n{quote(text, 2000)}"),
            {
                "type": "input",
                "block_id": ids.ANSWER_BLOCK,
                "label": {"type": "plain_text", "text": "Your answer (posted in the thread under your name)"},
                "element": {"type": "plain_text_input", "action_id": ids.ANSWER_INPUT, "multiline": True},
            },
        ],
    }


def pass_modal(*, assignment_id: int) -> Block:
    return {
        "type": "modal",
        "callback_id": ids.PASS_MODAL,
        "private_metadata": json.dumps({"assignment": assignment_id}),
        "title": {"type": "plain_text", "text": "Pass"},
        "submit": {"type": "plain_text", "text": "Pass"},
        "blocks": [
            {
                "type": "input",
                "block_id": ids.REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Why? (optional, helps route better)"},
                "element": {"type": "plain_text_input", "action_id": ids.REASON_INPUT},
            }
        ],
    }


def thread_answer(*, expert: str, text: str) -> str:
    """The expert's answer as posted in the thread: attributed, and escaped so it cannot ping anyone."""
    return f"<@{expert}> answered via Peerbot:\n{quote(text, 3500)}"


def capture_note(*, question_id: int, topics: list[str], status: str) -> list[Block]:
    """Shown to the asker alone: what Peerbot understood and did, with a way to fix the topics."""
    tags = ", ".join(f"`{escape(t)}`" for t in topics) if topics else "none found"
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(f"Peerbot kept your question. Topics: {tags}. {status}", 3000)},
            "accessory": _button("Edit topics", ids.EDIT_TOPICS, str(question_id)),
        }
    ]


def topics_modal(*, question_id: int, topics: list[str]) -> Block:
    return {
        "type": "modal",
        "callback_id": ids.EDIT_TOPICS_MODAL,
        "private_metadata": json.dumps({"question": question_id}),
        "title": {"type": "plain_text", "text": "Topics"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": ids.TOPICS_BLOCK,
                "label": {"type": "plain_text", "text": "Topics of your question, separated by commas"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.TOPICS_INPUT,
                    "initial_value": ", ".join(topics),
                },
            }
        ],
    }


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _option(text: str, value: str) -> Block:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def _input(block_id: str, label: str, element: Block, *, optional: bool = False) -> Block:
    element = {**element, "action_id": "value"}
    return {"type": "input", "block_id": block_id, "optional": optional,
            "label": {"type": "plain_text", "text": label}, "element": element}  # fmt: skip


def expert_modal(*, topics: list[str], capacity: int, start: int, end: int, days: list[int],
                 leave_until: str | None, paused: bool) -> Block:  # fmt: skip
    """The expert's own settings: topics, how many open requests at once, hours, days, leave, pause."""
    hours = [_option(f"{h:02d}:00", str(h)) for h in range(24)]
    day_options = [_option(DAYS[d], str(d)) for d in range(7)]
    leave: Block = {"type": "datepicker"}
    if leave_until:
        leave["initial_date"] = leave_until
    pause_option = _option("Pause: don't ask me for now", "paused")
    pause = _with_initial({"type": "checkboxes", "options": [pause_option]}, [pause_option] if paused else [])
    return {
        "type": "modal",
        "callback_id": ids.EXPERT_MODAL,
        "title": {"type": "plain_text", "text": "Your expert settings"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            _input("topics", "Topics you can answer (comma-separated)",
                   {"type": "plain_text_input", "initial_value": ", ".join(topics)}, optional=True),
            _input("capacity", "Open requests at most",
                   {"type": "plain_text_input", "initial_value": str(capacity)}),
            _input("start", "Working hours start (your time zone)",
                   {"type": "static_select", "options": hours, "initial_option": hours[start % 24]}),
            _input("end", "Working hours end",
                   {"type": "static_select", "options": hours, "initial_option": hours[end % 24]}),
            _input("days", "Working days", _with_initial({"type": "checkboxes", "options": day_options},
                   [day_options[d] for d in days if 0 <= d < 7])),
            _input("leave", "On leave until (inclusive)", leave, optional=True),
            _input("paused", "Pause", pause, optional=True),
        ],
    }  # fmt: skip


def _with_initial(checkboxes: Block, chosen: list[Block]) -> Block:
    """Slack refuses an empty initial_options: leave it out when nothing is chosen."""
    return {**checkboxes, "initial_options": chosen} if chosen else checkboxes


def _age(days: float) -> str:
    if days < 1:
        return "today"
    if days < 60:
        return f"{round(days)} days ago"
    return f"{int(days / 30)} months ago" if days < 730 else f"{int(days / 365)} years ago"


def suggestions(*, question_id: int, found: list[Any], permalinks: dict[int, str]) -> list[Block]:
    """Up to 3 past Q&As offered in the thread, each with "This solved it"; one "Still need help" for all."""
    out: list[Block] = [_section("Colleagues answered similar questions before. Does one of these solve it?")]
    for s in found:
        link = permalinks.get(s.question_id, "")
        title = escape(truncate(s.title, 150))
        head = f"<{link}|{title}>" if link else title
        rating = "accepted" if s.accepted else f"rated {s.rating:+g}"
        out.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": truncate(f"*{head}*\n{quote(s.answer_snippet, 400)}", SECTION_LIMIT),
                },
                "accessory": _button("This solved it", ids.SOLVED, f"{question_id}:{s.question_id}:{s.answer_id}"),
            }
        )
        out.append(_context(f"Answered by <@{s.answer_author}> · {rating} · {_age(s.age.total_seconds() / 86400)}"))
    out.append(
        {
            "type": "actions",
            "block_id": "suggestions",
            "elements": [_button("Still need help", ids.STILL_NEED_HELP, str(question_id), "primary")],
        }
    )
    return out


def freshness_check(*, answer_id: int, question: str, answer: str, permalink: str) -> list[Block]:
    """Asks an old answer's author whether it still holds."""
    where = f" (<{permalink}|see the thread>)" if permalink else ""
    value = str(answer_id)
    return [
        _section(f"Your answer from a while ago was just suggested to a colleague{where}. Is it still right?"),
        _section(f"*Question:* {escape(truncate(question, 300))}\n*Your answer:*\n{quote(answer, 600)}"),
        {
            "type": "actions",
            "block_id": "freshness",
            "elements": [
                _button("Still right", ids.STILL_RIGHT, value, "primary"),
                _button("Needs update", ids.NEEDS_UPDATE, value, "danger"),
            ],
        },
    ]


def search_results(*, query: str, found: list[Any], permalinks: dict[int, str]) -> list[Block]:
    """`/peerbot search` results, shown to the person alone."""
    if not found:
        return [_section(f"No answered question matches _{escape(truncate(query, 200))}_ yet.")]
    out: list[Block] = [_section(f"Answered questions matching _{escape(truncate(query, 200))}_:")]
    for s in found[:10]:
        link = permalinks.get(s.question_id, "")
        title = escape(truncate(s.title, 150))
        out.append(_section(f"*{f'<{link}|{title}>' if link else title}*\n{quote(s.answer_snippet, 300)}"))
        out.append(_context(f"Answered by <@{s.answer_author}> · {_age(s.age.total_seconds() / 86400)}"))
    return out


def nudge_message(
    *, parts: list[str], nudge_ids: list[int], enrolment_id: int, topic_choices: list[str] | None, chosen: list[str]
) -> list[Block]:
    """An onboarding nudge (or several, as one catch-up message) with Done / Snooze / Stop journey.

    `topic_choices` is None unless a step asks for the hire's topics.
    """
    out: list[Block] = []
    if len(parts) > 1:
        out.append(_section("Here is what I had for you over the last few days, in one message:"))
    for i, text in enumerate(parts[:12]):
        if i:
            out.append({"type": "divider"})
        out.append(_section(text))
    if topic_choices:
        options = [_option(truncate(t, 75), t[:150]) for t in topic_choices[:100]]
        select: Block = {
            "type": "multi_static_select",
            "action_id": ids.ONBOARD_TOPICS,
            "placeholder": {"type": "plain_text", "text": "Your topics"},
            "options": options,
        }
        initial = [o for o in options if o["value"] in chosen]
        if initial:
            select["initial_options"] = initial
        out.append({"type": "actions", "block_id": f"{ids.ONBOARD_TOPICS_BLOCK}{enrolment_id}", "elements": [select]})
    elif topic_choices is not None:
        out.append(_context("Nobody has named any topics here yet, so there is nothing to pick: I'll keep it general."))
    value = ",".join(str(i) for i in nudge_ids)
    stop = _button("Stop journey", ids.NUDGE_STOP, value, "danger")
    stop["confirm"] = {
        "title": {"type": "plain_text", "text": "Stop onboarding?"},
        "text": {"type": "plain_text", "text": "You won't get any more onboarding nudges from Peerbot."},
        "confirm": {"type": "plain_text", "text": "Stop"},
        "deny": {"type": "plain_text", "text": "Keep them"},
    }
    out.append(
        {
            "type": "actions",
            "block_id": "onboarding",
            "elements": [
                _button("Done", ids.NUDGE_DONE, value, "primary"),
                _button("Remind me tomorrow", ids.NUDGE_SNOOZE, value),
                stop,
            ],
        }
    )
    return out


def nudge_settled(*, parts: list[str], outcome: str) -> list[Block]:
    """A nudge after Done / Snooze / Stop: the text stays for reference, the buttons go."""
    out = [_section(text) for text in parts[:12]]
    out.append(_context(outcome))
    return out


def _link(base_url: str, channel: str, ts: str, text: str) -> str:
    link = archive_link(base_url, channel, ts)
    return f"<{link}|{text}>" if link else text


def _title(q: Question) -> str:
    return escape(truncate((q.text.strip().splitlines() or [""])[0], 100)) or "(no text)"


def _answer_button(q: Question) -> Block:
    return _button("Answer", ids.DIGEST_ANSWER, str(q.id or 0))


def channel_digest(d: ChannelDigest, *, base_url: str, week: str) -> list[Block]:
    """A channel's week: top answers, newly answered, still waiting (with Answer), helpers, trending topics."""
    out: list[Block] = [_section(f"*This week in <#{d.channel}>* ({week})")]
    if d.top:
        lines = [
            f"• {_link(base_url, q.channel, q.ts, _title(q))}: <@{a.author}>'s answer (+{score:g})"
            for a, q, score in d.top
        ]
        out.append(_section("*Top-rated answers*\n" + "\n".join(lines)))
    if d.answered:
        lines = [f"• {_link(base_url, q.channel, q.ts, _title(q))}" for q in d.answered]
        out.append(_section("*Newly answered*\n" + "\n".join(lines)))
    if d.unanswered:
        out.append(_section("*Still waiting for an answer*: can you help?"))
        for q in d.unanswered:
            block = _section(f"• {_link(base_url, q.channel, q.ts, _title(q))} (asked by <@{q.author}>)")
            block["accessory"] = _answer_button(q)
            out.append(block)
    if d.helpers:
        out.append(_context("Thanks for helping this week: " + ", ".join(f"<@{u}>" for u in d.helpers)))
    if d.trending:
        parts = [f"{escape(t)} ({n} questions, {before} the week before)" for t, n, before in d.trending]
        out.append(_context("Trending: " + "; ".join(parts)))
    return out


def expert_digest(items: list[tuple[Question, list[str]]], *, base_url: str) -> list[Block]:
    """An expert's weekly DM: open questions in their topics, each with Answer, and a way to stop these."""
    out: list[Block] = [_section(f"*Open questions in your topics* ({len(items)}): a quick answer goes a long way.")]
    for q, topics in items:
        where = f"<#{q.channel}>"
        block = _section(f"{_link(base_url, q.channel, q.ts, _title(q))}\nAsked by <@{q.author}> in {where}"
                         + (f" · {escape(', '.join(topics))}" if topics else ""))  # fmt: skip
        block["accessory"] = _answer_button(q)
        out.append(block)
    out.append({"type": "actions", "block_id": "digest", "elements": [
        _button("Stop these weekly digests", ids.DIGEST_OPT_OUT, "expert"),
    ]})  # fmt: skip
    return out


def gap_report(r: GapReport, *, week: str, min_group: int) -> list[Block]:
    """The admins' knowledge-gap report: aggregates only, each over at least `min_group` people."""
    head = f"*Knowledge-gap report* ({week}): {r.questions} questions from {r.askers} people in public channels."
    if r.askers < min_group:
        head = f"*Knowledge-gap report* ({week}): fewer than {min_group} people asked in public channels."
    out: list[Block] = [_section(head)]

    def listing(title: str, lines: list[str]) -> None:
        out.append(_section(f"*{title}*\n" + ("\n".join(lines) if lines else "_nothing to report_")))

    listing("Topics asked most", [f"• {escape(t)}: {n} questions from {p} people" for t, n, p in r.asked_most])
    listing("Topics with unanswered questions", [f"• {escape(t)}: {n} still open" for t, n in r.unanswered])
    listing("Topics with no expert", [f"• {escape(t)}" for t in r.no_expert])
    median = r.median_first_answer
    if median is None:
        time_line = "Median time to a first answer: too few people this week to say."
    else:
        hours, minutes = divmod(int(median.total_seconds() // 60), 60)
        time_line = f"Median time to a first answer: {hours} h {minutes:02d} min."
    out.append(_section(time_line))
    out.append(_context(f"Figures appear only where at least {min_group} different people asked."))
    return out


HOME_BLOCK_LIMIT = 100
_STATUS = {"open": "open", "answered": "answered", "resolved": "resolved :white_check_mark:"}


def home_view(h: Home, *, base_url: str) -> Block:
    """A person's Home tab: their questions, requests waiting for them, topics, onboarding, admin summary."""
    out: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Peerbot"}}]
    c = h.counts
    total = sum(c.values())
    out.append(_section(
        f"*Your questions*: {c.get('open', 0)} open · {c.get('answered', 0)} answered · {c.get('resolved', 0)} resolved"
        if total else "*Your questions*: none yet. Ask in any channel Peerbot watches, or with `/peerbot ask`."
    ))  # fmt: skip
    for q in h.questions:
        out.append(
            _section(
                f"• {_link(base_url, q.channel, q.ts, _title(q))} in <#{q.channel}> · {_STATUS.get(q.status, q.status)}"
            )
        )
    pages = []
    if h.page > 1:
        pages.append(_button("Newer", ids.HOME_PAGE, f"questions:{h.page - 1}"))
    if h.more_questions:
        pages.append(_button("Older questions", ids.HOME_PAGE, f"questions:{h.page + 1}"))
    if pages:
        out.append({"type": "actions", "block_id": "home_pages", "elements": pages})
    out.append({"type": "divider"})
    if h.waiting:
        out.append(_section(f"*Waiting for you* ({len(h.waiting)}): colleagues asked for your help"))
        for a, q in h.waiting:
            block = _section(f"{_link(base_url, q.channel, q.ts, _title(q))}\nAsked by <@{q.author}> in <#{q.channel}>")
            block["accessory"] = _button("Answer", ids.ANSWER, str(a.id or 0), "primary")
            out.append(block)
        out.append({"type": "divider"})
    if h.is_expert:
        topics = ", ".join(f"{escape(t)} ({cred:.2f})" for t, cred in h.topics) or "none yet"
        block = _section(f"*Your topics* (credibility from 0 to 1): {topics}")
        block["accessory"] = _button("Edit", ids.HOME_EXPERT_SETTINGS, "edit")
        out.append(block)
        block = _context(
            "Credibility grows with votes on your answers in a topic. A vote counts once its voter has rated "
            "two different colleagues; one voter adds at most 2 a day and 3 in all; mutual votes count a quarter."
        )
    else:
        block = _section("*Know something well?* Colleagues will ask you about it, on your terms.")
        block["accessory"] = _button("Become an expert", ids.HOME_EXPERT_SETTINGS, "edit")
    out.append(block)
    people = "person" if h.helped == 1 else "people"
    out.append(_context(
        f"You answered {h.answers} questions · votes {h.votes:+g} · your answers helped {h.helped} {people}"
    ))  # fmt: skip
    if h.enrolment is not None and h.progress is not None:
        p = h.progress
        out.append({"type": "divider"})
        out.append(_section(f"*Your onboarding* (`{escape(h.enrolment.journey)}`, {p.status}): "
                            f"{p.done} of {p.total} steps done"))  # fmt: skip
        marks = {"done": ":white_check_mark:", "sent": ":envelope:", "pending": ":hourglass:", "skipped": "–"}
        lines = [f"{marks.get(n.status, '•')} {escape(n.step)}"
                 + (f" (due <!date^{int(n.due_at.timestamp())}^{{date_short_pretty}}|{n.due_at:%d %b}>)"
                    if n.status == "pending" else "")
                 for n in h.steps[:20]]  # fmt: skip
        out.append(_section("\n".join(lines)))
    if h.admin and h.report is not None:
        r = h.report
        out.append({"type": "divider"})
        if r.empty:
            summary = "Fewer than 5 people asked in public channels in the last 7 days: nothing to report yet."
        else:
            top = ", ".join(f"{escape(t)} ({n})" for t, n, _ in r.asked_most) or "no topic asked by 5+ people"
            gaps = ", ".join(escape(t) for t in r.no_expert) or "none"
            summary = (
                f"Last 7 days: {r.questions} questions from {r.askers} people. Top topics: {top}. No expert: {gaps}."
            )
        out.append(_section(f"*For admins*\n{summary}"))
        out.append(_context(
            "`/peerbot watch` · `/peerbot onboard @person` · `/peerbot stats` · on the server: `peerbot stats`, "
            "`peerbot export`, `peerbot import`, `peerbot user forget`, `peerbot experts import|export`, `peerbot jobs`"
        ))  # fmt: skip
    return {"type": "home", "blocks": out[:HOME_BLOCK_LIMIT]}
