"""Onboarding journeys from YAML, and the working-day calendar their steps are scheduled on (pure)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULT_FILE = Path(__file__).with_name("onboarding.yml")
# What a step's message may pull in; see onboarding.yml.
PLACEHOLDERS = {
    "name": "the hire's first name",
    "topics": "the topics they chose in the first nudge",
    "top_qas": "the top-rated answered questions in those topics",
    "experts": "the experts in those topics",
    "buddy": "their buddy, picked from those experts",
    "channels": "the watched channels worth joining for those topics",
}
# New hires get their nudges inside these local hours, Monday to Friday.
WORK_START, WORK_END = time(9), time(17)
WORK_DAYS = frozenset(range(5))
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class JourneyError(ValueError):
    """A journey file that cannot be used: names the file, the step and the field."""


@dataclass(frozen=True)
class Step:
    id: str
    day: int  # working days after the start date; 0 is the first working day
    at: time  # local time of the hire
    message: str
    ask_topics: bool = False

    @property
    def placeholders(self) -> set[str]:
        """The {fields} its message pulls in (checked against PLACEHOLDERS when the file is loaded)."""
        return {f for _, f, _, _ in string.Formatter().parse(self.message) if f}


@dataclass(frozen=True)
class Journey:
    name: str
    steps: tuple[Step, ...]

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


def load(path: Path | str = DEFAULT_FILE) -> dict[str, Journey]:
    """Every journey in the file, checked; JourneyError says exactly what is wrong and where."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise JourneyError(f"{path}: cannot read the onboarding file ({e.strerror or e})") from e
    except yaml.YAMLError as e:
        raise JourneyError(f"{path}: not valid YAML: {e}") from e
    journeys = doc.get("journeys") if isinstance(doc, dict) else None
    if not isinstance(journeys, dict) or not journeys:
        raise JourneyError(f"{path}: expected a mapping 'journeys:' with at least one journey")
    out: dict[str, Journey] = {}
    for name, body in journeys.items():
        where = f"{path}: journey {name!r}"
        steps = body.get("steps") if isinstance(body, dict) else None
        if not isinstance(steps, list) or not steps:
            raise JourneyError(f"{where}: expected 'steps:', a list of at least one step")
        parsed = [_step(f"{where}, step {i}", raw) for i, raw in enumerate(steps, 1)]
        ids = [s.id for s in parsed]
        if len(set(ids)) != len(ids):
            raise JourneyError(f"{where}: step ids must be unique, got {ids}")
        out[str(name)] = Journey(str(name), tuple(sorted(parsed, key=lambda s: (s.day, s.at))))
    if "default" not in out:
        raise JourneyError(f"{path}: needs a journey named 'default' (used when none is named)")
    return out


def _step(where: str, raw: Any) -> Step:
    if not isinstance(raw, dict):
        raise JourneyError(f"{where}: expected a mapping with id, day, at and message")
    step_id = str(raw.get("id", ""))
    if not _STEP_ID.match(step_id):
        raise JourneyError(f"{where}, field 'id': lowercase letters, digits, - and _ (got {step_id!r})")
    where = f"{where} ({step_id})"
    day = raw.get("day")
    if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 260:
        raise JourneyError(f"{where}, field 'day': a whole number of working days from 0 to 260 (got {day!r})")
    at_text = str(raw.get("at", "10:00"))
    match = _AT.match(at_text)
    at = time(int(match.group(1)), int(match.group(2))) if match else None
    if at is None or not WORK_START <= at < WORK_END:
        raise JourneyError(f"{where}, field 'at': a local time such as 10:00 inside 09:00-17:00 (got {at_text!r})")
    message = raw.get("message")
    if not isinstance(message, str) or not message.strip():
        raise JourneyError(f"{where}, field 'message': the text of the nudge is missing")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(message) if f is not None}
    except ValueError as e:
        raise JourneyError(f"{where}, field 'message': {e} (write {{{{ and }}}} for literal braces)") from e
    unknown = sorted(fields - set(PLACEHOLDERS))
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise JourneyError(f"{where}, field 'message': unknown placeholder {{{unknown[0]}}} (known: {known})")
    return Step(step_id, day, at, message.strip(), bool(raw.get("ask_topics", False)))


@cache
def default_journeys() -> dict[str, Journey]:
    return load(DEFAULT_FILE)


def zone(tz: str) -> ZoneInfo:
    """The person's time zone; an unknown name (or none) counts as UTC."""
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def working_day(start: date, offset: int) -> date:
    """The `offset`-th working day on or after `start` (offset 0: `start`, or the Monday after a weekend)."""
    day = start
    while day.weekday() not in WORK_DAYS:
        day += timedelta(days=1)
    for _ in range(offset):
        day += timedelta(days=1)
        while day.weekday() not in WORK_DAYS:
            day += timedelta(days=1)
    return day


def due_at(step: Step, *, start: date, tz: str) -> datetime:
    """When a step is due, in UTC: its working day after `start`, at its local time in the hire's zone."""
    local = datetime.combine(working_day(start, step.day), step.at, tzinfo=zone(tz))
    return local.astimezone(UTC)


def in_working_hours(moment: datetime, tz: str) -> bool:
    local = moment.astimezone(zone(tz))
    return local.weekday() in WORK_DAYS and WORK_START <= local.time() < WORK_END


def next_working_start(moment: datetime, tz: str) -> datetime:
    """The next moment inside the hire's working hours (`moment` itself when it already is)."""
    if in_working_hours(moment, tz):
        return moment
    local = moment.astimezone(zone(tz))
    day = local.date() if local.time() < WORK_START else local.date() + timedelta(days=1)
    return datetime.combine(working_day(day, 0), WORK_START, tzinfo=zone(tz)).astimezone(UTC)


def local_today(moment: datetime, tz: str) -> date:
    return moment.astimezone(zone(tz)).date()
