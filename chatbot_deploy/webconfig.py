"""The runtime configuration the web app reads from ``/config.json`` at start.

The same build serves every stack and `local`: only this file differs. `up` uploads it next
to the app; `local` answers it on the fly.
"""

from __future__ import annotations

import json

CONFIG_PATH = "/config.json"


def runtime_config(api_url: str, stack: str) -> dict[str, str]:
    return {"apiUrl": api_url.rstrip("/"), "stack": stack}


def runtime_config_bytes(api_url: str, stack: str) -> bytes:
    return json.dumps(runtime_config(api_url, stack), indent=2).encode() + b"\n"
