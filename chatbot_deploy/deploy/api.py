"""The HTTP API: routes to the functions, the JWT authorizer, CORS and the `$default` stage;
and `ApiParts`, which reconciles the parts of any API (the WebSocket API's too).

API names are not unique, so the stack's API is found by its tag (and protocol). Integrations
are found by their function ARN, the authorizer by name and routes by route key, so a run
that was killed half way is finished without duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatbot_deploy import app_spec
from chatbot_deploy.aws import succeeded
from chatbot_deploy.deploy import emulators
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit, differs
from chatbot_deploy.names import TAG_KEY

STAGE = "$default"
CORS_MAX_AGE_S = 600


def throttle_settings(throttle: app_spec.Throttle) -> dict[str, Any]:
    """A route's token bucket as API Gateway's stage settings name it."""
    return {"ThrottlingBurstLimit": throttle.burst, "ThrottlingRateLimit": throttle.rate}


THROTTLING = throttle_settings(app_spec.DEFAULT_THROTTLE)  # the stage's default


@dataclass(frozen=True)
class ApiInfo:
    api_id: str
    url: str
    authorizer_id: str


def find_apis(ctx: DeployContext, protocol: str = "HTTP") -> list[dict[str, Any]]:
    """Every API of `protocol` (HTTP or WEBSOCKET) tagged for this stack, oldest first
    (normally exactly one)."""
    paginator = ctx.client("apigatewayv2").get_paginator("get_apis")
    found = [
        dict(api)
        for page in paginator.paginate()
        for api in page["Items"]
        if (api.get("Tags") or {}).get(TAG_KEY) == ctx.names.stack
        and api.get("ProtocolType") == protocol
    ]
    return sorted(found, key=lambda api: (api.get("CreatedDate") or 0, api["ApiId"]))


def cors(ctx: DeployContext) -> dict[str, Any] | None:
    """None with the CDN: the web app calls the API on its own origin, so no other origin
    may (no CORS at all); with `--no-cdn`, the S3 website's origin only."""
    if ctx.settings.cdn:
        return None
    return {
        "AllowOrigins": [ctx.website_url],
        "AllowMethods": app_spec.cors_methods(),
        "AllowHeaders": ["authorization", "content-type"],
        # the web app says when a locked login may be tried again (POST /login's 429)
        "ExposeHeaders": ["retry-after"],
        "MaxAge": CORS_MAX_AGE_S,
    }


