"""`chatbot-deploy local`: the whole app on this machine, no AWS account needed."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import threading
from typing import Annotated

import typer
from rich.text import Text

from chatbot_deploy import app_spec, paths, stack_settings
from chatbot_deploy.commands.options import Model, OpenAIBaseUrl, SystemPrompt
from chatbot_deploy.console import columns, err, out, print_lines
from chatbot_deploy.errors import UserError
from chatbot_deploy.local import LocalUser
from chatbot_deploy.userstore import validate_password, validate_username

DEMO_USER = "demo"


def parse_user(text: str) -> LocalUser:
    """NAME:PASSWORD, held to the rules `add-user` applies (the password is never shown)."""
    username, sep, password = text.partition(":")
    if not sep:
        raise typer.BadParameter(f"expected NAME:PASSWORD, got no ':' after {username!r}")
    try:
        return LocalUser(validate_username(username), validate_password(password))
    except UserError as exc:
        raise typer.BadParameter(f"user {username!r}: {exc}", param_hint="--user") from exc


def local(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Port for the app, the API and /config.json (0: any free one)."
        ),
    ] = 8000,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            "-u",
            metavar="NAME:PASSWORD",
            help="Create a user (repeatable). Default: user 'demo' with a random password.",
        ),
    ] = None,
    model: Model = None,
    openai_base_url: OpenAIBaseUrl = None,
    system_prompt: SystemPrompt = None,
) -> None:
    """Run the whole app on this machine: the real Lambda handlers behind an emulated
    HTTP API, the web app, and an embedded AWS emulator (moto). No AWS account is used.

    The OpenAI key is read from OPENAI_API_KEY; without it the app starts and chat answers
    an error saying what to set.
    """
    users = [parse_user(item) for item in user or []]
    generated = not users
    if generated:
        users = [LocalUser(DEMO_USER, secrets.token_urlsafe(12))]
    api_key = os.environ.get("OPENAI_API_KEY") or None
    # No stored settings here: what is not given takes its default (model gpt-4o-mini).
    # `model` was validated (a tuple, the first the default) by its option's callback.
    # The values were validated by the options' callbacks, as `up` validates them.
    config = stack_settings.apply(
        stack_settings.Settings(),
        {"model": model, "openai-base-url": openai_base_url, "system-prompt": system_prompt},
    ).app_config()
    # A plain handler: one line per request, cheap enough not to cost throughput (Rich's
    # log rendering took a third of the server's time per request).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpx2", "openai", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with contextlib.ExitStack() as running:
        with err.status("Starting: AWS emulator, handlers, users …"):
            # Loaded here, not with the CLI: they cost every other command ~1.3 s of start-up.
            from chatbot_deploy.local import emulator
            from chatbot_deploy.local.gateway import HttpApi
            from chatbot_deploy.local.server import LocalServer, serve

            aws = running.enter_context(emulator.running(config, api_key))
            for item in users:
                aws.add_user(item)
            api = HttpApi.from_spec()
            try:
                server = LocalServer(
                    (host, port), api, paths.web_dist(), aws.names.stack, config.models
                )
            except OSError as exc:
                raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        routes = ", ".join(route.route_key for route in app_spec.ROUTES)
        socket_url = server.url.replace("http://", "ws://", 1) + app_spec.SOCKET_PATH
        rows = [
            ["App", f"{server.url}/"],
            ["API", f"{server.url}  ({routes})"],
            ["Socket", f"{socket_url}?token=<JWT>  (streamed answers)"],
        ]
        for item in users:
            shown = item.password if generated else "(as given)"
            rows.append(["User", f"{item.username}  password: {shown}"])
        lines: list[str | Text] = [
            Text("chatbot-deploy local is running.", style="bold green"),
            *columns(rows, indent=2),
        ]
        if not api_key:
            lines.append(Text("OPENAI_API_KEY is not set: chat will answer an error.", "yellow"))
        if paths.web_dist() is None:
            lines.append(Text("The web app is not built; / explains how.", "yellow"))
        lines.append("Press Ctrl-C to stop.")
        # Ctrl-C and SIGTERM stop it cleanly, handled before anyone is told the app is up.
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda _signum, _frame: stop.set())
        print_lines(out, lines)
        serve(server, stop)
    err.print("Stopped.")
