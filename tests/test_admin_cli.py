"""Admin command line: tags and experts in and out as YAML, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, select

from bot.__main__ import main
from storage.db import make_engine
from storage.models import Expert, ExpertTopic, Tag


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
