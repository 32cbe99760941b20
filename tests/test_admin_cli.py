"""Admin command line: tags and experts as YAML, export and import of the database, forgetting a person."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ALICE, BOB, DANA, HELP, PRIYA, Clock, Rig, make_rig
from sqlalchemy import Engine, create_engine, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, select

from bot.__main__ import main
from bot.portability import PLACEHOLDER, TABLES, table
from storage import queries
from storage.db import make_engine, normalise_url
from storage.fulltext import open_index
from storage.models import Answer, Expert, ExpertTopic, Question, Tag, Vote


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


def test_tags_import(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tags.yml").write_text("tags:\n  kubernetes: [k8s, kube]\n  postgres: [PostgreSQL, pg]\n")
    assert main(["tags", "import", "tags.yml", "--team", "T1"]) == 0
    assert "added 6 tags" in capsys.readouterr().out
    with Session(make_engine(db)) as s:
        rows = {(t.name, t.alias_of) for t in s.exec(select(Tag))}
    assert ("k8s", "kubernetes") in rows and ("postgresql", "postgres") in rows and ("kubernetes", "") in rows
    assert main(["tags", "import", "tags.yml"]) == 0  # one workspace in the database: no --team needed
    assert "added 0 tags" in capsys.readouterr().out


def test_experts_round_trip(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = {
        "experts": [
            {"user": "UDANA001", "topics": ["postgres", "k8s"], "capacity": 2, "tz": "Europe/Berlin",
             "work_start": 8, "work_end": 16, "on_leave_until": "2026-04-01", "paused": False},
            {"user": "UBOB0001", "topics": ["kubernetes"]},
        ]
    }  # fmt: skip
    (tmp_path / "in.yml").write_text(yaml.safe_dump(source))
    assert main(["experts", "import", "in.yml", "--team", "T1"]) == 0
    assert main(["experts", "export", "out.yml", "--team", "T1"]) == 0
    out = yaml.safe_load((tmp_path / "out.yml").read_text())["experts"]
    dana = next(e for e in out if e["user"] == "UDANA001")
    assert (dana["capacity"], dana["tz"], dana["work_start"], dana["on_leave_until"]) == (
        2,
        "Europe/Berlin",
        8,
        "2026-04-01",
    )
    assert sorted(dana["topics"]) == ["k8s", "postgres"]
    with Session(make_engine(db)) as s:
        assert len(s.exec(select(Expert)).all()) == 2 and len(s.exec(select(ExpertTopic)).all()) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experts: [{user: dana}]", "entry 1: needs 'user'"),
        ("experts: [{user: U1, capacity: lots}]", "entry 1 (U1)"),
        ("experts: {", "not valid YAML"),
    ],
)
def test_bad_expert_files_say_what_is_wrong(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (tmp_path / "bad.yml").write_text(text)
    assert main(["experts", "import", "bad.yml", "--team", "T1"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with Session(make_engine(db)) as s:
        assert s.exec(select(Expert)).all() == []


@pytest.mark.parametrize("kind", ["database", "tantivy"])
def test_reindex_with_progress(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str], kind: str) -> None:  # fmt: skip
    from datetime import UTC, datetime

    from bot.capture import Message, Source, capture_question
    from storage.db import upgrade
    from storage.fulltext import open_index
    from storage.models import Workspace

    if kind == "tantivy":
        monkeypatch.setenv("PEERBOT_SEARCH_INDEX_DIR", str(tmp_path / "index"))
    engine = make_engine(db)
    upgrade(engine)
    now = datetime(2026, 3, 3, tzinfo=UTC)
    with Session(engine) as s:
        for i, text in enumerate(
            ["How do I renew the TLS certificate?", "Where is the VPN config?", "Who runs payroll?"]
        ):
            msg = Message(ws=Workspace("T1"), channel="C1", ts=f"{i}.1", author="U1", text=text)
            capture_question(s, msg=msg, source=Source.IMPLICIT, now=now)
        s.commit()
    assert main(["reindex"]) == 0
    out = capsys.readouterr()
    assert "reindexed 3 questions" in out.out and "3/3 questions" in out.err
    index = open_index(engine, path=str(tmp_path / "index") if kind == "tantivy" else None)
    hits = index.search("T1", "renew TLS certificate", limit=5, answered_only=False)
    assert hits and hits[0].question_id == 1


# --- Export, import, forget: data made by the real app, the CLI pointed at it through DATABASE_URL ---


def cli_url(engine: Engine) -> str:
    """A DATABASE_URL reaching the same database as `engine` (on PostgreSQL, its schema, by search_path)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # a Tuesday afternoon: everyone is at work


