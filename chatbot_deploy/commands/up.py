"""`chatbot-deploy up`: deploy (or update) the whole stack, idempotently."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from typing import Annotated

import typer
from rich.panel import Panel

from chatbot_deploy.app_spec import AppConfig
from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.options import (
    STACK_DEFAULT,
    Json,
    Model,
    OpenAIBaseUrl,
    Profile,
    Region,
    Stack,
    SystemPrompt,
)
from chatbot_deploy.console import err, out
from chatbot_deploy.deploy import engine, params
from chatbot_deploy.deploy.context import DEFAULT_LOG_RETENTION_DAYS, DeployContext
from chatbot_deploy.deploy.graph import SilentReporter
from chatbot_deploy.deploy.progress import RichReporter
from chatbot_deploy.names import StackNames
from chatbot_lambda.settings import DEFAULT_MODEL


class Arch(StrEnum):
    arm64 = "arm64"
    x86_64 = "x86_64"


def up(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    model: Model = DEFAULT_MODEL,
    openai_base_url: OpenAIBaseUrl = None,
    system_prompt: SystemPrompt = None,
    arch: Annotated[Arch, typer.Option(help="CPU architecture of the functions.")] = Arch.arm64,
    log_retention: Annotated[
        int, typer.Option(help="Days CloudWatch keeps the functions' logs.")
    ] = DEFAULT_LOG_RETENTION_DAYS,
    json_output: Json = False,
) -> None:
    """Deploy the chatbot: dependency layer, three functions with their roles and log groups,
    SSM parameters, users table, HTTP API and the website, then print the website URL.

    Safe to run again: only what changed is updated, an unchanged stack makes no change at
    all, and an interrupted run is finished. The OpenAI key is read from OPENAI_API_KEY (or
    asked for on a terminal the first time)."""
    aws = connect(profile, region)
    config = AppConfig(model=model, openai_base_url=openai_base_url, system_prompt=system_prompt)
    with aws_errors():
        ctx = DeployContext.create(
            aws, StackNames(stack), config, arch=arch.value, log_retention_days=log_retention
        )
        key = params.resolve_openai_key(ctx, dict(os.environ))
        if json_output:
            result = engine.up(ctx, engine.default_sources(), key, SilentReporter())
        else:
            err.print(f"Deploying stack [bold]{stack}[/] to {ctx.region} ({ctx.account})")
            with RichReporter(err) as reporter:
                result = engine.up(ctx, engine.default_sources(), key, reporter)
    if json_output:
        print(json.dumps(result.as_dict()))
        return
    seconds = result.record.finished - result.record.started
    changed, total = len(result.changed), len(result.record.steps)
    lines = [
        f"[bold]Website[/]  {result.website_url}",
        f"[bold]API[/]      {result.api_url}",
        "",
        f"{changed} of {total} steps changed something ({seconds:.1f} s)."
        if changed
        else f"Already up to date: nothing changed ({seconds:.1f} s).",
    ]
    if "table" in result.changed:  # a new users table: nobody can log in yet
        lines += [
            "Next: add a user, then open the website and log in:",
            f"  chatbot-deploy add-user --stack {stack} NAME",
        ]
    out.print(
        Panel.fit(
            "\n".join(lines),
            title=f"stack [bold]{stack}[/] is up",
            border_style="green",
        )
    )
