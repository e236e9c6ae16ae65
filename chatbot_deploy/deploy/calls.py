"""Count the AWS calls a command makes, by hooking botocore's event system.

Reads are operations named Get*, List*, Describe* or Head*; everything else is a write.
Used by the tests (a no-op `up` must make no write call) and by benchmarks/deploy.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

READ_PREFIXES = ("Get", "List", "Describe", "Head")


def is_write(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass
class CallLog:
    calls: list[tuple[str, str]] = field(default_factory=list)  # (service, operation)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, session: boto3.Session) -> CallLog:
        """Record every call of clients created from `session` after this."""
        session.events.register("before-call", self._record)
        return self

    def _record(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls.append((model.service_model.service_name, model.name))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if is_write(call[1])]

    @property
    def reads(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if not is_write(call[1])]

    def count(self) -> Counter[tuple[str, str]]:
        return Counter(self.calls)
