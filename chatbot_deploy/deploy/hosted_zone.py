"""Route 53, for `--domain`: the public hosted zone of a domain in the account (if any), and
the record sets the stack writes there (the certificate's validation CNAME, the website's
alias records). Every write is preceded by a read, so an unchanged record is never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code
from chatbot_deploy.deploy.context import DeployContext

# Route 53 returns every record set named N first when listing from N (its order is by
# reversed labels, then type): a name has far fewer types than this.
_LISTED = "100"


def route53(ctx: DeployContext) -> Any:
    return ctx.client("route53")


def normal(name: str) -> str:
    """A DNS name as compared here: lowercase, no trailing dot."""
    return name.lower().rstrip(".")


@dataclass(frozen=True)
class Zone:
    zone_id: str  # "Z0123456789ABC" (without "/hostedzone/")
    name: str  # "example.com"


def public_zones(ctx: DeployContext) -> list[Zone]:
    paginator = route53(ctx).get_paginator("list_hosted_zones")
    return [
        Zone(str(zone["Id"]).rsplit("/", 1)[-1], normal(str(zone["Name"])))
        for page in paginator.paginate()
        for zone in page.get("HostedZones", [])
        if not (zone.get("Config") or {}).get("PrivateZone")
    ]


def zone_for(domain: str, zones: list[Zone]) -> Zone | None:
    """The zone `domain` is in: the one whose name is its longest suffix (chat.example.com
    is in chat.example.com if there is such a zone, else in example.com). Of two public
    zones with one name, the first listed."""
    best: Zone | None = None
    for zone in zones:
        inside = domain == zone.name or domain.endswith("." + zone.name)
        if inside and (best is None or len(zone.name) > len(best.name)):
            best = zone
    return best


def find_zone(ctx: DeployContext, domain: str) -> Zone | None:
    return zone_for(domain, public_zones(ctx))


def record_sets(ctx: DeployContext, zone_id: str, name: str) -> list[dict[str, Any]]:
    """The record sets named `name` (any type)."""
    listed = route53(ctx).list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=name, MaxItems=_LISTED
    )
    return [
        dict(item)
        for item in listed.get("ResourceRecordSets", [])
        if normal(str(item.get("Name", ""))) == normal(name)
    ]


def record_set(ctx: DeployContext, zone_id: str, name: str, kind: str) -> dict[str, Any] | None:
    for item in record_sets(ctx, zone_id, name):
        if item.get("Type") == kind and "SetIdentifier" not in item:
            return item
    return None


def values(record: dict[str, Any]) -> list[str]:
    return [normal(str(item.get("Value", ""))) for item in record.get("ResourceRecords", [])]


def alias_target(record: dict[str, Any]) -> str | None:
    """The DNS name an alias record points at (normalised); None for a plain record."""
    target = record.get("AliasTarget")
    return normal(str(target.get("DNSName", ""))) if target else None


def change(ctx: DeployContext, zone_id: str, action: str, records: list[dict[str, Any]]) -> None:
    route53(ctx).change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Comment": f"chatbot-deploy stack {ctx.names.stack}",
            "Changes": [{"Action": action, "ResourceRecordSet": record} for record in records],
        },
    )


def delete_record(ctx: DeployContext, zone_id: str, name: str, kind: str) -> bool:
    """Delete the record set `name`/`kind` as it is now (Route 53 deletes only the exact
    current set); False when it is already gone."""
    current = record_set(ctx, zone_id, name, kind)
    if current is None:
        return False
    try:
        change(ctx, zone_id, "DELETE", [current])
    except botocore.exceptions.ClientError as exc:
        # deleted between the read and the write
        if error_code(exc) == "InvalidChangeBatch" and "not found" in str(exc):
            return False
        raise
    return True
