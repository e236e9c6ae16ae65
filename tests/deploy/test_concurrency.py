"""Two `up` runs and a `teardown` of one stack at once, as real processes against a moto
server: they take turns through the stack's lock, and the stack ends either whole or
entirely gone, never half, never duplicated, with no traceback."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import boto3
import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.names import TAG_KEY, StackNames
from tests.deploy.test_kill import _cli, _env

NAMES = StackNames("chatbot")


def _tagged_everything(endpoint: str, region: str) -> dict[str, int]:
    """How many of each kind of thing exist on the server (all are the stack's: the server
    is this test's own)."""
    session = boto3.Session(region_name=region)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    lam = client("lambda")
    return {
        "apis": len(
            [
                a
                for a in client("apigatewayv2").get_apis()["Items"]
                if (a.get("Tags") or {}).get(TAG_KEY)
            ]
        ),
        "functions": len(lam.list_functions()["Functions"]),
        "layer_versions": len(lam.list_layer_versions(LayerName=NAMES.layer)["LayerVersions"]),
        "roles": len(client("iam").list_roles()["Roles"]),
        "tables": len(client("dynamodb").list_tables()["TableNames"]),
        "parameters": len(client("ssm").describe_parameters()["Parameters"]),
        "buckets": len(client("s3").list_buckets()["Buckets"]),
        "log_groups": len(client("logs").describe_log_groups()["logGroups"]),
    }


WHOLE = {
    "apis": 2,  # the HTTP API and the WebSocket API
    "functions": len(app_spec.FUNCTIONS),
    "layer_versions": 1,
    "roles": len(app_spec.FUNCTIONS),
    "tables": len(app_spec.TABLES) + 1,  # and the lock's
    "parameters": len(app_spec.PARAMETERS) + 1,  # and the settings
    "buckets": 1,
    "log_groups": len(app_spec.FUNCTIONS),
}
GONE = dict.fromkeys(WHOLE, 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "delays", [(0.0, 0.0, 0.3), (0.0, 0.0, 2.5)], ids=["teardown-early", "teardown-later"]
)
def test_two_ups_and_a_teardown_at_once(server, workspace, delays):
    env = _env(server, workspace)
    commands = [("up", "--json"), ("up", "--json"), ("teardown", "--yes")]
    started = time.monotonic()
    children: list[subprocess.Popen[str]] = []
    try:
        for delay, args in sorted(zip(delays, commands, strict=True), key=lambda x: x[0]):
            time.sleep(max(0.0, started + delay - time.monotonic()))
            children.append(_cli(env, *args))
        results = [child.communicate(timeout=240) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert "Traceback" not in err
    # The two `up` runs start together: one of them waited for the other.
    assert any("Waiting for stack chatbot" in err for _, err in results[:2]), results
    state = _tagged_everything(server, env["AWS_DEFAULT_REGION"])
    assert state in (WHOLE, GONE), state
    if state == WHOLE:  # the last run was an `up`; every `up` answered with that one API
        session = boto3.Session(region_name=env["AWS_DEFAULT_REGION"])
        apis = session.client("apigatewayv2", endpoint_url=server).get_apis()["Items"]
        [api] = [api for api in apis if api["ProtocolType"] == "HTTP"]  # and the WebSocket API
        urls = {json.loads(out)["api_url"] for out, _ in results if out.startswith("{")}
        assert api["ApiEndpoint"] in urls
