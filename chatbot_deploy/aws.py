"""The AWS session every command uses: profile and region resolved as boto3 does, clients
with adaptive retries that give up quickly when AWS cannot be reached, and AWS errors
translated into one-line messages.

The standard environment is honoured as boto3 honours it: ``AWS_PROFILE``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` (and per-service variants) for emulators such as
moto or LocalStack.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.parsers
import botocore.utils
from botocore.config import Config

from chatbot_deploy.errors import UserError

# Throttling and AWS's transient 5xx keep botocore's adaptive retries (10 attempts). A failure
# to connect is different: nobody answers, and ten attempts with backoff took 15-40 s before
# saying so. Such a call is tried CONNECT_ATTEMPTS times, each connect waiting at most
# CONNECT_TIMEOUT_S: about 1 s for a refused port, about 5 s for a host that never answers
# (a DNS lookup keeps the system resolver's own timeouts).
CONNECT_TIMEOUT_S = 2
CONNECT_ATTEMPTS = 2
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=CONNECT_TIMEOUT_S
)
# Connection-level failures: nothing reached AWS (refused, unreachable, DNS, TLS handshake).
CONNECTION_ERRORS = (botocore.exceptions.ConnectionError,)
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"


def give_up_connecting(
    attempts: int, caught_exception: BaseException | None = None, **_: Any
) -> None:
    """A ``needs-retry`` hook: botocore's retry handler still decides every retry, but a
    connection failure that has happened CONNECT_ATTEMPTS times is raised at once."""
    if isinstance(caught_exception, CONNECTION_ERRORS) and attempts >= CONNECT_ATTEMPTS:
        raise caught_exception


@dataclass
class Aws:
    """A resolved session: region, account and partition known, clients cached."""

    session: boto3.Session
    region: str
    # The --region/--profile the user gave, for the commands we suggest next.
    given_region: str | None = None
    given_profile: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _account: str | None = None
    # botocore's session is not safe to create clients from on several threads at once
    _creating: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(
        self, service: str, config: Config = RETRY_CONFIG, *, region: str | None = None
    ) -> Any:
        """A cached client of `service` in the session's region (or `region`: ACM
        certificates for CloudFront live in us-east-1 whatever the stack's region). Safe
        to call from the deploy steps' threads: clients are created one at a time."""
        region = region or self.region
        key = service if config is RETRY_CONFIG else f"{service}:{id(config)}"
        if region != self.region:
            key += f"@{region}"
        with self._creating:
            if key not in self._clients:
                self._clients[key] = make_client(self.session, service, region, config)
            return self._clients[key]

    @property
    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region)

    @property
    def account(self) -> str:
        if self._account is None:
            with aws_errors():
                self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account


def make_client(session: boto3.Session, service: str, region: str, config: Config) -> Any:
    """A client that fails fast when AWS cannot be reached; a bad endpoint URL in the AWS
    config file is a UserError, not botocore's ValueError."""
    try:
        client = session.client(
            service,  # type: ignore[call-overload]
            region_name=region,
            config=config,
        )
    except ValueError as exc:  # botocore: "Invalid endpoint: <url>"
        raise UserError(
            f"cannot use the AWS endpoint for {service}: {exc}; check {ENDPOINT_VARIABLE} "
            "and endpoint_url in your AWS config (a URL like http://localhost:4566)"
        ) from exc
    client.meta.events.register_first("needs-retry", give_up_connecting)
    return client


def connect(profile: str | None = None, region: str | None = None) -> Aws:
    """Resolve profile, region and credentials, or raise a UserError that says what to do."""
    _check_endpoint_variables(os.environ)
    option = region
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
    _check_region(session, resolved)
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        raise UserError(explain(exc)) from exc
    if credentials is None:
        raise UserError(NO_CREDENTIALS)
    return Aws(session=session, region=resolved, given_region=option, given_profile=profile)


