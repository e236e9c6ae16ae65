"""Settings that stick: kept with the stack in AWS, changed only by their own flag, shown by
`status`, put back by `--reset`; a stack deployed before they were stored keeps its own."""

from __future__ import annotations

import json
import re
from typing import Any

from chatbot_deploy.names import StackNames
from chatbot_lambda import settings as env
from tests.deploy.test_cli import run

NAMES = StackNames("chatbot")
PIRATE = "You are a pirate"


def chat_environment(client) -> dict[str, str]:
    config = client.get_function_configuration(FunctionName=NAMES.function("chat"))
    return dict(config["Environment"]["Variables"])


def up(monkeypatch, capsys, *args: str) -> dict[str, Any]:
    code, out, err = run(monkeypatch, capsys, "up", "--json", *args)
    assert code == 0, err
    return dict(json.loads(out))


def test_a_bare_up_keeps_every_setting(app, monkeypatch, capsys):
    import boto3

    first = up(
        monkeypatch,
        capsys,
        "--model",
        "gpt-4.1",
        "--system-prompt",
        PIRATE,
        "--openai-base-url",
        "https://llm.example.com/v1",
        "--log-retention",
        "14",
        "--arch",
        "x86_64",
    )
    assert sorted(first["settings_changed"]) == [
        "arch",
        "log-retention",
        "model",
        "openai-base-url",
        "system-prompt",
    ]
    again = up(monkeypatch, capsys)  # another machine would read the same parameter
    assert again["settings_changed"] == [] and again["changed"] == []
    assert again["settings"] == first["settings"]
    lam = boto3.client("lambda")
    variables = chat_environment(lam)
    assert variables[env.ENV_OPENAI_MODEL] == "gpt-4.1"
    assert variables[env.ENV_SYSTEM_PROMPT] == PIRATE
    assert variables[env.ENV_OPENAI_BASE_URL] == "https://llm.example.com/v1"
    config = lam.get_function_configuration(FunctionName=NAMES.function("chat"))
    assert config["Architectures"] == ["x86_64"]
    group = boto3.client("logs").describe_log_groups(logGroupNamePrefix=NAMES.log_group("chat"))
    assert group["logGroups"][0]["retentionInDays"] == 14

    # One flag changes that setting and nothing else.
    changed = up(monkeypatch, capsys, "--model", "gpt-4.1-mini")
    assert changed["settings_changed"] == ["model"]
    variables = chat_environment(lam)
    assert variables[env.ENV_OPENAI_MODEL] == "gpt-4.1-mini"
    assert variables[env.ENV_SYSTEM_PROMPT] == PIRATE

    # --reset puts one back to its default.
    reset = up(monkeypatch, capsys, "--reset", "system-prompt", "--reset", "openai-base-url")
    assert sorted(reset["settings_changed"]) == ["openai-base-url", "system-prompt"]
    variables = chat_environment(lam)
    assert env.ENV_SYSTEM_PROMPT not in variables
    assert env.ENV_OPENAI_BASE_URL not in variables
    assert variables[env.ENV_OPENAI_MODEL] == "gpt-4.1-mini"

    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["settings"] == {
        "model": "gpt-4.1-mini",
        "openai-base-url": None,
        "system-prompt": None,
        "log-retention": 14,
        "arch": "x86_64",
    }
    assert status["lock"] is None


def test_up_says_which_settings_changed(app, monkeypatch, capsys):
    up(monkeypatch, capsys)
    code, _, err = run(monkeypatch, capsys, "up", "--model", "gpt-4.1")
    assert code == 0
    assert "setting model: gpt-4o-mini → gpt-4.1" in err
    code, out, _ = run(monkeypatch, capsys, "status")
    assert "gpt-4.1" in out and re.search(r"Lock: +free", out)


def test_a_stack_deployed_before_settings_were_stored_keeps_its_own(app, monkeypatch, capsys):
    import boto3

    up(monkeypatch, capsys, "--model", "gpt-4.1", "--system-prompt", PIRATE)
    ssm = boto3.client("ssm")
    ssm.delete_parameter(Name=NAMES.settings_param)  # as an older chatbot-deploy left it
    result = up(monkeypatch, capsys)
    assert result["settings_changed"] == []
    assert result["settings"]["model"] == "gpt-4.1"
    assert result["settings"]["system-prompt"] == PIRATE
    assert result["changed"] == ["parameter:settings"]  # only the settings are written
    assert chat_environment(boto3.client("lambda"))[env.ENV_SYSTEM_PROMPT] == PIRATE


def test_contradicting_flags_are_refused_before_any_aws_call(app, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "up", "--model", "m", "--reset", "model")
    assert code == 2 and "contradict" in err
    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert not any(r["present"] for r in json.loads(out)["resources"])
