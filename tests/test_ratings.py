"""Reactions on answers become votes; the asker's ✅ accepts and resolves."""

from __future__ import annotations

from conftest import ALICE, BOB, DANA, HELP, PRIYA, Rig, make_rig

from storage.models import Answer, Question, Vote


def _qa(rig: Rig) -> tuple[str, str]:
    q = rig.people.post(ALICE, HELP, "How do I rotate the staging database password?")
    a = rig.people.post(DANA, HELP, "vault write -f database/rotate-root/staging", thread_ts=q)
    return q, a


def test_votes_one_per_person_never_on_own_answer_undone_on_removal(rig: Rig) -> None:
    _, a = _qa(rig)
    rig.people.react(BOB, HELP, a, "+1")
    rig.people.react(PRIYA, HELP, a, "+1::skin-tone-3")  # a toned 👍 is the same vote
    rig.people.react(DANA, HELP, a, "+1")  # own answer: no vote
    rig.people.react(BOB, HELP, a, "-1")  # a different emoji is a different vote
    rig.people.react(BOB, HELP, a, "tada")  # not a voting emoji
    votes = sorted((v.voter, v.emoji, v.weight) for v in rig.rows(Vote))
    assert votes == [(BOB, "+1", 1.0), (BOB, "-1", -1.0), (PRIYA, "+1", 1.0)]
    rig.people.unreact(BOB, HELP, a, "-1")
    assert sorted((v.voter, v.emoji) for v in rig.rows(Vote)) == [(BOB, "+1"), (PRIYA, "+1")]


def test_reactions_on_questions_or_chatter_are_not_votes(rig: Rig) -> None:
    q, _ = _qa(rig)
    other = rig.people.post(BOB, HELP, "deploy done")
    rig.people.react(BOB, HELP, q, "+1")
    rig.people.react(ALICE, HELP, other, "+1")
    assert rig.rows(Vote) == []


def test_askers_check_accepts_and_resolves_and_removal_reopens(rig: Rig) -> None:
    _, a = _qa(rig)
    rig.people.react(BOB, HELP, a, "white_check_mark")  # not the asker: no acceptance
    assert rig.rows(Question)[0].status == "answered" and not rig.rows(Answer)[0].accepted
    rig.people.react(ALICE, HELP, a, "white_check_mark")
    assert rig.rows(Question)[0].status == "resolved" and rig.rows(Answer)[0].accepted
    assert [(v.voter, v.emoji) for v in rig.rows(Vote)] == [(ALICE, "white_check_mark")]
    rig.people.unreact(ALICE, HELP, a, "white_check_mark")
    assert rig.rows(Question)[0].status == "answered" and not rig.rows(Answer)[0].accepted
    assert rig.rows(Vote) == []


def test_vote_map_is_configurable(engine, clock) -> None:  # type: ignore[no-untyped-def]
    for rig in make_rig(engine, clock, PEERBOT_VOTE_EMOJI="heart=2,+1=1", PEERBOT_ACCEPT_EMOJI="star"):
        _, a = _qa(rig)
        rig.people.react(BOB, HELP, a, "heart")
        rig.people.react(PRIYA, HELP, a, "-1")
        rig.people.react(ALICE, HELP, a, "star")
        assert sorted((v.voter, v.weight) for v in rig.rows(Vote)) == [(ALICE, 1.0), (BOB, 2.0)]
        assert rig.rows(Question)[0].status == "resolved"
