"""The expert directory: who answers which topics, and on what terms; YAML import and export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml
from sqlmodel import Session

from bot.tagging import normalise_tag, tag_problem
from storage import queries
from storage.models import Expert, Workspace


@dataclass(frozen=True)
class TopicChange:
    changed: list[str]
    refused: list[str]  # "name: why"


def parse_topics(text: str) -> tuple[list[str], list[str]]:
    """ "kubernetes, Postgres #k8s" → (["kubernetes", "postgres", "k8s"], refusals)."""
    names, refused = [], []
    for raw in text.replace(",", " ").split():
        name = normalise_tag(raw)
        if name is None:
            refused.append(f"{raw}: {tag_problem(raw)}")
        elif name not in names:
            names.append(name)
    return names, refused


def ensure_expert(session: Session, *, ws: Workspace, user_id: str, now: datetime, tz: str | None = None) -> Expert:
    row = queries.expert(session, ws=ws, user_id=user_id)
    if row is None:
        row = Expert(team_id=ws.team_id, enterprise_id=ws.enterprise_id, user_id=user_id, updated_at=now)
    if tz:
        row.tz = tz
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def add_topics(
    session: Session, *, ws: Workspace, user_id: str, text: str, now: datetime, tz: str | None = None
) -> TopicChange:
    names, refused = parse_topics(text)
    row = ensure_expert(session, ws=ws, user_id=user_id, now=now, tz=tz)
    vocab = queries.vocabulary(session, ws=ws)
    aliases = {alias: name for name, all_aliases in vocab.items() for alias in all_aliases}
    added = []
    for name in names:
        canonical = aliases.get(name, name)
        if canonical not in vocab:
            queries.add_tag(session, ws=ws, name=canonical)
        if queries.add_expert_topic(session, ws=ws, expert_id=row.id or 0, tag=canonical):
            added.append(canonical)
    return TopicChange(added, refused)


def remove_topics(session: Session, *, ws: Workspace, user_id: str, text: str) -> TopicChange:
    names, refused = parse_topics(text)
    row = queries.expert(session, ws=ws, user_id=user_id)
    if row is None or not names:
        return TopicChange([], refused)
    mine = set(queries.expert_topics(session, expert_ids=[row.id or 0]).get(row.id or 0, []))
    removed = [n for n in names if n in mine]
    queries.remove_expert_topics(session, expert_id=row.id or 0, tags=removed)
    return TopicChange(removed, refused)


def topics_of(session: Session, *, ws: Workspace, user_id: str) -> list[str]:
    row = queries.expert(session, ws=ws, user_id=user_id)
    return [] if row is None else queries.expert_topics(session, expert_ids=[row.id or 0]).get(row.id or 0, [])


FIELDS = ("capacity", "tz", "work_start", "work_end", "work_days", "on_leave_until", "paused")


def export_yaml(session: Session, *, ws: Workspace) -> str:
    rows = queries.experts(session, ws=ws)
    topics = queries.expert_topics(session, expert_ids=[r.id or 0 for r in rows])
    out = []
    for r in rows:
        entry: dict[str, Any] = {"user": r.user_id, "topics": topics.get(r.id or 0, [])}
        entry.update({f: getattr(r, f) for f in FIELDS})
        entry["on_leave_until"] = r.on_leave_until.isoformat() if r.on_leave_until else None
        out.append(entry)
    return yaml.safe_dump({"experts": out}, sort_keys=False, allow_unicode=True)


def import_yaml(session: Session, *, ws: Workspace, text: str, now: datetime) -> int:
    """Create or update experts from `export_yaml`'s format; ValueError names the bad entry."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"not valid YAML: {e}") from e
    entries = doc.get("experts") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ValueError("expected a mapping with an 'experts' list")
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not str(entry.get("user", "")).startswith(("U", "W")):
            raise ValueError(f"entry {i}: needs 'user' with a Slack user id (U… or W…)")
        row = ensure_expert(session, ws=ws, user_id=str(entry["user"]), now=now)
        try:
            _apply_fields(row, entry)
        except (TypeError, ValueError) as e:
            raise ValueError(f"entry {i} ({entry['user']}): {e}") from e
        session.add(row)
        add_topics(session, ws=ws, user_id=row.user_id, text=" ".join(map(str, entry.get("topics") or [])), now=now)
    return len(entries)


def _apply_fields(row: Expert, entry: dict[str, Any]) -> None:
    for f in FIELDS:
        if f not in entry or entry[f] is None:
            continue
        value = entry[f]
        if f in ("capacity", "work_start", "work_end"):
            value = int(value)
            if not 0 <= value <= (24 if f != "capacity" else 50):
                raise ValueError(f"{f} out of range: {value}")
        elif f == "on_leave_until":
            value = value if isinstance(value, date) else date.fromisoformat(str(value))
        elif f == "paused":
            value = bool(value)
        else:
            value = str(value)
        setattr(row, f, value)


@dataclass(frozen=True)
class Settings:
    """What an expert sets in their settings modal, already parsed."""

    topics: str
    capacity: str
    start: int
    end: int
    days: list[int]
    leave_until: date | None
    paused: bool


def save_settings(
    session: Session, *, ws: Workspace, user_id: str, form: Settings, now: datetime, tz: str | None
) -> dict[str, str]:
    """Apply the modal; returns {field: problem} (nothing saved) when something is off."""
    problems: dict[str, str] = {}
    names, refused = parse_topics(form.topics)
    if refused:
        problems["topics"] = "; ".join(refused)[:150]
    if not form.capacity.strip().isdigit() or not 1 <= int(form.capacity) <= 50:
        problems["capacity"] = "A whole number from 1 to 50."
    if form.start == form.end:
        problems["end"] = "The end must differ from the start (a shift may run past midnight)."
    if not form.days:
        problems["days"] = "Pick at least one day, or pause instead."
    if problems:
        return problems
    row = ensure_expert(session, ws=ws, user_id=user_id, now=now, tz=tz)
    row.capacity, row.work_start, row.work_end = int(form.capacity), form.start, form.end
    row.work_days = ",".join(str(d) for d in sorted(set(form.days)))
    row.on_leave_until, row.paused = form.leave_until, form.paused
    session.add(row)
    current = set(topics_of(session, ws=ws, user_id=user_id))
    add_topics(session, ws=ws, user_id=user_id, text=" ".join(n for n in names if n not in current), now=now)
    dropped = current - set(names)
    if dropped:
        remove_topics(session, ws=ws, user_id=user_id, text=" ".join(sorted(dropped)))
    return {}
