"""Slack's Web API method catalog (argument names, required args, scopes, errors) for checking calls."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SPECS_DIR: Path = Path(__file__).resolve().parents[2] / "shared" / "slack-specs"

# The catalog marks text/blocks/attachments as optional, yet Slack answers `no_text` without one of them.
_NEEDS_CONTENT = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update"})
_CONTENT_ARGS = ("text", "blocks", "attachments")
# Arguments the transport adds to any call: the token (really a header) and team_id, which slack_sdk
# sends on every call of a client made with team_id= (as Bolt does per request); Slack accepts both.
_IGNORED_ARGS = frozenset({"token", "team_id"})


@dataclass(frozen=True)
class MethodSpec:
    """One method of the catalog: its arguments, scopes and documented errors."""

    name: str
    args: Mapping[str, Mapping[str, Any]]
    bot_scopes: frozenset[str]
    errors: frozenset[str]
    deprecated: bool = False

    @property
    def required(self) -> set[str]:
        return {name for name, spec in self.args.items() if spec.get("required") is True}


@dataclass
class MethodCatalog:
    """The Web API methods Slack documents, loaded from `web-api/method-catalog/`."""

    methods: dict[str, MethodSpec]
    common_errors: frozenset[str] = field(default_factory=frozenset)
    _org_team: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, specs_dir: Path = DEFAULT_SPECS_DIR) -> MethodCatalog | None:
        """Read the catalog; None when the specs directory (or its catalog) is absent."""
        root = Path(specs_dir) / "web-api" / "method-catalog"
        methods_dir = root / "methods"
        if not methods_dir.is_dir():
            return None
        methods: dict[str, MethodSpec] = {}
        for path in sorted(methods_dir.glob("*.json")):
            methods[path.stem] = _parse_method(path.stem, json.loads(path.read_text(encoding="utf-8")))
        common: frozenset[str] = frozenset()
        common_path = root / "common_errors.json"
        if common_path.is_file():
            common = frozenset(json.loads(common_path.read_text(encoding="utf-8")))
        return cls(methods=methods, common_errors=common)

    def __contains__(self, method: object) -> bool:
        return method in self.methods

    def check(self, method: str, args: Mapping[str, object]) -> list[str]:
        """Human-readable problems with a call: unknown method, undocumented or missing arguments."""
        spec = self.methods.get(method)
        if spec is None:
            return [f"{method}: unknown method (not in Slack's method catalog)"]
        problems: list[str] = []
        given = {name for name, value in args.items() if value is not None and name not in _IGNORED_ARGS}
        for name in sorted(given - set(spec.args)):
            problems.append(f"{method}: argument {name!r} is not documented")
        for name in sorted(spec.required - given):
            problems.append(f"{method}: required argument {name!r} is missing")
        if method in _NEEDS_CONTENT and not any(_has_content(args.get(name)) for name in _CONTENT_ARGS):
            problems.append(f"{method}: one of 'text', 'blocks' or 'attachments' is required (no_text)")
        return problems

    def org_team_required(self) -> frozenset[str]:
        """Methods whose `team_id` is required when an org-wide token is used (as their argument text says)."""
        if self._org_team is None:
            found = set()
            for name, spec in self.methods.items():
                desc = str(spec.args.get("team_id", {}).get("desc", "")).lower()
                if "required if" in desc and ("org token" in desc or "org-wide" in desc):
                    found.add(name)
            self._org_team = frozenset(found)
        return self._org_team

    def scopes(self, method: str) -> set[str]:
        """The bot-token scopes the method needs (empty when none or unknown)."""
        spec = self.methods.get(method)
        return set(spec.bot_scopes) if spec else set()

    def errors(self, method: str) -> set[str]:
        """Error codes the method can answer: its documented ones plus the common ones."""
        spec = self.methods.get(method)
        documented = set(spec.errors) if spec else set()
        return documented | set(self.common_errors)


def _has_content(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0 and value not in ("[]", "null")
    return True


def _parse_method(name: str, raw: Mapping[str, Any]) -> MethodSpec:
    args = raw.get("args") or {}
    scopes = raw.get("scopes") or {}
    bot = scopes.get("bot") or [] if isinstance(scopes, dict) else []
    bot_scopes = frozenset(str(item["name"]) if isinstance(item, dict) else str(item) for item in bot)
    errors = raw.get("errors") or {}
    return MethodSpec(
        name=name,
        args={str(k): dict(v) if isinstance(v, dict) else {} for k, v in args.items()},
        bot_scopes=bot_scopes,
        errors=frozenset(errors),
        deprecated=bool(raw.get("deprecated")),
    )
