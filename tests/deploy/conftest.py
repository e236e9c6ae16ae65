"""Fixtures for the deploy engine tests: fake credentials, moto, local artifacts (no pip,
no npm, no network), and helpers to count and inject AWS calls."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse
from moto.server import ThreadedMotoServer

from chatbot_deploy import paths
from chatbot_deploy.app_spec import AppConfig
from chatbot_deploy.aws import Aws, connect
from chatbot_deploy.deploy import bucket, distribution, engine, functions, layer, packaging, site
from chatbot_deploy.deploy.calls import CallLog
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.names import StackNames
from chatbot_deploy.stack_settings import Settings

REGION = "eu-central-1"
OPENAI_KEY = "sk-test-key-0123456789"


@pytest.fixture
def aws_env(monkeypatch, tmp_path) -> None:
    """Fake credentials only; never a user's real profile or endpoint."""
    import os

    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(functions, "sleep", lambda _seconds: None)
    monkeypatch.setattr(bucket, "sleep", lambda _seconds: None)
    monkeypatch.setattr(distribution, "WAITER_CONFIG", {"Delay": 0, "MaxAttempts": 20})


_DEPLOYMENTS_PATH = re.compile(r"/v2/apis/(?P<api>[^/]+)/deployments(?:/(?P<id>[^/]+))?")
_STAGES_PATH = re.compile(r"/v2/apis/(?P<api>[^/]+)/stages(?:/(?P<stage>[^/]+))?")


