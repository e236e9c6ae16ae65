"""`chatbot-deploy logs`: the stack's function logs, merged in time order."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.text import Text

from chatbot_deploy.app_spec import FUNCTION_KINDS
from chatbot_deploy.aws import aws_errors, connect
from chatbot_deploy.commands.options import STACK_DEFAULT, Profile, Region, Stack
from chatbot_deploy.console import err, out
from chatbot_deploy.hints import command_line
from chatbot_deploy.logs.events import LogEvent, parse_since
from chatbot_deploy.logs.fetch import fetch
from chatbot_deploy.logs.follow import Follower, LiveTail, live_tail
from chatbot_deploy.logs.render import Renderer
from chatbot_deploy.names import StackNames

# Replaced in tests: moto's Live Tail is not the real one.
LIVE_TAIL: LiveTail | None = live_tail


def _kinds(values: list[str] | None) -> tuple[str, ...]:
    chosen = set(values or FUNCTION_KINDS)
    unknown = sorted(chosen - set(FUNCTION_KINDS))
    if unknown:
        raise typer.BadParameter(
            f"unknown function {', '.join(unknown)}: choose among {', '.join(FUNCTION_KINDS)}",
            param_hint="FUNCTION",
        )
    return tuple(kind for kind in FUNCTION_KINDS if kind in chosen)


def logs(
    functions: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FUNCTION",
            help=f"Which functions: {', '.join(FUNCTION_KINDS)} (default: all).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="How far back to start: 30s, 10m, 2h, 1d, 1w.")
    ] = "10m",
    pattern: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="PATTERN",
            help="CloudWatch Logs filter pattern, e.g. ERROR or '\"login ok\"'.",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Show Lambda's START/END/REPORT lines and raw messages."
        ),
    ] = False,
    stack: Stack = STACK_DEFAULT,
    region: Region = None,
    profile: Profile = None,
) -> None:
    """Print the logs of the stack's functions merged in time order, one line per event, each
    with its function's name in its own colour.

    Lambda's START, END and INIT_START lines are hidden, REPORT lines shortened (--verbose).

    --follow streams new events (Live Tail, else polling every 2 s) until Ctrl-C.

    A function that never ran has no log group yet: that is not an error.
    """
    kinds = _kinds(functions)
    try:
        window_ms = parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from exc
    names = StackNames(stack)
    aws = connect(profile, region)
    client = aws.client("logs")
    start_ms = int(time.time() * 1000) - window_ms
    renderer = Renderer(names, kinds, verbose)

    def emit(events: list[LogEvent]) -> None:
        for event in events:
            text = renderer.line(event)
            if text is not None:
                out.print(text, soft_wrap=True, highlight=False)

    def notice(message: str) -> None:
        err.print(Text(message, style="dim"))

    try:
        history = fetch(client, names, kinds, start_ms, pattern)
        for kind in history.missing:
            notice(
                f"no log group {names.log_group(kind)} in {aws.region} "
                "(the function has not run yet)"
            )
        if len(history.missing) == len(kinds):
            notice(
                f"no logs at all for stack '{stack}' in {aws.region}: is it deployed here? "
                f"(`{command_line('up', stack=stack, aws=aws)}`)"
            )
        emit(history.events)
        if not history.events and len(history.missing) < len(kinds):
            notice(
                f"no log events in the last {since}" + (f" matching {pattern!r}" if pattern else "")
            )
        if follow:
            follower = Follower(client, names, kinds, pattern, start_ms, emit, notice, LIVE_TAIL)
            with aws_errors():
                follower.run(already_shown=history.events)
    except KeyboardInterrupt:
        err.print("Stopped.")
