"""Each function does its per-container work at init (its module's import), on Lambda only,
and a failing init neither fails the import nor the container: the first request retries.

A handler module is imported afresh as Lambda's init does, with Lambda's environment
(``AWS_LAMBDA_FUNCTION_NAME`` and the function's own variables from app_spec); AWS is moto.
Every boto3 client the code creates, and every call it makes, is recorded.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import jwt
import pytest

import chatbot_lambda
from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator
from chatbot_lambda import container, login, parameters, upstream
from tests.lambda_code.test_handlers import API_KEY, PASSWORD, body_of, http_event, with_alice

KINDS = tuple(app_spec.FUNCTIONS)


@dataclass
class Recorder:
    """The clients created through ``boto3.client`` and the calls made on them."""

    created: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    failing: dict[str, str] = field(default_factory=dict)  # operation -> error code

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = boto3.client

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            made = real(service, *args, **kwargs)  # type: ignore[call-overload]
            self.created.append(service)
            made.meta.events.register("before-call", self._before_call)
            return made

        monkeypatch.setattr(boto3, "client", client)

    def _before_call(self, model: Any, **kwargs: Any) -> None:
        self.calls.append(model.name)
        code = self.failing.get(model.name)
        if code is not None:
            error = {"Error": {"Code": code, "Message": "Rate exceeded"}}
            raise botocore.exceptions.ClientError(error, model.name)  # type: ignore[arg-type]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    found = Recorder()
    found.install(monkeypatch)
    return found


def _module_of(kind: str) -> str:
    return app_spec.FUNCTIONS[kind].handler.rpartition(".")[0]


def lambda_init(kind: str, env: emulator.Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Lambda's init of function `kind`: a new container, a fresh import of its handler
    module (the emulator has set every function's environment, as `up` would). The module
    imported before is put back afterwards."""
    monkeypatch.setenv(container.LAMBDA_FUNCTION_ENV, f"chatbot-{kind}")
    emulator.new_container()
    module_name = _module_of(kind)
    forget(module_name, monkeypatch)
    return importlib.import_module(module_name)


def forget(module_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import `module_name` afresh next time; what was imported is back after the test."""
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    monkeypatch.delattr(chatbot_lambda, module_name.rpartition(".")[2], raising=False)


@pytest.fixture
def aws(fake_openai: Any) -> Iterator[emulator.Emulator]:
    config = app_spec.AppConfig(models=("test-model",), openai_base_url=fake_openai.base_url)
    with with_alice(config, API_KEY) as env:
        yield env


def _needs(kind: str) -> set[str]:
    """The clients a function's work needs, from what app_spec grants it."""
    spec = app_spec.FUNCTIONS[kind]
    return ({"ssm"} if spec.parameters else set()) | ({"dynamodb"} if spec.tables else set())


def _token() -> tuple[str, int, int]:
    """A token of alice's, from the login handler as imported before the test."""
    body = body_of(login.handler(http_event({"username": "alice", "password": PASSWORD}), None))
    issued_at = int(jwt.decode(body["token"], options={"verify_signature": False})["iat"])
    return body["token"], int(body["expires_at"]), issued_at


# -- init does the work -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_init_creates_the_clients_and_reads_the_secrets_the_function_needs(
    kind, aws, recorder, monkeypatch
):
    lambda_init(kind, aws, monkeypatch)
    assert set(recorder.created) == _needs(kind)
    assert len(recorder.created) == len(set(recorder.created))  # one client per service
    secrets_read = recorder.calls.count("GetParameter")
    assert secrets_read == len(app_spec.FUNCTIONS[kind].parameters)
    # the provider's client is made at init by the functions that hold its key
    has_provider = "openai-api-key" in app_spec.FUNCTIONS[kind].parameters
    assert (upstream._container is not None) is has_provider


def test_off_lambda_importing_a_handler_does_no_aws_work(aws, recorder, monkeypatch):
    for kind in KINDS:
        lambda_init(kind, aws, monkeypatch)
    recorder.created.clear()
    recorder.calls.clear()
    monkeypatch.delenv(container.LAMBDA_FUNCTION_ENV)
    for kind in KINDS:
        emulator.new_container()
        forget(_module_of(kind), monkeypatch)
        importlib.import_module(_module_of(kind))
    assert recorder.created == [] and recorder.calls == []


