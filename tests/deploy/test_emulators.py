"""The emulator workaround is taken only for an emulator: against AWS's own endpoint every
error is raised as it is."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar, cast

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from chatbot_deploy import aws
from chatbot_deploy.deploy import emulators, headers_policy
from chatbot_deploy.deploy.context import SINGLE_TRY
from chatbot_deploy.names import StackNames
from tests.support.local_server import serving


class FakeApiGateway:
    def __init__(self, endpoint: str, error: BaseException) -> None:
        self.meta = SimpleNamespace(endpoint_url=endpoint)
        self.error = error

    def get_authorizers(self, **_: Any) -> Any:
        raise self.error

    def get_routes(self, **_: Any) -> Any:
        return {"Items": [{"RouteKey": "POST /chat", "AuthorizerId": "au1"}, {"RouteKey": "x"}]}

    def get_authorizer(self, **kwargs: Any) -> Any:
        return {"AuthorizerId": kwargs["AuthorizerId"], "Name": "chatbot-jwt"}


def ctx_with(client: FakeApiGateway) -> Any:
    return SimpleNamespace(client=lambda _service: client, single_try={})


def server_error() -> botocore.exceptions.ClientError:
    response: Any = {
        "Error": {"Code": "InternalFailure", "Message": "has not been implemented"},
        "ResponseMetadata": {"HTTPStatusCode": 500},
    }
    return botocore.exceptions.ClientError(response, "GetAuthorizers")


def test_an_emulator_endpoints_500_falls_back_to_the_routes():
    client = FakeApiGateway("http://127.0.0.1:5000", server_error())
    assert emulators.get_authorizers(ctx_with(client), "api1") == [
        {"AuthorizerId": "au1", "Name": "chatbot-jwt"}
    ]


def test_in_process_moto_falls_back_to_the_routes():
    client = FakeApiGateway("https://apigateway.eu-west-1.amazonaws.com", NotImplementedError())
    assert [a["AuthorizerId"] for a in emulators.get_authorizers(ctx_with(client), "a")] == ["au1"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://apigateway.eu-west-1.amazonaws.com",
        "https://apigateway.cn-north-1.amazonaws.com.cn",
    ],
)
def test_the_same_500_from_aws_is_raised(endpoint):
    client = FakeApiGateway(endpoint, server_error())
    with pytest.raises(botocore.exceptions.ClientError, match="InternalFailure"):
        emulators.get_authorizers(ctx_with(client), "api1")


class _Answers500(http.server.BaseHTTPRequestHandler):
    """Every request: a 500 with no AWS error body, as moto 5.2's server answers CloudFront's
    response headers policy calls."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server_of_500s() -> Iterator[str]:
    _Answers500.seen = []
    with serving(_Answers500) as url:
        yield url


def _cloudfront(endpoint: str, config: Config) -> Any:
    return boto3.client(
        "cloudfront",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


def test_a_call_the_emulator_lacks_is_tried_once(server_of_500s):
    """Against moto's server, the headers policy's first call is made once, not retried for
    ~20 s as botocore retries a 500 from AWS, and the distribution goes without one."""
    usual = _cloudfront(server_of_500s, aws.RETRY_CONFIG)
    ctx = SimpleNamespace(
        client=lambda _service: usual,
        single_try={"cloudfront": _cloudfront(server_of_500s, SINGLE_TRY)},
        names=StackNames("t"),
        region="us-east-1",
    )
    assert headers_policy.HeadersPolicy().find(cast(Any, ctx)) == []
    assert len(_Answers500.seen) == 1
    assert emulators.probe(cast(Any, ctx), "cloudfront") is ctx.single_try["cloudfront"]


def test_against_aws_the_usual_client_keeps_its_retries():
    usual = FakeApiGateway("https://cloudfront.amazonaws.com", server_error())
    ctx = SimpleNamespace(client=lambda _service: usual, single_try={"cloudfront": object()})
    assert emulators.probe(cast(Any, ctx), "cloudfront") is usual
