"""Calls some AWS emulators lack, answered another way: the one place for such workarounds.

moto 5.2 has no GetAuthorizers. In-process moto raises `NotImplementedError` (a Python
exception no real AWS answer can produce); moto's server answers HTTP 500 "... has not been
implemented". The fallback is taken only for those, and the 500 only when the endpoint is
not AWS's own: against AWS every error is raised as it is (with the usual retries), so an
emulator's gap is never taken for a real AWS error, nor the reverse.

moto 5.2 has no deployments either (CreateDeployment, GetDeployment(s)): its server answers
a plain 404 with no AWS error code, its stages serve the API as it is. Against such an
emulator there is nothing to deploy (`lacks_deployments`).

moto 5.2's server answers CloudFront's response headers policy calls with a 500 or a bare
404: the distribution then goes without one (`headers_policy.py`). Every such first call
goes through `probe`, which tries once against an emulator.

(moto also lacks UpdateStage; nothing here answers it: the tests do, see
tests/deploy/test_pitfalls.py. In-process moto's own answers come from an AWS endpoint, so
none of this applies there: tests/deploy/conftest.py gives it deployments.)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import botocore.exceptions

from chatbot_deploy.deploy.context import DeployContext

AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def is_emulator(client: Any) -> bool:
    """True when the client talks to something other than AWS (AWS_ENDPOINT_URL)."""
    host = urlparse(str(client.meta.endpoint_url)).hostname or ""
    return not host.endswith(AWS_HOST_SUFFIXES)


def probe(ctx: DeployContext, service: str) -> Any:
    """The client for a call an emulator may lack: against an emulator, one that tries once
    (moto's server answers a missing call with a 500, which botocore would retry for ~20 s);
    against AWS, the usual one with its retries."""
    client = ctx.client(service)
    return ctx.single_try.get(service, client) if is_emulator(client) else client


def _unimplemented(exc: botocore.exceptions.ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # A 404 whose code is the bare status: no AWS error body (an unknown URL), never what
    # AWS answers for a missing resource (NotFoundException).
    bare_404 = status == 404 and exc.response.get("Error", {}).get("Code") == "404"
    return status == 500 or bare_404 or "not been implemented" in str(exc)


def get_authorizers(ctx: DeployContext, api_id: str) -> list[dict[str, Any]]:
    """The API's authorizers. Where the emulator lacks GetAuthorizers, they are found
    through the routes that use them (enough for ours: it is attached to a route as soon as
    it exists, and a run killed in between makes a new one the next run finds by name)."""
    client = ctx.client("apigatewayv2")
    try:
        return list(probe(ctx, "apigatewayv2").get_authorizers(ApiId=api_id)["Items"])
    except (NotImplementedError, botocore.exceptions.ClientError) as exc:
        if not lacks_call(client, exc):
            raise
    ids = {
        route["AuthorizerId"]
        for route in client.get_routes(ApiId=api_id)["Items"]
        if route.get("AuthorizerId")
    }
    return [client.get_authorizer(ApiId=api_id, AuthorizerId=i) for i in ids]


def lacks_deployments(ctx: DeployContext, api_id: str) -> bool:
    """True when the endpoint is an emulator without API deployments (moto 5.2): its stages
    serve the API as it is, so there is nothing to deploy. Against AWS: False, with no call."""
    client = ctx.client("apigatewayv2")
    if not is_emulator(client):
        return False
    try:
        probe(ctx, "apigatewayv2").get_deployments(ApiId=api_id)
    except (NotImplementedError, botocore.exceptions.ClientError) as exc:
        if lacks_call(client, exc):
            return True
        raise
    return False


def lacks_call(client: Any, exc: BaseException) -> bool:
    """True when `exc` is an emulator saying it does not implement the call: in-process
    moto's `NotImplementedError`, or, from an endpoint that is not AWS's, a 500 or a bare
    404 (moto 5.2's server answers CloudFront's response headers policy calls so)."""
    if isinstance(exc, NotImplementedError):
        return True
    return (
        isinstance(exc, botocore.exceptions.ClientError)
        and is_emulator(client)
        and _unimplemented(exc)
    )
