"""The full cycle against moto: up, up again (no writes), a change, teardown."""

from __future__ import annotations

import ast
import json
import re

import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.app_spec import FUNCTION_KINDS, AppConfig
from chatbot_deploy.deploy import api, functions, iam, inventory, permissions
from chatbot_deploy.deploy import teardown as teardown_engine
from chatbot_deploy.names import TAG_KEY
from chatbot_lambda import settings
from tests.deploy.conftest import OPENAI_KEY, REGION


def _all_tagged(deployer) -> list[str]:
    """Every resource tagged for the stack, across the services we use."""
    found = []
    lam = deployer.client("lambda")
    for fn in lam.list_functions()["Functions"]:
        tags = lam.list_tags(Resource=fn["FunctionArn"]).get("Tags", {})
        if tags.get(TAG_KEY) == deployer.stack:
            found.append(fn["FunctionName"])
    iam_client = deployer.client("iam")
    for role in iam_client.list_roles()["Roles"]:
        tags = iam_client.list_role_tags(RoleName=role["RoleName"])["Tags"]
        if {"Key": TAG_KEY, "Value": deployer.stack} in tags:
            found.append(role["RoleName"])
    for item in deployer.client("apigatewayv2").get_apis()["Items"]:
        if (item.get("Tags") or {}).get(TAG_KEY) == deployer.stack:
            found.append(item["ApiId"])
    found += [t for t in deployer.client("dynamodb").list_tables()["TableNames"]]
    found += [b["Name"] for b in deployer.client("s3").list_buckets()["Buckets"]]
    found += [p["Name"] for p in deployer.client("ssm").describe_parameters()["Parameters"]]
    found += [g["logGroupName"] for g in deployer.client("logs").describe_log_groups()["logGroups"]]
    found += [layer["LayerName"] for layer in lam.list_layers()["Layers"]]
    return found


