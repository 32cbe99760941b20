"""Settings: the only place that reads the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.journeys import Journey, JourneyError, default_journeys
from bot.journeys import load as load_journeys

DEFAULT_DATABASE_URL = "sqlite:///peerbot.db"
DEFAULT_VOTE_EMOJI = "+1=1,thumbsup=1,-1=-1,thumbsdown=-1"
_EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']{1,64}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,20}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """Raised with every problem found in the configuration at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Peerbot cannot start, the configuration has problems:\n{lines}")


@dataclass(frozen=True)
class Settings:
    """Everything Peerbot is told by its environment; see .env.example."""

    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""
    slack_api_url: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    port: int = 3000
    watched_channels: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    vote_emoji: Mapping[str, float] = field(default_factory=lambda: _parse_votes(DEFAULT_VOTE_EMOJI, []))
    accept_emoji: str = "white_check_mark"
    ask_emoji: str = "question"
    ack_emoji: str = "eyes"
    log_level: str = "INFO"
    experts_per_round: int = 2
    routing_rounds: int = 2
    answer_hours: float = 2.0
    fallback_channel: str = ""
    search_engine: str = "tantivy"
    search_index_dir: str = "peerbot-search-index"
    freshness_days: float = 180.0
    suggest_wait_minutes: float = 30.0
    journeys: Mapping[str, Journey] = field(default_factory=default_journeys)
    onboard_new_members: bool = True
    new_hires_channel: str = ""
    digest_day: int = 0  # Monday
    digest_time: time = time(9, 0)
    digest_tz: str = "UTC"
    client_id: str = ""  # with client_secret: OAuth installs in any number of workspaces
    client_secret: str = ""
    redirect_uri: str = ""  # blank: the app's own Redirect URL in Slack's settings
    rotation_minutes: int = 120  # a rotating token is refreshed when it expires within this many minutes
    org_search: bool = False  # Enterprise Grid: suggest public Q&As from every workspace of the organisation
    capture_external: bool = False  # Slack Connect: capture questions and answers of people outside the org
    semantic: bool = False  # order suggestions by meaning with an embedding model (peerbot[semantic])

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token) and not self.oauth

    @property
    def oauth(self) -> bool:
        """Installable in many workspaces (tokens in the database) rather than one workspace's SLACK_BOT_TOKEN."""
        return bool(self.client_id and self.client_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, need_slack: bool = True) -> Settings:
        """Build Settings from `env` (default: os.environ); raise ConfigError naming every problem."""
        env = os.environ if env is None else env
        problems: list[str] = []

        def get(key: str, default: str = "") -> str:
            return env.get(key, default).strip()

        bot_token = get("SLACK_BOT_TOKEN")
        signing_secret = get("SLACK_SIGNING_SECRET")
        app_token = get("SLACK_APP_TOKEN")
        client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            problems.append("set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Basic Information) for OAuth installs")
        oauth = bool(client_id and client_secret)
        if oauth and not signing_secret:
            problems.append("OAuth installs are served in HTTP mode: set SLACK_SIGNING_SECRET")
        if need_slack and not oauth:
            if not bot_token:
                problems.append("SLACK_BOT_TOKEN is missing (the bot token, xoxb-…, from OAuth & Permissions)")
            if not app_token and not signing_secret:
                problems.append("set SLACK_APP_TOKEN (xapp-…, Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
        if bot_token and not bot_token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if app_token and not app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")

        api_url = get("SLACK_API_URL")
        if api_url and not re.match(r"^https?://", api_url):
            problems.append(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}")
        if api_url and not api_url.endswith("/"):
            api_url += "/"

        port_text = get("PORT", "3000")
        port = 3000
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            problems.append(f"PORT must be a port number (1-65535), got {port_text!r}")
        else:
            port = int(port_text)

        watched = _parse_ids("PEERBOT_WATCHED_CHANNELS", get("PEERBOT_WATCHED_CHANNELS"), problems)
        admins = _parse_ids("PEERBOT_ADMINS", get("PEERBOT_ADMINS"), problems)
        votes = _parse_votes(get("PEERBOT_VOTE_EMOJI", DEFAULT_VOTE_EMOJI), problems)
        emoji = {}
        for key, default in (
            ("PEERBOT_ACCEPT_EMOJI", "white_check_mark"),
            ("PEERBOT_ASK_EMOJI", "question"),
            ("PEERBOT_ACK_EMOJI", "eyes"),
        ):
            value = get(key, default).strip(":")
            if not _EMOJI_NAME.match(value):
                problems.append(f"{key} must be an emoji name such as {default}, got {value!r}")
            emoji[key] = value
        per_round = _parse_number("PEERBOT_EXPERTS_PER_ROUND", get("PEERBOT_EXPERTS_PER_ROUND", "2"), 1, 10, problems)
        rounds = _parse_number("PEERBOT_ROUNDS", get("PEERBOT_ROUNDS", "2"), 1, 10, problems)
        hours = _parse_number("PEERBOT_ANSWER_HOURS", get("PEERBOT_ANSWER_HOURS", "2"), 0.25, 80, problems)
        fallback = get("PEERBOT_FALLBACK_CHANNEL")
        if fallback and not _SLACK_ID.match(fallback):
            problems.append(f"PEERBOT_FALLBACK_CHANNEL must be a channel id such as C0123ABCD, got {fallback!r}")
        freshness = _parse_number("PEERBOT_FRESHNESS_DAYS", get("PEERBOT_FRESHNESS_DAYS", "180"), 1, 3650, problems)
        wait = _parse_number(
            "PEERBOT_SUGGEST_WAIT_MINUTES", get("PEERBOT_SUGGEST_WAIT_MINUTES", "30"), 1, 1440, problems
        )
        engine = get("PEERBOT_SEARCH_ENGINE", "tantivy").lower()
        if engine not in ("tantivy", "database"):
            problems.append(f"PEERBOT_SEARCH_ENGINE must be tantivy or database, got {engine!r}")
        index_dir = get("PEERBOT_SEARCH_INDEX_DIR", "peerbot-search-index")
        if engine == "tantivy" and not index_dir:
            problems.append("PEERBOT_SEARCH_INDEX_DIR must name a directory for the tantivy index")
        journeys: Mapping[str, Journey] = {}
        onboarding_file = get("PEERBOT_ONBOARDING_FILE")
        try:
            journeys = load_journeys(onboarding_file) if onboarding_file else default_journeys()
        except JourneyError as e:
            problems.append(f"PEERBOT_ONBOARDING_FILE: {e}")
        new_members = get("PEERBOT_ONBOARD_NEW_MEMBERS", "true").lower()
        if new_members not in ("true", "false", "1", "0", "yes", "no"):
            problems.append(f"PEERBOT_ONBOARD_NEW_MEMBERS must be true or false, got {new_members!r}")
        new_hires = get("PEERBOT_NEW_HIRES_CHANNEL")
        if new_hires and not _SLACK_ID.match(new_hires):
            problems.append(f"PEERBOT_NEW_HIRES_CHANNEL must be a channel id such as C0123ABCD, got {new_hires!r}")
        day_raw = get("PEERBOT_DIGEST_DAY", "mon")
        day_text = day_raw.lower()[:3]
        full_names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        if day_text not in DAYS or day_raw.lower() not in (*DAYS, *full_names):
            problems.append(f"PEERBOT_DIGEST_DAY must be a weekday such as mon or friday, got {day_raw!r}")
            day_text = "mon"
        at_text = get("PEERBOT_DIGEST_TIME", "09:00")
        at = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)$", at_text)
        if not at:
            problems.append(f"PEERBOT_DIGEST_TIME must be a time such as 09:00, got {at_text!r}")
        digest_tz = get("PEERBOT_DIGEST_TZ", "UTC")
        try:
            ZoneInfo(digest_tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"PEERBOT_DIGEST_TZ must be a time zone such as Europe/Berlin, got {digest_tz!r}")
        redirect_uri = get("SLACK_REDIRECT_URI")
        if redirect_uri and not re.match(r"^https?://", redirect_uri):
            problems.append(f"SLACK_REDIRECT_URI must be an http(s) URL, got {redirect_uri!r}")
        rotation = _parse_number(
            "PEERBOT_TOKEN_REFRESH_MINUTES", get("PEERBOT_TOKEN_REFRESH_MINUTES", "120"), 1, 700, problems
        )
        org_search = _parse_flag("PEERBOT_ORG_SEARCH", get("PEERBOT_ORG_SEARCH", "false"), problems)
        capture_external = _parse_flag("PEERBOT_CAPTURE_EXTERNAL", get("PEERBOT_CAPTURE_EXTERNAL", "false"), problems)
        semantic = _parse_flag("PEERBOT_SEMANTIC", get("PEERBOT_SEMANTIC", "false"), problems)
        if semantic and engine != "tantivy":
            problems.append("PEERBOT_SEMANTIC needs PEERBOT_SEARCH_ENGINE=tantivy (the vectors live beside its index)")
        if semantic:
            from bot.semantic import PACKAGE, available

            if not available():
                problems.append(f"PEERBOT_SEMANTIC needs the {PACKAGE} package: pip install 'peerbot[semantic]'")
        log_level = get("LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            problems.append(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

        if problems:
            raise ConfigError(problems)
        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret,
            app_token=app_token,
            slack_api_url=api_url,
            database_url=get("DATABASE_URL", DEFAULT_DATABASE_URL),
            port=port,
            watched_channels=watched,
            admins=admins,
            vote_emoji=votes,
            accept_emoji=emoji["PEERBOT_ACCEPT_EMOJI"],
            ask_emoji=emoji["PEERBOT_ASK_EMOJI"],
            ack_emoji=emoji["PEERBOT_ACK_EMOJI"],
            log_level=log_level,
            experts_per_round=int(per_round),
            routing_rounds=int(rounds),
            answer_hours=hours,
            fallback_channel=fallback,
            search_engine=engine,
            search_index_dir=index_dir,
            freshness_days=freshness,
            suggest_wait_minutes=wait,
            journeys=journeys,
            onboard_new_members=new_members in ("true", "1", "yes"),
            new_hires_channel=new_hires,
            digest_day=DAYS.index(day_text),
            digest_time=time(int(at.group(1)), int(at.group(2))) if at else time(9),
            digest_tz=digest_tz,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            rotation_minutes=int(rotation),
            org_search=org_search,
            capture_external=capture_external,
            semantic=semantic,
        )


