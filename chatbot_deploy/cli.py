"""The `chatbot-deploy` command line."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from chatbot_deploy import __version__
from chatbot_deploy.aws import AWS_FAILURES, explain
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


def _flags_take_no_value(command: Any, ctx: Any) -> None:
    """Typer 0.29 writes the type after every option in --help, `<bool>` after flags too,
    which reads as if `--yes` wanted a value: a flag's type column is left empty."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False):
            param.metavar = ""
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                _flags_take_no_value(sub, sub.context_class(sub, parent=ctx, info_name=name))


def command() -> Any:
    """The command behind the Typer app, as `app()` builds it, with its help mended."""
    built = typer.main.get_command(app)
    _flags_take_no_value(built, built.context_class(built, info_name=app.info.name))
    return built


def _fail(message: str, exit_code: int = 1) -> None:
    err.print(f"[red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(exit_code)


def main() -> None:
    """Entry point. Typer handles usage errors (exit 2); everything else that goes wrong is
    one red line: a UserError says what to do (exit 1, or its own code: 130 for an
    interrupted run); an AWS failure is explained (`aws.explain`); anything unforeseen names
    itself and points to --debug, which shows the traceback instead."""
    try:
        command()(prog_name=app.info.name)
    except UserError as exc:
        if _state["debug"]:
            raise
        _fail(str(exc), exc.exit_code)
    except AWS_FAILURES as exc:
        if _state["debug"]:
            raise
        _fail(explain(exc))
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:
        if _state["debug"]:
            raise
        _fail(
            f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
            "(run again with --debug for the traceback, and please report it)"
        )
