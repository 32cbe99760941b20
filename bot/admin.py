"""Admin command line: experts and tags as YAML, reindex, export and import of the database, forgetting a person."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, union
from sqlmodel import Session, select

from bot import experts, portability, topics
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
    _add_portability_parsers(sub)


def add_reindex_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("reindex", help="rebuild the search index from the database, with a progress bar")


def reindex(engine: Engine, settings: Settings) -> int:
    """Rebuild the search index from the tables (the source of truth), showing progress on stderr."""
    index = open_search(settings, engine)
    with Session(engine) as s:
        total = int(s.exec(select(func.count()).select_from(Question)).one())
    started = time.monotonic()
    progress = _progress_bar(total, "questions")
    count = index.rebuild(progress)
    progress(total)
    sys.stderr.write("\n")
    index.close()
    print(f"reindexed {count:,} questions in {time.monotonic() - started:.1f} s")
    return 0


def _progress_bar(total: int, unit: str) -> portability.Progress:
    """A textual progress bar on stderr: call it with how many are done."""

    def progress(done: int) -> None:
        width = 30
        filled = min(width, int(width * done / total) if total else width)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {unit}")
        sys.stderr.flush()

    return progress


def run(args: argparse.Namespace, engine: Engine) -> int:
    if args.command in ("export", "import", "user", "workspace"):
        return run_portability(args, engine)
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


# --- Export, import, forgetting a person ---

_RAW = argparse.RawDescriptionHelpFormatter
EXPORT_HELP = """\
Write the database out, to move Peerbot to another database or server: users, channels, tags,
questions, answers, follow-ups, votes, question tags, experts and their topics, routing requests,
onboarding enrolments and their steps, and digest records. Left out: processed Slack event ids
(kept an hour) and the search index (rebuilt with `peerbot reindex`).

jsonl: one file, a line per row: {"table": "questions", "row": {"id": 1, ...}}.
csv:   a directory with one <table>.csv per table, each with a header; an empty cell is NULL.
Ids are kept, datetimes are ISO 8601 with their UTC offset. Rows are read in batches, so any
size of database can be exported; progress is shown on stderr."""
EXPORT_EPILOG = """\
examples:
  peerbot export --out backup.jsonl
  peerbot export --format csv --out export/ --team T0123ABCD
  peerbot export --out - | gzip > backup.jsonl.gz"""
IMPORT_HELP = """\
Load an export made by `peerbot export` (a .jsonl file, or a directory of CSV files) into an
empty database: the one DATABASE_URL names, created and migrated first if needed. Ids and the
links between rows are kept, parents are written before children, and everything happens in one
transaction: on any problem nothing is written, and the message says which line does not fit.
A database that already holds data is refused (exit code 2). Afterwards, run `peerbot reindex`."""
IMPORT_EPILOG = """\
example:
  DATABASE_URL=postgresql+psycopg://peerbot@db/peerbot peerbot import backup.jsonl && peerbot reindex"""
FORGET_HELP = f"""\
Forget a person on request, keeping the counts others rely on:
  - their questions, answers and follow-ups stay (so question and answer counts do not change),
    with the text replaced by "{portability.PLACEHOLDER}" and their user id replaced by
    a pseudonym (FORGOTTEN plus a random suffix, chosen afresh on each run, not derived from the id);
  - the votes and acceptance marks they cast are deleted: the scores of those answers drop;
  - their user profile, expert entry and topics, onboarding enrolment and its steps, open requests
    to answer and the digests sent to them are deleted;
  - other rows that name them: past requests and "enrolled by" get the pseudonym, "buddy" and
    "suggested by" are cleared.
Messages in Slack itself are not touched. Asks for confirmation unless --yes is given."""
FORGET_EPILOG = """\
examples:
  peerbot user forget U0123ABCD
  peerbot user forget '<@U0123ABCD>' --team T0123ABCD --yes"""


