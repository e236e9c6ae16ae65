"""The embedded AWS emulator behind `local`: moto, in this process, no account needed.

It creates what `up` would create for the data plane (the users table and the two
SecureString parameters) and points the handlers at them through the same environment
variables `up` sets on the functions.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from chatbot_deploy import app_spec
from chatbot_deploy.deploy import table
from chatbot_deploy.local import LocalUser
from chatbot_deploy.names import StackNames
from chatbot_lambda import chat, clients, parameters, passwords, stream, users

REGION = "us-east-1"
# Fake credentials: nothing in `local` may ever reach a real AWS account.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SSM",
)


__all__ = ["Emulator", "LocalUser", "new_container", "running"]

_active: list[StackNames] = []


@dataclass
class Emulator:
    names: StackNames
    dynamodb: Any
    ssm: Any

    def add_user(self, user: LocalUser) -> None:
        self.dynamodb.put_item(
            TableName=self.names.users_table,
            Item={
                **users.key(user.username),
                users.HASH_ATTRIBUTE: {"S": passwords.hash_password(user.password)},
            },
        )

    def set_openai_key(self, api_key: str) -> None:
        self.ssm.put_parameter(
            Name=self.names.openai_key_param, Value=api_key, Type="SecureString", Overwrite=True
        )
        new_container()


def new_container() -> None:
    """Forget what the handlers cached, as a fresh Lambda container would."""
    clients.reset()
    parameters.reset_cache()
    chat.reset()
    stream.reset()


def create_resources(
    dynamodb: Any, ssm: Any, names: StackNames, openai_api_key: str | None
) -> Emulator:
    """The data plane's tables and SecureString parameters (a random JWT secret), as `up`
    makes them, through the given clients (`running`'s moto; the cold-start benchmark's)."""
    for spec in app_spec.TABLES.values():  # as `up` makes them
        table.create_on_demand(dynamodb, names.table(spec.key), spec, names.tags)
        if spec.ttl_attribute:
            table.ensure_ttl(dynamodb, names.table(spec.key), spec.ttl_attribute)
    ssm.put_parameter(
        Name=names.jwt_secret_param, Value=secrets.token_urlsafe(32), Type="SecureString"
    )
    emulator = Emulator(names, dynamodb, ssm)
    if openai_api_key:
        emulator.set_openai_key(openai_api_key)
    return emulator


@contextmanager
def running(
    config: app_spec.AppConfig,
    openai_api_key: str | None,
    stack: str = "local",
) -> Iterator[Emulator]:
    """Start moto, create the data-plane resources and the functions' environment; undo it
    all on exit (environment restored, caches dropped)."""
    from moto import mock_aws

    names = StackNames(stack)
    env: dict[str, str] = dict(FAKE_AWS_ENV)
    for kind in app_spec.FUNCTIONS:
        env.update(app_spec.function_environment(kind, names, config))
    saved = {key: os.environ.get(key) for key in (*env, *CLEARED_ENV)}
    os.environ.update(env)
    for key in CLEARED_ENV:
        os.environ.pop(key, None)
    new_container()
    mock = mock_aws()
    mock.start()
    _active.append(names)
    try:
        yield create_resources(
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("ssm", region_name=REGION),
            names,
            openai_api_key,
        )
    finally:
        _active.clear()
        mock.stop()
        new_container()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
