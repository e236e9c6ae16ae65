"""`logs --follow`: new events as they arrive, until Ctrl-C.

CloudWatch Logs Live Tail is used when the client knows ``start_live_tail``, talks to AWS
itself (emulators answer the call but stream nothing) and every chosen log group exists (a
session only covers groups that exist when it starts). A session only reports events that
reach CloudWatch after it started listening, so once it is, one poll catches up on what
arrived since the history was read. Otherwise, or when Live Tail is
refused (no ``logs:StartLiveTail`` permission) or its stream ends early, new events are found
by polling ``filter_log_events``: each poll looks a little into the past (events reach
CloudWatch a few seconds after their timestamp) and de-duplicates by event id. A Live Tail
session's 3-hour timeout simply starts a new session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code
from chatbot_deploy.logs.events import LogEvent
from chatbot_deploy.logs.fetch import existing_groups, group_events, merged
from chatbot_deploy.names import StackNames

POLL_INTERVAL_S = 2.0
MAX_POLL_INTERVAL_S = 30.0
LOOKBACK_MS = 60_000
AWS_ENDPOINT_RE = re.compile(r"https://[a-z0-9.-]+\.(amazonaws\.com(\.cn)?|api\.aws)/?$")
THROTTLING_CODES = {"ThrottlingException", "LimitExceededException", "TooManyRequestsException"}

Emit = Callable[[list[LogEvent]], None]
Notice = Callable[[str], None]
# (client, {log group ARN: kind}, filter pattern) -> batches of events, oldest first.
LiveTail = Callable[[Any, Mapping[str, str], str | None], Iterable[list[LogEvent]]]


class LiveTailEnded(Exception):
    """The session ended for a reason other than its 3-hour timeout."""


def kind_of(arns: Mapping[str, str], identifier: str) -> str:
    """The kind of a Live Tail result's log group, given as an ARN or ``account:name``."""
    if identifier in arns:
        return arns[identifier]
    identifier = identifier.removesuffix(":*")
    for arn, kind in arns.items():
        name = arn.partition(":log-group:")[2]
        if identifier == name or identifier.endswith(":" + name):
            return kind
    return ""


def live_tail(
    client: Any, arns: Mapping[str, str], pattern: str | None
) -> Iterator[list[LogEvent]]:
    """One Live Tail session over ``arns`` (ARN -> kind); returns at the 3-hour timeout.

    The first batch is empty: it is yielded when the session has started listening."""
    params: dict[str, Any] = {"logGroupIdentifiers": list(arns)}
    if pattern:
        params["logEventFilterPattern"] = pattern
    stream = client.start_live_tail(**params)["responseStream"]
    try:
        for item in stream:
            update = item.get("sessionUpdate")
            if update is None:
                if "sessionStart" in item:
                    yield []
                continue
            batch = [
                LogEvent(
                    timestamp=int(result["timestamp"]),
                    kind=kind_of(arns, str(result.get("logGroupIdentifier", ""))),
                    message=str(result.get("message", "")),
                    stream=str(result.get("logStreamName", "")),
                )
                for result in update.get("sessionResults", [])
            ]
            batch.sort(key=lambda event: event.timestamp)
            yield batch
    except botocore.exceptions.EventStreamError as exc:
        if error_code(exc) == "SessionTimeoutException":
            return
        raise LiveTailEnded(f"Live Tail stopped ({error_code(exc)})") from exc
    finally:
        stream.close()
    raise LiveTailEnded("the Live Tail session ended")


def content_key(event: LogEvent) -> str:
    return f"{event.kind}\0{event.stream}\0{event.timestamp}\0{event.message}"


