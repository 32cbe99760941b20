"""Tests for the implicit question detector and question_text."""

import json
from pathlib import Path

import pytest

from bot.detect import MAX_CHARS, looks_like_question, question_text

DATA = Path(__file__).parent / "data" / "detect_messages.jsonl"
M = "<@U0G9QF9C6>"

# Written independently of the labelled set in tests/data, as a small held-out check.
QUESTIONS = [
    "How do I connect to the staging database from a laptop outside the office?",
    "what's the retention period for application logs in elasticsearch?",
    "does anyone know why the nightly backup job failed with a permissions error",
    "Where can I find the brand assets for partner co-marketing?",
    "is there a way to export a jira board to csv",
    "can someone explain the difference between our gross and net revenue dashboards?",
    "hi folks, how should we handle refunds for customers on legacy invoicing?",
    "Which approval chain applies to contractor invoices above 10k?",
    "why are the android builds taking twice as long since last week?",
    "```\nnpm ERR! code ERESOLVE\n```\nhow do I fix this peer dependency conflict in the web repo?",
    "anyone familiar with how the SAML login works for enterprise customers",
    "What is the procedure for decommissioning an old EC2 instance?",
    "how many sick days are we entitled to per year in France?",
    f"{M} where is the documentation for the pricing API?",
    "does the parental leave policy apply to adoption as well?",
]
NOT_QUESTIONS = [
    "lunch anyone?",
    "beers later?",
    "who's around this afternoon?",
    "can you review <https://github.com/acme/x/pull/7|my PR> please?",
    "could someone water the plants while I'm away?",
    "why me?",
    "is it time for coffee yet?",
    "Deployed the hotfix, all green now :white_check_mark:",
    f"Thanks so much {M}!",
    "```\nwhere is the config? it returns null\n```",
    "&gt; how do I join the VPN?\nsee the pinned message",
    "What a week :sweat_smile:",
    "are you joining the call?",
    "did you get my email?",
    "Reminder: timesheets are due by Friday 5pm.",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_knowledge_questions_are_detected(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_chatter_requests_and_quoted_text_are_not_questions(text: str) -> None:
    assert not looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        ":tada: :rocket:",
        "🎉🙏",
        M,
        "<#C024BE91L|general>",
        "```\nSELECT * FROM t WHERE id = ?;\n```",
        "```unterminated fence? how do I ...",
        "שלום לכולם, מה שלומכם?",
        "كيف حالك؟",
        "?" * 40_000,
        "<" * 40_000,
        "a.b?" * 10_000,
    ],
)
def test_odd_input_never_raises_and_is_not_a_question(text: str) -> None:
    assert looks_like_question(text) is False
    assert isinstance(question_text(text), str)


def test_only_the_head_of_a_huge_message_is_examined() -> None:
    question = "How do I rotate the credentials for the staging database?"
    assert looks_like_question(question + " " + "x" * 40_000)
    assert not looks_like_question("x " * MAX_CHARS + question)


@pytest.mark.parametrize(
    ("raw", "readable"),
    [
        ("hi <@U024BE7LH>,  how\n\ndo I  ", "hi @U024BE7LH, how do I"),
        ("ask <@U024BE7LH|maria>", "ask @maria"),
        ("see <#C024BE91L|design> and <#C024BE91M>", "see #design and #C024BE91M"),
        (
            "the <https://wiki.example.com/vpn|wiki> or <https://x.example.com>",
            "the wiki or https://x.example.com",
        ),
        (
            "mail <mailto:it@example.com|it@example.com> or <mailto:hr@example.com>",
            "mail it@example.com or hr@example.com",
        ),
        (
            "<!here> <!subteam^S123|@platform> on <!date^1392734382^{date}|Feb 18>",
            "@here @platform on Feb 18",
        ),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("", ""),
    ],
)
def test_question_text_makes_markup_readable(raw: str, readable: str) -> None:
    assert question_text(raw) == readable


def test_labelled_set_precision_and_recall() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 240
    pairs = [(looks_like_question(row["text"]), bool(row["question"])) for row in rows]
    tp = sum(got and expected for got, expected in pairs)
    predicted, actual = sum(got for got, _ in pairs), sum(expected for _, expected in pairs)
    precision, recall = tp / predicted, tp / actual
    print(f"\n{len(rows)} messages: precision {precision:.3f} ({tp}/{predicted} predicted)", end="")
    print(f", recall {recall:.3f} ({tp}/{actual} questions)")
    assert precision >= 0.90
    assert recall >= 0.85


def test_held_out_set_precision_and_recall() -> None:
    """A set written separately and never used while writing the detector: the honest measure."""
    from bench.detect_eval import HOLDOUT, evaluate, load

    scores = evaluate(load(HOLDOUT))
    print(f"\nheld-out: precision {scores.precision:.3f}, recall {scores.recall:.3f}, F1 {scores.f1:.3f}")
    assert scores.tp + scores.fp + scores.tn + scores.fn >= 200
    assert scores.precision >= 0.90
    assert scores.recall >= 0.75
