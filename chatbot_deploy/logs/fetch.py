"""History: ``filter_log_events`` per log group (all pages), merged across groups by time."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import aws_errors, error_code
from chatbot_deploy.logs.events import LogEvent
from chatbot_deploy.names import StackNames


def group_events(
    client: Any,
    group: str,
    kind: str,
    start_ms: int,
    pattern: str | None = None,
    page_size: int | None = None,
) -> list[LogEvent] | None:
    """Events of one log group from ``start_ms`` on, oldest first; None if the group does
    not exist (the function never ran)."""
    params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        params["filterPattern"] = pattern
    if page_size:
        params["PaginationConfig"] = {"PageSize": page_size}
    found: list[LogEvent] = []
    with aws_errors("FilterLogEvents"):
        try:
            for page in client.get_paginator("filter_log_events").paginate(**params):
                found.extend(
                    LogEvent(
                        timestamp=int(item["timestamp"]),
                        kind=kind,
                        message=str(item.get("message", "")),
                        stream=str(item.get("logStreamName", "")),
                        event_id=item.get("eventId"),
                    )
                    for item in page.get("events", [])
                )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
    # Each group sorted (stable: same-millisecond events keep CloudWatch's order) so that
    # the groups can be merged lazily.
    found.sort(key=attrgetter("timestamp"))
    return found


def merged(batches: Iterable[Iterable[LogEvent]]) -> Iterator[LogEvent]:
    """Time-ordered merge of time-ordered sequences; ties keep the order of ``batches``."""
    return heapq.merge(*batches, key=attrgetter("timestamp"))


@dataclass
class History:
    events: list[LogEvent] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # kinds whose log group does not exist


def fetch(
    client: Any,
    names: StackNames,
    kinds: Iterable[str],
    start_ms: int,
    pattern: str | None = None,
    page_size: int | None = None,
) -> History:
    history = History()
    batches: list[list[LogEvent]] = []
    for kind in kinds:
        events = group_events(client, names.log_group(kind), kind, start_ms, pattern, page_size)
        if events is None:
            history.missing.append(kind)
        else:
            batches.append(events)
    history.events = list(merged(batches))
    return history


def existing_groups(client: Any, names: StackNames, kinds: Iterable[str]) -> Mapping[str, str]:
    """``{kind: log group ARN}`` for the log groups that exist."""
    found: dict[str, str] = {}
    with aws_errors("DescribeLogGroups"):
        for kind in kinds:
            group = names.log_group(kind)
            reply = client.describe_log_groups(logGroupNamePrefix=group)
            for item in reply.get("logGroups", []):
                if item.get("logGroupName") == group:
                    arn = item.get("logGroupArn") or str(item["arn"]).removesuffix(":*")
                    found[kind] = arn
    return found
