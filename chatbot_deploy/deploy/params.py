"""SSM SecureString parameters: the OpenAI key and the JWT signing secret.

The JWT secret is 256 random bits made once; later runs keep it (rotating it would log every
user out). The OpenAI key is replaced only when the user gives a different one.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable

import botocore.exceptions

from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome
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
    created = _create(ctx, name, secrets.token_urlsafe(JWT_SECRET_BYTES), "JWT signing secret")
    return Outcome("created" if created else "unchanged", name, created)


def ensure_openai_key(ctx: DeployContext, key: str | None) -> Outcome:
    """Store `key` if given and different; with no key, the stored one must exist."""
    name = ctx.names.openai_key_param
    current = get_value(ctx, name, decrypt=key is not None)
    if key is None or current == key:
        if current is None:
            raise UserError(missing_key_message())
        return Outcome("unchanged", name)
    if current is None and _create(ctx, name, key, "OpenAI API key"):
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
