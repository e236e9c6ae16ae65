"""The emulator workaround is taken only for an emulator: against AWS's own endpoint every
error is raised as it is."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import botocore.exceptions
import pytest

from chatbot_deploy.deploy import emulators


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
