"""What exists of a stack, found by each unit (by name and by tag), and what is missing.

`status` shows it; `teardown` deletes what it found. Reads only. A resource of the stack
that the spec no longer has (a function removed from the code, a duplicate API) is found
and listed too, marked as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.resources import UNITS
from chatbot_deploy.deploy.unit import Found, Unit

NOT_IN_SPEC = "not in the spec: the next `up` removes it"
KEPT_DATA = "not in the spec: kept (it holds data) until `teardown`"


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    present: bool
    detail: str = ""
    found: Found | None = None  # what teardown deletes (None when missing)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "present": self.present,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Inventory:
    stack: str
    region: str
    resources: list[Resource] = field(default_factory=list)
    website_url: str | None = None
    api_url: str | None = None
    socket_url: str | None = None

    @property
    def present(self) -> list[Resource]:
        return [resource for resource in self.resources if resource.present]

    @property
    def found(self) -> list[Found]:
        return [resource.found for resource in self.resources if resource.found is not None]

    @property
    def deployed(self) -> bool:
        return bool(self.resources) and all(r.present for r in self.resources)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "website_url": self.website_url,
            "api_url": self.api_url,
            "socket_url": self.socket_url,
            "deployed": self.deployed,
            "resources": [resource.as_dict() for resource in self.resources],
        }


def _rows(ctx: DeployContext, unit: Unit, found: list[Found]) -> list[Resource]:
    wanted = set(unit.wanted(ctx))
    singleton = wanted == {""}
    rows = []
    for item in found:
        detail = item.detail
        if not singleton and item.key not in wanted:
            detail = ", ".join(filter(None, (detail, NOT_IN_SPEC if unit.sweeps else KEPT_DATA)))
        rows.append(Resource(item.kind, item.name, True, detail, item))
    rows += [Resource(unit.kind, name, False) for name in unit.missing(ctx, found)]
    return rows


def _website(ctx: DeployContext, by_kind: dict[str, list[Found]]) -> str | None:
    """The distribution's https:// URL when there is one, else the S3 website's (`--no-cdn`)."""
    cdn = by_kind.get("distribution")
    if cdn:
        return cdn[0].detail.split(" ")[0]
    if by_kind.get("bucket") and not ctx.settings.cdn:
        return ctx.website_url
    return None


def take(ctx: DeployContext, units: Sequence[Unit] = UNITS) -> Inventory:
    listed = [unit for unit in units if unit.listed and unit.part_of is None]
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="find") as pool:
        found = list(pool.map(lambda unit: unit.find(ctx), listed))
    resources = [
        row for unit, items in zip(listed, found, strict=True) for row in _rows(ctx, unit, items)
    ]
    by_kind = {unit.kind: items for unit, items in zip(listed, found, strict=True)}
    apis = by_kind.get("api", [])
    sockets = by_kind.get("socket-api", [])
    return Inventory(
        stack=ctx.names.stack,
        region=ctx.region,
        resources=resources,
        website_url=_website(ctx, by_kind),
        api_url=apis[0].detail if apis else None,
        socket_url=sockets[0].detail if sockets else None,
    )