def test_after_init_the_first_request_makes_no_client_and_reads_no_secret(
    aws, recorder, monkeypatch
):
    token, expires_at, issued_at = _token()
    authorizer = lambda_init("authorizer", aws, monkeypatch)
    recorder.created.clear()
    recorder.calls.clear()
    answer = authorizer.handler({"headers": {"authorization": f"Bearer {token}"}}, None)
    assert answer["isAuthorized"] is True
    assert recorder.created == [] and recorder.calls == []

    chat = lambda_init("chat", aws, monkeypatch)
    recorder.created.clear()
    recorder.calls.clear()
    context = {"username": "alice", "expires_at": expires_at, "issued_at": issued_at}
    event = http_event({"messages": [{"role": "user", "content": "hi"}]}, context=context)
    event["headers"]["authorization"] = f"Bearer {token}"
    response = chat.handler(event, None)
    assert response["statusCode"] == 200, response
    assert recorder.created == []
    assert "GetParameter" not in recorder.calls  # the session checks read DynamoDB only
    assert set(recorder.calls) <= {"GetItem"}


# -- a failing init recovers ----------------------------------------------------------------


def test_a_throttled_init_neither_fails_the_import_nor_the_first_request(
    aws, recorder, monkeypatch, caplog
):
    token, _, _ = _token()
    recorder.failing["GetParameter"] = "ThrottlingException"
    with caplog.at_level(logging.INFO):
        authorizer = lambda_init("authorizer", aws, monkeypatch)
    assert "init: jwt_secret not ready (ClientError)" in caplog.text
    del recorder.failing["GetParameter"]
    recorder.calls.clear()
    answer = authorizer.handler({"headers": {"authorization": f"Bearer {token}"}}, None)
    assert answer["isAuthorized"] is True
    assert recorder.calls == ["GetParameter"]  # read by the first request, then kept
    authorizer.handler({"headers": {"authorization": f"Bearer {token}"}}, None)
    assert recorder.calls == ["GetParameter"]
    secret = parameters.jwt_secret()
    assert secret not in caplog.text


def test_a_secret_missing_at_init_is_the_contract_s_error_until_it_exists(
    aws, recorder, monkeypatch, caplog
):
    aws.ssm.delete_parameter(Name=aws.names.jwt_secret_param)
    with caplog.at_level(logging.INFO):
        login = lambda_init("login", aws, monkeypatch)
    assert "init: jwt_secret not ready (ParameterMissing)" in caplog.text
    assert "init: dynamodb" not in caplog.text  # the other step was done
    request = http_event({"username": "alice", "password": PASSWORD})
    refused = login.handler(request, None)
    assert refused["statusCode"] == 500
    assert body_of(refused) == {"error": "internal error"}
    aws.ssm.put_parameter(
        Name=aws.names.jwt_secret_param,
        Value="a-new-secret-0123456789-0123456789",
        Type="SecureString",
    )
    answered = login.handler(request, None)
    assert answered["statusCode"] == 200
    assert "a-new-secret" not in caplog.text


def test_a_provider_key_missing_at_init_is_a_503_then_works_once_set(
    aws, recorder, monkeypatch, caplog
):
    token, expires_at, issued_at = _token()
    aws.ssm.delete_parameter(Name=aws.names.openai_key_param)
    with caplog.at_level(logging.INFO):
        chat = lambda_init("chat", aws, monkeypatch)
    assert "init: openai not ready (UpstreamError)" in caplog.text
    context = {"username": "alice", "expires_at": expires_at, "issued_at": issued_at}
    event = http_event({"messages": [{"role": "user", "content": "hi"}]}, context=context)
    event["headers"]["authorization"] = f"Bearer {token}"
    refused = chat.handler(event, None)
    assert refused["statusCode"] == 503
    assert body_of(refused) == {"error": upstream.KEY_MISSING}
    aws.ssm.put_parameter(Name=aws.names.openai_key_param, Value=API_KEY, Type="SecureString")
    assert chat.handler(event, None)["statusCode"] == 200
    assert API_KEY not in caplog.text


def test_at_init_reports_each_step_and_never_raises(monkeypatch):
    monkeypatch.setenv(container.LAMBDA_FUNCTION_ENV, "chatbot-test")

    def broken() -> None:
        raise RuntimeError("boom")

    assert container.at_init(good=lambda: 1, bad=broken) == {"good": True, "bad": False}
    monkeypatch.delenv(container.LAMBDA_FUNCTION_ENV)
    assert container.at_init(bad=broken) == {}
