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
    assert variables[env.ENV_OPENAI_MODELS] == "gpt-4.1"
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
    assert variables[env.ENV_OPENAI_MODELS] == "gpt-4.1-mini"
    assert variables[env.ENV_SYSTEM_PROMPT] == PIRATE

    # --reset puts one back to its default.
    reset = up(monkeypatch, capsys, "--reset", "system-prompt", "--reset", "openai-base-url")
    assert sorted(reset["settings_changed"]) == ["openai-base-url", "system-prompt"]
    variables = chat_environment(lam)
    assert env.ENV_SYSTEM_PROMPT not in variables
    assert env.ENV_OPENAI_BASE_URL not in variables
    assert variables[env.ENV_OPENAI_MODELS] == "gpt-4.1-mini"

    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["settings"] == {
        "model": ["gpt-4.1-mini"],
        "openai-base-url": None,
        "system-prompt": None,
        "log-retention": 14,
        "arch": "x86_64",
        "cdn": True,
        "domain": None,
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
    assert result["settings"]["model"] == ["gpt-4.1"]
    assert result["settings"]["system-prompt"] == PIRATE
    assert result["changed"] == ["parameter:settings"]  # only the settings are written
    assert chat_environment(boto3.client("lambda"))[env.ENV_SYSTEM_PROMPT] == PIRATE


def test_a_stack_stored_before_the_cdn_stays_a_website_until_up_cdn(app, monkeypatch, capsys):
    import boto3

    up(monkeypatch, capsys, "--no-cdn", "--model", "gpt-4.1")
    ssm = boto3.client("ssm")
    stored = json.loads(ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]["Value"])
    assert stored["cdn"] is False
    del stored["cdn"], stored["domain"]  # as the version before the CDN stored them
    ssm.put_parameter(
        Name=NAMES.settings_param, Value=json.dumps(stored), Type="String", Overwrite=True
    )
    kept = up(monkeypatch, capsys)
    assert kept["settings"]["cdn"] is False and kept["settings_changed"] == []
    assert kept["website_url"].startswith("http://") and kept["changed"] == []
    switched = up(monkeypatch, capsys, "--cdn")
    assert switched["settings_changed"] == ["cdn"]
    assert re.fullmatch(r"https://\w+\.cloudfront\.net", switched["website_url"])
    assert switched["settings"]["model"] == ["gpt-4.1"]  # nothing else changed


def test_contradicting_flags_are_refused_before_any_aws_call(app, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "up", "--model", "m", "--reset", "model")
    assert code == 2 and "contradict" in err
    code, _, err = run(monkeypatch, capsys, "up", "--no-cdn", "--domain", "chat.example.com")
    assert code == 2 and "needs the CDN" in " ".join(err.replace("│", " ").split())
    code, _, err = run(monkeypatch, capsys, "up", "--domain", "https://chat.example.com")
    assert code == 2 and "a host name such as" in " ".join(err.replace("│", " ").split())
    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert not any(r["present"] for r in json.loads(out)["resources"])


def site_config(names: StackNames = NAMES) -> dict[str, Any]:
    import boto3

    bucket = next(
        b["Name"]
        for b in boto3.client("s3").list_buckets()["Buckets"]
        if b["Name"].startswith(f"{names.stack}-")
    )
    body = boto3.client("s3").get_object(Bucket=bucket, Key="config.json")["Body"].read()
    return dict(json.loads(body))


