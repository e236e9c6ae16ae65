"""Errors the CLI shows as one clear line (no traceback unless --debug)."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; the message says what and how."""

    exit_code = 1


class Interrupted(UserError):
    """Ctrl-C: what was done is said in the message; exit 130 as the shell expects."""

    exit_code = 130
