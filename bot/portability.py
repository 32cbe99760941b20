"""Moving a Peerbot database: export to JSONL or CSV, import into an empty database; forgetting a person."""

from __future__ import annotations

import csv
import json
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Engine, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, SQLModel

import storage.models  # noqa: F401  (the tables below are defined there)
from storage import queries

# Parents before children: importing in this order keeps every foreign key satisfied.
TABLES = (
    "users", "channels", "tags", "questions", "answers", "followups", "votes", "question_tags",
    "experts", "expert_topics", "assignments", "enrolments", "nudges", "digests",
)  # fmt: skip
BATCH = 1000
PLACEHOLDER = "(removed at the person's request)"
Progress = Callable[[int], None]
_USER_ID = re.compile(r"^<?@?([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>?$")


class PortabilityError(Exception):
    """A problem with an export, an import or a request, in words meant for the admin."""


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


# --- Export ---


def forget_workspace(engine: Engine, team_id: str) -> dict[str, int]:
    """Delete everything stored about a workspace, its installation's tokens included; rows per table.

    Children before parents (foreign keys); the search index follows through its change log (or reindex).
    """
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore as Store

    store = Store.default_installations_table_name, Store.default_bots_table_name
    removed: dict[str, int] = {}
    with engine.begin() as conn:
        for t in reversed(SQLModel.metadata.sorted_tables):
            if "team_id" in t.c:
                removed[t.name] = conn.execute(t.delete().where(t.c.team_id == team_id)).rowcount
        for name in store:
            t = Table(name, MetaData(), autoload_with=conn)
            removed[name] = conn.execute(t.delete().where(t.c.team_id == team_id)).rowcount
    return {name: n for name, n in removed.items() if n}


def count_rows(engine: Engine, *, teams: list[str] | None = None) -> dict[str, int]:
    """Rows per exported table (of `teams` only, when given)."""
    with engine.connect() as conn:
        return {name: _count(conn, name, teams) for name in TABLES}


def _count(conn: Connection, name: str, teams: list[str] | None) -> int:
    t = table(name)
    stmt = select(func.count()).select_from(t)
    if teams is not None:
        stmt = stmt.where(t.c.team_id.in_(teams))
    return int(conn.execute(stmt).scalar_one())


