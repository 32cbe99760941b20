"""Hooks for the Slack CLI (`slack run`, `slack manifest`), named in .slack/hooks.json.

`get-manifest` answers with manifest.yml as JSON, so the project keeps one manifest; `start` runs
`peerbot run` in Socket Mode with the tokens the CLI hands over for the local run. The remaining hooks
come from slack-cli-hooks (`get-hooks`), Bolt's own implementation of the CLI's contract.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from slack_cli_hooks.protocol import build_protocol

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
# What the CLI sets for a local run, and what Peerbot reads.
TOKENS = {"SLACK_CLI_XOXB": "SLACK_BOT_TOKEN", "SLACK_CLI_XAPP": "SLACK_APP_TOKEN"}


def manifest(path: Path = MANIFEST) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} does not hold an app manifest")
    return loaded


def start(env: dict[str, str]) -> int:
    """`peerbot run` with the local run's tokens (a token already in the environment wins)."""
    missing = [cli for cli in TOKENS if not env.get(cli) and not env.get(TOKENS[cli])]
    if missing:
        print(f"slack run did not hand over {', '.join(missing)}: start Peerbot with `slack run`.", file=sys.stderr)
        return 2
    for cli, ours in TOKENS.items():
        if env.get(cli) and not env.get(ours):
            os.environ[ours] = env[cli]
    from bot.__main__ import main

    return main(["run"])


def main(argv: list[str]) -> int:
    protocol = build_protocol(argv=argv)
    hook = next((a for a in argv[1:] if not a.startswith("--")), "")
    if hook == "get-manifest":
        protocol.respond(json.dumps(manifest()))
        return 0
    if hook == "start":
        return start(dict(os.environ))
    protocol.error(f"unknown hook {hook!r}: expected get-manifest or start")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
