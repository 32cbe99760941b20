"""A delivery target spread over several bot replicas, as a load balancer and Slack's retries would spread it.

First tries go round-robin over the replicas still up. A delivery of an event_id seen before (a duplicate,
or Slack's retry) goes to a replica that has not had it yet. A try that fails (the connection refused or
dropped, a timeout, a 5xx) is retried on another replica, freshly signed, with Slack's retry headers;
a replica that refuses or drops a connection is taken out of the rotation.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sandbox.delivery import sign


@dataclass(frozen=True)
class Attempt:
    """One try of one request: which replica, what came back (status 0: no answer), and why it was retried."""

    replica: int
    status: int
    retry_num: int | None
    error: str = ""


@dataclass
class Route:
    """Every try of one event_id (or of one request without one): the replicas picked, and how each try went."""

    picked: list[int] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def replicas(self) -> set[int]:
        return set(self.picked)

    @property
    def final_status(self) -> int:
        return self.attempts[-1].status if self.attempts else 0


class ClusterDown(RuntimeError):
    """No replica is left to try."""


class Cluster:
    """A callable `Deliverer` target: `Cluster(urls, signing_secret=...)(body, headers) -> (status, body)`."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        signing_secret: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        signing_clock: Callable[[], float] = time.time,
    ) -> None:
        if not urls:
            raise ValueError("a cluster needs at least one replica")
        self.urls = list(urls)
        self.signing_secret = signing_secret
        self.timeout = timeout
        self.max_retries = max_retries
        self.signing_clock = signing_clock
        self._lock = threading.Lock()
        self._next = 0
        self._down: set[int] = set()
        self.routes: dict[str, Route] = {}
        self.first_tries = [0] * len(self.urls)

    # --- the rotation --------------------------------------------------------------------------------
    @property
    def live(self) -> list[int]:
        with self._lock:
            return [i for i in range(len(self.urls)) if i not in self._down]

    def mark_down(self, replica: int) -> None:
        with self._lock:
            self._down.add(replica)

    def _pick(self, route: Route) -> int:
        """The next live replica in the rotation that has not had this event yet (any live one if all had it)."""
        with self._lock:
            live = [i for i in range(len(self.urls)) if i not in self._down]
            if not live:
                raise ClusterDown("every replica is down")
            fresh = [i for i in live if i not in route.picked] or live
            choice = fresh[0]
            for _ in range(len(self.urls)):
                candidate = self._next % len(self.urls)
                self._next += 1
                if candidate in fresh:
                    choice = candidate
                    break
            if not route.picked:
                self.first_tries[choice] += 1
            route.picked.append(choice)
            return choice

    # --- sending -------------------------------------------------------------------------------------
    def __call__(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        key = _event_id(body) or f"request-{time.monotonic_ns()}"
        with self._lock:
            route = self.routes.setdefault(key, Route())
        retry_num = _retry_num(headers)
        sent_headers = dict(headers)
        status, answer = 0, ""
        for attempt in range(self.max_retries + 1):
            replica = self._pick(route)
            status, answer, error, dead = self._post(replica, body, sent_headers)
            with self._lock:
                route.attempts.append(Attempt(replica, status, retry_num, error))
            if dead:
                self.mark_down(replica)
            if not error and status < 500:
                return status, answer
            if attempt == self.max_retries:
                break
            retry_num = (retry_num or 0) + 1
            reason = "http_timeout" if error == "timeout" else "connection_failed" if error else "http_error"
            sent_headers = self._resigned(headers, body, retry_num, reason)
        return status, answer

    def redeliver(self, body: str, *, retry_num: int = 1, reason: str = "http_timeout") -> tuple[int, str]:
        """Slack's retry of a body sent before (same event_id), freshly signed: it goes to another replica."""
        headers = {"Content-Type": "application/json", "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        return self(body, self._resigned(headers, body, retry_num, reason))

    def _resigned(self, headers: dict[str, str], body: str, retry_num: int, reason: str) -> dict[str, str]:
        timestamp = str(int(self.signing_clock()))
        fresh = {k: v for k, v in headers.items() if k.lower() not in _SIGNED}
        fresh["X-Slack-Request-Timestamp"] = timestamp
        fresh["X-Slack-Signature"] = sign(self.signing_secret, timestamp, body)
        fresh["X-Slack-Retry-Num"] = str(retry_num)
        fresh["X-Slack-Retry-Reason"] = reason
        return fresh

    def _post(self, replica: int, body: str, headers: dict[str, str]) -> tuple[int, str, str, bool]:
        """(status, body, error, replica is dead): status 0 with an error when nothing came back."""
        request = urllib.request.Request(self.urls[replica], data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), response.read().decode("utf-8", "replace"), "", False
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode("utf-8", "replace"), "", False
        except TimeoutError:
            return 0, "", "timeout", False
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                return 0, "", "timeout", False
            return 0, "", f"connection: {e.reason}", True
        except (ConnectionError, http.client.HTTPException) as e:
            return 0, "", f"connection: {type(e).__name__}", True

    # --- what happened -------------------------------------------------------------------------------
    def failed_over(self) -> dict[str, Route]:
        """The event_ids whose try on some replica got no answer, and that were tried again elsewhere."""
        with self._lock:
            return {k: r for k, r in self.routes.items() if any(a.error for a in r.attempts)}

    def touched(self, replica: int) -> set[str]:
        """The event_ids any try of which went to `replica`."""
        with self._lock:
            return {k for k, r in self.routes.items() if replica in r.replicas}


_SIGNED = {"x-slack-request-timestamp", "x-slack-signature", "x-slack-retry-num", "x-slack-retry-reason"}


def _event_id(body: str) -> str:
    if not body.lstrip().startswith("{"):
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    return str(parsed.get("event_id") or "") if isinstance(parsed, dict) else ""


def _retry_num(headers: dict[str, str]) -> int | None:
    for name, value in headers.items():
        if name.lower() == "x-slack-retry-num" and value.isdigit():
            return int(value)
    return None
