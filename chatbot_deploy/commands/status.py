"""`chatbot-deploy status`: which resources of a stack exist, its settings, and its URLs."""

from __future__ import annotations

import json

import typer
from rich.text import Text

from chatbot_deploy import stack_settings
from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.options import STACK_DEFAULT, Json, Profile, Region, Stack
from chatbot_deploy.console import columns, err, out, print_lines
from chatbot_deploy.deploy import inventory, lock
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.hints import command_line
from chatbot_deploy.names import StackNames

# Exit codes, for scripts: 0 every resource present.
NOT_DEPLOYED = 3  # none of the stack's resources exist in that region
INCOMPLETE = 4  # some exist, some are missing (a half-finished `up` or `teardown`)


def status(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    """Show each resource of the stack, present or missing (and any the app no longer has),
    the stack's settings, who holds its deploy lock, and the website, API and WebSocket
    URLs; with the CDN, whether CloudFront has deployed the website everywhere (Deployed)
    or is still deploying a change (InProgress). Reads only; found by names and tags, so it
    works from any machine.

    Exit code: 0 when the stack is fully deployed, 3 when it does not exist in that region,
    4 when some of its resources are missing (`up` finishes it, `teardown` removes the rest);
    1 on errors, as every command.
    """
    aws = connect(profile, region)
    names = StackNames(stack)
    with aws_errors():
        # The stored settings say what the stack should have (with the CDN or without).
        settings = stack_settings.load(aws.client("ssm"), names)
        ctx = DeployContext.create(aws, names, settings)
        found = inventory.take(ctx)
        holder = lock.current_holder(aws.client("dynamodb"), names)
    if json_output:
        print(
            json.dumps(
                {
                    **found.as_dict(),
                    "settings": settings.as_dict() if settings else None,
                    "lock": holder.describe() if holder else None,
                }
            )
        )
    else:
        out.print(Text(f"stack {stack} in {ctx.region}", style="bold"), soft_wrap=True)
        rows: list[list[str | Text]] = []
        for resource in found.resources:
            mark = Text("✓", style="green") if resource.present else Text("✗", style="red")
            state = "" if resource.present else "missing "
            rows.append(
                [mark, resource.kind, resource.name, Text(state + resource.detail, style="dim")]
            )
        print_lines(out, columns(rows, indent=2))
        if settings is not None:
            out.print("Settings:")
            print_lines(
                out,
                columns(
                    [
                        [name, stack_settings.shown(name, value)]
                        for name, value in settings.as_dict().items()
                    ],
                    indent=2,
                ),
            )
        print_lines(
            out,
            columns(
                [
                    ["Lock:", holder.describe() if holder else "free"],
                    ["Website:", found.website_url or "-"],
                    ["API:", found.api_url or "-"],
                    ["WebSocket:", found.socket_url or "-"],
                ]
            ),
        )
    if not found.present:
        err.print(
            Text(f"Stack {stack} is not deployed in {ctx.region}.", style="yellow"),
            soft_wrap=True,
        )
        raise typer.Exit(NOT_DEPLOYED)
    if not found.deployed:
        missing = len(found.resources) - len(found.present)
        err.print(
            Text(
                f"Stack {stack} is incomplete: {missing} resource(s) missing; "
                f"`{command_line('up', stack=stack, aws=aws)}` "
                "finishes it.",
                style="yellow",
            ),
            soft_wrap=True,
        )
        raise typer.Exit(INCOMPLETE)
