"""`chatbot-deploy teardown`: delete every resource of a stack."""

from __future__ import annotations

from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.confirm import confirm
from chatbot_deploy.commands.locking import stack_lock
from chatbot_deploy.commands.options import STACK_DEFAULT, Profile, Region, Stack, Yes
from chatbot_deploy.console import err, out
from chatbot_deploy.deploy import inventory, lock
from chatbot_deploy.deploy import teardown as engine
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import StepsInterrupted
from chatbot_deploy.deploy.progress import RichReporter
from chatbot_deploy.hints import command_line, interrupted
from chatbot_deploy.names import StackNames


def teardown(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    yes: Yes = False,
) -> None:
    """Delete everything of the stack, found by its names and its tag (so also what a newer
    version of the app no longer has): the CloudFront distribution (disabled, then deleted
    once CloudFront has deployed that: about 5 minutes) with its origin access control and
    headers policy, the HTTP and WebSocket APIs, functions, roles, log groups, layer
    versions, SSM parameters (the OpenAI key, the JWT secret, the settings), the users table
    (with its users), the website bucket with its files, and last the deploy lock's table.
    Lists them and asks first (--yes skips the question). Waits for a running `up` of the
    stack to end. Works after a half-finished `up`; running it again does nothing."""
    aws = connect(profile, region)
    names = StackNames(stack)
    dynamodb = aws.client("dynamodb")
    with aws_errors():
        ctx = DeployContext.create(aws, names)
        found = inventory.take(ctx)
        locked = lock.table_exists(dynamodb, names)
        if not found.present and not locked:
            out.print(f"Nothing to delete: stack {stack} has no resources in {ctx.region}.")
            return
        out.print(f"Stack [bold]{stack}[/] in {ctx.region} ({ctx.account}) has:")
        for resource in found.present:
            out.print(f"  {resource.kind:<10} {resource.name}")
        if locked:
            out.print(f"  {'lock':<10} {names.lock_table}")
        confirm("Delete all of these?", yes=yes)
        if any(resource.kind == "distribution" for resource in found.present):
            err.print(
                "CloudFront first disables the distribution, then it can be deleted: this "
                "takes about 5 minutes. Ctrl-C is safe: the next teardown continues."
            )
        with stack_lock(aws, names, "teardown") as held:
            current = inventory.take(ctx)  # again: a run we waited for may have changed it
            try:
                with RichReporter(err) as reporter:
                    engine.teardown(ctx, current, reporter, guard=held.check)
            except StepsInterrupted as stopped:
                rerun = command_line("teardown", stack=stack, aws=aws)
                raise interrupted(stopped, rerun) from None
            # Last, and before releasing: a run waiting for the lock then finds no table,
            # makes a new one and builds the whole stack again, never half of it.
            lock.delete_table(dynamodb, names)
    out.print(f"[green]Stack {stack} deleted.[/]")
