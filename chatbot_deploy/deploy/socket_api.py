"""The WebSocket API (streamed answers, docs/api.md "WebSocket"): its routes to the functions
of `app_spec.SOCKET_ROUTES`, the REQUEST authorizer on `$connect`, and the throttled stage.

Found by its tag and protocol (API names are not unique); its parts as the HTTP API's are
(`api.ApiParts`). Unlike an HTTP API's, a WebSocket stage cannot deploy itself (`AutoDeploy`
is for HTTP APIs only): what it serves is the deployment it points at, made by
`CreateDeployment`. Each deployment's description is a digest of the configuration it was
made from, so `up` deploys exactly when the routes, integrations or authorizer differ from
what the stage serves, also when a run was killed between changing them and deploying: a
no-op `up` makes no write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code
from chatbot_deploy.deploy import api, emulators
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit

PROTOCOL = "WEBSOCKET"
STAGE = app_spec.SOCKET_STAGE
CONNECT_ROUTE = "$connect"  # the only route a WebSocket API authorizes (AWS's rule)
INTEGRATION_TIMEOUT_MS = app_spec.SOCKET_INTEGRATION_TIMEOUT_S * 1000
DEPLOYMENT_PREFIX = "chatbot-deploy configuration "


@dataclass(frozen=True)
class SocketInfo:
    api_id: str
    url: str  # wss://…/live: what the web app connects to
    authorizer_id: str


def socket_url(ctx: DeployContext, api_id: str) -> str:
    return f"wss://{api_id}.execute-api.{ctx.region}.{ctx.dns_suffix}/{STAGE}"


def socket_functions() -> list[str]:
    """The functions the WebSocket routes invoke."""
    targets = {route.function for route in app_spec.SOCKET_ROUTES}
    return [kind for kind in app_spec.FUNCTIONS if kind in targets]


def integration_settings(ctx: DeployContext, function_arn: str) -> dict[str, Any]:
    # A WebSocket Lambda proxy integration names the function by its invocation URI (an
    # HTTP API's takes the ARN); its payload format is 1.0, the only one (not settable).
    return {
        "IntegrationType": "AWS_PROXY",
        "IntegrationMethod": "POST",
        "IntegrationUri": api.invocation_uri(ctx, function_arn),
        "TimeoutInMillis": INTEGRATION_TIMEOUT_MS,
    }


def authorizer_settings(ctx: DeployContext, function_arn: str) -> dict[str, Any]:
    # No payload format, simple responses or result cache: those are HTTP API settings (a
    # WebSocket authorizer answers with an IAM policy).
    return {
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": api.invocation_uri(ctx, function_arn),
        "IdentitySource": [app_spec.SOCKET_AUTHORIZER_IDENTITY_SOURCE],
    }


def route_settings(integrations: Mapping[str, str], authorizer_id: str) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for route in app_spec.SOCKET_ROUTES:
        desired: dict[str, Any] = {"Target": f"integrations/{integrations[route.function]}"}
        if route.key == CONNECT_ROUTE:
            desired |= {"AuthorizationType": "CUSTOM", "AuthorizerId": authorizer_id}
        else:
            desired["AuthorizationType"] = "NONE"
        wanted[route.key] = desired
    return wanted


def stage_settings() -> dict[str, Any]:
    return {"DefaultRouteSettings": api.throttle_settings(app_spec.SOCKET_THROTTLE)}


def _same_stage(current: dict[str, Any]) -> bool:
    """The stage's throttling is what we set (AWS adds logging fields of its own)."""
    default = current.get("DefaultRouteSettings") or {}
    wanted = stage_settings()["DefaultRouteSettings"]
    return all(default.get(key) == value for key, value in wanted.items())


def deployment_description(configuration: Mapping[str, Any]) -> str:
    """What the deployment of `configuration` is described as: a digest of it."""
    text = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    return DEPLOYMENT_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


def _deployed_description(ctx: DeployContext, api_id: str, stage: Mapping[str, Any]) -> str | None:
    deployment_id = stage.get("DeploymentId")
    if not deployment_id:
        return None
    try:
        deployment = ctx.client("apigatewayv2").get_deployment(
            ApiId=api_id, DeploymentId=deployment_id
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise
    return str(deployment.get("Description") or "")


def ensure_socket_api(ctx: DeployContext, function_arns: Mapping[str, str]) -> Outcome:
    client = ctx.client("apigatewayv2")
    apis = api.find_apis(ctx, PROTOCOL)
    changes: list[str] = []
    if apis:
        found = api.most_complete(ctx, apis)
        if found.get("RouteSelectionExpression") != app_spec.SOCKET_ROUTE_SELECTION:
            client.update_api(
                ApiId=found["ApiId"], RouteSelectionExpression=app_spec.SOCKET_ROUTE_SELECTION
            )
            changes.append("route selection updated")
    else:
        found = client.create_api(
            Name=ctx.names.socket_api_name,
            ProtocolType=PROTOCOL,
            RouteSelectionExpression=app_spec.SOCKET_ROUTE_SELECTION,
            Description=f"chatbot-deploy stack {ctx.names.stack}: streamed answers",
            Tags=ctx.names.tags,
        )
        changes.append("created")
    api_id = str(found["ApiId"])
    parts = api.ApiParts(ctx, api_id)
    wanted_integrations = {
        kind: integration_settings(ctx, function_arns[kind]) for kind in socket_functions()
    }
    integrations = {
        kind: parts.integration(desired) for kind, desired in wanted_integrations.items()
    }
    wanted_authorizer = authorizer_settings(ctx, function_arns[app_spec.AUTHORIZER_FUNCTION])
    authorizer_id = parts.authorizer(ctx.names.authorizer_name, wanted_authorizer)
    wanted_routes = route_settings(integrations, authorizer_id)
    parts.routes(wanted_routes)
    parts.unused_integrations(set(integrations.values()))
    stage = parts.stage(STAGE, stage_settings(), _same_stage)
    changes.extend(parts.changes)
    # What a deployment snapshots: the routes, their integrations and the authorizer.
    description = deployment_description(
        {
            "route_selection": app_spec.SOCKET_ROUTE_SELECTION,
            "routes": wanted_routes,
            "integrations": {integrations[k]: v for k, v in wanted_integrations.items()},
            "authorizer": {authorizer_id: wanted_authorizer},
        }
    )
    if _deployed_description(ctx, api_id, stage) != description and not (
        emulators.lacks_deployments(ctx, api_id)
    ):
        client.create_deployment(ApiId=api_id, StageName=STAGE, Description=description)
        changes.append("deployed")
    info = SocketInfo(api_id=api_id, url=socket_url(ctx, api_id), authorizer_id=authorizer_id)
    return api.outcome(changes, info)


class SocketApi(Unit):
    """The stack's one WebSocket API. Found by tag and protocol; should a race or a crash
    ever have left a second one, `up` keeps the one with the most routes (then the oldest)
    and removes the others."""

    kind = "socket-api"
    title = "WebSocket API"
    after = ("function",)

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.socket_api_name

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        kinds = {*socket_functions(), app_spec.AUTHORIZER_FUNCTION}
        return ensure_socket_api(job.ctx, {kind: inputs[f"function:{kind}"] for kind in kinds})

    def find(self, ctx: DeployContext) -> list[Found]:
        return [
            Found(
                self.kind,
                ctx.names.socket_api_name,
                str(item["ApiId"]),
                socket_url(ctx, item["ApiId"]),
            )
            for item in api.find_apis(ctx, PROTOCOL)
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return api.delete_api(ctx, found.key)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        info: SocketInfo = outputs[self.kind]
        return {info.api_id}