def test_fresh_up_creates_everything_as_specified(deployer):
    """The S3 website stack (`--no-cdn`); the CDN's resources: test_cdn.py."""
    result = deployer.up(cdn=False)
    ctx = deployer.context(cdn=False)
    names = ctx.names
    assert result.website_url == f"http://{ctx.bucket}.s3-website.{REGION}.amazonaws.com"
    assert result.api_url.startswith("https://")
    [socket] = api.find_apis(ctx, "WEBSOCKET")
    assert result.socket_url == f"wss://{socket['ApiId']}.execute-api.{REGION}.amazonaws.com/live"

    lam = deployer.client("lambda")
    layer_arn = lam.list_layer_versions(LayerName=names.layer)["LayerVersions"][0][
        "LayerVersionArn"
    ]
    http_targets = {route.function for route in app_spec.ROUTES} | {"authorizer"}
    for kind, spec in app_spec.FUNCTIONS.items():
        config = lam.get_function(FunctionName=names.function(kind))["Configuration"]
        assert config["Handler"] == spec.handler
        assert config["Runtime"] == "python3.12"
        assert config["MemorySize"] == spec.memory_mb
        assert config["Timeout"] == spec.timeout_s
        if kind in http_targets:  # an HTTP API waits 30 s at most; a WebSocket's function runs on
            assert spec.timeout_s <= app_spec.API_TIMEOUT_S
        assert config["Architectures"] == ["arm64"]
        assert config["Role"] == ctx.role_arn(kind)
        assert [layer["Arn"] for layer in config["Layers"]] == [layer_arn]
        assert config["Environment"]["Variables"] == app_spec.function_environment(
            kind, names, AppConfig()
        )
        tags = lam.list_tags(Resource=config["FunctionArn"])["Tags"]
        assert tags[TAG_KEY] == "chatbot"

    # Roles: least privilege, no wildcard action, no managed policy.
    iam_client = deployer.client("iam")
    for kind in FUNCTION_KINDS:
        role = names.role(kind)
        assert iam_client.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        doc = iam_client.get_role_policy(RoleName=role, PolicyName=iam.POLICY_NAME)[
            "PolicyDocument"
        ]
        actions = [a for s in doc["Statement"] for a in s["Action"]]
        assert not any("*" in action for action in actions)
        resources = [r for s in doc["Statement"] for r in s["Resource"]]
        assert all(r.startswith("arn:aws:") and r != "*" for r in resources)
        # login reads hashes, counts failures and re-hashes at the current cost (the hash
        # attribute only); chat reads when a user's sessions start (never the hash); the
        # conversation functions also query their table's index.
        dynamo = {s["Sid"]: s for s in doc["Statement"] if s["Action"][0].startswith("dynamodb:")}
        own_conversations = {"OwnConversations", "OwnConversationsIndexes"}
        assert (
            set(dynamo)
            == {
                "login": {"ReadUsers", "CountFailedLogins", "UpgradePasswordHashes"},
                "chat": {"ReadSessionStart", "ReadSignedOutTokens"},
                "conversations": {"ReadSessionStart", "ReadSignedOutTokens", *own_conversations},
                "stream": {"ReadSessionStart", "ReadSignedOutTokens", *own_conversations},
                "logout": {"SignOutOneSession", "SignOutEverywhere"},
                "authorizer": set(),
            }[kind]
        )
        grants = iam_client.list_role_policies(RoleName=role)["PolicyNames"]
        manages = app_spec.FUNCTIONS[kind].manages_connections
        assert grants == (
            [iam.POLICY_NAME, iam.CONNECTIONS_POLICY_NAME] if manages else [iam.POLICY_NAME]
        )
        if kind == "login":
            assert dynamo["UpgradePasswordHashes"]["Action"] == ["dynamodb:UpdateItem"]
            assert dynamo["UpgradePasswordHashes"]["Condition"] == {
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["username", "password_hash"]},
                "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
            }
            assert dynamo["CountFailedLogins"]["Resource"] == [
                ctx.arn("dynamodb", "table/chatbot-login-attempts")
            ]
    chat_doc = iam_client.get_role_policy(RoleName=names.role("chat"), PolicyName="chatbot-deploy")
    chat_resources = [r for s in chat_doc["PolicyDocument"]["Statement"] for r in s["Resource"]]
    assert any(
        r.endswith("parameter/chatbot-deploy/chatbot/openai-api-key") for r in chat_resources
    )
    assert not any("jwt-secret" in r for r in chat_resources)

    # Log groups exist with retention.
    logs_client = deployer.client("logs")
    for kind in FUNCTION_KINDS:
        [group] = logs_client.describe_log_groups(logGroupNamePrefix=names.log_group(kind))[
            "logGroups"
        ]
        assert group["retentionInDays"] == 30

    # Parameters: SecureString, the key as given, a 256-bit secret.
    ssm = deployer.client("ssm")
    key = ssm.get_parameter(Name=names.openai_key_param, WithDecryption=True)["Parameter"]
    assert key["Type"] == "SecureString" and key["Value"] == OPENAI_KEY
    secret = ssm.get_parameter(Name=names.jwt_secret_param, WithDecryption=True)["Parameter"]
    assert secret["Type"] == "SecureString" and len(secret["Value"]) >= 43

    # Tables.
    dynamodb = deployer.client("dynamodb")
    table = dynamodb.describe_table(TableName=names.users_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "username", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    table_spec = app_spec.TABLES["conversations"]
    table = dynamodb.describe_table(TableName=names.table("conversations"))["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": table_spec.hash_key, "KeyType": "HASH"},
        {"AttributeName": table_spec.range_key, "KeyType": "RANGE"},
    ]
    [index] = table["LocalSecondaryIndexes"]
    assert index["IndexName"] == table_spec.local_indexes[0].name
    assert index["KeySchema"][1] == {
        "AttributeName": table_spec.local_indexes[0].range_key,
        "KeyType": "RANGE",
    }
    ttl = dynamodb.describe_time_to_live(TableName=names.table("conversations"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == table_spec.ttl_attribute

    # API: routes, authorizer, stage, CORS, permissions scoped to the API.
    [found] = api.find_apis(ctx)
    assert found["CorsConfiguration"]["AllowOrigins"] == [result.website_url]
    assert sorted(found["CorsConfiguration"]["AllowMethods"]) == ["DELETE", "GET", "PATCH", "POST"]
    assert found["CorsConfiguration"]["ExposeHeaders"] == ["retry-after"]  # the login lock
    gw = deployer.client("apigatewayv2")
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=found["ApiId"])["Items"]}
    assert set(routes) == {route.route_key for route in app_spec.ROUTES}
    assert routes["POST /login"]["AuthorizationType"] == "NONE"
    assert routes["POST /chat"]["AuthorizationType"] == "CUSTOM"
    # path templates and the methods of the conversation routes
    for key in (
        "GET /conversations/{id}",
        "PATCH /conversations/{id}",
        "DELETE /conversations/{id}",
    ):
        assert routes[key]["AuthorizationType"] == "CUSTOM"
        assert routes[key]["AuthorizerId"] == routes["POST /chat"]["AuthorizerId"]
    authorizer = gw.get_authorizer(
        ApiId=found["ApiId"], AuthorizerId=routes["POST /chat"]["AuthorizerId"]
    )
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["EnableSimpleResponses"] is True
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["IdentitySource"] == [app_spec.AUTHORIZER_IDENTITY_SOURCE]
    assert authorizer["AuthorizerResultTtlInSeconds"] == app_spec.AUTHORIZER_CACHE_TTL_S
    integrations = {
        i["IntegrationId"]: i for i in gw.get_integrations(ApiId=found["ApiId"])["Items"]
    }
    chat_integration = integrations[routes["POST /chat"]["Target"].split("/")[1]]
    assert chat_integration["IntegrationUri"] == ctx.function_arn("chat")
    assert chat_integration["PayloadFormatVersion"] == "2.0"
    for route in app_spec.ROUTES:
        target = integrations[routes[route.route_key]["Target"].split("/")[1]]
        assert target["IntegrationUri"] == ctx.function_arn(route.function)
    [stage] = gw.get_stages(ApiId=found["ApiId"])["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert set(stage["RouteSettings"]) == {route.route_key for route in app_spec.ROUTES}
    account = ctx.account
    expected_sources = {
        "login": f"arn:aws:execute-api:{REGION}:{account}:{found['ApiId']}/*",
        "chat": f"arn:aws:execute-api:{REGION}:{account}:{found['ApiId']}/*",
        "conversations": f"arn:aws:execute-api:{REGION}:{account}:{found['ApiId']}/*",
        "authorizer": f"arn:aws:execute-api:{REGION}:{account}:{found['ApiId']}/authorizers/"
        f"{authorizer['AuthorizerId']}",
    }
    for kind, source in expected_sources.items():
        [statement] = [
            s for s in permissions.statements(ctx, kind) if s["Sid"] == permissions.STATEMENT_ID
        ]
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == source

    # Bucket: website, public read of objects only, partition-correct ARN, files synced.
    s3 = deployer.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=ctx.bucket)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == f"arn:aws:s3:::{ctx.bucket}/*"
    assert s3.get_bucket_website(Bucket=ctx.bucket)["IndexDocument"]["Suffix"] == "index.html"
    block = s3.get_public_access_block(Bucket=ctx.bucket)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] and block["IgnorePublicAcls"]
    assert not block["BlockPublicPolicy"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=ctx.bucket)["Contents"]}
    assert keys == {
        "index.html",
        "config.json",
        "assets/index-abc123.js",
        "assets/index-def456.css",
    }
    config = json.loads(s3.get_object(Bucket=ctx.bucket, Key="config.json")["Body"].read())
    assert config == {
        "apiUrl": result.api_url.rstrip("/"),
        "socketUrl": result.socket_url,
        "stack": "chatbot",
        "models": ["gpt-4o-mini"],
    }


