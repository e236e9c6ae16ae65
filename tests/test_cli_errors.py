"""Bad input and broken environments, through the installed `chatbot-deploy` console script:
each case ends with its documented exit code and one line that says what to do, never a
traceback (the cases were found by trying the product; see issue 10)."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
import pytest

from chatbot_deploy import aws
from chatbot_deploy.deploy import table
from chatbot_deploy.names import StackNames
from chatbot_lambda import users
from tests.cli_run import REGION, MotoServer, moto_server
from tests.support.local_server import serving

__all__ = ["moto_server"]

SCRIPT = shutil.which("chatbot-deploy", path=str(Path(sys.executable).parent))


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # in the error line
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    one_line: bool = True  # usage errors (exit 2) are Typer's framed box


@dataclass
class Endpoints:
    moto: str
    not_aws: str  # an HTTP server that is not AWS
    closed: str  # nothing listens there


@pytest.fixture(scope="module")
def not_aws() -> Iterator[str]:
    with serving(http.server.SimpleHTTPRequestHandler) as url:
        yield url.removeprefix("http://")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def endpoints(moto_server: MotoServer, not_aws: str) -> Endpoints:
    """The stack's users table with alice in it, as `up` makes it (moto's state outlives one
    server, so it may be there already: creating it is idempotent)."""
    dynamodb = moto_server.client("dynamodb")
    names = StackNames("chatbot")
    table.create_on_demand(dynamodb, names.users_table, users.KEY, names.tags)
    dynamodb.put_item(TableName=names.users_table, Item={users.KEY: {"S": "alice"}})
    return Endpoints(moto_server.url, not_aws, f"127.0.0.1:{closed_port()}")


CASES = {
    "unknown region with an emulator": Case(
        ("status", "--region", "mars-1"), 1, "unknown AWS region 'mars-1'"
    ),
    "region with spaces": Case(("status", "--region", "us east 1"), 1, "unknown AWS region"),
    "region with spaces, no emulator": Case(
        ("status", "--region", "us east 1"), 1, "unknown AWS region", {"AWS_ENDPOINT_URL": ""}
    ),
    "endpoint that is not a URL": Case(
        ("status",), 1, "AWS_ENDPOINT_URL='notaurl' is not an endpoint URL",
        {"AWS_ENDPOINT_URL": "notaurl"},
    ),
    "per-service endpoint that is not a URL": Case(
        ("status",), 1, "AWS_ENDPOINT_URL_DYNAMODB='ftp://x' is not an endpoint URL",
        {"AWS_ENDPOINT_URL_DYNAMODB": "ftp://x"},
    ),
    "endpoint that is an HTTP server, not AWS": Case(
        ("status",), 1, "not an AWS response: is AWS_ENDPOINT_URL=http://{not_aws}",
        {"AWS_ENDPOINT_URL": "http://{not_aws}"},
    ),
    "https to a plain-HTTP port": Case(
        ("status",), 1, "failed: is the endpoint plain HTTP? then use http://",
        {"AWS_ENDPOINT_URL": "https://{not_aws}"},
    ),
    "nothing listening": Case(
        ("up",), 1, "cannot reach AWS at http://{closed}/: is the emulator",
        {"AWS_ENDPOINT_URL": "http://{closed}", "OPENAI_API_KEY": "sk-test"},
    ),
    "key id without secret": Case(
        ("status",), 1, "AWS_SECRET_ACCESS_KEY is missing", {"AWS_SECRET_ACCESS_KEY": ""}
    ),
    "unknown profile": Case(("list-users", "--profile", "nope"), 1, "AWS profile 'nope'"),
    "logs too far back": Case(
        ("logs", "--since", "99999999w"), 2, "too far back", one_line=False
    ),
    "port out of range": Case(("local", "--port", "99999"), 2, "--port", one_line=False),
    "local user with a short password": Case(
        ("local", "--user", "a:short"), 2, "password too short", one_line=False
    ),
    "local user with a bad name": Case(
        ("local", "--user", "bad name:password123"), 2, "' ' not allowed", one_line=False
    ),
    "the same model twice": Case(
        ("up", "--model", "gpt-4.1", "--model", "gpt-4.1"), 2,
        "'gpt-4.1' is given twice: name each model once", one_line=False,
    ),
    "too many models for local": Case(
        ("local", *[arg for index in range(11) for arg in ("--model", f"m{index}")]), 2,
        "11 models; at most 10", one_line=False,
    ),
    "password not UTF-8": Case(
        ("add-user", "bob", "--password-stdin"), 1, "not UTF-8", stdin=b"\xff\xfe-secret\n"
    ),
    "password only spaces": Case(
        ("add-user", "bob", "--password-stdin"), 1, "only whitespace", stdin=b"        \n"
    ),
    "stack that does not exist": Case(
        ("status", "--stack", "nothing"), 3, "Stack nothing is not deployed in eu-west-1"
    ),
    "piped y to teardown": Case(
        ("teardown",), 1, "no terminal: pass --yes", stdin=b"y\n"
    ),
    "piped y to remove-user": Case(
        ("remove-user", "alice"), 1, "no terminal: pass --yes", stdin=b"y\n"
    ),
    "no table in that region": Case(
        ("list-users", "--region", "us-west-2"), 1,
        "deploy the stack first with `chatbot-deploy up --stack chatbot --region us-west-2`",
    ),
}  # fmt: skip


def _env(endpoints: Endpoints, extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.pop("CHATBOT_STACK", None)
    env.update(
        AWS_ENDPOINT_URL=endpoints.moto,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        COLUMNS="80",
    )
    for key, value in extra.items():
        value = value.format(not_aws=endpoints.not_aws, closed=endpoints.closed)
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    return env


@pytest.mark.skipif(SCRIPT is None, reason="the console script is not installed")
@pytest.mark.parametrize("name", CASES)
def test_one_clear_line(name: str, endpoints: Endpoints) -> None:
    case = CASES[name]
    done = subprocess.run(
        [str(SCRIPT), *case.args],
        env=_env(endpoints, case.env),
        input=case.stdin,
        capture_output=True,
        timeout=60,
    )
    stderr = done.stderr.decode()
    says = case.says.format(not_aws=endpoints.not_aws, closed=endpoints.closed)
    assert "Traceback" not in stderr + done.stdout.decode()
    assert done.returncode == case.code, stderr
    assert says in " ".join(stderr.replace("│", " ").split()), stderr
    if case.one_line:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, stderr


def test_debug_shows_the_traceback_instead(endpoints: Endpoints) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatbot_deploy", "--debug", "status"],
        env=_env(endpoints, {"AWS_ENDPOINT_URL": "http://{not_aws}"}),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr.decode()


class Throttling(http.server.BaseHTTPRequestHandler):
    """Answers every call as AWS does when it throttles (query protocol, STS)."""

    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
        )
        self.send_response(400)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _attempts(monkeypatch: pytest.MonkeyPatch, endpoint: str, max_attempts: int) -> int:
    """How many times one STS call is sent to `endpoint` before it fails."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    session = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=REGION)
    config = aws.RETRY_CONFIG.merge(
        botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts})
    )
    client = aws.make_client(session, "sts", REGION, config)
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(aws.AWS_FAILURES):
        client.get_caller_identity()
    return len(sent)


def test_a_connection_failure_is_tried_twice_throttling_keeps_its_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = f"http://127.0.0.1:{closed_port()}"
    assert _attempts(monkeypatch, closed, max_attempts=10) == aws.CONNECT_ATTEMPTS == 2
    with serving(Throttling) as url:
        assert _attempts(monkeypatch, url, max_attempts=3) == 3 == Throttling.calls
