"""User records shaped like `users.info` (time zone, profile, flags) for people and the bot."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

JSON = dict[str, Any]

# Slack's human labels for a few zones; others fall back to the zone's abbreviation.
_TZ_LABELS = {
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "America/Chicago": ("Central Standard Time", "Central Daylight Time"),
    "America/Denver": ("Mountain Standard Time", "Mountain Daylight Time"),
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Europe/Berlin": ("Central European Time", "Central European Summer Time"),
    "Europe/Paris": ("Central European Time", "Central European Summer Time"),
    "Europe/Madrid": ("Central European Time", "Central European Summer Time"),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Standard Time"),
    "Australia/Sydney": ("Australian Eastern Standard Time", "Australian Eastern Daylight Time"),
}
_COLORS = ("9f69e7", "4bbe2e", "e7392d", "3c989f", "674b1b", "e96699", "5b89d5", "df3dc0")


def tz_fields(tz: str, now: float) -> JSON:
    """`tz`, `tz_label` and `tz_offset` (seconds east of UTC, at `now`) as users.info gives them."""
    zone = ZoneInfo(tz)
    moment = datetime.fromtimestamp(now, zone)
    offset = moment.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    dst = moment.dst()
    in_dst = dst is not None and dst.total_seconds() != 0
    labels = _TZ_LABELS.get(tz)
    label = labels[1 if in_dst else 0] if labels else (moment.tzname() or tz)
    return {"tz": tz, "tz_label": label, "tz_offset": seconds}


def _images(seed: str) -> JSON:
    digest = hashlib.sha1(seed.encode()).hexdigest()[:12]
    base = f"https://secure.gravatar.com/avatar/{digest}.jpg?s="
    return {f"image_{size}": f"{base}{size}" for size in (24, 32, 48, 72, 192, 512)} | {"avatar_hash": digest}


def user_record(
    *,
    user_id: str,
    name: str,
    real_name: str | None,
    tz: str,
    team_id: str,
    domain: str,
    is_admin: bool,
    is_bot: bool,
    deleted: bool,
    now: float,
) -> JSON:
    """A person (or another bot) as users.info returns them."""
    full = real_name or name.replace(".", " ").replace("_", " ").title()
    first, _, last = full.partition(" ")
    profile: JSON = {
        "title": "",
        "phone": "",
        "skype": "",
        "real_name": full,
        "real_name_normalized": full,
        "display_name": full,
        "display_name_normalized": full,
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "first_name": first,
        "last_name": last,
        "team": team_id,
        **_images(user_id),
    }
    if not is_bot:
        profile["email"] = f"{name}@{domain}.example.com"
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "deleted": deleted,
        "color": _COLORS[sum(map(ord, user_id)) % len(_COLORS)],
        "real_name": full,
        **tz_fields(tz, now),
        "profile": profile,
        "is_admin": is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": int(now),
        "is_email_confirmed": not is_bot,
        "who_can_share_contact_card": "EVERYONE",
    }


def bot_user_record(*, user_id: str, bot_id: str, app_id: str, team_id: str, now: float) -> JSON:
    """The app's bot user (Peerbot), as users.info returns it."""
    record = user_record(
        user_id=user_id,
        name="peerbot",
        real_name="Peerbot",
        tz="America/Los_Angeles",
        team_id=team_id,
        domain="",
        is_admin=False,
        is_bot=True,
        deleted=False,
        now=now,
    )
    record["profile"].update({"bot_id": bot_id, "api_app_id": app_id, "always_active": True})
    record["profile"].update({"first_name": "Peerbot", "last_name": ""})
    return record


def bot_profile(*, bot_id: str, app_id: str, team_id: str, name: str, now: float) -> JSON:
    """The `bot_profile` Slack attaches to messages an app posts."""
    icons = {f"image_{n}": f"https://a.slack-edge.com/80588/img/plugins/app/bot_{n}.png" for n in (36, 48, 72)}
    return {
        "id": bot_id,
        "deleted": False,
        "name": name,
        "updated": int(now),
        "app_id": app_id,
        "icons": icons,
        "team_id": team_id,
    }
