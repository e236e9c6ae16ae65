"""The DNS records of `--domain` (docs/domain.md): the website's name pointed at the
CloudFront distribution.

With a public Route 53 hosted zone for the domain in the account: an A and an AAAA alias
record to the distribution, written once the distribution serves the domain (its
certificate is issued), read first so a no-op `up` writes nothing. A record of another kind
at that name (a CNAME, an address) is not this stack's: `up` stops and says so rather than
replace it. Without such a zone the outcome's `next_steps()` says what to create at the
user's DNS provider.

The stack's records, found by `status`, deleted by `teardown` and by the sweep when
`--domain` changes or is reset: the alias records of a domain of the stack's certificates
that point at the stack's distribution, and the certificates' validation CNAMEs. Route 53
deletes only an exact record set, so each is read, then deleted as read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatbot_deploy.deploy import certificate, hosted_zone
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.distribution import (
    CLOUDFRONT_ZONE_ID,
    DistributionInfo,
    find_distributions,
)
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.errors import UserError

ALIAS_TYPES = ("A", "AAAA")
# Record types that cannot share a name with the alias records (a CNAME), or would be
# replaced by them (an address).
CONFLICTING = ("A", "AAAA", "CNAME")


@dataclass(frozen=True)
class DomainRecordsInfo:
    domain: str
    target: str  # the distribution's dxxxx.cloudfront.net
    zone_id: str | None  # None: the domain's DNS is not in this account's Route 53
    zone_name: str | None = None
    served: bool = False  # the distribution serves the domain (its certificate is issued)

    def next_steps(self) -> list[str]:
        if self.zone_id is not None:
            return []
        return [
            f"Point {self.domain} at the website (if not done yet): CNAME {self.domain} → "
            f"{self.target} (at the zone apex an ALIAS/ANAME record)"
        ]


def alias_record(domain: str, kind: str, target: str) -> dict[str, Any]:
    return {
        "Name": f"{domain}.",
        "Type": kind,
        "AliasTarget": {
            "HostedZoneId": CLOUDFRONT_ZONE_ID,
            "DNSName": f"{target}.",
            "EvaluateTargetHealth": False,
        },
    }


def _points_at(record: dict[str, Any], targets: set[str]) -> bool:
    alias = record.get("AliasTarget") or {}
    return (
        record.get("Type") in ALIAS_TYPES
        and alias.get("HostedZoneId") == CLOUDFRONT_ZONE_ID
        and hosted_zone.alias_target(record) in targets
    )


def _shown(record: dict[str, Any]) -> str:
    target = hosted_zone.alias_target(record)
    return f"alias → {target}" if target else ", ".join(hosted_zone.values(record))


def _check_free(domain: str, zone: hosted_zone.Zone, existing: list[dict[str, Any]]) -> None:
    """A record at the domain's name that is not an alias to a distribution: someone else's
    (an alias to a CloudFront distribution that does not serve the domain, as ours does, is
    stale and replaced)."""
    for record in existing:
        kind = str(record.get("Type"))
        if kind not in CONFLICTING or "SetIdentifier" in record:
            continue
        alias = record.get("AliasTarget") or {}
        if kind in ALIAS_TYPES and alias.get("HostedZoneId") == CLOUDFRONT_ZONE_ID:
            continue
        raise UserError(
            f"{domain} already has a {kind} record in Route 53 zone {zone.name} "
            f"({_shown(record)}) that is not this stack's: delete it (the website's alias "
            "records take its place) or choose another --domain"
        )


def ensure_records(ctx: DeployContext, domain: str, dist: DistributionInfo) -> Outcome:
    target = hosted_zone.normal(dist.domain_name)
    zone = hosted_zone.find_zone(ctx, domain)
    if zone is None:
        info = DomainRecordsInfo(domain, target, None)
        return Outcome("not in this account's Route 53: create the record printed below", info)
    served = domain in dist.aliases
    info = DomainRecordsInfo(domain, target, zone.zone_id, zone.name, served)
    existing = hosted_zone.record_sets(ctx, zone.zone_id, domain)
    _check_free(domain, zone, existing)
    if not served:
        return Outcome(
            f"waiting for the certificate: the next `up` creates them in zone {zone.name}",
            info,
        )
    have = {str(record["Type"]) for record in existing if _points_at(record, {target})}
    stale = [alias_record(domain, kind, target) for kind in ALIAS_TYPES if kind not in have]
    if not stale:
        return Outcome(f"unchanged (zone {zone.name})", info)
    hosted_zone.change(ctx, zone.zone_id, "UPSERT", stale)
    kinds = " and ".join(record["Type"] for record in stale)
    return Outcome(f"{kinds} alias → {target} written in Route 53 zone {zone.name}", info, True)


@dataclass(frozen=True)
class Record:
    """One record set of the stack in Route 53."""

    domain: str  # the --domain it is for
    zone: hosted_zone.Zone
    name: str
    type: str
    detail: str

    @property
    def key(self) -> str:
        return "|".join((self.domain, self.zone.zone_id, self.type, self.name))


def _parse(key: str) -> tuple[str, str, str, str]:
    domain, zone_id, kind, name = key.split("|")
    return domain, zone_id, kind, name


def stack_records(ctx: DeployContext) -> list[Record]:
    validation: dict[str, list[certificate.ValidationRecord]] = {}
    acm = certificate.acm
    for summary in certificate.find_readable(ctx):
        described = acm(ctx).describe_certificate(CertificateArn=summary["CertificateArn"])
        records = certificate.records_of(described["Certificate"])
        validation.setdefault(str(summary.get("DomainName")), []).extend(records)
    if ctx.settings.domain:
        validation.setdefault(ctx.settings.domain, [])
    if not validation:
        return []
    zones = hosted_zone.public_zones(ctx)
    targets = {hosted_zone.normal(item.domain_name) for item in find_distributions(ctx)}
    found: list[Record] = []
    for domain, validated in sorted(validation.items()):
        zone = hosted_zone.zone_for(domain, zones)
        if zone is None:
            continue
        for record in hosted_zone.record_sets(ctx, zone.zone_id, domain):
            if _points_at(record, targets):
                detail = f"alias → {hosted_zone.alias_target(record)} (zone {zone.name})"
                found.append(Record(domain, zone, domain, str(record["Type"]), detail))
        for item in dict.fromkeys(validated):
            if item.is_in(ctx, zone.zone_id):
                name = hosted_zone.normal(item.name)
                detail = f"validates the certificate (zone {zone.name})"
                found.append(Record(domain, zone, name, item.type, detail))
    return found


class DomainRecords(Unit):
    kind = "domain-records"
    title = "DNS records"
    after = ("distribution",)

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [""] if ctx.settings.domain else []

    def name(self, ctx: DeployContext, key: str) -> str:
        return f"{ctx.settings.domain} A/AAAA alias"

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        domain = job.ctx.settings.domain
        assert domain is not None  # wanted only with a domain
        return ensure_records(job.ctx, domain, inputs["distribution"])

    def find(self, ctx: DeployContext) -> list[Found]:
        return [
            Found(self.kind, f"{record.name} {record.type}", record.key, record.detail)
            for record in stack_records(ctx)
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        _, zone_id, kind, name = _parse(found.key)
        return hosted_zone.delete_record(ctx, zone_id, name, kind)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        """The records of the current domain."""
        domain = ctx.settings.domain
        if domain is None:
            return set()
        return {record.key for record in stack_records(ctx) if record.domain == domain}

    def missing(self, ctx: DeployContext, found: list[Found]) -> list[str]:
        """The alias records, where the domain's zone is in the account (else they are the
        user's to make at their DNS provider)."""
        domain = ctx.settings.domain
        if domain is None or hosted_zone.find_zone(ctx, domain) is None:
            return []
        have = {_parse(item.key)[2] for item in found if _parse(item.key)[3] == domain}
        return [f"{domain} {kind} alias" for kind in ALIAS_TYPES if kind not in have]
