"""Run the real `chatbot-deploy` entry point (cli.main) in-process, with stdin, stdout and
stderr captured and click's prompts fed from ``input``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
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
