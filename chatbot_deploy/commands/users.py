"""`add-user`, `remove-user`, `list-users`: the users of a deployed stack."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.text import Text

from chatbot_deploy.aws import connect
from chatbot_deploy.commands import confirm as terminal
from chatbot_deploy.commands.options import STACK_DEFAULT, Json, Profile, Region, Stack, Yes
from chatbot_deploy.console import columns, err, out, print_lines
from chatbot_deploy.errors import UserError
from chatbot_deploy.hints import command_line
from chatbot_deploy.names import StackNames
from chatbot_deploy.userstore import UserStore, validate_password, validate_username

Username = Annotated[str, typer.Argument(metavar="USERNAME", show_default=False)]


PASSWORD_ATTEMPTS = 3


def read_password(from_stdin: bool) -> str:
    """One line from standard input, or a hidden prompt asked twice. Never echoed. The
    password is checked against the rules before it is asked a second time."""
    if from_stdin:
        if terminal.interactive():
            raise UserError(
                "--password-stdin expects the password piped in, not typed (it would show); "
                "leave it out to be asked without echo"
            )
        line = sys.stdin.buffer.readline()
        if not line:
            raise UserError("--password-stdin: nothing on standard input")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(
                "--password-stdin: the password is not UTF-8 text; pipe it in as UTF-8"
            ) from None
        return validate_password(text.removesuffix("\n").removesuffix("\r"))
    if not terminal.interactive():
        raise UserError("no terminal to ask for the password on: pipe it in with --password-stdin")
    for _ in range(PASSWORD_ATTEMPTS):
        first = validate_password(str(typer.prompt("Password", hide_input=True, err=True)))
        again = str(typer.prompt("Repeat for confirmation", hide_input=True, err=True))
        if again == first:
            return first
        err.print("[red]Error:[/] the two entries differ; type it again.")
    raise UserError(f"the two entries differed {PASSWORD_ATTEMPTS} times: nothing was changed")


def add_user(
    username: Username,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input instead of asking.",
        ),
    ] = False,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Change the password of an existing user (refused if the user does not exist).",
        ),
    ] = False,
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
) -> None:
    """Add a user who can log in to the chatbot, or change a user's password with --update.

    USERNAME: 1-64 letters, digits and _ . @ - ; password: at least 8 characters.

    The password is asked twice without echo, or read from one line with --password-stdin.

    It is stored hashed with the same code the login function uses to check it. --update
    also ends the user's open sessions: tokens issued before the change are refused (within
    5 s).

    A user is never overwritten without --update; --update never creates a user.

    A refused command changes nothing.
    """
    validate_username(username)
    aws = connect(profile, region)
    store = UserStore.open(aws, StackNames(stack))
    if update:
        store.refuse_if_missing(username, hint_add=True)
    else:
        store.refuse_if_exists(username)
    password = read_password(password_stdin)
    if update:
        store.set_password(username, password)
        err.print(f"Password of user '{username}' changed in {store.where}.", highlight=False)
    else:
        store.add(username, password)
        err.print(f"User '{username}' added to {store.where}.", highlight=False)


def remove_user(
    username: Username,
    yes: Yes = False,
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
) -> None:
    """Remove a user: they can no longer log in, and their open sessions end within 5 s (the
    chat function refuses their tokens). Asks for confirmation unless --yes.
    """
    if not username:
        raise UserError("invalid username: it is empty")
    aws = connect(profile, region)
    store = UserStore.open(aws, StackNames(stack))
    store.refuse_if_missing(username)
    terminal.confirm(f"Remove user '{username}' from {store.where}?", yes=yes)
    store.remove(username)
    err.print(f"User '{username}' removed from {store.where}.", highlight=False)


def list_users(
    json_output: Json = False,
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
) -> None:
    """List the users of a stack: names and creation times (never password hashes)."""
    aws = connect(profile, region)
    store = UserStore.open(aws, StackNames(stack))
    found = store.list()
    if json_output:
        document = {
            "stack": stack,
            "region": aws.region,
            "table": store.table,
            "users": [info.as_dict() for info in found],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    if not found:
        hint = command_line("add-user", "NAME", stack=stack, aws=aws)
        err.print(f"No users in {store.where}. Add one with `{hint}`.", highlight=False)
        return
    header = [Text("user", style="bold"), Text("created", style="bold")]
    rows = [[info.username, info.created_at or "-"] for info in found]
    print_lines(out, columns([header, *rows]))