def test_second_up_makes_no_write_call(deployer):
    first = deployer.up()
    deployer.log.clear()
    second = deployer.up(key=None)  # key kept from the first run
    assert deployer.log.writes == []
    assert second.changed == []
    assert second.api_url == first.api_url
    assert second.socket_url == first.socket_url
    # The same key given again is not rewritten either.
    deployer.log.clear()
    deployer.up(key=OPENAI_KEY)
    assert deployer.log.writes == []
    assert deployer.workspace.installer.calls == 1  # the layer was built once


def test_model_change_updates_only_the_functions_that_use_it_and_config_json(deployer):
    deployer.up()
    deployer.log.clear()
    result = deployer.up(config=AppConfig(models=("gpt-4.1", "gpt-4o-mini")))
    users = sorted(kind for kind, spec in app_spec.FUNCTIONS.items() if "models" in spec.values)
    assert users == ["chat", "stream"]
    # the stack's stored settings first, then the functions that use the models, and the
    # web app's config.json (its model picker) only
    assert deployer.log.writes[0] == ("ssm", "PutParameter")
    assert sorted(deployer.log.writes[1:]) == [
        *[("lambda", "UpdateFunctionConfiguration")] * len(users),
        ("s3", "PutObject"),
    ]
    assert sorted(result.changed) == [
        *(f"function:{kind}" for kind in users),
        "parameter:settings",
        "site",
    ]
    for kind in users:
        env = deployer.client("lambda").get_function_configuration(FunctionName=f"chatbot-{kind}")[
            "Environment"
        ]["Variables"]
        assert env[settings.ENV_OPENAI_MODELS] == "gpt-4.1,gpt-4o-mini"
        assert settings.ENV_OPENAI_MODEL not in env
    s3 = deployer.client("s3")
    bucket = deployer.context().bucket
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    assert config["models"] == ["gpt-4.1", "gpt-4o-mini"]
    assert config["apiUrl"] == "/"  # the CDN serves the API on the site's origin
    # The same models again: nothing written.
    deployer.log.clear()
    again = deployer.up(key=None, config=AppConfig(models=("gpt-4.1", "gpt-4o-mini")))
    assert deployer.log.writes == [] and again.changed == []


