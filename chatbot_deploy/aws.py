"""The AWS session every command uses: profile and region resolved as boto3 does, clients
with adaptive retries, and AWS errors translated into one-line messages.

The standard environment is honoured as boto3 honours it: ``AWS_PROFILE``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` (and per-service variants) for emulators such as
moto or LocalStack.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from chatbot_deploy.errors import UserError

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})


@dataclass
class Aws:
    """A resolved session: region, account and partition known, clients cached."""

    session: boto3.Session
    region: str
    _clients: dict[str, Any] = field(default_factory=dict)
    _account: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,  # type: ignore[call-overload]
                region_name=self.region,
                config=RETRY_CONFIG,
            )
        return self._clients[service]

    @property
    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region)

    @property
    def account(self) -> str:
        if self._account is None:
            with aws_errors():
                self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account


def connect(profile: str | None = None, region: str | None = None) -> Aws:
    """Resolve profile, region and credentials, or raise a UserError that says what to do."""
    # boto3 reads AWS_DEFAULT_REGION; the other AWS SDKs (and Lambda) use AWS_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise UserError(f"AWS profile {profile!r} not found in your AWS config") from exc
    resolved = session.region_name
    if not resolved:
        raise UserError(
            "no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile"
        )
    if resolved not in session.get_available_regions("lambda") and not _custom_endpoint(session):
        known = session.get_available_regions("lambda", partition_name="aws-cn") + (
            session.get_available_regions("lambda", partition_name="aws-us-gov")
        )
        if resolved not in known:
            raise UserError(f"unknown AWS region {resolved!r}")
    if session.get_credentials() is None:
        raise UserError(
            "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or export "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return Aws(session=session, region=resolved)


def _custom_endpoint(session: boto3.Session) -> bool:
    import os

    return bool(os.environ.get("AWS_ENDPOINT_URL"))


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def succeeded(call: Callable[[], object], unless: str) -> bool:
    """Run ``call``; False when AWS answers the error code ``unless`` instead (any other
    error is raised): a delete of what was already gone, so a teardown can run twice or after
    a half-finished `up`, or a conditional write whose condition failed."""
    try:
        call()
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == unless:
            return False
        raise
    return True


ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
BAD_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}


@contextmanager
def aws_errors(action: str | None = None) -> Iterator[None]:
    """Translate credential, permission and connection failures into UserError."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError as exc:
        raise UserError(
            "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or export "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from exc
    except botocore.exceptions.EndpointConnectionError as exc:
        raise UserError(f"cannot reach AWS at {exc.kwargs.get('endpoint_url', '?')}") from exc
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        operation = action or getattr(exc, "operation_name", "?")
        if code in ACCESS_DENIED_CODES:
            raise UserError(
                f"permission denied for {operation}: your AWS identity is not allowed to do it"
            ) from exc
        if code in BAD_CREDENTIAL_CODES:
            raise UserError(f"AWS rejected your credentials ({code}); refresh them") from exc
        raise
