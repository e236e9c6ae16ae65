"""`--domain`: the ACM certificate (us-east-1, DNS validation) and the DNS records, against
in-process moto with ACM and Route 53 as AWS has them where moto 5.2 differs (`AcmAsAws`,
`Route53AsAws`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import moto.settings
import pytest
from moto.acm.models import acm_backends

from chatbot_deploy.deploy import certificate, domain_records, engine, hosted_zone, inventory
from chatbot_deploy.deploy import teardown as teardown_engine
from chatbot_deploy.deploy.certificate import CertificateInfo, ValidationRecord
from chatbot_deploy.deploy.distribution import CLOUDFRONT_ZONE_ID, DistributionInfo
from chatbot_deploy.deploy.domain_records import DomainRecordsInfo
from chatbot_deploy.deploy.graph import StepsInterrupted
from chatbot_deploy.deploy.hosted_zone import Zone
from chatbot_deploy.errors import UserError
from tests.deploy.conftest import REGION, Deployer, error_response

DOMAIN = "chat.example.com"
ACCOUNT = "123456789012"


def _certificates() -> dict[str, Any]:
    return dict(acm_backends[ACCOUNT]["us-east-1"]._certificates)


@dataclass
class AcmAsAws:
    """ACM as AWS has it, where in-process moto 5.2 differs:

    - A requested certificate stays PENDING_VALIDATION until its DNS record resolves (moto:
      ISSUED after 60 s whatever the DNS): here until `issue()`.
    - Its validation record (`ResourceRecord`) appears a few seconds after the request (moto:
      at once): here only from the `hidden`-th DescribeCertificate on.
    - CloudFront keeps a certificate in use for minutes after the distribution stops using
      it: DeleteCertificate answers ResourceInUseException (moto deletes) and the
      certificate says InUse, while its ARN is in `in_use`."""

    hidden: int = 0
    in_use: set[str] = field(default_factory=set)
    reads_left: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, deployer: Deployer) -> AcmAsAws:
        deployer.on("before-parameter-build.acm", self.keep_params)
        deployer.on("before-call.acm", self.answer)
        deployer.on("after-call.acm", self.adjust)
        return self

    @staticmethod
    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_params"] = dict(params)

    def answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        arn = context.get("api_params", {}).get("CertificateArn")
        if model.name == "DeleteCertificate" and arn in self.in_use:
            return error_response(
                "ResourceInUseException",
                f"Certificate {arn} in account {ACCOUNT} is in use.",
            )
        return None

    def adjust(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self.lock:
            if model.name == "RequestCertificate" and "CertificateArn" in parsed:
                self.reads_left.setdefault(parsed["CertificateArn"], self.hidden)
            elif model.name == "DescribeCertificate" and "Certificate" in parsed:
                cert = parsed["Certificate"]
                left = self.reads_left.get(cert["CertificateArn"], 0)
                if left > 0:
                    self.reads_left[cert["CertificateArn"]] = left - 1
                    for option in cert.get("DomainValidationOptions", []):
                        option.pop("ResourceRecord", None)
                if cert["CertificateArn"] in self.in_use:
                    cert["InUseBy"] = ["arn:aws:cloudfront::123456789012:distribution/E1"]
            elif model.name == "ListCertificates":
                for item in parsed.get("CertificateSummaryList", []):
                    item["InUse"] = item["CertificateArn"] in self.in_use

    @staticmethod
    def issue(status: str = "ISSUED") -> None:
        """ACM saw the record: every pending certificate is issued (or `status`)."""
        for cert in _certificates().values():
            if cert.status == "PENDING_VALIDATION":
                cert.status = status


@dataclass
class Route53AsAws:
    """Route 53 deletes only the exact current record set (moto deletes by name and type
    whatever values are given): a DELETE that differs is refused as AWS refuses it."""

    def attach(self, deployer: Deployer) -> Route53AsAws:
        deployer.on("before-parameter-build.route53", AcmAsAws.keep_params)
        deployer.on("before-call.route53", self.answer)
        return self

    @staticmethod
    def answer(model: Any, context: dict[str, Any], **_: Any) -> Any:
        if model.name != "ChangeResourceRecordSets":
            return None
        params = context.get("api_params", {})
        own = boto3.client("route53", region_name=REGION)  # not hooked, not logged
        listed = own.list_resource_record_sets(HostedZoneId=params["HostedZoneId"])
        for change in params["ChangeBatch"]["Changes"]:
            if change["Action"] != "DELETE":
                continue
            record = change["ResourceRecordSet"]
            current = [
                item
                for item in listed["ResourceRecordSets"]
                if hosted_zone.normal(item["Name"]) == hosted_zone.normal(record["Name"])
                and item["Type"] == record["Type"]
            ]
            if current != [record]:
                return error_response(
                    "InvalidChangeBatch",
                    f"Tried to delete resource record set [name='{record['Name']}', "
                    f"type='{record['Type']}'] but the values provided do not match the "
                    "current values",
                )
        return None


@pytest.fixture
def acm(deployer, monkeypatch) -> AcmAsAws:
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 10**9)
    monkeypatch.setattr(certificate, "sleep", lambda _seconds: None)
    Route53AsAws().attach(deployer)
    return AcmAsAws().attach(deployer)


def _zone(deployer, name: str = "example.com", private: bool = False) -> str:
    extra: dict[str, Any] = {}
    if private:
        extra = {
            "VPC": {"VPCRegion": REGION, "VPCId": "vpc-12345678"},
            "HostedZoneConfig": {"PrivateZone": True},
        }
    zone = deployer.client("route53").create_hosted_zone(
        Name=name, CallerReference=f"{name}-{private}", **extra
    )["HostedZone"]
    return str(zone["Id"]).rsplit("/", 1)[-1]


def _records(deployer, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    listed = deployer.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return {
        (hosted_zone.normal(item["Name"]), item["Type"]): item
        for item in listed["ResourceRecordSets"]
        if item["Type"] not in ("NS", "SOA")
    }


def _summary(result: engine.DeployResult, key: str) -> str:
    outcome = result.record.steps[key].outcome
    assert outcome is not None
    return outcome.summary


def _validation(result: engine.DeployResult) -> ValidationRecord:
    info: CertificateInfo = result.record.value("certificate")
    assert len(info.records) == 1
    return info.records[0]


# --- the values and their next steps -----------------------------------------------------


RECORD = ValidationRecord("_a1.chat.example.com.", "CNAME", "_b2.acm-validations.aws.")


def test_next_steps_of_a_pending_certificate_without_a_zone_give_the_record_then_up():
    info = CertificateInfo("arn:c", DOMAIN, False, (RECORD,), None)
    assert info.next_steps() == [
        "Create this DNS record at your DNS provider, to validate the certificate for "
        "chat.example.com: CNAME _a1.chat.example.com. → _b2.acm-validations.aws.",
        "Once ACM has issued it (minutes after the record is visible), run `chatbot-deploy "
        "up` again to serve https://chat.example.com",
    ]


def test_next_steps_of_a_pending_certificate_with_a_zone_say_it_is_under_way():
    info = CertificateInfo("arn:c", DOMAIN, False, (RECORD,), "Z1", "example.com")
    [step] = info.next_steps()
    assert "being validated" in step and "zone example.com" in step and "up` again" in step
    assert CertificateInfo("arn:c", DOMAIN, True, (RECORD,), None).next_steps() == []
    [wait] = CertificateInfo("arn:c", DOMAIN, False, (), None).next_steps()
    assert wait.startswith("Run `chatbot-deploy up` again in a minute")


def test_next_steps_of_records_outside_route53_point_the_domain_at_the_distribution():
    info = DomainRecordsInfo(DOMAIN, "d111.cloudfront.net", None)
    assert info.next_steps() == [
        "Point chat.example.com at the website (if not done yet): CNAME chat.example.com → "
        "d111.cloudfront.net (at the zone apex an ALIAS/ANAME record)"
    ]
    assert DomainRecordsInfo(DOMAIN, "d111.cloudfront.net", "Z1", "example.com").next_steps() == []


def test_the_zone_is_the_longest_public_suffix_of_the_domain():
    zones = [Zone("Z1", "example.com"), Zone("Z2", "chat.example.com"), Zone("Z3", "com")]
    assert hosted_zone.zone_for("chat.example.com", zones) == Zone("Z2", "chat.example.com")
    assert hosted_zone.zone_for("www.example.com", zones) == Zone("Z1", "example.com")
    assert hosted_zone.zone_for("chat.example.org", zones) is None
    assert hosted_zone.zone_for("notexample.com", zones[:2]) is None


def test_a_private_zone_is_not_the_domains(deployer, acm):
    _zone(deployer, private=True)
    ctx = deployer.context(domain=DOMAIN)
    assert hosted_zone.find_zone(ctx, DOMAIN) is None
    public = _zone(deployer)
    assert hosted_zone.find_zone(ctx, DOMAIN) == Zone(public, "example.com")


# --- the units on their own ---------------------------------------------------------------


def _job(deployer, **settings: Any) -> engine.Job:
    return engine.Job(deployer.context(**settings), deployer.workspace.sources())


def test_certificate_requested_once_in_us_east_1_tagged_with_stack_and_region(deployer, acm):
    job = _job(deployer, domain=DOMAIN)
    unit = certificate.Certificate()
    first = unit.ensure(job, "", {})
    assert first.changed and first.summary.startswith("requested in us-east-1; pending")
    [arn] = _certificates()
    assert arn.startswith("arn:aws:acm:us-east-1:")
    client = deployer.aws.client("acm", region="us-east-1")
    tags = client.list_tags_for_certificate(CertificateArn=arn)["Tags"]
    assert {"Key": "chatbot-deploy:stack", "Value": "chatbot"} in tags
    assert {"Key": "chatbot-deploy:region", "Value": REGION} in tags
    deployer.log.clear()
    again = unit.ensure(job, "", {})
    assert not again.changed and again.value.arn == arn and deployer.log.writes == []
    assert again.summary == "pending validation: create the DNS record printed below"


def test_a_certificate_of_the_same_stack_name_in_another_region_is_not_ours(deployer, acm):
    certificate.Certificate().ensure(_job(deployer, domain=DOMAIN), "", {})
    from chatbot_deploy.deploy.context import DeployContext
    from chatbot_deploy.names import StackNames
    from chatbot_deploy.stack_settings import Settings

    aws = deployer.aws
    other = DeployContext.create(aws, StackNames("chatbot"), Settings(domain=DOMAIN))
    other = type(other)(**{**other.__dict__, "region": "us-west-2"})
    assert certificate.Certificate().find(other) == []
    assert len(certificate.Certificate().find(deployer.context())) == 1


def test_validation_record_late_is_waited_for_briefly(deployer, acm, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(certificate, "sleep", slept.append)
    acm.hidden = 2
    outcome = certificate.Certificate().ensure(_job(deployer, domain=DOMAIN), "", {})
    assert len(slept) == 2 and outcome.value.records
    assert outcome.summary.endswith("create the DNS record printed below")


def test_validation_record_not_ready_after_the_wait_says_run_again(deployer, acm, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(certificate, "sleep", slept.append)
    acm.hidden = 100
    job = _job(deployer, domain=DOMAIN)
    outcome = certificate.Certificate().ensure(job, "", {})
    assert len(slept) == certificate.RECORD_WAIT_ATTEMPTS - 1
    assert outcome.value.records == () and "run `up` again in a minute" in outcome.summary
    assert outcome.value.next_steps()[0].startswith("Run `chatbot-deploy up` again in a minute")
    acm.reads_left.clear()  # a minute later
    _zone(deployer)
    later = certificate.Certificate().ensure(job, "", {})
    assert later.summary == "pending validation (records created in Route 53 zone example.com)"


@pytest.mark.parametrize(
    ("status", "reason", "says"),
    [
        ("FAILED", "CAA_ERROR", "its CAA records must allow amazon.com"),
        ("FAILED", None, "fix the cause ACM gives"),
        ("REVOKED", None, "is revoked: delete it"),
    ],
)
def test_a_failed_or_revoked_certificate_is_a_one_line_error(deployer, acm, status, reason, says):
    job = _job(deployer, domain=DOMAIN)
    certificate.Certificate().ensure(job, "", {})
    acm.issue(status)
    if reason:

        def with_reason(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            if model.name == "DescribeCertificate":
                parsed["Certificate"]["FailureReason"] = reason

        deployer.on("after-call.acm", with_reason)
    with pytest.raises(UserError) as caught:
        certificate.Certificate().ensure(job, "", {})
    message = str(caught.value)
    assert "\n" not in message and says in message
    assert "aws acm delete-certificate --region us-east-1 --certificate-arn arn:" in message


def test_a_timed_out_certificate_is_replaced_by_a_new_request(deployer, acm):
    job = _job(deployer, domain=DOMAIN)
    old = certificate.Certificate().ensure(job, "", {}).value.arn
    acm.issue("VALIDATION_TIMED_OUT")
    acm_backends[ACCOUNT]["us-east-1"]._idempotency_tokens.clear()  # 72 h later: expired
    new = certificate.Certificate().ensure(job, "", {})
    assert new.changed and new.value.arn != old and new.summary.startswith("requested")
    # the sweep removes the old one
    assert certificate.Certificate().keep(job.ctx, {"certificate": new.value}) == {new.value.arn}


def test_domain_records_wait_for_the_distribution_to_serve_the_domain(deployer, acm):
    zone_id = _zone(deployer)
    job = _job(deployer, domain=DOMAIN)
    unit = domain_records.DomainRecords()
    dist = DistributionInfo("E1", "arn:d", "d111.cloudfront.net", (), "Deployed", True)
    waiting = unit.ensure(job, "", {"distribution": dist})
    assert not waiting.changed and waiting.summary.startswith("waiting for the certificate")
    assert _records(deployer, zone_id) == {}
    served = DistributionInfo("E1", "arn:d", "d111.cloudfront.net", (DOMAIN,), "Deployed", True)
    written = unit.ensure(job, "", {"distribution": served})
    assert written.changed
    assert (
        written.summary
        == "A and AAAA alias → d111.cloudfront.net written in Route 53 zone example.com"
    )
    records = _records(deployer, zone_id)
    for kind in ("A", "AAAA"):
        target = records[(DOMAIN, kind)]["AliasTarget"]
        assert target["HostedZoneId"] == CLOUDFRONT_ZONE_ID
        assert hosted_zone.normal(target["DNSName"]) == "d111.cloudfront.net"
    deployer.log.clear()
    assert unit.ensure(job, "", {"distribution": served}).summary == "unchanged (zone example.com)"
    assert deployer.log.writes == []
    # the distribution was replaced: the records follow it
    moved = DistributionInfo("E2", "arn:d2", "d222.cloudfront.net", (DOMAIN,), "Deployed", True)
    assert unit.ensure(job, "", {"distribution": moved}).changed
    assert "d222" in records_target(deployer, zone_id)


def records_target(deployer, zone_id: str) -> str:
    return str(_records(deployer, zone_id)[(DOMAIN, "A")]["AliasTarget"]["DNSName"])


@pytest.mark.parametrize(
    ("kind", "value"), [("CNAME", "elsewhere.example.net"), ("A", "192.0.2.10")]
)
def test_a_record_that_is_not_the_stacks_is_not_replaced(deployer, acm, kind, value):
    zone_id = _zone(deployer)
    deployer.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": DOMAIN,
                        "Type": kind,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ]
        },
    )
    served = DistributionInfo("E1", "arn:d", "d111.cloudfront.net", (DOMAIN,), "Deployed", True)
    with pytest.raises(UserError) as caught:
        domain_records.DomainRecords().ensure(
            _job(deployer, domain=DOMAIN), "", {"distribution": served}
        )
    assert str(caught.value) == (
        f"chat.example.com already has a {kind} record in Route 53 zone example.com ({value}) "
        "that is not this stack's: delete it (the website's alias records take its place) or "
        "choose another --domain"
    )


# --- up, status, teardown -----------------------------------------------------------------


def test_without_a_zone_up_prints_the_records_and_a_later_up_serves_the_domain(deployer, acm):
    first = deployer.up(domain=DOMAIN)
    summary = _summary(first, "certificate")
    assert (
        summary == "requested in us-east-1; pending validation: create the DNS record printed below"
    )
    record = _validation(first)
    dist = first.distribution
    assert dist is not None and dist.aliases == ()
    assert first.website_url == f"https://{dist.domain_name}"
    assert first.next_steps == [
        "Create this DNS record at your DNS provider, to validate the certificate for "
        f"chat.example.com: CNAME {record.name} → {record.value}",
        "Once ACM has issued it (minutes after the record is visible), run `chatbot-deploy "
        "up` again to serve https://chat.example.com",
        "Point chat.example.com at the website (if not done yet): CNAME chat.example.com → "
        f"{dist.domain_name} (at the zone apex an ALIAS/ANAME record)",
    ]
    deployer.log.clear()
    pending = deployer.up(domain=DOMAIN)  # still pending: nothing to do
    assert deployer.log.writes == [] and len(pending.next_steps) == 3

    acm.issue()
    deployer.log.clear()
    served = deployer.up(domain=DOMAIN)
    assert deployer.log.writes == [("cloudfront", "UpdateDistribution")]
    assert served.website_url == "https://chat.example.com"
    assert served.distribution is not None and served.distribution.aliases == (DOMAIN,)
    config = deployer.client("cloudfront").get_distribution_config(Id=dist.distribution_id)
    viewer = config["DistributionConfig"]["ViewerCertificate"]
    assert viewer["ACMCertificateArn"] == served.record.value("certificate").arn
    assert viewer["SSLSupportMethod"] == "sni-only"
    assert served.next_steps == [
        "Point chat.example.com at the website (if not done yet): CNAME chat.example.com → "
        f"{dist.domain_name} (at the zone apex an ALIAS/ANAME record)"
    ]
    deployer.log.clear()
    deployer.up(domain=DOMAIN)
    assert deployer.log.writes == []


def test_with_a_zone_up_writes_the_validation_then_the_alias_records(deployer, acm):
    zone_id = _zone(deployer)
    first = deployer.up(domain=DOMAIN)
    assert _summary(first, "certificate") == (
        "requested in us-east-1; pending validation (records created in Route 53 zone example.com)"
    )
    record = _validation(first)
    records = _records(deployer, zone_id)
    assert records.keys() == {(hosted_zone.normal(record.name), "CNAME")}
    assert hosted_zone.values(records[(hosted_zone.normal(record.name), "CNAME")]) == [
        hosted_zone.normal(record.value)
    ]
    assert _summary(first, "domain-records").startswith("waiting for the certificate")
    [step] = first.next_steps
    assert "being validated" in step

    deployer.log.clear()
    deployer.up(domain=DOMAIN)  # still pending
    assert deployer.log.writes == []

    acm.issue()
    deployer.log.clear()
    served = deployer.up(domain=DOMAIN)
    assert sorted(deployer.log.writes) == [
        ("cloudfront", "UpdateDistribution"),
        ("route53", "ChangeResourceRecordSets"),
    ]
    assert served.next_steps == []
    assert served.website_url == "https://chat.example.com"
    target = served.distribution.domain_name if served.distribution else ""
    records = _records(deployer, zone_id)
    assert {key for key in records if key[0] == DOMAIN} == {(DOMAIN, "A"), (DOMAIN, "AAAA")}
    assert hosted_zone.alias_target(records[(DOMAIN, "AAAA")]) == target

    deployer.log.clear()
    deployer.up(domain=DOMAIN)
    assert deployer.log.writes == []


def test_a_deleted_validation_record_is_restored(deployer, acm):
    zone_id = _zone(deployer)
    first = deployer.up(domain=DOMAIN)
    acm.issue()
    deployer.up(domain=DOMAIN)
    record = _validation(first)
    current = _records(deployer, zone_id)[(hosted_zone.normal(record.name), "CNAME")]
    deployer.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": current}]},
    )
    again = deployer.up(domain=DOMAIN)
    assert _summary(again, "certificate") == (
        "issued (its validation record restored in Route 53 zone example.com)"
    )


def test_status_lists_the_certificate_and_the_records(deployer, acm):
    zone_id = _zone(deployer)
    first = deployer.up(domain=DOMAIN)
    ctx = deployer.context(domain=DOMAIN)
    pending = {(r.kind, r.name, r.present) for r in inventory.take(ctx).resources}
    assert ("certificate", DOMAIN, True) in pending
    assert ("domain-records", f"{DOMAIN} A alias", False) in pending
    assert ("domain-records", f"{DOMAIN} AAAA alias", False) in pending
    acm.issue()
    deployer.up(domain=DOMAIN)
    found = inventory.take(ctx)
    rows = {(r.kind, r.name): r for r in found.resources if r.kind == "domain-records"}
    name = hosted_zone.normal(_validation(first).name)
    assert set(rows) == {
        ("domain-records", f"{DOMAIN} A"),
        ("domain-records", f"{DOMAIN} AAAA"),
        ("domain-records", f"{name} CNAME"),
    }
    assert all(row.present for row in rows.values())
    target = first.distribution.domain_name if first.distribution else ""
    assert rows[("domain-records", f"{DOMAIN} A")].detail == f"alias → {target} (zone example.com)"
    cert = next(r for r in found.resources if r.kind == "certificate")
    assert cert.detail == "issued, us-east-1"
    assert zone_id


def test_teardown_removes_the_records_and_the_certificate(deployer, acm):
    zone_id = _zone(deployer)
    deployer.up(domain=DOMAIN)
    acm.issue()
    deployer.up(domain=DOMAIN)
    ctx = deployer.context()  # teardown knows no settings: it finds what is there
    teardown_engine.teardown(ctx, inventory.take(ctx))
    assert _records(deployer, zone_id) == {}
    assert _certificates() == {}
    assert inventory.take(ctx).present == []
    deployer.log.clear()
    teardown_engine.teardown(ctx, inventory.take(ctx))
    assert deployer.log.writes == []


def test_a_certificate_cloudfront_has_not_released_makes_teardown_say_run_again(deployer, acm):
    deployer.up(domain=DOMAIN)
    acm.issue()
    served = deployer.up(domain=DOMAIN)
    arn = served.record.value("certificate").arn
    acm.in_use.add(arn)  # CloudFront releases it minutes after the distribution is gone
    ctx = deployer.context()
    with pytest.raises(UserError) as caught:
        teardown_engine.teardown(ctx, inventory.take(ctx))
    assert str(caught.value) == (
        "the certificate for chat.example.com is still in use by CloudFront for a few minutes "
        "after the distribution is deleted: run `chatbot-deploy teardown` again in a few minutes"
    )
    left = inventory.take(ctx).present
    assert ("certificate", arn) in {(r.kind, r.found.key if r.found else None) for r in left}
    assert "distribution" not in {r.kind for r in left}
    acm.in_use.clear()  # minutes later
    teardown_engine.teardown(ctx, inventory.take(ctx))
    assert inventory.take(ctx).present == [] and _certificates() == {}


def test_resetting_the_domain_removes_records_and_certificate_once_released(deployer, acm):
    zone_id = _zone(deployer)
    deployer.up(domain=DOMAIN)
    acm.issue()
    served = deployer.up(domain=DOMAIN)
    arn = served.record.value("certificate").arn
    acm.in_use.add(arn)  # still listed as in use right after the distribution drops it
    plain = deployer.up()
    assert plain.distribution is not None and plain.distribution.aliases == ()
    assert plain.website_url.endswith(".cloudfront.net")
    assert _records(deployer, zone_id) == {}
    assert list(_certificates()) == [arn]  # kept until CloudFront releases it
    listed = inventory.take(deployer.context())
    row = next(r for r in listed.resources if r.kind == "certificate")
    assert "the next `up` removes it" in row.detail
    acm.in_use.clear()
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == [("acm", "DeleteCertificate")]
    assert _certificates() == {}


def test_changing_the_domain_moves_records_and_certificate(deployer, acm):
    zone_id = _zone(deployer)
    deployer.up(domain=DOMAIN)
    acm.issue()
    deployer.up(domain=DOMAIN)
    other = "www.example.com"
    moved = deployer.up(domain=other)
    assert not moved.record.value("certificate").issued
    assert moved.distribution is not None and moved.distribution.aliases == ()
    assert {key[0] for key in _records(deployer, zone_id)} == {
        hosted_zone.normal(_validation(moved).name)
    }
    assert [cert.common_name for cert in _certificates().values()] == [other]
    acm.issue()
    deployer.up(domain=other)
    assert {(other, "A"), (other, "AAAA")} <= set(_records(deployer, zone_id))


def test_a_stack_without_domain_needs_no_acm_permission(deployer, acm):
    def denied(model: Any, **_: Any) -> Any:
        if model.name == "ListCertificates":
            return error_response("AccessDeniedException", "not allowed", 400)
        return None

    deployer.on("before-call.acm", denied)
    deployer.up()
    ctx = deployer.context()
    teardown_engine.teardown(ctx, inventory.take(ctx))
    assert inventory.take(ctx).present == []


def test_a_taken_domain_is_said_in_one_line(deployer, acm):
    """Another distribution (here or in another account) has the domain: CloudFront refuses
    it; the lead's distribution unit says so (checked here with a real certificate)."""
    deployer.up(domain=DOMAIN)
    acm.issue()

    def taken(model: Any, **_: Any) -> Any:
        if model.name == "UpdateDistribution":
            return error_response("CNAMEAlreadyExists", "One or more of the CNAMEs ...", 409)
        return None

    deployer.on("before-call.cloudfront", taken)
    with pytest.raises((UserError, StepsInterrupted)) as caught:
        deployer.up(domain=DOMAIN)
    assert "already an alternate name of another CloudFront distribution" in str(caught.value)
