"""`chatbot-deploy unlock`: break a stack's deploy lock by hand."""

from __future__ import annotations

from rich.markup import escape

from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.confirm import confirm
from chatbot_deploy.commands.options import STACK_DEFAULT, Profile, Region, Stack, Yes
from chatbot_deploy.console import out
from chatbot_deploy.deploy import lock
from chatbot_deploy.names import StackNames


def unlock(
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
    yes: Yes = False,
) -> None:
    """Break the stack's deploy lock, whoever holds it. Only for a run that is gone: a lock
    also frees itself a minute after its run stopped renewing it (at once for a run killed
    on this machine). Breaking the lock of a run that is still going lets another run change
    the stack at the same time; the broken run stops before its next step. Asks first
    (--yes skips the question)."""
    aws = connect(profile, region)
    names = StackNames(stack)
    dynamodb = aws.client("dynamodb")
    with aws_errors():
        holder = lock.current_holder(dynamodb, names)
        if holder is None:
            out.print(f"Stack {stack} is not locked.")
            return
        out.print(f"Stack {stack} is locked by {escape(holder.describe())}.")
        confirm("Break this lock?", yes=yes, flag="--yes")
        broken = lock.break_lock(dynamodb, names)
    if broken is None:
        out.print("The lock was released meanwhile.")
    else:
        out.print(f"Lock broken (it was held by {escape(broken.describe())}).")
