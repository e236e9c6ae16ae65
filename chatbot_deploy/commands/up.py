"""`chatbot-deploy up`: deploy (or update) the whole stack, idempotently."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from rich.markup import escape
from rich.text import Text

from chatbot_deploy import stack_settings
from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.locking import stack_lock
from chatbot_deploy.commands.options import (
    STACK_DEFAULT,
    ArchOption,
    Cdn,
    Domain,
    Json,
    LogRetention,
    Model,
    OpenAIBaseUrl,
    Profile,
    Region,
    Reset,
    Stack,
    SystemPrompt,
)
from chatbot_deploy.console import columns, err, out, print_lines
from chatbot_deploy.deploy import adopt, engine, params
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import SilentReporter, StepsInterrupted
from chatbot_deploy.deploy.progress import RichReporter
from chatbot_deploy.hints import command_line, interrupted
from chatbot_deploy.names import StackNames
from chatbot_deploy.stack_settings import Settings


def up(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    model: Model = None,
    openai_base_url: OpenAIBaseUrl = None,
    system_prompt: SystemPrompt = None,
    arch: ArchOption = None,
    log_retention: LogRetention = None,
    cdn: Cdn = None,
    domain: Domain = None,
    reset: Reset = None,
    json_output: Json = False,
) -> None:
    """Deploy the chatbot: dependency layer, the functions with their roles and log groups,
    SSM parameters, tables, the HTTP and WebSocket APIs and the website, then print the
    website URL.

    Safe to run again: only what changed is updated, an unchanged stack makes no change at
    all, an interrupted run is finished, and what the app no longer has is removed. The
    settings (`--model`, `--openai-base-url`, `--system-prompt`, `--arch`, `--log-retention`)
    are kept with the stack: a flag changes that setting only, `up` without flags keeps them
    all (from any machine), and `--reset NAME` puts one back to its default. One run at a
    time: a second `up` or `teardown` of the stack waits for the first. The OpenAI key is
    read from OPENAI_API_KEY (or asked for on a terminal the first time)."""
    given: dict[str, Any] = {
        "model": model,
        "openai-base-url": openai_base_url,
        "system-prompt": system_prompt,
        "arch": arch,
        "log-retention": log_retention,
        "cdn": cdn,
        "domain": domain,
    }
    resets = reset or []
    stack_settings.apply(Settings(), given, resets)  # contradictions fail before any AWS call
    replacing = [name for name, value in given.items() if value is not None] + resets
    aws = connect(profile, region)
    names = StackNames(stack)
    with aws_errors():
        base = DeployContext.create(aws, names)
        key = params.resolve_openai_key(base, dict(os.environ))  # asked before waiting
        with stack_lock(aws, names, "up") as lock:
            stored = stack_settings.load(aws.client("ssm"), names, replacing=replacing)
            if stored is None:  # a new stack, or one deployed before settings were kept
                stored = adopt.deployed_settings(base, replacing=replacing) or Settings()
            settings = stack_settings.apply(stored, given, resets)
            changes = stack_settings.changes(stored, settings)
            job = engine.Job(replace(base, settings=settings), engine.default_sources(), key)
            try:
                if json_output:
                    result = engine.up(job, SilentReporter(), guard=lock.check)
                else:
                    err.print(f"Deploying stack [bold]{stack}[/] to {base.region} ({base.account})")
                    for change in changes:
                        err.print(f"  setting {escape(change.describe())}")
                    with RichReporter(err) as reporter:
                        result = engine.up(job, reporter, guard=lock.check)
            except StepsInterrupted as stopped:
                raise interrupted(stopped, command_line("up", stack=stack, aws=aws)) from None
    if json_output:
        print(
            json.dumps(
                {
                    **result.as_dict(),
                    "settings": settings.as_dict(),
                    "settings_changed": [change.name for change in changes],
                }
            )
        )
        return
    seconds = result.record.finished - result.record.started
    changed, total = len(result.changed), len(result.record.steps)
    edge = result.distribution
    lines: list[str | Text] = [
        Text(f"Stack {stack} is up.", style="bold green"),
        *columns(
            [
                ["Website", result.website_url],
                ["API", result.api_url],
                ["WebSocket", result.socket_url],
            ],
            indent=2,
        ),
    ]
    if edge is not None:
        if not edge.deployed:
            lines += [
                Text(
                    f"CloudFront is deploying the website ({edge.status}): it answers everywhere "
                    "in about 5 minutes. This shows when it is Deployed:",
                    style="yellow",
                ),
                "  " + command_line("status", stack=stack, aws=aws),
            ]
    else:
        lines += [
            Text(
                "The website is plain HTTP (--no-cdn): passwords and tokens cross the network "
                "unencrypted, any site may frame it, and browsers mark it 'Not secure'. "
                "To serve it over HTTPS:",
                style="yellow",
            ),
            "  " + command_line("up", "--cdn", stack=stack, aws=aws),
        ]
    lines += [
        *(f"Next: {step}" for step in result.next_steps),
        f"{changed} of {total} steps changed something ({seconds:.1f} s)."
        if changed
        else f"Already up to date: nothing changed ({seconds:.1f} s).",
    ]
    if "table:users" in result.changed:  # a new users table: nobody can log in yet
        lines += [
            "Next: add a user, then open the website and log in:",
            "  " + command_line("add-user", "NAME", stack=stack, aws=aws),
        ]
    print_lines(out, lines)
