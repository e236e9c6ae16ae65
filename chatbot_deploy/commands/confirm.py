"""One way to ask before doing something that cannot be undone, for every command."""

from __future__ import annotations

import sys

import typer

from chatbot_deploy.errors import UserError


def confirm(question: str, *, yes: bool, flag: str = "--yes") -> None:
    """Return if the user agrees (or gave `flag`); otherwise exit 1 having changed nothing.
    Off a terminal there is nobody to ask: the command says to pass `flag`."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(f"this needs confirmation and there is no terminal: pass {flag}")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)
