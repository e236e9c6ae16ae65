"""The runtime configuration the web app reads from ``/config.json`` at start.

The same build serves every stack and `local`: only this file differs. `up` uploads it next
to the app; `local` answers it on the fly.
"""

from __future__ import annotations

import json

CONFIG_PATH = "/config.json"


def runtime_config(api_url: str, stack: str, socket_url: str | None = None) -> dict[str, str]:
    """`socketUrl` (the WebSocket API, docs/api.md) only when there is one."""
    config = {"apiUrl": api_url.rstrip("/"), "stack": stack}
    if socket_url is not None:
        config["socketUrl"] = socket_url
    return config


def runtime_config_bytes(api_url: str, stack: str, socket_url: str | None = None) -> bytes:
    return json.dumps(runtime_config(api_url, stack, socket_url), indent=2).encode() + b"\n"
