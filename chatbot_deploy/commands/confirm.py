"""Asking the person at the terminal: one way for every command, and never when there is
nobody to ask (a pipe, CI): then the command says which option to pass instead."""

from __future__ import annotations

import sys

import typer

from chatbot_deploy.errors import UserError


def interactive() -> bool:
    """Is a person typing on standard input? (Replaced in tests that play that person.)"""
    return sys.stdin.isatty()


def confirm(question: str, *, yes: bool, flag: str = "--yes") -> None:
    """Return if the user agrees (or gave `flag`); otherwise exit 1 having changed nothing.
    Off a terminal there is nobody to ask, and a piped `y` is not a person agreeing: the
    command says to pass `flag`."""
    if yes:
        return
    if not interactive():
        raise UserError(f"this needs confirmation and there is no terminal: pass {flag}")
    if not typer.confirm(question, default=False, err=True):
        raise UserError("not confirmed: nothing was changed")
