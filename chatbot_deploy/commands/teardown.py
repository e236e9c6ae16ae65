"""`chatbot-deploy teardown`: delete every resource of a stack."""

from __future__ import annotations

import sys

import typer

from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.options import STACK_DEFAULT, Profile, Region, Stack, Yes
from chatbot_deploy.console import err, out
from chatbot_deploy.deploy import inventory
from chatbot_deploy.deploy import teardown as engine
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.progress import RichReporter
from chatbot_deploy.errors import UserError
from chatbot_deploy.names import StackNames


def teardown(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    yes: Yes = False,
) -> None:
    """Delete everything `up` made for the stack: the HTTP API, functions, roles, log groups,
    layer versions, SSM parameters (the OpenAI key and JWT secret), the users table (with its
    users) and the website bucket with its files. Lists them and asks first (--yes skips the
    question). Works after a half-finished `up`; running it again does nothing."""
    aws = connect(profile, region)
    with aws_errors():
        ctx = DeployContext.create(aws, StackNames(stack))
        found = inventory.take(ctx)
        present = found.present
        if not present:
            out.print(f"Nothing to delete: stack {stack} has no resources in {ctx.region}.")
            return
        out.print(f"Stack [bold]{stack}[/] in {ctx.region} ({ctx.account}) has:")
        for resource in present:
            out.print(f"  {resource.kind:<10} {resource.name}")
        if not yes:
            if not sys.stdin.isatty():
                raise UserError("teardown needs confirmation: pass --yes to delete without asking")
            if not typer.confirm("Delete all of these?", default=False):
                raise typer.Exit(1)
        with RichReporter(err) as reporter:
            engine.teardown(ctx, found, reporter)
    out.print(f"[green]Stack {stack} deleted.[/]")
