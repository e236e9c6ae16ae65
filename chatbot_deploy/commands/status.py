"""`chatbot-deploy status`: which resources of a stack exist, its settings, and its URLs."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from chatbot_deploy import stack_settings
from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.options import STACK_DEFAULT, Json, Profile, Region, Stack
from chatbot_deploy.console import out
from chatbot_deploy.deploy import inventory, lock
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.names import StackNames


def status(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    """Show each resource of the stack, present or missing (and any the app no longer has),
    the stack's settings, who holds its deploy lock, and the website and API URLs. Reads
    only; found by names and tags, so it works from any machine."""
    aws = connect(profile, region)
    names = StackNames(stack)
    with aws_errors():
        ctx = DeployContext.create(aws, names)
        found = inventory.take(ctx)
        settings = stack_settings.load(aws.client("ssm"), names)
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
        return
    table = Table(title=f"stack {stack} in {ctx.region}", title_justify="left")
    table.add_column("")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("detail", style="dim")
    for resource in found.resources:
        mark = "[green]✓[/]" if resource.present else "[red]✗ missing[/]"
        table.add_row(mark, resource.kind, resource.name, escape(resource.detail))
    out.print(table)
    if settings is not None:
        out.print("Settings:")
        for name, value in settings.as_dict().items():
            shown = "(default: none)" if value is None else str(value)
            out.print(f"  {name:<16} {escape(shown)}", overflow="fold")
    out.print(f"Lock:    {escape(holder.describe()) if holder else 'free'}")
    out.print(f"Website: {found.website_url or '-'}")
    out.print(f"API:     {found.api_url or '-'}")