@dataclass
class MotoDeployments:
    """API deployments as AWS has them, for in-process moto, which has none (moto 5.2:
    CreateDeployment, GetDeployment and GetDeployments answer 404 "Not yet implemented", and
    its stages have no DeploymentId). On AWS a WebSocket stage serves the deployment it points
    at, and CreateDeployment with a StageName points that stage at the new one. Answered
    ahead of moto (`before-send`, first), so the call log, failure injections and every other
    hook see these calls as they would any AWS call."""

    deployments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    stages: dict[tuple[str, str], str] = field(default_factory=dict)  # (api, stage): id
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handlers(self) -> list[tuple[Any, ...]]:
        return [
            ("before-send.apigatewayv2", self.answer, botocore.handlers.REGISTER_FIRST),
            ("after-call.apigatewayv2", self.stage_deployment),
        ]

    def answer(self, request: Any, **_: Any) -> AWSResponse | None:
        match = _DEPLOYMENTS_PATH.fullmatch(urlparse(request.url).path)
        if match is None:
            return None
        api_id, deployment_id = match["api"], match["id"]
        with self.lock:
            mine = self.deployments.setdefault(api_id, {})
            if request.method == "POST":
                body = json.loads(request.body or b"{}")
                deployment_id = f"d{len(mine) + 1:07d}"
                item = {
                    "deploymentId": deployment_id,
                    "deploymentStatus": "DEPLOYED",
                    "createdDate": datetime.now(UTC).isoformat(),
                    **({"description": body["description"]} if "description" in body else {}),
                }
                mine[deployment_id] = item
                if body.get("stageName"):
                    self.stages[(api_id, body["stageName"])] = deployment_id
                return _json_response(request, 201, item)
            if deployment_id is None:
                return _json_response(request, 200, {"items": list(mine.values())})
            if deployment_id in mine:
                return _json_response(request, 200, mine[deployment_id])
        return _json_response(
            request, 404, {"message": "Invalid Deployment identifier"}, "NotFoundException"
        )

    def stage_deployment(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        """A stage says which deployment it serves."""
        url = getattr(http_response, "url", None)  # not on a test's own FakeHttp answer
        if model.name not in {"GetStages", "GetStage"} or url is None:
            return
        match = _STAGES_PATH.fullmatch(urlparse(url).path)
        if match is None:
            return
        stages = parsed.get("Items", []) if model.name == "GetStages" else [parsed]
        with self.lock:
            for stage in stages:
                deployment = self.stages.get((match["api"], stage.get("StageName", "")))
                if deployment is not None:
                    stage["DeploymentId"] = deployment


def _json_response(
    request: Any, status: int, body: dict[str, Any], error: str | None = None
) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/json"
    if error is not None:
        headers["x-amzn-ErrorType"] = error
    return AWSResponse(request.url, status, headers, MockRawResponse(json.dumps(body)))


_POLICY_OPERATIONS = {
    "CreateResponseHeadersPolicy",
    "GetResponseHeadersPolicy",
    "ListResponseHeadersPolicies",
    "UpdateResponseHeadersPolicy",
    "DeleteResponseHeadersPolicy",
}


def _ok(status: int = 200, **body: Any) -> tuple[FakeHttp, dict[str, Any]]:
    return FakeHttp(status), {**body, "ResponseMetadata": {"HTTPStatusCode": status}}


@dataclass
class CloudFrontAsAws:
    """CloudFront as AWS has it, where in-process moto 5.2 differs:

    - Response headers policies (moto answers 404): kept here, with ETags, and refused
      while a distribution uses one (409 ResponseHeadersPolicyInUse), as AWS does.
    - A created or updated distribution is `InProgress` for `polls` reads, then `Deployed`
      (moto: Deployed at the first read, and never again InProgress after an update).
    - Deleting an enabled distribution, or one not yet deployed, is refused with 409
      DistributionNotDisabled (moto deletes it).

    Answered in `before-call` after every other hook (the call log and the tests'
    injections see these calls as any other)."""

    polls: int = 2
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)  # distribution: reads left
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handlers(self) -> list[tuple[Any, ...]]:
        return [
            ("before-parameter-build.cloudfront", self.keep_params),
            # on "before-call" itself, last: botocore calls a more specific event's handlers
            # first, and the call log (on "before-call") must see these calls
            ("before-call", self.answer, botocore.handlers.REGISTER_LAST),
            ("after-call.cloudfront", self.progress),
        ]

    @staticmethod
    def _distributions() -> dict[str, Any]:
        from moto.cloudfront.models import cloudfront_backends

        return dict(cloudfront_backends["123456789012"]["global"].distributions)

    @staticmethod
    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """`before-call` sees the serialized request: keep the call's own parameters."""
        context["api_params"] = dict(params)

    def answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        if model.service_model.service_name != "cloudfront":
            return None
        params = context.get("api_params", {})
        with self.lock:
            if model.name in _POLICY_OPERATIONS:
                return self._policy(model.name, params)
            if model.name == "DeleteDistribution":
                dist = self._distributions().get(params["Id"])
                if dist is not None and (
                    dist.distribution_config.Enabled or self.pending.get(params["Id"], 0) > 0
                ):
                    return error_response(
                        "DistributionNotDisabled",
                        "The distribution you are trying to delete has not been disabled.",
                        409,
                    )
        return None

    def progress(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        with self.lock:
            if (
                model.name in {"CreateDistributionWithTags", "CreateDistribution"}
                or model.name == "UpdateDistribution"
            ):
                dist = parsed.get("Distribution") or {}
                if "Id" in dist:
                    self.pending[dist["Id"]] = self.polls
                    dist["Status"] = "InProgress"
            elif model.name == "GetDistribution":
                dist = parsed.get("Distribution") or {}
                self._read(dist)
            elif model.name == "ListDistributions":
                for item in (parsed.get("DistributionList") or {}).get("Items", []) or []:
                    self._read(item)

    def _read(self, dist: dict[str, Any]) -> None:
        left = self.pending.get(dist.get("Id", ""), 0)
        if left > 0:
            dist["Status"] = "InProgress"
            self.pending[dist["Id"]] = left - 1

    def _etag(self, policy_id: str) -> str:
        self.etags[policy_id] = f"E{len(self.etags) + 1:05d}{policy_id[-4:]}"
        return self.etags[policy_id]

    def _policy(self, operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListResponseHeadersPolicies":
            items = [{"Type": "custom", "ResponseHeadersPolicy": p} for p in self.policies.values()]
            return _ok(
                ResponseHeadersPolicyList={
                    "MaxItems": 100,
                    "Quantity": len(items),
                    "Items": items,
                }
            )
        if operation == "CreateResponseHeadersPolicy":
            config = params["ResponseHeadersPolicyConfig"]
            if any(
                p["ResponseHeadersPolicyConfig"]["Name"] == config["Name"]
                for p in self.policies.values()
            ):
                return error_response("ResponseHeadersPolicyAlreadyExists", "exists", 409)
            policy_id = f"rhp-{len(self.policies) + 1:04d}-{config['Name'][:20]}"
            self.policies[policy_id] = {
                "Id": policy_id,
                "LastModifiedTime": datetime.now(UTC),
                "ResponseHeadersPolicyConfig": config,
            }
            return _ok(
                201, ResponseHeadersPolicy=self.policies[policy_id], ETag=self._etag(policy_id)
            )
        policy_id = params["Id"]
        if policy_id not in self.policies:
            return error_response("NoSuchResponseHeadersPolicy", "no such policy", 404)
        if operation == "GetResponseHeadersPolicy":
            return _ok(ResponseHeadersPolicy=self.policies[policy_id], ETag=self.etags[policy_id])
        if params.get("IfMatch") != self.etags[policy_id]:
            return error_response("PreconditionFailed", "ETag does not match", 412)
        if operation == "UpdateResponseHeadersPolicy":
            self.policies[policy_id]["ResponseHeadersPolicyConfig"] = params[
                "ResponseHeadersPolicyConfig"
            ]
            return _ok(ResponseHeadersPolicy=self.policies[policy_id], ETag=self._etag(policy_id))
        in_use = any(
            behaviour.response_headers_policy_id == policy_id
            for dist in self._distributions().values()
            for behaviour in [
                dist.distribution_config.DefaultCacheBehavior,
                *(dist.distribution_config.CacheBehaviors.get("Items") or []),
            ]
        )
        if in_use:
            return error_response("ResponseHeadersPolicyInUse", "in use", 409)
        del self.policies[policy_id]
        return _ok(204)


@dataclass
class Emulated:
    """What the `moto` fixture adds to in-process moto: AWS's behaviour where it differs."""

    deployments: MotoDeployments
    cloudfront: CloudFrontAsAws


@pytest.fixture
def moto(aws_env, monkeypatch) -> Iterator[Emulated]:
    """In-process moto, with API deployments (`MotoDeployments`) and CloudFront as AWS has
    it (`CloudFrontAsAws`) for every session made in the test (the CLI's too)."""
    emulated = Emulated(MotoDeployments(), CloudFrontAsAws())
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [
            *botocore.handlers.BUILTIN_HANDLERS,
            *emulated.deployments.handlers(),
            *emulated.cloudfront.handlers(),
        ],
    )
    with mock_aws():
        yield emulated


class FakeInstaller:
    """Stands in for pip: one pure-Python package, so the real layer build runs offline."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, requirements: Path, target: Path, arch: str) -> None:
        self.calls += 1
        (target / "fakedep").mkdir()
        (target / "fakedep" / "__init__.py").write_text("VERSION = '1.0'\n")
        info = target / "fakedep-1.0.dist-info"
        info.mkdir()
        (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n")


@dataclass
class Workspace:
    """Editable copies of the function code and the built web app."""

    code_dir: Path
    dist: Path
    cache: Path
    installer: FakeInstaller

    def sources(self) -> engine.Sources:
        def code(kind: str) -> functions.Code:
            files = functions.files_for(kind, packaging.function_files(self.code_dir))
            data = packaging.deterministic_zip(files)
            return functions.Code(data, packaging.code_sha256(data))

        return engine.Sources(
            function_code=code,
            build_layer=lambda arch: layer.build_layer(
                arch, cache_dir=self.cache, installer=self.installer
            ),
            layer_hash=layer.layer_hash,
            build_web=lambda: self.dist,
            sync_site=site.sync_site,
        )


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    code_dir = tmp_path / "chatbot_lambda"
    shutil.copytree(
        paths.LAMBDA_PACKAGE_DIR, code_dir, ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        '<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src '
        "'self'; connect-src 'self' https: wss:\"><title>chatbot</title>"
    )
    (dist / "assets" / "index-abc123.js").write_text("console.log('chatbot')")
    (dist / "assets" / "index-def456.css").write_text("body{}")
    return Workspace(code_dir, dist, tmp_path / "layer-cache", FakeInstaller())


@dataclass
class Deployer:
    """A connected session with a call log, and shortcuts to run `up` and `teardown`."""

    aws: Aws
    log: CallLog
    workspace: Workspace
    stack: str = "chatbot"

    def context(self, config: AppConfig | None = None, **kwargs: Any) -> DeployContext:
        """A context whose settings are the defaults, with `config`'s app settings and
        `kwargs` (arch=..., log_retention_days=...) applied."""
        config = config or AppConfig()
        settings = Settings(
            models=config.models,
            openai_base_url=config.openai_base_url,
            system_prompt=config.system_prompt,
            **kwargs,
        )
        return DeployContext.create(self.aws, StackNames(self.stack), settings)

    def up(
        self,
        key: str | None = OPENAI_KEY,
        config: AppConfig | None = None,
        *,
        max_workers: int = 16,
        **kwargs: Any,
    ) -> engine.DeployResult:
        job = engine.Job(self.context(config, **kwargs), self.workspace.sources(), key)
        return engine.up(job, max_workers=max_workers)

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def on(self, event: str, handler: Handler) -> None:
        """Hook `handler` into the clients made so far (each has its own copy of the
        session's event hooks) and into those made later."""
        self.aws.session.events.register(event, handler)
        for client in self.aws._clients.values():
            client.meta.events.register(event, handler)


@pytest.fixture
def deployer(moto, workspace) -> Deployer:
    aws = connect(None, None)
    log = CallLog().attach(aws.session)
    return Deployer(aws, log, workspace)


Handler = Callable[..., Any]


class FakeHttp:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.raw = None


def error_response(code: str, message: str, status: int = 400) -> tuple[FakeHttp, dict[str, Any]]:
    """What a `before-call` handler returns to make botocore raise ClientError(code)."""
    return FakeHttp(status), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


@pytest.fixture
def server(aws_env):
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto_server.stop()


@pytest.fixture
def app(moto, workspace, monkeypatch):
    """The CLI (`cli.main`) with offline artifacts (fake pip installer, prebuilt web app)."""
    monkeypatch.setattr(engine, "default_sources", workspace.sources)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    return workspace
