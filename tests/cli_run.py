"""Run the real `chatbot-deploy` entry point (cli.main) in-process, with stdin, stdout and
stderr captured and click's prompts fed from ``input``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from chatbot_deploy import cli

REGION = "eu-west-1"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
CLEARED_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "CHATBOT_STACK")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def err_text(self) -> str:
        """stderr with Rich's line wrapping undone."""
        return " ".join(self.stderr.split())

    @property
    def all_output(self) -> str:
        return self.stdout + self.stderr


def run(*args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    saved = sys.argv
    with runner.isolation(input=input) as (stdout, stderr, _):
        sys.argv = ["chatbot-deploy", *args]
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = saved
        return Result(code, stdout.getvalue().decode(), stderr.getvalue().decode())


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """Fake credentials and a fixed region; no profile, config file or endpoint leaks in."""
    for key in CLEARED_ENV:
        monkeypatch.delenv(key, raising=False)
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(key)
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    yield


@dataclass
class MotoServer:
    url: str
    env: dict[str, str]  # for the CLI process: fake credentials, this endpoint

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture
def moto_server(tmp_path: Any) -> Iterator[MotoServer]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key != "CHATBOT_STACK"
        }
        env.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(tmp_path / "none"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
            COLUMNS="200",
        )
        yield MotoServer(url, env)
    finally:
        server.stop()


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatbot_deploy", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)  # never hang the suite on a blocked read
    watchdog.daemon = True
    watchdog.start()
    return proc
