"""The TLS certificate for `--domain` (docs/domain.md): an ACM certificate in us-east-1, the
region CloudFront takes certificates from, validated by DNS.

The stack's certificate is the one for the domain tagged with the stack and its region (the
same stack name in two regions has two). `up` requests one when there is none; ACM then
gives the CNAME record that proves the domain is the user's. If a public Route 53 hosted
zone for the domain is in the account, `up` writes that record there (read first: a no-op
`up` writes nothing; kept afterwards, as ACM renews with it); otherwise the outcome's
`next_steps()` prints it. ACM issues the certificate minutes after the record resolves: the
distribution uses it (and serves the domain) from the next `up` on.

Without `--domain` the sweep removes the stack's certificate once the distribution no longer
uses it; CloudFront releases a certificate minutes after it stops using it, so until then the
sweep keeps it (the next `up` removes it) and `teardown` says to run again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import ACCESS_DENIED_CODES, error_code
from chatbot_deploy.deploy import hosted_zone
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.errors import UserError

ACM_REGION = "us-east-1"  # CloudFront uses certificates from this region only
REGION_TAG = "chatbot-deploy:region"
# ACM adds the validation record to a new certificate a few seconds after the request.
RECORD_WAIT_S = 2.0
RECORD_WAIT_ATTEMPTS = 6
VALIDATION_TTL = 300
# A certificate that can no longer be issued: a new request replaces it.
REQUEST_AGAIN = {"VALIDATION_TIMED_OUT", "EXPIRED"}
PREFERENCE = ("ISSUED", "PENDING_VALIDATION")
STATUS_TEXT = {
    "ISSUED": "issued",
    "PENDING_VALIDATION": "pending validation",
    "VALIDATION_TIMED_OUT": "validation timed out",
    "EXPIRED": "expired",
    "FAILED": "failed",
    "REVOKED": "revoked",
    "INACTIVE": "inactive",
}
FIX = "fix the cause ACM gives for it (in the ACM console, us-east-1)"
FIXES = {
    "CAA_ERROR": "let Amazon issue for the domain (its CAA records must allow amazon.com)",
    "DOMAIN_NOT_ALLOWED": "use a domain ACM may issue for",
    "ADDITIONAL_VERIFICATION_REQUIRED": "ask AWS Support to allow the domain",
}
sleep = time.sleep  # replaced by the tests


@dataclass(frozen=True)
class ValidationRecord:
    """The DNS record ACM looks for (names as ACM gives them, with the final dot)."""

    name: str
    type: str
    value: str

    def describe(self) -> str:
        return f"{self.type} {self.name} → {self.value}"

    def is_in(self, ctx: DeployContext, zone_id: str) -> bool:
        """True when the zone has this record, with this value."""
        current = hosted_zone.record_set(ctx, zone_id, self.name, self.type)
        return current is not None and hosted_zone.values(current) == [
            hosted_zone.normal(self.value)
        ]

    def as_route53(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Type": self.type,
            "TTL": VALIDATION_TTL,
            "ResourceRecords": [{"Value": self.value}],
        }


@dataclass(frozen=True)
class CertificateInfo:
    arn: str
    domain: str
    issued: bool
    records: tuple[ValidationRecord, ...]
    zone_id: str | None  # the Route 53 hosted zone that has the records, if in the account
    zone_name: str | None = None

    def next_steps(self) -> list[str]:
        if self.issued:
            return []
        again = f"run `chatbot-deploy up` again to serve https://{self.domain}"
        if not self.records:
            return [
                f"Run `chatbot-deploy up` again in a minute: ACM is still preparing the DNS "
                f"record that validates the certificate for {self.domain}"
            ]
        if self.zone_id is not None:
            return [
                f"The certificate for {self.domain} is being validated (its DNS record is in "
                f"Route 53 zone {self.zone_name}): ACM issues it within minutes, then {again}"
            ]
        return [
            *(
                f"Create this DNS record at your DNS provider, to validate the certificate "
                f"for {self.domain}: {record.describe()}"
                for record in self.records
            ),
            f"Once ACM has issued it (minutes after the record is visible), {again}",
        ]


def acm(ctx: DeployContext) -> Any:
    return ctx.aws.client("acm", region=ACM_REGION)


def _tags(ctx: DeployContext) -> dict[str, str]:
    return {**ctx.names.tags, REGION_TAG: ctx.region}


def stack_certificates(ctx: DeployContext, domain: str | None = None) -> list[dict[str, Any]]:
    """The summaries (ListCertificates) of the stack's certificates, of `domain` or all."""
    client = acm(ctx)
    wanted = _tags(ctx)
    found = []
    for page in client.get_paginator("list_certificates").paginate():
        for summary in page.get("CertificateSummaryList", []):
            if domain is not None and summary.get("DomainName") != domain:
                continue
            listed = client.list_tags_for_certificate(CertificateArn=summary["CertificateArn"])
            tags = {tag["Key"]: tag.get("Value") for tag in listed.get("Tags", [])}
            if all(tags.get(key) == value for key, value in wanted.items()):
                found.append(dict(summary))
    return found