def test_several_models_reach_the_functions_config_json_and_status(app, monkeypatch, capsys):
    import boto3

    up(monkeypatch, capsys)
    assert site_config()["models"] == ["gpt-4o-mini"]
    code, _, err = run(monkeypatch, capsys, "up", "--model", "gpt-4.1", "--model", "gpt-4o-mini")
    assert code == 0, err
    assert "setting model: gpt-4o-mini → gpt-4.1, gpt-4o-mini" in err
    lam = boto3.client("lambda")
    for kind in ("chat", "stream"):
        config = lam.get_function_configuration(FunctionName=NAMES.function(kind))
        assert config["Environment"]["Variables"][env.ENV_OPENAI_MODELS] == "gpt-4.1,gpt-4o-mini"
    assert site_config()["models"] == ["gpt-4.1", "gpt-4o-mini"]

    bare = up(monkeypatch, capsys)  # no flag: the models stay, nothing is written
    assert bare["settings"]["model"] == ["gpt-4.1", "gpt-4o-mini"]
    assert bare["settings_changed"] == [] and bare["changed"] == []

    code, out, _ = run(monkeypatch, capsys, "status")
    assert code == 0
    assert re.search(r"model +gpt-4\.1, gpt-4o-mini", out), out

    # Another order is another default: the functions and config.json follow.
    other = up(monkeypatch, capsys, "--model", "gpt-4o-mini", "--model", "gpt-4.1")
    assert other["settings_changed"] == ["model"]
    assert sorted(other["changed"]) == [
        "function:chat",
        "function:stream",
        "parameter:settings",
        "site",
    ]
    assert site_config()["models"] == ["gpt-4o-mini", "gpt-4.1"]

    reset = up(monkeypatch, capsys, "--reset", "model")
    assert reset["settings"]["model"] == ["gpt-4o-mini"]
    assert site_config()["models"] == ["gpt-4o-mini"]
    variables = chat_environment(lam)
    assert variables[env.ENV_OPENAI_MODELS] == "gpt-4o-mini"


def test_a_stack_whose_stored_model_is_one_string_keeps_working(app, monkeypatch, capsys):
    """Settings stored by a version that offered one model: `"model": "gpt-4.1"`."""
    import boto3

    up(monkeypatch, capsys, "--model", "gpt-4.1", "--system-prompt", PIRATE)
    ssm = boto3.client("ssm")
    stored = json.loads(ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]["Value"])
    stored["model"] = "gpt-4.1"  # as the older version wrote it
    old = json.dumps(stored, sort_keys=True, separators=(",", ":"))
    ssm.put_parameter(Name=NAMES.settings_param, Value=old, Type="String", Overwrite=True)

    bare = up(monkeypatch, capsys)
    assert bare["settings"]["model"] == ["gpt-4.1"]
    assert bare["settings_changed"] == [] and bare["changed"] == []
    assert ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]["Value"] == old

    code, _, err = run(monkeypatch, capsys, "up", "--model", "gpt-4.1", "--model", "o3")
    assert code == 0, err
    assert "setting model: gpt-4.1 → gpt-4.1, o3" in err
    stored = json.loads(ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]["Value"])
    assert stored["model"] == ["gpt-4.1", "o3"] and stored["system-prompt"] == PIRATE
    assert site_config()["models"] == ["gpt-4.1", "o3"]


def test_a_stack_deployed_with_one_model_in_its_environment_is_adopted(app, monkeypatch, capsys):
    """Deployed before settings were stored, and before several models: OPENAI_MODEL."""
    import boto3

    up(monkeypatch, capsys, "--model", "gpt-4.1")
    lam = boto3.client("lambda")
    variables = chat_environment(lam)
    variables[env.ENV_OPENAI_MODEL] = variables.pop(env.ENV_OPENAI_MODELS)
    lam.update_function_configuration(
        FunctionName=NAMES.function("chat"), Environment={"Variables": variables}
    )
    boto3.client("ssm").delete_parameter(Name=NAMES.settings_param)
    result = up(monkeypatch, capsys)
    assert result["settings"]["model"] == ["gpt-4.1"]
    assert result["settings_changed"] == []
    variables = chat_environment(lam)
    assert variables[env.ENV_OPENAI_MODELS] == "gpt-4.1"
    assert env.ENV_OPENAI_MODEL not in variables


def test_bad_model_lists_are_refused_before_any_aws_call(app, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "up", "--model", "a", "--model", "b", "--model", "a")
    assert code == 2 and "'a' is given twice" in " ".join(err.replace("│", " ").split())
    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert not any(r["present"] for r in json.loads(out)["resources"])