def _add_portability_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ex = sub.add_parser(
        "export", help="write the database out as JSONL or CSV, to move it", description=EXPORT_HELP,
        epilog=EXPORT_EPILOG, formatter_class=_RAW,
    )  # fmt: skip
    ex.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="jsonl (default) or csv")
    ex.add_argument(
        "--out", metavar="FILE_OR_DIR",
        help="jsonl: a file ('-' for stdout); csv: a directory. Default: peerbot-export-<date> here",
    )  # fmt: skip
    ex.add_argument("--team", action="append", metavar="T…", help="only this workspace (repeatable); default: all")
    im = sub.add_parser(
        "import", help="load an export into an empty database", description=IMPORT_HELP, epilog=IMPORT_EPILOG,
        formatter_class=_RAW,
    )  # fmt: skip
    im.add_argument("source", metavar="FILE_OR_DIR", help="a .jsonl export, or a directory of CSV files")
    user = sub.add_parser(
        "user", help="a person's data: forget someone on request", description="A person's data in Peerbot."
    )
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    forget = actions.add_parser(
        "forget", help="remove a person's messages and votes, keeping counts", description=FORGET_HELP,
        epilog=FORGET_EPILOG, formatter_class=_RAW,
    )  # fmt: skip
    forget.add_argument("users", nargs="+", metavar="USER", help="a Slack user id: U0123ABCD or <@U0123ABCD>")
    forget.add_argument(
        "--team", action="append", metavar="T…", help="only in this workspace (repeatable); default: every workspace"
    )
    forget.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    workspace = sub.add_parser(
        "workspace", help="a workspace's data: delete it after an uninstall", description="A workspace's data."
    )
    ws_actions = workspace.add_subparsers(dest="action", required=True, metavar="ACTION")
    ws_forget = ws_actions.add_parser(
        "forget", help="delete everything stored about a workspace", description=WORKSPACE_FORGET_HELP,
        formatter_class=_RAW,
    )  # fmt: skip
    ws_forget.add_argument("team", metavar="T…", help="the workspace's team id, e.g. T0123ABCD")
    ws_forget.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


WORKSPACE_FORGET_HELP = """\
Delete everything Peerbot stores about one workspace: questions, answers, votes, experts, onboarding,
digests, Home tabs, and its installation's tokens. Uninstalling Peerbot stops its work in a workspace
but keeps this data (a reinstall picks up where it left off); this removes it. Messages in Slack itself
are not touched. Asks for confirmation unless --yes is given.

example:
  peerbot workspace forget T0123ABCD"""


def run_portability(args: argparse.Namespace, engine: Engine) -> int:
    try:
        if args.command == "export":
            return _export(args, engine)
        if args.command == "import":
            return _import(args, engine)
        if args.command == "workspace":
            return _forget_workspace(args, engine)
        return _forget(args, engine)
    except portability.PortabilityError as e:
        print(e, file=sys.stderr)
        return 2


