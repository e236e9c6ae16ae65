"""Everything a deploy step needs to know: the account, the stack's names and the user's
settings. Values that take a call to learn (account, partition) are resolved once, up front,
so steps running concurrently never race to create clients or sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from chatbot_deploy.app_spec import AppConfig
from chatbot_deploy.aws import Aws
from chatbot_deploy.names import StackNames

if TYPE_CHECKING:
    from chatbot_deploy.stack_settings import Settings

RUNTIME = "python3.12"
ARCHITECTURES = ("arm64", "x86_64")
DEFAULT_ARCH = "arm64"
DEFAULT_LOG_RETENTION_DAYS = 30
SINGLE_TRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
SERVICES = (
    "iam",
    "lambda",
    "logs",
    "ssm",
    "dynamodb",
    "apigatewayv2",
    "s3",
    "s3control",
    "sts",
    "cloudfront",
)


@dataclass(frozen=True)
class DeployContext:
    aws: Aws
    names: StackNames
    account: str
    region: str
    partition: str
    settings: Settings
    # Clients that try once: for calls an emulator may not implement (emulators.py).
    single_try: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, aws: Aws, names: StackNames, settings: Settings | None = None) -> DeployContext:
        """`settings`: what the stack should have (the stored ones with the user's flags
        applied); None for commands that only read or delete."""
        from chatbot_deploy.stack_settings import Settings

        # Made here, once, before the steps' threads start (Aws.client is safe on threads,
        # but then the steps would wait on each other for them).
        for service in SERVICES:
            aws.client(service)
        single_try = {
            service: aws.client(service, SINGLE_TRY) for service in ("apigatewayv2", "cloudfront")
        }
        return cls(
            aws=aws,
            names=names,
            account=aws.account,
            region=aws.region,
            partition=aws.partition,
            settings=settings or Settings(),
            single_try=single_try,
        )

    @property
    def config(self) -> AppConfig:
        return self.settings.app_config()

    @property
    def arch(self) -> str:
        return self.settings.arch

    @property
    def log_retention_days(self) -> int:
        return self.settings.log_retention_days

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            (
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account if account else "",
                resource,
            )
        )

    @property
    def bucket(self) -> str:
        return self.names.bucket(self.account, self.region)

    @property
    def dns_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    @property
    def website_url(self) -> str:
        """The S3 website's URL (`--no-cdn`); with the CDN the site is the distribution's."""
        return website_url(self.bucket, self.region, self.dns_suffix)

    def function_arn(self, kind: str) -> str:
        return self.arn("lambda", f"function:{self.names.function(kind)}")

    def role_arn(self, kind: str) -> str:
        return self.arn("iam", f"role/{self.names.role(kind)}", region=False)


# Regions whose S3 website endpoint uses a dash ("s3-website-us-east-1"); newer ones use a dot.
_DASH_WEBSITE_REGIONS = frozenset(
    {
        "us-east-1",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "sa-east-1",
        "us-gov-west-1",
    }
)


def website_url(bucket: str, region: str, dns_suffix: str = "amazonaws.com") -> str:
    sep = "-" if region in _DASH_WEBSITE_REGIONS else "."
    return f"http://{bucket}.s3-website{sep}{region}.{dns_suffix}"