def test_handler_change_updates_only_that_function(deployer):
    deployer.up()
    lam = deployer.client("lambda")
    before = {
        k: lam.get_function(FunctionName=f"chatbot-{k}")["Configuration"] for k in FUNCTION_KINDS
    }
    handler = deployer.workspace.code_dir / "login.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    deployer.log.clear()
    result = deployer.up()
    assert deployer.log.writes == [("lambda", "UpdateFunctionCode")]
    assert result.changed == ["function:login"]
    for kind in FUNCTION_KINDS:
        after = lam.get_function(FunctionName=f"chatbot-{kind}")["Configuration"]
        assert (after["CodeSha256"] != before[kind]["CodeSha256"]) == (kind == "login")


def test_shared_module_change_updates_every_function(deployer):
    deployer.up()
    shared = deployer.workspace.code_dir / "http.py"
    shared.write_text(shared.read_text() + "\n# changed\n")
    deployer.log.clear()
    result = deployer.up()
    assert deployer.log.writes == [("lambda", "UpdateFunctionCode")] * len(FUNCTION_KINDS)
    assert sorted(result.changed) == [f"function:{k}" for k in sorted(FUNCTION_KINDS)]


def test_each_function_ships_its_handler_and_the_shared_modules_only(deployer):
    import io
    import zipfile

    for kind in FUNCTION_KINDS:
        code = deployer.workspace.sources().function_code(kind)
        names = set(zipfile.ZipFile(io.BytesIO(code.zip_bytes)).namelist())
        assert functions.handler_file(kind) in names
        assert {"chatbot_lambda/__init__.py", "chatbot_lambda/http.py"} <= names
        assert not names & {functions.handler_file(k) for k in FUNCTION_KINDS if k != kind}
        assert code == deployer.workspace.sources().function_code(kind)  # deterministic
        # Every chatbot_lambda module the shipped code imports is shipped with it.
        archive = zipfile.ZipFile(io.BytesIO(code.zip_bytes))
        for name in names:
            tree = ast.parse(archive.read(name))
            for node in ast.walk(tree):
                modules: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                for module in modules:
                    if module.startswith("chatbot_lambda."):
                        path = module.replace(".", "/")
                        assert (
                            f"{path}.py" in names
                            or f"{path}/__init__.py" in names
                            or (
                                f"{path.rsplit('/', 1)[0]}.py" in names  # an attribute import
                            )
                        ), f"{kind}: {name} imports {module}, which is not shipped"


