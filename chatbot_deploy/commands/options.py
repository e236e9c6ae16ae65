"""Options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from chatbot_deploy import stack_settings
from chatbot_deploy.names import DEFAULT_STACK, InvalidStackName, validate_stack


def _stack(value: str) -> str:
    try:
        return validate_stack(value)
    except InvalidStackName as exc:
        raise typer.BadParameter(str(exc)) from exc


Stack = Annotated[
    str,
    typer.Option(
        "--stack",
        "-s",
        help="Name of the stack; every resource name derives from it.",
        envvar="CHATBOT_STACK",
        callback=_stack,
    ),
]
STACK_DEFAULT = DEFAULT_STACK
Region = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: AWS_REGION or the profile's region)."),
]
Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS named profile (default: AWS_PROFILE).")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _checked(name: str) -> Callable[[Any], Any]:
    """A Typer callback validating one setting's value (None: not given), so a bad value is
    a usage error (exit 2) before any AWS call."""
    validate = stack_settings.setting(name).validate

    def callback(value: Any) -> Any:
        if value is None or value == []:  # not given (a repeatable option: no item)
            return None
        try:
            return validate(value)
        except stack_settings.InvalidSetting as exc:
            raise typer.BadParameter(exc.reason) from exc

    return callback


def _reset(value: list[str] | None) -> list[str]:
    try:
        return stack_settings.validate_reset(value or [])
    except stack_settings.InvalidSetting as exc:
        raise typer.BadParameter(exc.reason) from exc


def _help(name: str) -> str:
    return stack_settings.setting(name).help


# The stack's settings. None means "not given": `up` keeps the stored value, `local` uses the
# default (stack_settings.Settings()).
# Repeatable, the first the default: validated together (each once). OPENAI_MODEL may name
# several, separated by spaces.
Model = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        metavar="NAME",
        envvar="OPENAI_MODEL",
        help=_help("model"),
        callback=_checked("model"),
    ),
]
OpenAIBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--openai-base-url",
        envvar="OPENAI_BASE_URL",
        help=_help("openai-base-url"),
        callback=_checked("openai-base-url"),
    ),
]
SystemPrompt = Annotated[
    str | None,
    typer.Option(
        "--system-prompt", help=_help("system-prompt"), callback=_checked("system-prompt")
    ),
]
LogRetention = Annotated[
    int | None,
    typer.Option(
        "--log-retention",
        metavar="DAYS",
        help=_help("log-retention"),
        callback=_checked("log-retention"),
    ),
]
ArchOption = Annotated[
    str | None,
    typer.Option("--arch", help=_help("arch"), callback=_checked("arch")),
]
Reset = Annotated[
    list[str] | None,
    typer.Option(
        "--reset",
        metavar="NAME",
        help="Put a setting back to its default (repeatable): "
        f"{', '.join(stack_settings.NAMES)}. The settings are kept with the stack: a later "
        "`up` without the option keeps them.",
        callback=_reset,
    ),
]
Cdn = Annotated[
    bool | None,
    typer.Option("--cdn/--no-cdn", help=_help("cdn"), callback=_checked("cdn")),
]
Domain = Annotated[
    str | None,
    typer.Option("--domain", metavar="HOST", help=_help("domain"), callback=_checked("domain")),
]