class Writer(Protocol):
    def start(self, name: str, columns: list[str]) -> None: ...
    def write(self, name: str, rows: list[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    """One line per row: {"table": ..., "row": {...}}, datetimes in ISO 8601 with their offset."""

    def __init__(self, out: IO[str], *, owned: bool) -> None:
        self.out, self.owned = out, owned

    def start(self, name: str, columns: list[str]) -> None:
        pass

    def write(self, name: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            line = {"table": name, "row": {k: _json_value(v) for k, v in row.items()}}
            self.out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.owned:
            self.out.close()
        else:
            self.out.flush()


class CsvWriter:
    """A directory with one CSV file per table, each with a header; an empty cell is NULL where NULL is allowed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file: IO[str] | None = None
        self.writer: Any = None

    def start(self, name: str, columns: list[str]) -> None:
        self.close()
        self.file = (self.folder / f"{name}.csv").open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(columns)

    def write(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.writer.writerows([_csv_value(v) for v in row.values()] for row in rows)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def open_writer(fmt: str, out: str | None, *, now: datetime) -> tuple[Writer, str]:
    """A writer for `fmt` at `out` (default: a dated name in the working directory), and where it writes."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    if fmt == "jsonl":
        if out == "-":
            return JsonlWriter(sys.stdout, owned=False), "standard output"
        path = Path(out or f"peerbot-export-{stamp}.jsonl")
        if path.is_dir():
            path = path / f"peerbot-export-{stamp}.jsonl"
        if path.exists():
            raise PortabilityError(f"{path} already exists: remove it or choose another --out")
        try:
            return JsonlWriter(path.open("w", encoding="utf-8"), owned=True), str(path)
        except OSError as e:
            raise PortabilityError(f"cannot write {path}: {e.strerror}") from e
    folder = Path(out or f"peerbot-export-{stamp}")
    if folder.exists() and not folder.is_dir():
        raise PortabilityError(f"{folder} is a file: a CSV export needs a directory (one file per table)")
    if folder.is_dir() and any(folder.glob("*.csv")):
        raise PortabilityError(f"{folder} already holds CSV files: remove them or choose another --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PortabilityError(f"cannot create {folder}: {e.strerror}") from e
    return CsvWriter(folder), f"{folder}/"


def export_rows(
    engine: Engine, writer: Writer, *, teams: list[str] | None = None, progress: Progress | None = None
) -> dict[str, int]:
    """Stream every exported table to `writer`, parents first, in batches by id; rows written per table."""
    written: dict[str, int] = {}
    done = 0
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for every table, as at one moment
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            for name in TABLES:
                t = table(name)
                writer.start(name, [c.name for c in t.columns])
                stmt = select(t).order_by(t.c.id)
                if teams is not None:
                    stmt = stmt.where(t.c.team_id.in_(teams))
                written[name] = 0
                result = conn.execute(stmt, execution_options={"yield_per": BATCH})
                for part in result.partitions():
                    rows = [dict(r._mapping) for r in part]
                    writer.write(name, rows)
                    written[name] += len(rows)
                    done += len(rows)
                    if progress:
                        progress(done)
    writer.close()
    return written


# --- Import ---


class Source(Protocol):
    def counts(self) -> dict[str, int]: ...
    def rows(self, name: str) -> Iterator[tuple[str, dict[str, Any]]]: ...


@dataclass
class _Segment:
    offset: int
    line: int


@dataclass
class JsonlSource:
    """A JSONL export, checked line by line on opening; rows are read again, table by table, when imported."""

    path: Path
    segments: dict[str, list[_Segment]] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        previous = ""
        for offset, number, name, _ in self._lines(0, 1):
            if name != previous:
                self.segments.setdefault(name, []).append(_Segment(offset, number))
                previous = name
            self.counted[name] = self.counted.get(name, 0) + 1
        if not self.counted:
            raise PortabilityError(f"{self.path}: no rows (is it a Peerbot export?)")

    def _lines(self, offset: int, number: int) -> Iterator[tuple[int, int, str, dict[str, Any]]]:
        try:
            f = self.path.open("rb")
        except OSError as e:
            raise PortabilityError(f"{self.path}: {e.strerror}") from e
        with f:
            f.seek(offset)
            while True:
                at = f.tell()
                raw = f.readline()
                if not raw:
                    return
                if raw.strip():
                    name, row = self._parse(raw, number)
                    yield at, number, name, row
                number += 1

    def _parse(self, raw: bytes, number: int) -> tuple[str, dict[str, Any]]:
        where = f"{self.path}, line {number}"
        try:
            item = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise PortabilityError(f"{where}: not UTF-8 text") from e
        except json.JSONDecodeError as e:
            raise PortabilityError(f"{where}: not valid JSON ({e.msg}, column {e.colno})") from e
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("row"), dict)
            or not isinstance(item.get("table"), str)
        ):
            raise PortabilityError(f'{where}: expected {{"table": "<name>", "row": {{...}}}}')
        name = item["table"]
        if name not in TABLES:
            raise PortabilityError(f"{where}: unknown table {name!r} (known: {', '.join(TABLES)})")
        return name, item["row"]

    def counts(self) -> dict[str, int]:
        return dict(self.counted)

    def rows(self, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for segment in self.segments.get(name, []):
            for _, number, found, row in self._lines(segment.offset, segment.line):
                if found != name:
                    break
                yield f"{self.path}, line {number}", row


@dataclass
class CsvSource:
    """A CSV export: a directory with one <table>.csv per table, each with a header."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in sorted(self.folder.glob("*.csv")):
            if path.stem not in TABLES:
                raise PortabilityError(f"{path}: unknown table {path.stem!r} (known: {', '.join(TABLES)})")
            self.files[path.stem] = path
            self.counted[path.stem] = sum(1 for _ in self._read(path))
        if not self.files:
            raise PortabilityError(f"{self.folder}: no CSV files (a CSV export holds one <table>.csv per table)")

    def _read(self, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
        columns = {c.name for c in table(path.stem).columns}
        try:
            f = path.open(encoding="utf-8", newline="")
        except OSError as e:
            raise PortabilityError(f"{path}: {e.strerror}") from e
        with f:
            reader = csv.DictReader(f)
            try:
                header = reader.fieldnames or []
                unknown = [h for h in header if h not in columns]
                if not header or unknown:
                    known = ", ".join(c.name for c in table(path.stem).columns)
                    raise PortabilityError(f"{path}: the header has unknown columns {unknown} (known: {known})")
                for number, row in enumerate(reader, 1):
                    where = f"{path}, row {number}"
                    if None in row:
                        raise PortabilityError(f"{where}: more fields than the header has columns")
                    if any(v is None for v in row.values()):
                        raise PortabilityError(f"{where}: fewer fields than the header has columns")
                    yield where, row
            except UnicodeDecodeError as e:
                raise PortabilityError(f"{path}: not UTF-8 text") from e
            except csv.Error as e:
                raise PortabilityError(f"{path}, line {reader.line_num}: not valid CSV ({e})") from e

    def counts(self) -> dict[str, int]:
        return dict(self.counted)

    def rows(self, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if name in self.files:
            yield from self._read(self.files[name])


def open_source(path: Path) -> Source:
    """The export at `path`: a directory of CSV files, or a JSONL file."""
    if not path.exists():
        raise PortabilityError(f"{path}: no such file or directory")
    csv.field_size_limit(2**31 - 1)  # answers can be long
    return CsvSource(path) if path.is_dir() else JsonlSource(path)


def _decode(t: Table, raw: dict[str, Any], where: str) -> dict[str, Any]:
    """A row as the database takes it; PortabilityError names the column that does not fit."""
    unknown = [k for k in raw if k not in t.columns]
    if unknown:
        raise PortabilityError(f"{where}: {t.name} has no column {unknown[0]!r}")
    row: dict[str, Any] = {}
    for c in t.columns:
        value = raw.get(c.name)
        kind = _python_type(c.type)
        if value == "" and kind is not str:
            value = None
        if value is None:
            if not c.nullable:
                raise PortabilityError(f"{where}: {t.name}.{c.name} is missing (it is required)")
            row[c.name] = None
            continue
        try:
            row[c.name] = _convert(value, kind)
        except (TypeError, ValueError) as e:
            raise PortabilityError(f"{where}: {t.name}.{c.name} = {value!r}: {e}") from e
        length = getattr(c.type, "length", None)
        if length and len(row[c.name]) > length:
            raise PortabilityError(f"{where}: {t.name}.{c.name} is longer than {length} characters")
    return row


def _python_type(sql_type: TypeEngine[Any]) -> type:
    """str, int, float, bool, date or datetime: what a column holds."""
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    kind: type = sql_type.python_type
    return kind


def _convert(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise ValueError("expected true or false")
    if isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got a boolean")
    if kind in (int, float):
        try:
            number = float(value) if kind is float else int(value)
        except ValueError:
            number = None
        if number is None or (isinstance(value, float) and kind is int and not value.is_integer()):
            raise ValueError("expected a whole number" if kind is int else "expected a number")
        return number
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    if kind is datetime:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ValueError("a date and time needs its UTC offset, such as 2026-03-03T10:00:00+00:00")
        return when
    if kind is date:
        return date.fromisoformat(value)
    return value


def import_rows(engine: Engine, source: Source, *, progress: Progress | None = None) -> dict[str, int]:
    """Insert every row of `source` into an empty database, ids kept, parents first, in one transaction."""
    inserted: dict[str, int] = {}
    done = 0
    with engine.begin() as conn:
        present = {name: n for name in TABLES if (n := _count(conn, name, None))}
        if present:
            listed = ", ".join(f"{name}: {n:,}" for name, n in present.items())
            raise NotEmptyError(f"the database already holds data ({listed}); import only into an empty database")
        for name in TABLES:
            t = table(name)
            inserted[name] = 0
            batch: list[dict[str, Any]] = []
            places: list[str] = []
            for where, raw in source.rows(name):
                batch.append(_decode(t, raw, where))
                places.append(where)
                if len(batch) >= BATCH:
                    _insert(conn, t, batch, places)
                    inserted[name] += len(batch)
                    done += len(batch)
                    batch, places = [], []
                    if progress:
                        progress(done)
            if batch:
                _insert(conn, t, batch, places)
                inserted[name] += len(batch)
                done += len(batch)
                if progress:
                    progress(done)
        if conn.dialect.name == "postgresql":
            for name in TABLES:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 1),"
                        f" MAX(id) IS NOT NULL) FROM {name}"
                    )
                )
    return inserted


class NotEmptyError(PortabilityError):
    """The target database already holds rows: an import would mix two histories."""


def _insert(conn: Connection, t: Table, batch: list[dict[str, Any]], places: list[str]) -> None:
    for fk in t.foreign_keys:
        column, parent = fk.parent.name, fk.column.table
        wanted = {row[column] for row in batch if row[column] is not None}
        found = set(conn.execute(select(parent.c.id).where(parent.c.id.in_(wanted))).scalars())
        for row, where in zip(batch, places, strict=True):
            if row[column] is not None and row[column] not in found:
                raise PortabilityError(f"{where}: {t.name}.{column} = {row[column]} is not in {parent.name}")
    try:
        conn.execute(t.insert(), batch)
    except DBAPIError as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        span = places[0] if len(places) == 1 else f"{places[0]} to {places[-1].rsplit('line ', 1)[-1]}"
        raise PortabilityError(f"{span}: a row does not fit into {t.name}: {reason}") from e


# --- Forgetting a person ---


def user_id_of(text_: str) -> str:
    """U0123ABCD from "U0123ABCD", "<@U0123ABCD>" or "<@U0123ABCD|name>"."""
    m = _USER_ID.match(text_.strip())
    if not m:
        raise PortabilityError(f"{text_!r} is not a Slack user id such as U0123ABCD or <@U0123ABCD>")
    return m.group(1)


def new_pseudonym() -> str:
    """FORGOTTEN plus a random suffix: nothing about the person can be derived from it."""
    return f"FORGOTTEN{secrets.token_hex(4).upper()}"


def footprint(session: Session, *, user_id: str, teams: list[str] | None) -> dict[str, int]:
    return queries.person_footprint(session, user_id=user_id, teams=teams)


def forget(session: Session, *, user_id: str, teams: list[str] | None, pseudonym: str, now: datetime) -> dict[str, int]:
    """Empty and pseudonymise the person's messages, delete their votes and records; counts by kind."""
    done = queries.redact_messages_by(
        session, user_id=user_id, teams=teams, pseudonym=pseudonym, placeholder=PLACEHOLDER, now=now
    )
    done["votes"] = queries.delete_votes_by(session, voter=user_id, teams=teams)
    done.update(queries.delete_person_records(session, user_id=user_id, teams=teams))
    done.update(queries.pseudonymise_references(session, user_id=user_id, teams=teams, pseudonym=pseudonym))
    return done


def describe(counts: dict[str, int]) -> list[str]:
    """What forgetting does (or did), one line per kind of change, for the admin."""

    def n(kind: str, one: str, many: str | None = None) -> str:
        k = counts.get(kind, 0)
        return f"{k:,} {one if k == 1 else (many or one + 's')}"

    messages = f"{n('questions', 'question')}, {n('answers', 'answer')}, {n('followups', 'follow-up')}"
    removed = (
        f"{n('users', 'user profile')}, {n('experts', 'expert entry', 'expert entries')}"
        f" ({n('expert_topics', 'topic')}), {n('enrolments', 'onboarding enrolment')} ({n('nudges', 'step')}),"
        f" {n('open_assignments', 'open request')} to answer, {n('digests', 'digest record')}"
    )
    references = sum(counts.get(k, 0) for k in ("past_assignments", "mentions", "suggestions", "buddies"))
    references += counts.get("enrolled_by", 0)
    return [
        f"messages: {messages}: text replaced by {PLACEHOLDER!r}, author replaced by a pseudonym",
        f"votes they cast: {counts.get('votes', 0):,} deleted (the scores of those answers drop accordingly)",
        f"removed: {removed}",
        f"references to them elsewhere: {references:,} pseudonymised or cleared",
    ]
