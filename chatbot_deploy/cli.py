"""The `chatbot-deploy` command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chatbot_deploy import __version__
from chatbot_deploy.commands.local import local
from chatbot_deploy.commands.logs import logs
from chatbot_deploy.commands.status import status
from chatbot_deploy.commands.teardown import teardown
from chatbot_deploy.commands.unlock import unlock
from chatbot_deploy.commands.up import up
from chatbot_deploy.commands.users import add_user, list_users, remove_user
from chatbot_deploy.console import err
from chatbot_deploy.errors import UserError

app = typer.Typer(
    name="chatbot-deploy",
    help="Deploy a private ChatGPT-style chatbot on AWS serverless in one command, "
    "or run it on this machine with `local`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Markdown: docstrings wrapped at 100 columns reflow to the terminal; `code` is styled.
    rich_markup_mode="markdown",
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"chatbot-deploy {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """chatbot-deploy: a private chatbot (login, chat, JWT authorizer, users table, web app)."""
    _state["debug"] = debug


app.command()(local)
app.command()(up)
app.command()(status)
app.command()(teardown)
app.command()(unlock)
app.command("add-user")(add_user)
app.command("remove-user")(remove_user)
app.command("list-users")(list_users)
app.command("logs")(logs)


def main() -> None:
    """Entry point. Typer handles usage errors (exit 2) and Ctrl-C; a UserError becomes one
    red line and exit 1, with the traceback only under --debug."""
    try:
        app()
    except UserError as exc:
        if _state["debug"]:
            raise
        err.print(f"[red]Error:[/] {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