def test_site_change_uploads_only_that_file(deployer):
    deployer.up()
    (deployer.workspace.dist / "assets" / "index-abc123.js").unlink()
    (deployer.workspace.dist / "assets" / "index-999.js").write_text("new")
    deployer.log.clear()
    result = deployer.up()
    assert sorted(deployer.log.writes) == [("s3", "DeleteObjects"), ("s3", "PutObject")]
    assert result.changed == ["site"]


def test_new_openai_key_rewrites_only_that_parameter(deployer):
    deployer.up()
    deployer.log.clear()
    deployer.up(key="sk-another")
    assert deployer.log.writes == [("ssm", "PutParameter")]


def test_teardown_removes_everything_and_twice_is_a_no_op(deployer):
    deployer.up()
    ctx = deployer.context()
    found = inventory.take(ctx)
    assert all(resource.present for resource in found.resources)
    assert {"socket-api", "api"} <= {resource.kind for resource in found.present}
    teardown_engine.teardown(ctx, found)
    after = inventory.take(ctx)
    assert after.present == []
    assert _all_tagged(deployer) == []
    assert deployer.client("apigatewayv2").get_apis()["Items"] == []  # both APIs, all parts
    deployer.log.clear()
    again = inventory.take(ctx)
    teardown_engine.teardown(ctx, again)
    assert deployer.log.writes == []


def test_teardown_after_half_finished_up(deployer, monkeypatch):
    from chatbot_deploy.deploy import functions

    def broken(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(functions, "ensure_function", broken)
    with pytest.raises(RuntimeError):
        deployer.up()
    ctx = deployer.context()
    partial = inventory.take(ctx)
    assert partial.present and not all(r.present for r in partial.resources)
    teardown_engine.teardown(ctx, partial)
    assert inventory.take(ctx).present == []


def test_architecture_change_moves_code_and_layer(deployer):
    from moto.awslambda.models import lambda_backends

    deployer.up()
    sent: list[list[str]] = []

    def apply_architectures(model, params, **_):
        # moto 5.2 ignores Architectures in UpdateFunctionCode; real Lambda applies it.
        if model.name == "UpdateFunctionCode":
            architectures = json.loads(params["body"])["Architectures"]
            sent.append(architectures)
            backend = lambda_backends[deployer.context().account][deployer.aws.region]
            function_name = params["url_path"].split("/")[3]
            backend.get_function(function_name).architectures = architectures

    deployer.on("before-call", apply_architectures)
    deployer.log.clear()
    deployer.up(arch="x86_64")
    writes = deployer.log.writes
    assert sent == [["x86_64"]] * len(FUNCTION_KINDS)  # the architecture travels with the code
    assert writes.count(("lambda", "PublishLayerVersion")) == 1
    assert writes.count(("lambda", "DeleteLayerVersion")) == 1
    lam = deployer.client("lambda")
    for kind in FUNCTION_KINDS:
        config = lam.get_function(FunctionName=f"chatbot-{kind}")["Configuration"]
        assert config["Architectures"] == ["x86_64"]
    [version] = lam.list_layer_versions(LayerName="chatbot-deps")["LayerVersions"]
    assert version["CompatibleArchitectures"] == ["x86_64"]
    deployer.log.clear()
    deployer.up(arch="x86_64")
    assert deployer.log.writes == []


def test_status_text_lists_missing_resources(moto, monkeypatch, capsys):
    import sys

    from chatbot_deploy import cli

    monkeypatch.setattr(sys, "argv", ["chatbot-deploy", "status", "--stack", "nothing"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    out = captured.out
    assert exited.value.code == 3  # the documented code for "not deployed"
    assert "Stack nothing is not deployed in" in captured.err
    assert "nothing-login" in out and "missing" in out
    assert re.search(r"Website: +-", out)
