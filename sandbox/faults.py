"""Fault injection: the next N calls to a method answer 429/5xx/`ok:false`, possibly after a delay."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.world import JSON


@dataclass
class Fault:
    """One injected fault and how many more calls it applies to."""

    method: str
    status: int | None
    error: str | None
    retry_after: int | None
    delay: float
    remaining: int

    def reply(self) -> tuple[int, dict[str, str], JSON]:
        """HTTP status, headers and JSON body of the faulted answer."""
        status = self.status or 200
        headers: dict[str, str] = {}
        if status == 429:
            error = self.error or "ratelimited"
            headers["Retry-After"] = str(self.retry_after if self.retry_after is not None else 1)
        elif status >= 500:
            error = self.error or ("service_unavailable" if status == 503 else "internal_error")
        else:
            error = self.error or "fatal_error"
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return status, headers, {"ok": False, "error": error}


class Faults:
    """A thread-safe queue of faults, matched by method name or `*`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> Fault:
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = Fault(method, status, error, retry_after, delay, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str) -> Fault | None:
        """The fault for this call, if any (counts it down)."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*"):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
