"""manifest.yml: valid for Slack, with exactly the scopes, events and surfaces the code uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import SPECS

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("bot", "handlers", "scheduled", "storage")
SCHEMA = SPECS / "manifest" / "schemas" / "manifest.schema.1.0.0.json"
CATALOG = SPECS / "web-api" / "method-catalog" / "methods"

UPLOAD_V2 = {"files.getUploadURLExternal", "files.completeUploadExternal"}
# Scopes that events and surfaces need, rather than Web API methods.
EVENT_SCOPES = {
    "app_mention": {"app_mentions:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "reaction_added": {"reactions:read"},
    "reaction_removed": {"reactions:read"},
    "team_join": {"users:read"},
    "member_joined_channel": {"channels:read", "groups:read"},
    "app_home_opened": set(),
    "app_uninstalled": set(),
    "tokens_revoked": set(),
}


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return data


def methods_called() -> set[str]:
    """Every Web API method the code calls, as `client.<method>` (chat_postMessage → chat.postMessage)."""
    found: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            for name in re.findall(r"\bclient\.([a-z]+_[A-Za-z_0-9]+)\b", path.read_text()):
                # slack_sdk's files_upload_v2 is two Web API methods (the bytes go to the URL the first returns).
                found |= UPLOAD_V2 if name == "files_upload_v2" else {name.replace("_", ".")}
    return found


def needs_specs() -> None:
    if not SPECS.exists():
        pytest.skip(f"Slack's reference data is not here ({SPECS}); it ships beside the project in development")


def test_manifest_validates_against_slacks_schema() -> None:
    needs_specs()
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(manifest())


def test_schema_catches_a_typo() -> None:
    needs_specs()
    bad = manifest()
    bad["settings"]["socket_mode"] = True
    assert list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(bad))


def test_scopes_cover_every_method_called_and_nothing_more() -> None:
    needs_specs()
    granted = set(manifest()["oauth_config"]["scopes"]["bot"])
    called = methods_called()
    assert {"chat.postMessage", "reactions.add", "conversations.history"} <= called
    needed: set[str] = {"commands"}  # the slash command and shortcuts
    for method in sorted(called):
        spec = json.loads((CATALOG / f"{method}.json").read_text())
        options = {s["name"] for s in spec["scopes"].get("bot", [])}
        if options:
            assert options & granted, f"{method} needs one of {sorted(options)}"
            # Any one of a method's scopes will do; count the first one we grant as needed.
            needed |= {next(s for s in [o["name"] for o in spec["scopes"]["bot"]] if s in granted)}
            needed |= options & granted & {"channels:history", "groups:history", "channels:read", "groups:read"}
    asyncapi = json.loads((SPECS / "events-api" / "asyncapi" / "slack_events_api_async_v1.json").read_text())
    for event in manifest()["settings"]["event_subscriptions"]["bot_events"]:
        listed = asyncapi["topics"].get(event.replace("_", "."), {}).get("subscribe", {}).get("x-scopes-required")
        assert not listed or set(listed) == EVENT_SCOPES[event], f"{event} needs {listed}"
        needed |= EVENT_SCOPES[event]
    assert granted == needed, f"unused scopes: {sorted(granted - needed)}, missing: {sorted(needed - granted)}"


def test_events_commands_and_shortcuts_match_the_handlers() -> None:
    from handlers import ids

    m = manifest()
    assert [c["command"] for c in m["features"]["slash_commands"]] == [ids.COMMAND]
    assert [s["callback_id"] for s in m["features"]["shortcuts"]] == [ids.ASK_SHORTCUT]
    source = "".join(p.read_text() for p in (ROOT / "handlers").glob("*.py"))
    handled = set(re.findall(r'app\.event\("([a-z_]+)"\)', source))
    subscribed = {e.split(".")[0] for e in m["settings"]["event_subscriptions"]["bot_events"]}
    assert subscribed == handled
    assert m["settings"]["socket_mode_enabled"] is True


def test_distributed_manifest_is_valid_and_matches_the_default_one() -> None:
    """manifest.distributed.yml (OAuth, Grid, HTTP mode): the same features, scopes and events."""
    needs_specs()
    distributed: dict[str, Any] = yaml.safe_load((ROOT / "manifest.distributed.yml").read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(distributed)
    m = manifest()
    assert distributed["features"]["app_home"] == m["features"]["app_home"]
    assert distributed["oauth_config"]["scopes"] == m["oauth_config"]["scopes"]
    events = distributed["settings"]["event_subscriptions"]["bot_events"]
    assert events == m["settings"]["event_subscriptions"]["bot_events"]
    settings = distributed["settings"]
    assert settings["socket_mode_enabled"] is False and settings["token_rotation_enabled"] is True
    assert settings["org_deploy_enabled"] is True
    assert [u.rsplit("/", 2)[-2:] for u in distributed["oauth_config"]["redirect_urls"]] == [
        ["slack", "oauth_redirect"]
    ]


def test_oauth_installs_ask_for_the_manifests_scopes() -> None:
    from bot.installs import BOT_SCOPES, INSTALL_PATH, REDIRECT_PATH

    assert list(BOT_SCOPES) == manifest()["oauth_config"]["scopes"]["bot"]
    assert (INSTALL_PATH, REDIRECT_PATH) == ("/slack/install", "/slack/oauth_redirect")


def test_slack_cli_hooks_serve_the_same_manifest() -> None:
    """`slack run` / `slack manifest`: .slack/hooks.json names our hooks; get-manifest answers manifest.yml as JSON."""
    import subprocess
    import sys

    hooks = json.loads((ROOT / ".slack" / "hooks.json").read_text())["hooks"]
    assert hooks["get-hooks"] == "python3 -m slack_cli_hooks.hooks.get_hooks"
    assert hooks["get-manifest"] == "python3 -m bot.slack_cli get-manifest"
    assert hooks["start"] == "python3 -m bot.slack_cli start"
    assert hooks["deploy"] == "docker compose up --detach --build" and (ROOT / "compose.yaml").exists()
    run = [
        sys.executable,
        "-m",
        "bot.slack_cli",
        "get-manifest",
        "--protocol",
        "message-boundaries",
        "--boundary",
        "B1",
    ]
    out = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.startswith("B1") and out.rstrip().endswith("B1")
    assert json.loads(out.strip()[2:-2]) == manifest()
    plain = subprocess.run(run[:4], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert json.loads(plain) == manifest()
    listed = subprocess.run(
        [sys.executable, "-m", "slack_cli_hooks.hooks.get_hooks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "protocol-version" in json.loads(listed)["config"]
    refused = subprocess.run(
        [sys.executable, "-m", "bot.slack_cli", "start"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )  # fmt: skip
    assert refused.returncode == 2 and "slack run" in refused.stderr