NO_CREDENTIALS = (
    "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or export "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def _check_endpoint_variables(environ: dict[str, str] | os._Environ[str]) -> None:
    for variable, value in sorted(environ.items()):
        if not variable.startswith(ENDPOINT_VARIABLE) or not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(
                f"{variable}={value!r} is not an endpoint URL: use http://HOST:PORT or "
                f"https://HOST (or unset {variable} to use AWS)"
            )


def _check_region(session: boto3.Session, region: str) -> None:
    """The region's format (botocore's rule), then a partition that has it; without an
    emulator endpoint, also a region this botocore knows for Lambda."""
    hint = "a region looks like eu-west-1 (`aws account list-regions` lists yours)"
    try:
        botocore.utils.validate_region_name(region)
        session.get_partition_for_region(region)
    except (botocore.exceptions.InvalidRegionError, botocore.exceptions.UnknownRegionError):
        raise UserError(f"unknown AWS region {region!r}: {hint}") from None
    if os.environ.get(ENDPOINT_VARIABLE):
        return
    known = [
        *session.get_available_regions("lambda"),
        *session.get_available_regions("lambda", partition_name="aws-cn"),
        *session.get_available_regions("lambda", partition_name="aws-us-gov"),
    ]
    if region not in known:
        raise UserError(f"unknown AWS region {region!r}: {hint}")


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
MAX_MESSAGE_CHARS = 300


def _one_line(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[: MAX_MESSAGE_CHARS - 1] + "…"


def _endpoint_hint() -> str:
    endpoint = os.environ.get(ENDPOINT_VARIABLE)
    if endpoint:
        return f"is the emulator at {ENDPOINT_VARIABLE}={endpoint} running?"
    return "check your network connection and the region"


# Every way an AWS call can fail: botocore's own errors, AWS's answers, and an answer that
# is not AWS's at all (an HTTP server that is not an AWS endpoint).
AWS_FAILURES = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    botocore.parsers.ResponseParserError,
)


def explain(exc: BaseException, operation: str | None = None) -> str:
    """One line that says what went wrong with an AWS call and what to do about it."""
    e = botocore.exceptions
    if isinstance(exc, e.NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, e.PartialCredentialsError):
        missing = exc.kwargs.get("cred_var", "a value")
        return (
            f"incomplete AWS credentials: {missing} is missing "
            f"(from {exc.kwargs.get('provider', 'your environment')}); set it too, or unset "
            "the other AWS_* credential variables to use your profile"
        )
    if isinstance(exc, e.NoRegionError):
        return "no AWS region: pass --region, set AWS_REGION, or set a region in your profile"
    if isinstance(exc, e.SSLError):
        url = exc.kwargs.get("endpoint_url", "?")
        plain = url.startswith("https://") and os.environ.get(ENDPOINT_VARIABLE)
        return f"TLS with {url} failed: " + (
            "is the endpoint plain HTTP? then use http:// in AWS_ENDPOINT_URL"
            if plain
            else "check the network (a proxy or firewall may intercept HTTPS)"
        )
    if isinstance(exc, e.ConnectionError | e.ConnectionClosedError):
        return f"cannot reach AWS at {exc.kwargs.get('endpoint_url', '?')}: {_endpoint_hint()}"
    if isinstance(exc, e.ReadTimeoutError):
        return (
            f"AWS at {exc.kwargs.get('endpoint_url', '?')} did not answer in time; "
            "run the command again"
        )
    if isinstance(exc, botocore.parsers.ResponseParserError) or _html_error(exc):
        return "the endpoint answered something that is not an AWS response: " + (
            f"is {ENDPOINT_VARIABLE}={os.environ[ENDPOINT_VARIABLE]} an AWS emulator?"
            if os.environ.get(ENDPOINT_VARIABLE)
            else "a proxy may be in the way"
        )
    if isinstance(exc, e.ClientError):
        code = error_code(exc)
        operation = operation or getattr(exc, "operation_name", "?")
        if code in ACCESS_DENIED_CODES:
            return f"permission denied for {operation}: your AWS identity is not allowed to do it"
        if code in BAD_CREDENTIAL_CODES:
            return f"AWS rejected your credentials ({code}); refresh them"
        message = exc.response.get("Error", {}).get("Message", "")
        return _one_line(f"AWS refused {operation} ({code or 'no error code'}): {message}")
    return _one_line(f"AWS call failed: {exc}")


def _html_error(exc: BaseException) -> bool:
    """A JSON-protocol service's "error" that is a web page: botocore makes a ClientError of
    any non-2xx answer, but AWS never answers with HTML (a web server or proxy does)."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    message = str(exc.response.get("Error", {}).get("Message", "")).lstrip().lower()
    return message.startswith(("<!doctype html", "<html"))


# What aws_errors translates: everything but the service errors (ClientError), which the
# code around an AWS call may handle itself (NotFound, a failed condition ...).
_TRANSLATED = tuple(
    failure for failure in AWS_FAILURES if failure is not botocore.exceptions.ClientError
)


@contextmanager
def aws_errors(action: str | None = None) -> Iterator[None]:
    """Translate credential, permission and connection failures into UserError."""
    try:
        yield
    except _TRANSLATED as exc:
        raise UserError(explain(exc)) from exc
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ACCESS_DENIED_CODES | BAD_CREDENTIAL_CODES:
            raise UserError(explain(exc, action)) from exc
        raise
