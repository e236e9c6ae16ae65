"""Deterministic names and tags of every resource of a stack: the one source of truth.

Resources are found again by these names (and by the tag, for API Gateway APIs, whose names
are not unique), so `up`, `status` and `teardown` work from any machine with no state file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TAG_KEY = "chatbot-deploy:stack"
DEFAULT_STACK = "chatbot"

_STACK_RE = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$|^[a-z]$")


class InvalidStackName(ValueError):
    pass


def validate_stack(stack: str) -> str:
    if not _STACK_RE.match(stack) or "--" in stack:
        raise InvalidStackName(
            f"invalid stack name {stack!r}: use 1-24 lowercase letters, digits and single "
            "hyphens, starting with a letter and not ending with a hyphen"
        )
    return stack


@dataclass(frozen=True)
class StackNames:
    stack: str

    def __post_init__(self) -> None:
        validate_stack(self.stack)

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.stack}

    def function(self, kind: str) -> str:
        return f"{self.stack}-{kind}"

    def role(self, kind: str) -> str:
        return f"{self.stack}-{kind}-role"

    def log_group(self, kind: str) -> str:
        return f"/aws/lambda/{self.function(kind)}"

    def table(self, key: str) -> str:
        return f"{self.stack}-{key}"

    @property
    def users_table(self) -> str:
        return self.table("users")

    @property
    def parameter_prefix(self) -> str:
        return f"/chatbot-deploy/{self.stack}"

    @property
    def settings_param(self) -> str:
        """The stack's settings (model, base URL, system prompt ...) as JSON: they live with
        the stack, so every machine that runs `up` keeps them."""
        return self.parameter("settings")

    @property
    def lock_table(self) -> str:
        """The DynamoDB table that holds the stack's deploy lock (one item)."""
        return self.table("lock")

    def parameter(self, key: str) -> str:
        return f"{self.parameter_prefix}/{key}"

    @property
    def jwt_secret_param(self) -> str:
        return self.parameter("jwt-secret")

    @property
    def openai_key_param(self) -> str:
        return self.parameter("openai-api-key")

    @property
    def api_name(self) -> str:
        return f"{self.stack}-api"

    @property
    def socket_api_name(self) -> str:
        """The WebSocket API (streamed answers); found by tag and protocol, as the HTTP API."""
        return f"{self.stack}-socket"

    @property
    def authorizer_name(self) -> str:
        return f"{self.stack}-jwt"

    @property
    def layer(self) -> str:
        return f"{self.stack}-deps"

    @property
    def token_issuer(self) -> str:
        return f"chatbot-deploy:{self.stack}"

    # CloudFront is global: the names of its resources carry the region, so the same stack
    # name in two regions gets two of each.
    def distribution_comment(self, region: str) -> str:
        """Distributions have no name: the stack's is the one whose comment starts so (the
        rest of the comment is a digest of its configuration)."""
        return f"chatbot-deploy {self.stack} {region}"

    def site_access_control(self, region: str) -> str:
        """The origin access control that lets CloudFront read the private site bucket."""
        return f"{self.stack}-{region}-site"

    def headers_policy(self, region: str) -> str:
        """The response headers policy (HSTS, CSP, frame and content-type options)."""
        return f"{self.stack}-{region}-headers"

    def bucket(self, account: str, region: str) -> str:
        """Unique by construction: stack, account and region (at most 63 characters)."""
        return f"{self.stack}-site-{account}-{region}"
