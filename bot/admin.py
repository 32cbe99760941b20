"""Admin command line: experts and tag vocabulary, imported from and exported to YAML."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, union
from sqlmodel import Session, select

from bot import experts, topics
from bot.config import Settings
from bot.deps import open_search
from storage.models import Expert, Question, Tag, Workspace


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ex = sub.add_parser("experts", help="import or export the expert directory as YAML")
    ex.add_argument("action", choices=["import", "export"])
    ex.add_argument("file", nargs="?", help="YAML file (import: required; export: default stdout)")
    ex.add_argument("--team", help="workspace id (T…); needed when the database serves several")
    tags = sub.add_parser("tags", help="seed the tag vocabulary (with aliases) from YAML")
    tags.add_argument("action", choices=["import"])
    tags.add_argument("file", help="YAML such as  tags: {kubernetes: [k8s, kube], postgres: [pg]}")
    tags.add_argument("--team", help="workspace id (T…); needed when the database serves several")


def add_reindex_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("reindex", help="rebuild the search index from the database, with a progress bar")


def reindex(engine: Engine, settings: Settings) -> int:
    """Rebuild the search index from the tables (the source of truth), showing progress on stderr."""
    index = open_search(settings, engine)
    with Session(engine) as s:
        total = int(s.exec(select(func.count()).select_from(Question)).one())
    started = time.monotonic()

    def progress(done: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} questions")
        sys.stderr.flush()

    count = index.rebuild(progress)
    progress(total)
    sys.stderr.write("\n")
    index.close()
    print(f"reindexed {count:,} questions in {time.monotonic() - started:.1f} s")
    return 0


def run(args: argparse.Namespace, engine: Engine) -> int:
    with Session(engine) as s:
        team = args.team or _only_team(s)
        if not team:
            print("Which workspace? Pass --team T0123ABCD (the database has none or several).", file=sys.stderr)
            return 2
        ws = Workspace(team)
        now = datetime.now(UTC)
        try:
            if args.command == "experts" and args.action == "export":
                text = experts.export_yaml(s, ws=ws)
                if args.file:
                    Path(args.file).write_text(text, encoding="utf-8")
                else:
                    print(text, end="")
                return 0
            if not args.file:
                print("Name the YAML file to import.", file=sys.stderr)
                return 2
            text = Path(args.file).read_text(encoding="utf-8")
            if args.command == "experts":
                count = experts.import_yaml(s, ws=ws, text=text, now=now)
                message = f"imported {count} experts into {team}"
            else:
                count = topics.import_vocabulary(s, ws=ws, yaml_text=text)
                message = f"added {count} tags and aliases to {team}"
        except (OSError, ValueError) as e:
            print(f"{args.file}: {e}", file=sys.stderr)
            return 2
        s.commit()
    print(message)
    return 0


def _only_team(s: Session) -> str | None:
    seen = union(select(Question.team_id), select(Expert.team_id), select(Tag.team_id))
    teams = [row[0] for row in s.execute(seen)]
    return teams[0] if len(teams) == 1 else None