def _same_cors(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    if not current:
        return False

    def norm(config: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: sorted(v.lower() for v in value) if isinstance(value, list) else value
            for key, value in config.items()
            if key in desired
        }

    return norm(current) == norm(desired)


def invocation_uri(ctx: DeployContext, function_arn: str) -> str:
    """How API Gateway names a function it invokes (an authorizer's, a WebSocket
    integration's URI)."""
    return (
        f"arn:{ctx.partition}:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/"
        f"{function_arn}/invocations"
    )


def _authorizer_settings(ctx: DeployContext, function_arn: str) -> dict[str, Any]:
    return {
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": invocation_uri(ctx, function_arn),
        "AuthorizerPayloadFormatVersion": "2.0",
        "EnableSimpleResponses": True,
        "IdentitySource": [app_spec.AUTHORIZER_IDENTITY_SOURCE],
        "AuthorizerResultTtlInSeconds": app_spec.AUTHORIZER_CACHE_TTL_S,
    }


def _integration_settings(function_arn: str) -> dict[str, Any]:
    return {
        "IntegrationType": "AWS_PROXY",
        "IntegrationMethod": "POST",
        "IntegrationUri": function_arn,
        "PayloadFormatVersion": "2.0",
        "TimeoutInMillis": app_spec.API_TIMEOUT_S * 1000,
    }


class ApiParts:
    """Reconciles one API's parts (HTTP or WebSocket) with what the caller wants, collecting
    what it changed: each part is read first and written only where it differs."""

    def __init__(self, ctx: DeployContext, api_id: str) -> None:
        self.ctx = ctx
        self.api_id = api_id
        self.client = ctx.client("apigatewayv2")
        self.changes: list[str] = []

    def integration(self, desired: Mapping[str, Any]) -> str:
        """The integration whose IntegrationUri is the desired one (a function's)."""
        items = self.client.get_integrations(ApiId=self.api_id)["Items"]
        for item in items:
            if item.get("IntegrationUri") == desired["IntegrationUri"]:
                if differs(item, desired):
                    self.client.update_integration(
                        ApiId=self.api_id, IntegrationId=item["IntegrationId"], **desired
                    )
                    self.changes.append("integration updated")
                return str(item["IntegrationId"])
        created = self.client.create_integration(ApiId=self.api_id, **desired)
        self.changes.append("integration created")
        return str(created["IntegrationId"])

    def authorizer(self, name: str, desired: Mapping[str, Any]) -> str:
        for item in emulators.get_authorizers(self.ctx, self.api_id):
            if item.get("Name") == name:
                if differs(item, desired):
                    self.client.update_authorizer(
                        ApiId=self.api_id, AuthorizerId=item["AuthorizerId"], **desired
                    )
                    self.changes.append("authorizer updated")
                return str(item["AuthorizerId"])
        created = self.client.create_authorizer(ApiId=self.api_id, Name=name, **desired)
        self.changes.append("authorizer created")
        return str(created["AuthorizerId"])

    def routes(self, wanted: Mapping[str, Mapping[str, Any]]) -> None:
        """Exactly the routes of `wanted` (route key: its settings)."""
        existing = {r["RouteKey"]: r for r in self.client.get_routes(ApiId=self.api_id)["Items"]}
        for key, current in existing.items():
            if key not in wanted:  # dropped from the spec
                self.client.delete_route(ApiId=self.api_id, RouteId=current["RouteId"])
                self.changes.append(f"route {key} removed")
        for key, desired in wanted.items():
            current = existing.get(key)
            if current is None:
                self.client.create_route(ApiId=self.api_id, RouteKey=key, **desired)
                self.changes.append(f"route {key} created")
            elif differs(current, desired):
                self.client.update_route(ApiId=self.api_id, RouteId=current["RouteId"], **desired)
                self.changes.append(f"route {key} updated")

    def unused_integrations(self, kept: set[str]) -> None:
        """Remove integrations no route uses (a route or function dropped from the spec);
        after the routes, which must no longer point at them."""
        for item in self.client.get_integrations(ApiId=self.api_id)["Items"]:
            if item["IntegrationId"] not in kept:
                self.client.delete_integration(
                    ApiId=self.api_id, IntegrationId=item["IntegrationId"]
                )
                self.changes.append("integration removed")

    def stage(
        self, name: str, desired: dict[str, Any], same: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The stage `name` with the `desired` settings (`same` says whether the current
        ones are); its current description (after any change)."""
        stages = {s["StageName"]: s for s in self.client.get_stages(ApiId=self.api_id)["Items"]}
        current = stages.get(name)
        if current is None:
            created = self.client.create_stage(
                ApiId=self.api_id, StageName=name, Tags=self.ctx.names.tags, **desired
            )
            self.changes.append("stage created")
            return dict(created)
        if not same(current):
            updated = self.client.update_stage(ApiId=self.api_id, StageName=name, **desired)
            self.changes.append("stage updated")
            return {**current, **updated}
        return dict(current)


def route_throttling() -> dict[str, dict[str, Any]]:
    """Each route's own token bucket, from the route table."""
    return {route.route_key: throttle_settings(route.throttle) for route in app_spec.ROUTES}


def _same_throttling(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """The stage's limits are at least what we set (AWS adds fields of its own)."""
    default = current.get("DefaultRouteSettings") or {}
    routes = current.get("RouteSettings") or {}
    return all(default.get(key) == value for key, value in THROTTLING.items()) and all(
        (routes.get(route) or {}).get(key) == value
        for route, settings in desired["RouteSettings"].items()
        for key, value in settings.items()
    )


def _http_stage() -> dict[str, Any]:
    return {
        "AutoDeploy": True,
        "DefaultRouteSettings": THROTTLING,
        "RouteSettings": route_throttling(),
    }


def _same_http_stage(current: dict[str, Any]) -> bool:
    return current.get("AutoDeploy") is True and _same_throttling(current, _http_stage())


def _route_settings(integrations: Mapping[str, str], authorizer_id: str) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for route in app_spec.ROUTES:
        desired: dict[str, Any] = {
            "Target": f"integrations/{integrations[route.function]}",
            "AuthorizationType": "CUSTOM" if route.authorized else "NONE",
        }
        if route.authorized:
            desired["AuthorizerId"] = authorizer_id
        wanted[route.route_key] = desired
    return wanted


def most_complete(ctx: DeployContext, apis: list[dict[str, Any]]) -> dict[str, Any]:
    """The API to keep when there is more than one (left by a race or a crash of an older
    version): the one with the most routes, then the oldest; the sweep removes the others."""
    if len(apis) == 1:
        return apis[0]
    client = ctx.client("apigatewayv2")
    routes = {api["ApiId"]: len(client.get_routes(ApiId=api["ApiId"])["Items"]) for api in apis}
    return min(apis, key=lambda api: (-routes[api["ApiId"]], apis.index(api)))


def ensure_api(ctx: DeployContext, function_arns: Mapping[str, str]) -> Outcome:
    client = ctx.client("apigatewayv2")
    apis = find_apis(ctx)
    changes: list[str] = []
    allowed = cors(ctx)
    if apis:
        api = most_complete(ctx, apis)
        current = api.get("CorsConfiguration")
        if allowed is None and current:
            client.delete_cors_configuration(ApiId=api["ApiId"])
            changes.append("CORS closed")
        elif allowed is not None and not _same_cors(current, allowed):
            client.update_api(ApiId=api["ApiId"], CorsConfiguration=allowed)
            changes.append("CORS updated")
    else:
        api = client.create_api(
            Name=ctx.names.api_name,
            ProtocolType="HTTP",
            Description=f"chatbot-deploy stack {ctx.names.stack}",
            **({} if allowed is None else {"CorsConfiguration": allowed}),
            Tags=ctx.names.tags,
        )
        changes.append("created")
    parts = ApiParts(ctx, api["ApiId"])
    integrations = {
        kind: parts.integration(_integration_settings(function_arns[kind]))
        for kind in sorted({route.function for route in app_spec.ROUTES})
    }
    authorizer_id = parts.authorizer(
        ctx.names.authorizer_name,
        _authorizer_settings(ctx, function_arns[app_spec.AUTHORIZER_FUNCTION]),
    )
    parts.routes(_route_settings(integrations, authorizer_id))
    parts.unused_integrations(set(integrations.values()))
    parts.stage(STAGE, _http_stage(), _same_http_stage)
    changes.extend(parts.changes)
    info = ApiInfo(api_id=api["ApiId"], url=str(api["ApiEndpoint"]), authorizer_id=authorizer_id)
    return outcome(changes, info)


def outcome(changes: list[str], value: Any) -> Outcome:
    """An API's outcome from what changed: "created", "unchanged" or the first changes."""
    if not changes:
        return Outcome("unchanged", value)
    if "created" in changes:
        return Outcome("created", value, True)
    summary = ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if changes[3:] else "")
    return Outcome(summary, value, True)


def delete_api(ctx: DeployContext, api_id: str) -> bool:
    return succeeded(
        lambda: ctx.client("apigatewayv2").delete_api(ApiId=api_id), unless="NotFoundException"
    )


class HttpApi(Unit):
    """The stack's one HTTP API. Found by tag (names are not unique); should a race or a
    crash ever have left a second one, `up` keeps the one with the most routes (then the
    oldest) and removes the others."""

    kind = "api"
    title = "HTTP API"
    after = ("function",)

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.api_name

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        arns = {kind: inputs[f"function:{kind}"] for kind in app_spec.FUNCTION_KINDS}
        return ensure_api(job.ctx, arns)

    def find(self, ctx: DeployContext) -> list[Found]:
        return [
            Found("api", ctx.names.api_name, str(item["ApiId"]), str(item["ApiEndpoint"]))
            for item in find_apis(ctx)
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_api(ctx, found.key)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        info: ApiInfo = outputs[self.kind]
        return {info.api_id}
