"""Errors the CLI shows as one clear line (no traceback unless --debug)."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; the message says what and how."""

    exit_code = 1