def _parse_flag(key: str, text: str, problems: list[str]) -> bool:
    value = text.lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"{key} must be true or false, got {text!r}")
    return value in ("true", "1", "yes")


def _parse_ids(key: str, text: str, problems: list[str]) -> frozenset[str]:
    ids = {part.strip() for part in text.split(",") if part.strip()}
    bad = sorted(i for i in ids if not _SLACK_ID.match(i))
    if bad:
        problems.append(f"{key} must be comma-separated Slack ids (C0123ABCD, U0123ABCD), got {bad}")
    return frozenset(ids)


def _parse_votes(text: str, problems: list[str]) -> dict[str, float]:
    """Parse "+1=1,-1=-1" into {"+1": 1.0, "-1": -1.0}."""
    votes: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        name = name.strip().strip(":")
        try:
            value = float(weight) if sep else float("nan")
        except ValueError:
            value = float("nan")
        if not _EMOJI_NAME.match(name) or value != value or abs(value) > 10:
            problems.append(f"PEERBOT_VOTE_EMOJI entry {part!r} must look like emoji=weight, e.g. +1=1")
            continue
        votes[name] = value
    return votes


def _parse_number(key: str, text: str, low: float, high: float, problems: list[str]) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        problems.append(f"{key} must be a number from {low:g} to {high:g}, got {text!r}")
        return low
    return value