def _pick(summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one to use of the domain's certificates: issued, else pending, else the first."""
    for status in PREFERENCE:
        for summary in summaries:
            if summary.get("Status") == status:
                return summary
    return summaries[0] if summaries else None


def idempotency_token(ctx: DeployContext, domain: str) -> str:
    """The same for a repeated request (a run killed before it saw the answer): ACM then
    answers with the certificate it made, for an hour."""
    text = f"{ctx.names.stack}|{ctx.region}|{domain}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def request(ctx: DeployContext, domain: str) -> str:
    answer = acm(ctx).request_certificate(
        DomainName=domain,
        ValidationMethod="DNS",
        IdempotencyToken=idempotency_token(ctx, domain),
        Tags=[{"Key": key, "Value": value} for key, value in _tags(ctx).items()],
    )
    return str(answer["CertificateArn"])


def records_of(certificate: dict[str, Any]) -> tuple[ValidationRecord, ...]:
    records = []
    for option in certificate.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord")
        if record:
            item = ValidationRecord(str(record["Name"]), str(record["Type"]), str(record["Value"]))
            if item not in records:
                records.append(item)
    return tuple(records)


def describe(ctx: DeployContext, arn: str) -> dict[str, Any]:
    """The certificate, once ACM has given its validation record (a bounded wait: a few
    seconds after the request); without it after that (the outcome says to run again)."""
    client = acm(ctx)
    for attempt in range(RECORD_WAIT_ATTEMPTS):
        certificate = dict(client.describe_certificate(CertificateArn=arn)["Certificate"])
        if certificate.get("Status") != "PENDING_VALIDATION" or records_of(certificate):
            return certificate
        if attempt < RECORD_WAIT_ATTEMPTS - 1:
            sleep(RECORD_WAIT_S)
    return certificate


def _unusable(domain: str, certificate: dict[str, Any]) -> UserError:
    status = str(certificate.get("Status"))
    reason = certificate.get("FailureReason") or certificate.get("RevocationReason")
    because = f" ({reason})" if reason else ""
    fix = "" if status == "REVOKED" else f"{FIXES.get(str(reason), FIX)}, then "
    return UserError(
        f"the certificate for {domain} is {STATUS_TEXT.get(status, status.lower())}{because}: "
        f"{fix}delete it (`aws acm delete-certificate --region {ACM_REGION} --certificate-arn "
        f"{certificate['CertificateArn']}`) and run `chatbot-deploy up` again for a new one"
    )


def ensure_records(
    ctx: DeployContext, zone: hosted_zone.Zone, records: tuple[ValidationRecord, ...]
) -> bool:
    """Write the validation records that the zone lacks; True if it wrote."""
    stale = [record.as_route53() for record in records if not record.is_in(ctx, zone.zone_id)]
    if stale:
        hosted_zone.change(ctx, zone.zone_id, "UPSERT", stale)
    return bool(stale)


def ensure_certificate(ctx: DeployContext, domain: str) -> Outcome:
    current = _pick(stack_certificates(ctx, domain))
    requested = current is None or current.get("Status") in REQUEST_AGAIN
    arn = request(ctx, domain) if requested or current is None else current["CertificateArn"]
    certificate = describe(ctx, arn)
    status = str(certificate.get("Status"))
    if status not in PREFERENCE:
        raise _unusable(domain, certificate)
    issued = status == "ISSUED"
    records = records_of(certificate)
    zone = hosted_zone.find_zone(ctx, domain)
    # Kept once issued too: ACM renews the certificate with the same record.
    wrote = zone is not None and bool(records) and ensure_records(ctx, zone, records)
    info = CertificateInfo(
        arn=arn,
        domain=domain,
        issued=issued,
        records=records,
        zone_id=zone.zone_id if zone else None,
        zone_name=zone.name if zone else None,
    )
    if issued:
        summary = "issued"
        if wrote and zone is not None:
            summary += f" (its validation record restored in Route 53 zone {zone.name})"
    elif not records:
        summary = "pending validation: its DNS record is not ready yet, run `up` again in a minute"
    elif zone is not None:
        done = "created" if wrote else "present"
        summary = f"pending validation (records {done} in Route 53 zone {zone.name})"
    else:
        summary = "pending validation: create the DNS record printed below"
    if requested:
        summary = f"requested in {ACM_REGION}; {summary}"
    return Outcome(summary, info, requested or wrote)


def delete_certificate(ctx: DeployContext, arn: str, domain: str) -> bool:
    try:
        acm(ctx).delete_certificate(CertificateArn=arn)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            return False
        if code == "ResourceInUseException":
            raise UserError(
                f"the certificate for {domain} is still in use by CloudFront for a few "
                "minutes after the distribution is deleted: run `chatbot-deploy teardown` "
                "again in a few minutes"
            ) from exc
        raise
    return True


def find_readable(ctx: DeployContext) -> list[dict[str, Any]]:
    """The stack's certificates; none where ACM cannot be read and `--domain` is not used (a
    partition without CloudFront, an identity without ACM permissions)."""
    if ctx.partition != "aws":
        return []
    try:
        return stack_certificates(ctx)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ACCESS_DENIED_CODES and ctx.settings.domain is None:
            return []
        raise


class Certificate(Unit):
    kind = "certificate"
    title = "TLS certificate"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [""] if ctx.settings.domain else []

    def name(self, ctx: DeployContext, key: str) -> str:
        return f"{ctx.settings.domain} ({ACM_REGION})"

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        domain = job.ctx.settings.domain
        assert domain is not None  # wanted only with a domain
        return ensure_certificate(job.ctx, domain)

    def find(self, ctx: DeployContext) -> list[Found]:
        return [
            Found(
                self.kind,
                str(item.get("DomainName")),
                str(item["CertificateArn"]),
                f"{STATUS_TEXT.get(str(item.get('Status')), item.get('Status'))}, {ACM_REGION}",
            )
            for item in find_readable(ctx)
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_certificate(ctx, found.key, found.name)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        """The certificate in use (this run's), and any CloudFront has not released yet:
        the next `up` removes those."""
        info: CertificateInfo | None = outputs.get(self.kind)
        kept = {info.arn} if info is not None else set()
        in_use = {str(item["CertificateArn"]) for item in find_readable(ctx) if item.get("InUse")}
        return kept | in_use

    def missing(self, ctx: DeployContext, found: list[Found]) -> list[str]:
        domain = ctx.settings.domain
        if domain is None or any(item.name == domain for item in found):
            return []
        return [self.name(ctx, "")]
