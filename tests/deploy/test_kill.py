"""SIGKILL during `up` (a real child process against a moto server), then `up` again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.names import TAG_KEY
from tests.deploy.conftest import OPENAI_KEY

ROOT = Path(__file__).resolve().parents[2]


def _env(endpoint: str, workspace) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "OPENAI_API_KEY": OPENAI_KEY,
        "KILL_CODE_DIR": str(workspace.code_dir),
        "KILL_DIST": str(workspace.dist),
        "KILL_LAYER_CACHE": str(workspace.cache),
        "PYTHONPATH": str(ROOT),
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.deploy.kill_target", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _made(session, endpoint: str, what: str) -> int:
    """How many of `what` the child has made so far."""
    if what == "role":
        return len(session.client("iam", endpoint_url=endpoint).list_roles()["Roles"])
    if what == "function":
        client = session.client("lambda", endpoint_url=endpoint)
        return len(client.list_functions()["Functions"])
    return len(session.client("apigatewayv2", endpoint_url=endpoint).get_apis()["Items"])


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", ["role", "function", "api"])
def test_sigkill_then_up_finishes_the_job(server, workspace, kill_when):
    import boto3

    env = _env(server, workspace)
    session = boto3.Session(region_name=env["AWS_DEFAULT_REGION"])
    child = _cli(env, "up", "--json")
    deadline = time.monotonic() + 60
    try:
        while child.poll() is None and time.monotonic() < deadline:
            if _made(session, server, kill_when):
                break
            time.sleep(0.01)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL  # killed half way, not finished

    finished = _cli(env, "up", "--json")
    out, err = finished.communicate(timeout=120)
    assert finished.returncode == 0, err
    result = json.loads(out)

    again = _cli(env, "up", "--json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert json.loads(out)["changed"] == []  # nothing left to do

    gw = session.client("apigatewayv2", endpoint_url=server)
    ours = [a for a in gw.get_apis()["Items"] if (a.get("Tags") or {}).get(TAG_KEY)]
    by_protocol: dict[str, Any] = {a["ProtocolType"]: a for a in ours}
    assert len(ours) == len(by_protocol) == 2  # one HTTP API, one WebSocket API
    assert by_protocol["HTTP"]["ApiEndpoint"] == result["api_url"]
    assert by_protocol["WEBSOCKET"]["ApiId"] in result["socket_url"]
    for protocol, routes in (("HTTP", app_spec.ROUTES), ("WEBSOCKET", app_spec.SOCKET_ROUTES)):
        api_id = by_protocol[protocol]["ApiId"]
        targets = {route.function for route in routes}
        assert len(gw.get_routes(ApiId=api_id)["Items"]) == len(routes)
        assert len(gw.get_integrations(ApiId=api_id)["Items"]) == len(targets)
        assert len(gw.get_stages(ApiId=api_id)["Items"]) == 1
    lam = session.client("lambda", endpoint_url=server)
    assert len(lam.list_functions()["Functions"]) == len(app_spec.FUNCTIONS)
    assert len(lam.list_layer_versions(LayerName="chatbot-deps")["LayerVersions"]) == 1


@pytest.mark.slow
def test_ctrl_c_says_what_was_done_and_up_finishes_the_job(server, workspace):
    """SIGINT (Ctrl-C) half way: no new step starts, the running ones finish, one line says
    what was done and which command finishes it (exit 130), the lock is let go, and the
    next `up` finishes without waiting for it."""
    import boto3

    env = _env(server, workspace)
    session = boto3.Session(region_name=env["AWS_DEFAULT_REGION"])
    before = _made(session, server, "role")
    child = _cli(env, "up", "--stack", "ctrlc")  # a stack of its own: the server is shared
    deadline = time.monotonic() + 60
    try:
        while child.poll() is None and time.monotonic() < deadline:
            if _made(session, server, "role") > before:
                break
            time.sleep(0.01)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    said = " ".join(err.split())
    assert "Stopping: no new step starts" in said
    assert re.search(r"Error: interrupted after \d+ of \d+ steps; changed: .*IAM role", said), said
    assert "`chatbot-deploy up --stack ctrlc` finishes the job" in said

    finished = _cli(env, "up", "--stack", "ctrlc", "--json")
    _, err = finished.communicate(timeout=120)
    assert finished.returncode == 0, err
    assert "Waiting for stack" not in err  # the interrupted run released its lock
    functions = session.client("lambda", endpoint_url=server).list_functions()["Functions"]
    ours = [f for f in functions if f["FunctionName"].startswith("ctrlc-")]
    assert len(ours) == len(app_spec.FUNCTIONS)
    removed = _cli(env, "teardown", "--stack", "ctrlc", "--yes")  # the server is shared
    _, err = removed.communicate(timeout=120)
    assert removed.returncode == 0, err