def _export(args: argparse.Namespace, engine: Engine) -> int:
    teams: list[str] | None = args.team or None
    total = sum(portability.count_rows(engine, teams=teams).values())
    writer, where = portability.open_writer(args.format, args.out, now=datetime.now(UTC))
    started = time.monotonic()
    progress = _progress_bar(total, "rows")
    written = portability.export_rows(engine, writer, teams=teams, progress=progress)
    progress(total)
    sys.stderr.write("\n")
    tables = ", ".join(f"{name} {n:,}" for name, n in written.items() if n)
    summary = (
        f"exported {sum(written.values()):,} rows ({tables or 'none'}) to {where} in {time.monotonic() - started:.1f} s"
    )
    print(summary, file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def _import(args: argparse.Namespace, engine: Engine) -> int:
    present = {name: n for name, n in portability.count_rows(engine).items() if n}
    if present:
        listed = ", ".join(f"{name} {n:,}" for name, n in present.items())
        print(
            f"Refusing to import: the database already holds data ({listed}). Import only into an empty database:"
            " point DATABASE_URL at a new one (it is created and migrated on first use).",
            file=sys.stderr,
        )
        return 2
    try:
        source = portability.open_source(Path(args.source))
    except portability.PortabilityError as e:
        print(f"Cannot import: {e}", file=sys.stderr)
        return 2
    total = sum(source.counts().values())
    started = time.monotonic()
    progress = _progress_bar(total, "rows")
    try:
        inserted = portability.import_rows(engine, source, progress=progress)
    except portability.PortabilityError as e:
        sys.stderr.write("\n")
        print(f"Import failed, nothing was written: {e}", file=sys.stderr)
        return 2
    progress(total)
    sys.stderr.write("\n")
    tables = ", ".join(f"{name} {n:,}" for name, n in inserted.items() if n)
    print(
        f"imported {sum(inserted.values()):,} rows ({tables}) from {args.source} in {time.monotonic() - started:.1f} s"
    )
    print("Next: run `peerbot reindex` to rebuild the search index from the imported questions.")
    return 0


def _confirmed() -> bool:
    """Ask before something that cannot be undone; no answer (EOF) is no."""
    try:
        answer = input("This cannot be undone. Go ahead? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("Nothing was changed.")
    return False


def _forget_workspace(args: argparse.Namespace, engine: Engine) -> int:
    team = str(args.team).strip()
    if not re.fullmatch(r"[TE][A-Z0-9]{2,20}", team):
        print(f"{team!r} is not a workspace id: expected a team id such as T0123ABCD.", file=sys.stderr)
        return 2
    stored = {name: n for name, n in portability.count_rows(engine, teams=[team]).items() if n}
    if not stored:
        print(f"Nothing is stored about workspace {team}.")
    elif not args.yes:
        listed = ", ".join(f"{name} {n:,}" for name, n in stored.items())
        print(f"Forgetting workspace {team} deletes: {listed}, and its installation's tokens.")
        if not _confirmed():
            return 1
    removed = portability.forget_workspace(engine, team)
    if removed:
        listed = ", ".join(f"{name} {n:,}" for name, n in removed.items())
        print(f"Forgot workspace {team}: deleted {listed}.")
        print("The search index drops its questions at its next sync; `peerbot reindex` does it now.")
    return 0


def _forget(args: argparse.Namespace, engine: Engine) -> int:
    users = list(dict.fromkeys(portability.user_id_of(u) for u in args.users))
    teams: list[str] | None = args.team or None
    scope = "in every workspace" if teams is None else "in " + ", ".join(teams)
    with Session(engine) as s:
        plans = {u: portability.footprint(s, user_id=u, teams=teams) for u in users}
    todo = [u for u in users if any(plans[u].values())]
    for u in users:
        if u not in todo:
            print(f"Nothing is stored about {u} {scope}.")
    if not todo:
        return 0
    if not args.yes:
        for u in todo:
            print(f"Forgetting {u} {scope} changes:")
            print("\n".join(f"  {line}" for line in portability.describe(plans[u])))
        print("Their messages in Slack itself are not touched.")
        if not _confirmed():
            return 1
    now = datetime.now(UTC)
    done: dict[str, tuple[str, dict[str, int]]] = {}
    with Session(engine) as s:
        for u in todo:
            pseudonym = portability.new_pseudonym()
            done[u] = pseudonym, portability.forget(s, user_id=u, teams=teams, pseudonym=pseudonym, now=now)
        s.commit()
    for u, (pseudonym, counts) in done.items():
        print(f"Forgot {u} {scope}; their remaining rows now name {pseudonym}:")
        print("\n".join(f"  {line}" for line in portability.describe(counts)))
    print(
        "The search index drops their text at its next sync (`peerbot run` syncs it continuously);"
        " `peerbot reindex` does it now."
    )
    return 0
