"""SSM SecureString parameters: the OpenAI key and the JWT signing secret.

The JWT secret is 256 random bits made once; later runs keep it (rotating it would log every
user out). The OpenAI key is replaced only when the user gives a different one.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable

import botocore.exceptions

from chatbot_deploy import app_spec, stack_settings
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.errors import UserError

OPENAI_KEY_ENV = "OPENAI_API_KEY"
JWT_SECRET_BYTES = 32  # 256 bits


def get_value(ctx: DeployContext, name: str, *, decrypt: bool = False) -> str | None:
    try:
        response = ctx.client("ssm").get_parameter(Name=name, WithDecryption=decrypt)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise
    return str(response["Parameter"]["Value"])


def _create(ctx: DeployContext, name: str, value: str, description: str) -> bool:
    try:
        ctx.client("ssm").put_parameter(
            Name=name,
            Value=value,
            Type="SecureString",
            Description=description,
            Tags=[{"Key": key, "Value": val} for key, val in ctx.names.tags.items()],
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ParameterAlreadyExists":
            return False
        raise
    return True


def ensure_jwt_secret(ctx: DeployContext) -> Outcome:
    name = ctx.names.jwt_secret_param
    if get_value(ctx, name) is not None:
        return Outcome("unchanged", name)
    secret = secrets.token_urlsafe(JWT_SECRET_BYTES)
    created = _create(ctx, name, secret, app_spec.PARAMETERS["jwt-secret"].description)
    return Outcome("created" if created else "unchanged", name, created)


def ensure_openai_key(ctx: DeployContext, key: str | None) -> Outcome:
    """Store `key` if given and different; with no key, the stored one must exist."""
    name = ctx.names.openai_key_param
    current = get_value(ctx, name, decrypt=key is not None)
    if key is None or current == key:
        if current is None:
            raise UserError(missing_key_message())
        return Outcome("unchanged", name)
    description = app_spec.PARAMETERS["openai-api-key"].description
    if current is None and _create(ctx, name, key, description):
        return Outcome("created", name, True)
    ctx.client("ssm").put_parameter(Name=name, Value=key, Type="SecureString", Overwrite=True)
    return Outcome("updated", name, True)


def missing_key_message() -> str:
    return (
        f"no OpenAI API key: export {OPENAI_KEY_ENV}=sk-... (or run `up` on a terminal to be "
        "asked for it)"
    )


def resolve_openai_key(
    ctx: DeployContext,
    environ: dict[str, str],
    prompt: Callable[[], str] | None = None,
) -> str | None:
    """The key to store: from the environment, else asked on a terminal when the stack has
    none yet. None means "keep the stored key"."""
    key = environ.get(OPENAI_KEY_ENV, "").strip()
    if key:
        return key
    if get_value(ctx, ctx.names.openai_key_param) is not None:
        return None
    if prompt is None and sys.stdin.isatty():
        import getpass

        def prompt() -> str:
            return getpass.getpass("OpenAI API key (input hidden): ")

    if prompt is None:
        raise UserError(missing_key_message())
    key = prompt().strip()
    if not key:
        raise UserError(missing_key_message())
    return key


def delete_parameter(ctx: DeployContext, name: str) -> bool:
    return succeeded(
        lambda: ctx.client("ssm").delete_parameter(Name=name), unless="ParameterNotFound"
    )


SETTINGS_KEY = "settings"  # the stack's settings (JSON, not secret): names.settings_param


def find_parameters(ctx: DeployContext) -> list[Found]:
    """Every parameter under the stack's own path (names only: no value is read)."""
    prefix = ctx.names.parameter_prefix
    paginator = ctx.client("ssm").get_paginator("describe_parameters")
    pages = paginator.paginate(
        ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [prefix]}]
    )
    return [
        Found("parameter", str(item["Name"]), str(item["Name"]).removeprefix(f"{prefix}/"))
        for page in pages
        for item in page["Parameters"]
    ]


class Parameters(Unit):
    kind = "parameter"
    title = "SSM parameter"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [SETTINGS_KEY, *app_spec.PARAMETERS]

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.parameter(key)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        if key == SETTINGS_KEY:
            written = stack_settings.save(job.ctx.client("ssm"), job.ctx.names, job.ctx.settings)
            return Outcome("saved" if written else "unchanged", self.name(job.ctx, key), written)
        if key == "jwt-secret":
            return ensure_jwt_secret(job.ctx)
        if key == "openai-api-key":
            return ensure_openai_key(job.ctx, job.openai_key)
        raise KeyError(f"no way to make parameter {key!r}: add it to params.Parameters")

    def find(self, ctx: DeployContext) -> list[Found]:
        return find_parameters(ctx)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_parameter(ctx, found.name)
