"""The runtime configuration the web app reads from ``/config.json`` at start.

The same build serves every stack and `local`: only this file differs. `up` uploads it next
to the app; `local` answers it on the fly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

CONFIG_PATH = "/config.json"


def runtime_config(
    api_url: str, stack: str, socket_url: str | None = None, *, models: Sequence[str]
) -> dict[str, Any]:
    """`api_url` is a URL, or "/" for the page's own origin (the CDN); `socketUrl` (the
    WebSocket API, docs/api.md: a ws(s) URL, or a path on the page's origin) only when there
    is one; `models` are the
    models offered, the first the default (the stack's `--model` settings)."""
    if not models:
        raise ValueError("at least one model is offered")
    # "/" (the page's own origin, behind the CDN) stays "/"; a URL loses its trailing slash.
    config: dict[str, Any] = {"apiUrl": api_url.rstrip("/") or "/", "stack": stack}
    if socket_url is not None:
        config["socketUrl"] = socket_url
    config["models"] = list(models)
    return config


def runtime_config_bytes(
    api_url: str, stack: str, socket_url: str | None = None, *, models: Sequence[str]
) -> bytes:
    config = runtime_config(api_url, stack, socket_url, models=models)
    return json.dumps(config, indent=2).encode() + b"\n"