@pytest.fixture
def rig(engine: Engine, clock: Clock) -> Iterator[Rig]:
    yield from make_rig(engine, clock, PEERBOT_SEARCH_ENGINE="database")


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Engine]:
    """A second, empty database (not migrated: the CLI does that), of the same kind as `engine`."""
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        e = make_engine(f"sqlite:///{tmp_path / 'target.db'}")
        yield e
        e.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(pg))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    e = make_engine(pg, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield e
    finally:
        e.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def populate(rig: Rig) -> dict[str, str]:
    """Two experts, two questions with answers, a follow-up, votes, an acceptance, an enrolment."""
    rig.people.command(DANA, HELP, "/peerbot", "expert add postgres, kubernetes")
    rig.people.command(BOB, HELP, "/peerbot", "expert add kubernetes")
    q1 = rig.people.post(ALICE, HELP, "How do I rotate the #postgres password on staging?")
    a1 = rig.people.post(DANA, HELP, "vault write -f database/rotate-root/staging", thread_ts=q1)
    a2 = rig.people.post(BOB, HELP, "Ask in #platform, they own vault", thread_ts=q1)
    rig.people.post(ALICE, HELP, "Thanks! And on production?", thread_ts=q1)
    rig.people.react(BOB, HELP, a1, "+1")
    rig.people.react(PRIYA, HELP, a1, "+1")
    rig.people.react(DANA, HELP, a2, "-1")
    rig.people.react(ALICE, HELP, a1, "white_check_mark")
    q2 = rig.people.post(BOB, HELP, "Where is the #kubernetes VPN config kept?")
    a3 = rig.people.post(DANA, HELP, "In the infra repo, under vpn/", thread_ts=q2)
    rig.people.react(ALICE, HELP, a3, "+1")
    rig.people.post(PRIYA, HELP, "Who can approve a #kubernetes quota increase?")  # routed: open requests
    rig.people.command(PRIYA, HELP, "/peerbot", f"onboard <@{ALICE}>")
    return {"q1": q1, "a1": a1, "a2": a2, "a3": a3}


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every exported table, row by row in id order."""
    with engine.connect() as conn:
        return {
            name: [dict(r._mapping) for r in conn.execute(sa_select(table(name)).order_by(table(name).c.id))]
            for name in TABLES
        }


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_round_trip(
    rig: Rig, target: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:  # fmt: skip
    populate(rig)
    before = dump(rig.engine)
    score = sum(v["weight"] for v in before["votes"] if v["answer_id"] == 1)
    for name in ("users", "tags", "questions", "answers", "followups", "votes", "question_tags", "experts",
                 "expert_topics", "assignments", "enrolments", "nudges"):  # fmt: skip
        assert before[name], f"the scenario left {name} empty"
    out = tmp_path / ("export.jsonl" if fmt == "jsonl" else "export")
    monkeypatch.setenv("DATABASE_URL", cli_url(rig.engine))
    assert main(["export", "--format", fmt, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"exported {sum(map(len, before.values()))} rows" in captured.out and "rows" in captured.err
    if fmt == "jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert first["table"] == "users" and first["row"]["updated_at"].endswith("+00:00")
    else:
        assert sorted(p.stem for p in out.glob("*.csv")) == sorted(TABLES)

    monkeypatch.setenv("DATABASE_URL", cli_url(target))
    assert main(["import", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"imported {sum(map(len, before.values()))} rows" in captured.out and "peerbot reindex" in captured.out
    assert dump(target) == before  # every table, row for row, ids included

    with Session(target) as s:  # the imported database works: answers by question, scores, search, new ids
        q1 = s.exec(select(Question).where(Question.author == ALICE)).one()
        team, q1_id = q1.team_id, q1.id
        assert [a.author for a in queries.answers_to(s, question_id=q1.id or 0)] == [DANA, BOB]
        a1 = s.exec(select(Answer).where(Answer.author == DANA, Answer.question_id == q1.id)).one()
        assert a1.accepted and queries.score_of(s, answer_id=a1.id or 0) == score
        newest = max(t.id or 0 for t in s.exec(select(Tag)))
        tag = Tag(team_id=q1.team_id, name="brand-new")
        s.add(tag)
        s.commit()
        assert tag.id == newest + 1  # on PostgreSQL, the id sequences were moved past the imported ids
    hits = open_index(target, kind="database").search(team, "rotate postgres password", answered_only=False)
    assert [h.question_id for h in hits][:1] == [q1_id]

    assert main(["import", str(out)]) == 2  # a second time: the database is no longer empty
    err = capsys.readouterr().err
    assert "Refusing to import: the database already holds data" in err and "Traceback" not in err
    assert dump(target)["questions"] == before["questions"]


def test_export_of_one_workspace_and_to_stdout(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(rig)
    team = rig.rows(Question)[0].team_id
    monkeypatch.setenv("DATABASE_URL", cli_url(rig.engine))
    assert main(["export", "--out", "-", "--team", "TOTHER01"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "exported 0 rows" in captured.err
    assert main(["export", "--out", "-", "--team", team]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len([x for x in lines if x["table"] == "questions"]) == 3


def test_export_covers_every_table() -> None:
    """A table added later must be exported too, or deliberately left out here."""
    left_out = {"processed_events"}  # Slack's retry ids, kept an hour
    assert set(TABLES) == set(SQLModel.metadata.tables) - left_out
    order = {name: i for i, name in enumerate(TABLES)}
    for name in TABLES:  # parents before children
        assert all(order[fk.column.table.name] < order[name] for fk in table(name).foreign_keys)


def _question(i: int, **changes: Any) -> str:
    row = {
        "id": i, "team_id": "T1", "enterprise_id": "", "channel": "C1", "ts": f"{i}.1", "thread_ts": f"{i}.1",
        "author": "U1", "text": "How?", "status": "open", "source": "implicit", "is_private": False,
        "route_round": 0, "route_at": None, "escalated": False, "duplicate_of": None, "reused_answer_id": None,
        "suggested_at": None, "created_at": "2026-03-03T10:00:00+00:00", "updated_at": "2026-03-03T10:00:00+00:00",
    }  # fmt: skip
    row.update(changes)
    return json.dumps({"table": "questions", "row": row})


def _answer(question_id: int) -> str:
    row = {
        "id": 1, "team_id": "T1", "enterprise_id": "", "question_id": question_id, "channel": "C1", "ts": "9.1",
        "author": "U2", "text": "Like so.", "via": "thread", "accepted": False, "needs_update": False,
        "checked_at": None, "created_at": "2026-03-03T10:00:00+00:00", "updated_at": "2026-03-03T10:00:00+00:00",
    }  # fmt: skip
    return json.dumps({"table": "answers", "row": row})


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "missing.jsonl: no such file or directory"),
        ("bad.jsonl", _question(1) + '\n{"table": "questions", "row": {', "bad.jsonl, line 2: not valid JSON"),
        ("bad.jsonl", '["questions"]', 'line 1: expected {"table": "<name>", "row": {...}}'),
        ("bad.jsonl", '{"table": "secrets", "row": {}}', "line 1: unknown table 'secrets'"),
        ("bad.jsonl", "\n\n", "no rows"),
        ("bad.jsonl", _question(1) + "\n" + _answer(99), "line 2: answers.question_id = 99 is not in questions"),
        ("bad.jsonl", _question(1, colour="red"), "line 1: questions has no column 'colour'"),
        ("bad.jsonl", _question(1, created_at="2026-03-03 10:00"), "questions.created_at = '2026-03-03 10:00'"),
        ("bad.jsonl", _question(1, route_round="soon"), "questions.route_round = 'soon': expected a whole number"),
        ("bad.jsonl", _question(1, author=None), "questions.author is missing"),
        ("bad.jsonl", _question(1) + "\n" + _question(2, ts="1.1"), "a row does not fit into questions"),
        ("csv/people.csv", "id,name\n1,Dana\n", "unknown table 'people'"),
        ("csv/questions.csv", "id,colour\n1,red\n", "the header has unknown columns ['colour']"),
        ("csv/questions.csv", "id,team_id\n1,T1,extra\n", "questions.csv, row 1: more fields than the header"),
        ("csv/notes.txt", "not an export", "no CSV files"),
    ],
)
def test_bad_import_files_say_what_is_wrong(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.parent.mkdir(exist_ok=True)
        path.write_text(content)
    source = path.parent if name.startswith("csv/") else path
    assert main(["import", str(source)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with Session(make_engine(db)) as s:
        assert s.exec(select(Question)).all() == []  # one transaction: nothing was written


def test_export_refuses_to_overwrite(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken.jsonl").write_text("keep me")
    assert main(["export", "--out", "taken.jsonl"]) == 2
    assert "taken.jsonl already exists" in capsys.readouterr().err
    assert (tmp_path / "taken.jsonl").read_text() == "keep me"


def _mentions(rows: dict[str, list[dict[str, Any]]], person: str) -> list[tuple[str, str]]:
    return [(name, k) for name, table_rows in rows.items() for r in table_rows for k, v in r.items() if v == person]


def test_forget_removes_text_and_votes_and_keeps_counts(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(rig)
    before = dump(rig.engine)
    assert _mentions(before, DANA)
    with Session(rig.engine) as s:
        bobs = s.exec(select(Answer).where(Answer.author == BOB)).one()
        bob_score = queries.score_of(s, answer_id=bobs.id or 0)
    monkeypatch.setenv("DATABASE_URL", cli_url(rig.engine))

    assert main(["user", "forget", f"<@{DANA}>", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"Forgot {DANA} in every workspace" in out
    assert "messages: 0 questions, 2 answers, 0 follow-ups" in out and "votes they cast: 1 deleted" in out
    assert "1 expert entry (2 topics)" in out and "1 open request to answer" in out
    after = dump(rig.engine)
    assert _mentions(after, DANA) == []  # no row names her any more
    for name in ("questions", "answers", "followups"):
        assert len(after[name]) == len(before[name])  # counts are kept
    [pseudonym] = {a["author"] for a in after["answers"] if a["text"] == PLACEHOLDER}
    assert pseudonym.startswith("FORGOTTEN") and DANA not in pseudonym
    assert len([a for a in after["answers"] if a["author"] == pseudonym]) == 2
    others = [a for a in before["answers"] if a["author"] != DANA]
    assert [a for a in after["answers"] if a["author"] != pseudonym] == others  # other people's answers untouched
    assert after["questions"] == before["questions"] and after["followups"] == before["followups"]
    assert after["votes"] == [v for v in before["votes"] if v["voter"] != DANA]
    assert [e["user_id"] for e in after["experts"]] == [BOB]
    assert [u for u in after["users"] if u["slack_id"] != DANA] == [u for u in before["users"] if u["slack_id"] != DANA]
    with Session(rig.engine) as s:
        assert queries.score_of(s, answer_id=bobs.id or 0) == bob_score + 1.0  # her -1 is gone
        assert s.exec(select(Vote).where(Vote.voter == DANA)).all() == []

    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["user", "forget", ALICE]) == 1  # asked, and declined
    out = capsys.readouterr().out
    assert f"Forgetting {ALICE} in every workspace changes:" in out and "Nothing was changed." in out
    assert dump(rig.engine) == after
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    team = after["questions"][0]["team_id"]
    assert main(["user", "forget", ALICE, "--team", team]) == 0
    final = dump(rig.engine)
    assert _mentions(final, ALICE) == [] and len(final["followups"]) == len(before["followups"])
    second = {f["author"] for f in final["followups"]}
    assert len(second) == 1 and second != {pseudonym}  # a new pseudonym on each run
    assert final["enrolments"] == [] and final["nudges"] == []
    index = open_index(rig.engine, kind="database")
    assert index.search(team, "rotate postgres password staging", answered_only=False) == []  # her words are gone

    assert main(["user", "forget", "UNOBODY01", "--yes"]) == 0
    assert "Nothing is stored about UNOBODY01" in capsys.readouterr().out
    assert main(["user", "forget", "dana"]) == 2
    assert "'dana' is not a Slack user id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["export", "--help"], "--format {jsonl,csv}"),
        (["import", "--help"], "empty database"),
        (["user", "--help"], "forget"),
        (["user", "forget", "--help"], "(removed at the person's request)"),
    ],
)
def test_help_explains_each_command(argv: list[str], phrase: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert phrase in capsys.readouterr().out
