"""`chatbot-deploy local`: the real handlers behind an HTTP API emulator, on one port.

Only what the CLI needs before `local` runs lives here; the emulator, gateway and server
(moto, boto3 and the handlers with the openai SDK: ~1.3 s of imports) load when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalUser:
    username: str
    password: str
