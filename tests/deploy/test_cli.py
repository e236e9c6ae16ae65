"""The `up`, `status` and `teardown` commands end to end (moto), and their one-line errors."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

from chatbot_deploy import cli, console
from chatbot_deploy.aws import connect as real_connect
from chatbot_deploy.commands import status as status_command
from chatbot_deploy.commands import teardown as teardown_command
from chatbot_deploy.commands import up as up_command
from chatbot_deploy.deploy import engine, site
from chatbot_deploy.errors import UserError
from tests.deploy.conftest import OPENAI_KEY, REGION, error_response


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["chatbot-deploy", *args])
    monkeypatch.setitem(cli._state, "debug", False)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, " ".join(captured.err.split())


def fail_on(monkeypatch, operation: str, code: str, message: str) -> None:
    """Make every command's session fail `operation` with `code`."""

    def connect(profile: str | None, region: str | None) -> Any:
        aws = real_connect(profile, region)

        def handler(model: Any, **_: Any) -> Any:
            return error_response(code, message) if model.name == operation else None

        aws.session.events.register("before-call", handler)
        return aws

    for module in (up_command, status_command, teardown_command):
        monkeypatch.setattr(module, "connect", connect)


def test_up_status_teardown_cycle(app, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "up", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["stack"] == "chatbot" and result["region"] == REGION
    assert re.fullmatch(r"https://\w+\.cloudfront\.net", result["website_url"])
    assert result["api_url"].startswith("https://")
    assert re.fullmatch(
        rf"wss://\w+\.execute-api\.{REGION}\.amazonaws\.com/live", result["socket_url"]
    )
    assert OPENAI_KEY not in out

    code, out, _ = run(monkeypatch, capsys, "up", "--json")
    assert code == 0 and json.loads(out)["changed"] == []

    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["deployed"] is True
    assert status["website_url"] == result["website_url"]
    assert status["api_url"] == result["api_url"]
    assert status["socket_url"] == result["socket_url"]
    assert {r["kind"] for r in status["resources"]} == {
        "api", "socket-api", "function", "role", "log-group", "layer", "parameter", "table",
        "bucket", "distribution", "site-access", "headers-policy",
    }  # fmt: skip

    code, out, _ = run(monkeypatch, capsys, "teardown", "--yes")
    assert code == 0 and "chatbot-login" in out and "deleted" in out
    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert not any(r["present"] for r in json.loads(out)["resources"])
    code, out, _ = run(monkeypatch, capsys, "teardown", "--yes")
    assert code == 0 and "Nothing to delete" in out


def test_up_prints_a_panel_with_urls_and_next_steps(app, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "up", "--stack", "demo")
    assert code == 0
    assert re.search(r"^  Website +https://\w+\.cloudfront\.net$", out, re.MULTILINE)
    assert "execute-api" in out
    assert "CloudFront is deploying the website (InProgress)" in out
    assert "  chatbot-deploy status --stack demo" in out.splitlines()
    assert "plain HTTP" not in out
    assert "add-user --stack demo" in out
    assert "✓ Function chat created" in err  # one line per step off a terminal
    assert re.search(r"\d+ of \d+ steps changed something", out)
    code, out, _ = run(monkeypatch, capsys, "up", "--stack", "demo")
    assert code == 0 and "Already up to date: nothing changed" in out
    assert "add-user" not in out  # the table is not new: users may exist already


def test_up_output_keeps_urls_whole_and_hints_the_region_given(app, monkeypatch, capsys):
    """At 80 columns nothing the user copies is wrapped, cut or shortened with "…", and the
    suggested next command looks in the region the user chose."""
    monkeypatch.setattr(console.out, "_width", 80)
    code, out, _ = run(monkeypatch, capsys, "up", "--stack", "demo", "--region", REGION, "--no-cdn")
    assert code == 0
    assert f"  chatbot-deploy add-user --stack demo --region {REGION} NAME" in out.splitlines()
    # the S3 website is plain HTTP: said, with the command that serves it over HTTPS
    assert "The website is plain HTTP (--no-cdn)" in out
    assert f"  chatbot-deploy up --stack demo --region {REGION} --cdn" in out.splitlines()
    shown = dict(re.findall(r"^  (Website|API|WebSocket) +(\S+)$", out, re.MULTILINE))
    code, status_json, _ = run(monkeypatch, capsys, "status", "--stack", "demo", "--json")
    found = json.loads(status_json)
    assert shown == {
        "Website": found["website_url"],
        "API": found["api_url"],
        "WebSocket": found["socket_url"],
    }
    assert len(found["website_url"]) > 60  # longer than a panel's inside at 80 columns
    code, text, _ = run(monkeypatch, capsys, "status", "--stack", "demo")
    assert code == 0 and "…" not in text
    for resource in found["resources"]:
        assert re.search(rf"^  ✓ +{resource['kind']} +{re.escape(resource['name'])}", text, re.M)
    assert re.search(rf"^Website: +{re.escape(found['website_url'])}$", text, re.MULTILINE)
    assert re.search(rf"^WebSocket: +{re.escape(found['socket_url'])}$", text, re.MULTILINE)


def test_help_shows_no_value_after_flags(monkeypatch, capsys):
    commands = [name for name in cli.command().list_commands(None)]
    assert {"up", "teardown", "add-user"} <= set(commands)
    for args in [(), *((name,) for name in commands)]:
        code, out, _ = run(monkeypatch, capsys, *args, "--help")
        assert code == 0 and "--help" in out
        assert "<bool>" not in out, args


def test_teardown_asks_unless_yes(app, monkeypatch, capsys):
    run(monkeypatch, capsys, "up", "--json")
    code, _, err = run(monkeypatch, capsys, "teardown")
    assert code == 1 and "pass --yes" in err
    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert json.loads(out)["deployed"] is True


def test_no_credentials(aws_env, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run(monkeypatch, capsys, "up")
    assert code == 1 and "Error: no AWS credentials found" in err
    assert "Traceback" not in err


def test_unknown_region(aws_env, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "status", "--region", "mars-north-1")
    assert code == 1 and "unknown AWS region 'mars-north-1'" in err


def test_missing_openai_key(app, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY")
    code, _, err = run(monkeypatch, capsys, "up")
    assert code == 1 and "no OpenAI API key: export OPENAI_API_KEY" in err
    assert "Traceback" not in err


def test_npm_missing(app, monkeypatch, capsys, tmp_path):
    frontend = tmp_path / "frontend"
    frontend.mkdir()
    (frontend / "package.json").write_text("{}")
    (frontend / "index.html").write_text("<html></html>")
    sources = app.sources()
    monkeypatch.setattr(
        engine,
        "default_sources",
        lambda: engine.Sources(
            function_code=sources.function_code,
            build_layer=sources.build_layer,
            layer_hash=sources.layer_hash,
            build_web=lambda: site.build_web(source=frontend),
            sync_site=sources.sync_site,
        ),
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run(monkeypatch, capsys, "up")
    assert code == 1 and "npm not found" in err


def test_bucket_name_taken_in_another_account(app, monkeypatch, capsys):
    fail_on(monkeypatch, "HeadBucket", "403", "Forbidden")
    code, _, err = run(monkeypatch, capsys, "up")
    assert code == 1 and "is already taken by another AWS account" in err


def test_permission_denied_names_the_action(app, monkeypatch, capsys):
    fail_on(monkeypatch, "CreateRole", "AccessDenied", "not authorized to perform iam:CreateRole")
    code, _, err = run(monkeypatch, capsys, "up")
    assert code == 1 and "permission denied for CreateRole" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(app, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr(sys, "argv", ["chatbot-deploy", "--debug", "up"])
    with pytest.raises(UserError, match="no OpenAI API key"):
        cli.main()
