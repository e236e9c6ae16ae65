"""Options shared by several commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

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
Model = Annotated[
    str, typer.Option(envvar="OPENAI_MODEL", help="Model name the chat function asks for.")
]
OpenAIBaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="OPENAI_BASE_URL",
        help="Any OpenAI-compatible endpoint (Azure OpenAI, vLLM, Ollama ...).",
    ),
]
SystemPrompt = Annotated[
    str | None, typer.Option(help="A system message put before every conversation.")
]
