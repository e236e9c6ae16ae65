"""`chatbot-deploy status`: which resources of a stack exist, and its URLs."""

from __future__ import annotations

import json

from rich.table import Table

from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.options import STACK_DEFAULT, Json, Profile, Region, Stack
from chatbot_deploy.console import out
from chatbot_deploy.deploy import inventory
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.names import StackNames


def status(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    """Show each resource of the stack, present or missing, and the website and API URLs.
    Reads only; found by names and tags, so it works from any machine."""
    aws = connect(profile, region)
    with aws_errors():
        ctx = DeployContext.create(aws, StackNames(stack))
        found = inventory.take(ctx)
    if json_output:
        print(json.dumps(found.as_dict()))
        return
    table = Table(title=f"stack {stack} in {ctx.region}", title_justify="left")
    table.add_column("")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("detail", style="dim")
    for resource in found.resources:
        mark = "[green]✓[/]" if resource.present else "[red]✗ missing[/]"
        table.add_row(mark, resource.kind, resource.name, resource.detail)
    out.print(table)
    out.print(f"Website: {found.website_url or '-'}")
    out.print(f"API:     {found.api_url or '-'}")
