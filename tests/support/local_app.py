"""Run `chatbot-deploy local` in-process on 127.0.0.1 (random port), for tests/benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator
from chatbot_deploy.local.gateway import Handler, HttpApi, load_handler
from chatbot_deploy.local.server import LocalServer

USERNAME = "alice"
PASSWORD = "alice-password-1"
API_KEY = "sk-test-0123456789"


@dataclass
class LocalApp:
    url: str
    server: LocalServer
    aws: emulator.Emulator
    api: HttpApi


@contextmanager
def running_local(
    base_url: str,
    *,
    api_key: str | None = API_KEY,
    web_dir: Path | None = None,
    users: tuple[emulator.LocalUser, ...] = (emulator.LocalUser(USERNAME, PASSWORD),),
    config: app_spec.AppConfig | None = None,
    handlers: Mapping[str, Handler] | None = None,
) -> Iterator[LocalApp]:
    """`handlers`: functions (by kind) to run instead of the real ones."""
    config = config or app_spec.AppConfig(models=("test-model",), openai_base_url=base_url)
    with emulator.running(config, api_key) as aws:
        for user in users:
            aws.add_user(user)
        if handlers is None:
            api = HttpApi.from_spec()
        else:
            api = HttpApi(
                {
                    kind: handlers.get(kind) or load_handler(spec.handler)
                    for kind, spec in app_spec.FUNCTIONS.items()
                }
            )
        server = LocalServer(("127.0.0.1", 0), api, web_dir, aws.names.stack, config.models)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LocalApp(url=server.url, server=server, aws=aws, api=api)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