@dataclass
class Poller:
    """Finds new events by polling ``filter_log_events``, each event reported once."""

    client: Any
    groups: Mapping[str, str]  # kind -> log group name
    pattern: str | None
    floor_ms: int  # never look before this (the start of --since)
    lookback_ms: int = LOOKBACK_MS
    # event id (or content_key() for Live Tail events, which have no id) -> timestamp
    seen: dict[str, int] = field(default_factory=dict)

    def remember(self, events: Iterable[LogEvent]) -> None:
        for event in events:
            self.seen[content_key(event)] = event.timestamp
            if event.event_id:
                self.seen[event.event_id] = event.timestamp

    def unseen(self, events: Iterable[LogEvent]) -> list[LogEvent]:
        """The events not reported yet, now remembered as reported."""
        new = [
            event
            for event in events
            if event.event_id not in self.seen and content_key(event) not in self.seen
        ]
        self.remember(new)
        return new

    def forget_before(self, ms: int) -> None:
        self.seen = {key: ts for key, ts in self.seen.items() if ts >= ms}

    def poll(self, now_ms: int) -> list[LogEvent]:
        start = max(self.floor_ms, now_ms - self.lookback_ms)
        batches = [
            group_events(self.client, group, kind, start, self.pattern) or []
            for kind, group in self.groups.items()
        ]
        new = self.unseen(merged(batches))
        self.forget_before(start)
        return new


@dataclass
class Follower:
    client: Any
    names: StackNames
    kinds: tuple[str, ...]
    pattern: str | None
    floor_ms: int
    emit: Emit
    notice: Notice
    live: LiveTail | None = live_tail
    sleep: Callable[[float], None] = lambda seconds: time.sleep(seconds)
    clock: Callable[[], float] = lambda: time.time()
    interval_s: float = POLL_INTERVAL_S

    def live_tail_targets(self) -> tuple[dict[str, str] | None, str]:
        """``({ARN: kind}, "")`` when Live Tail can be used, else ``(None, reason)``."""
        if self.live is None or not hasattr(self.client, "start_live_tail"):
            return None, "Live Tail is not available in this boto3 version"
        endpoint = str(getattr(self.client.meta, "endpoint_url", ""))
        if not AWS_ENDPOINT_RE.match(endpoint):
            return None, f"Live Tail needs AWS itself, not the endpoint {endpoint}"
        found = existing_groups(self.client, self.names, self.kinds)
        missing = [kind for kind in self.kinds if kind not in found]
        if missing:
            groups = ", ".join(self.names.log_group(kind) for kind in missing)
            return None, f"Live Tail needs existing log groups; not yet created: {groups}"
        return {arn: kind for kind, arn in found.items()}, ""

    def run(self, already_shown: Iterable[LogEvent] = ()) -> None:
        """Stream until interrupted (KeyboardInterrupt propagates to the caller)."""
        groups = {kind: self.names.log_group(kind) for kind in self.kinds}
        poller = Poller(self.client, groups, self.pattern, self.floor_ms)
        poller.remember(already_shown)
        arns, reason = self.live_tail_targets()
        if arns is not None and self.live is not None:
            reason = self._live(arns, poller)
        self.notice(f"{reason}; polling every {self.interval_s:g} s")
        self._poll(poller)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _live(self, arns: Mapping[str, str], poller: Poller) -> str:
        """Run Live Tail sessions; return why polling must take over. ``poller`` remembers
        what was shown, so that neither the catch-up poll nor later polling repeats it."""
        assert self.live is not None
        self.notice("Following with CloudWatch Logs Live Tail (Ctrl-C to stop)")
        while True:
            listening = False
            try:
                for batch in self.live(self.client, arns, self.pattern):
                    if not listening:
                        # What reached CloudWatch before the session listened.
                        listening = True
                        if caught_up := poller.poll(self._now_ms()):
                            self.emit(caught_up)
                    if fresh := poller.unseen(batch):
                        self.emit(fresh)
                        poller.forget_before(fresh[-1].timestamp - LOOKBACK_MS)
            except LiveTailEnded as exc:
                return str(exc)
            except botocore.exceptions.ClientError as exc:
                return f"Live Tail is not available ({error_code(exc) or exc})"
            except botocore.exceptions.BotoCoreError as exc:
                return f"Live Tail is not available ({type(exc).__name__})"
            self.notice("Live Tail session timed out; starting a new one")

    def _poll(self, poller: Poller) -> None:
        delay = self.interval_s
        while True:
            try:
                batch = poller.poll(self._now_ms())
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in THROTTLING_CODES:
                    raise
                delay = min(delay * 2, MAX_POLL_INTERVAL_S)
            else:
                delay = self.interval_s
                if batch:
                    self.emit(batch)
            self.sleep(delay)
