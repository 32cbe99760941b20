"""In-process metrics in Prometheus' text format: events, errors, Web API calls and retries, sweep durations."""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

Labels = tuple[tuple[str, str], ...]


def _key(labels: dict[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


class Counter:
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self._lock = threading.Lock()
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = _key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(_key(labels), 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            return [f"{self.name}{_labels(k)} {_number(v)}" for k, v in sorted(self._values.items())]


class Histogram:
    """Observations in cumulative buckets, with their sum and count, per label set."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float] = DURATION_BUCKETS) -> None:
        self.name, self.help = name, help_text
        self.buckets = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._series: dict[Labels, list[float]] = {}  # per bucket (not cumulative; +Inf last), then sum, then count

    def observe(self, value: float, **labels: str) -> None:
        key = _key(labels)
        slot = bisect.bisect_left(self.buckets, value)  # the first bucket whose bound is >= value
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0.0] * (len(self.buckets) + 3)
            series[slot] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, **labels: str) -> float:
        with self._lock:
            series = self._series.get(_key(labels))
            return series[-1] if series else 0.0

    def samples(self) -> list[str]:
        lines: list[str] = []
        with self._lock:
            for key, series in sorted(self._series.items()):
                cumulative = 0.0
                for bound, n in zip(self.buckets, series, strict=False):
                    cumulative += n
                    lines.append(f"{self.name}_bucket{_labels(key, (('le', _number(bound)),))} {_number(cumulative)}")
                lines.append(f"{self.name}_bucket{_labels(key, (('le', '+Inf'),))} {_number(series[-1])}")
                lines.append(f"{self.name}_sum{_labels(key)} {_number(series[-2])}")
                lines.append(f"{self.name}_count{_labels(key)} {_number(series[-1])}")
        return lines


class Registry:
    """The metrics of this process, rendered for a Prometheus scrape."""

    def __init__(self) -> None:
        self._metrics: list[Counter | Histogram] = []

    def counter(self, name: str, help_text: str) -> Counter:
        metric = Counter(name, help_text)
        self._metrics.append(metric)
        return metric

    def histogram(self, name: str, help_text: str, buckets: Sequence[float] = DURATION_BUCKETS) -> Histogram:
        metric = Histogram(name, help_text, buckets)
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
EVENTS = REGISTRY.counter("peerbot_events_total", "Requests from Slack handled by a listener, by type and outcome.")
EVENT_SECONDS = REGISTRY.histogram("peerbot_event_duration_seconds", "Time to handle a request from Slack, by type.")
ERRORS = REGISTRY.counter("peerbot_errors_total", "Unhandled errors while handling requests from Slack, by type.")
REQUESTS = REGISTRY.counter("peerbot_http_requests_total", "Requests to /slack/events by HTTP status answered.")
API_CALLS = REGISTRY.counter("peerbot_slack_api_calls_total", "Web API attempts by method and HTTP status.")
API_ERRORS = REGISTRY.counter("peerbot_slack_api_errors_total", "Web API answers with ok=false by method and error.")
API_RETRIES = REGISTRY.counter("peerbot_slack_api_retries_total", "Web API retries by method and reason.")
SWEEP_SECONDS = REGISTRY.histogram("peerbot_sweep_duration_seconds", "Duration of a scheduled sweep, by job.")
SWEEPS = REGISTRY.counter("peerbot_sweeps_total", "Scheduled sweeps run, by job and outcome.")


def observe_event(kind: str, outcome: str, seconds: float) -> None:
    """One request from Slack handled (outcome: ok or error)."""
    EVENTS.inc(type=kind, outcome=outcome)
    EVENT_SECONDS.observe(seconds, type=kind)


def observe_sweep(name: str, seconds: float, *, ok: bool = True) -> None:
    """One run of a scheduled sweep (escalate, nudge, digest, …) and how long it took."""
    SWEEP_SECONDS.observe(seconds, job=name)
    SWEEPS.inc(job=name, outcome="ok" if ok else "error")


@contextmanager
def timed_sweep(name: str) -> Iterator[None]:
    """`with timed_sweep("digest"): jobs.digest(deps)`: observe_sweep with the outcome of the block."""
    started = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        observe_sweep(name, time.perf_counter() - started, ok=ok)


def _method(request: HttpRequest) -> str:
    return request.url.rsplit("/", 1)[-1].split("?", 1)[0] or "unknown"


class CountCalls(RetryHandler):
    """First in a client's retry handlers: it sees every attempt's answer (or error), counts it, never retries."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=0)

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = _method(request)
        API_CALLS.inc(method=method, status=str(response.status_code) if response is not None else "error")
        body: Any = response.body if response is not None else None
        if isinstance(body, dict) and body.get("ok") is False:
            API_ERRORS.inc(method=method, error=str(body.get("error") or "unknown"))
        return False


class CountRetries(RetryHandler):
    """Wraps a retry handler and counts the retries it decides on."""

    def __init__(self, inner: RetryHandler, reason: str) -> None:
        super().__init__(max_retry_count=inner.max_retry_count, interval_calculator=inner.interval_calculator)
        self.inner, self.reason = inner, reason

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return self.inner.can_retry(state=state, request=request, response=response, error=error)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        API_RETRIES.inc(method=_method(request), reason=self.reason)
        self.inner.prepare_for_next_attempt(state=state, request=request, response=response, error=error)
