"""SecureString parameters from SSM Parameter Store, read once per container.

The SSM client comes from :mod:`chatbot_lambda.clients`; the values are cached for the life
of the container (read at init on Lambda, see `container`), and never logged.
"""

from __future__ import annotations

import threading

from chatbot_lambda import clients, settings

_cache: dict[str, str] = {}
_lock = threading.Lock()


class ParameterMissing(Exception):
    """The named parameter does not exist (not configured yet)."""


def get_secure(name: str) -> str:
    value = _cache.get(name)
    if value is not None:
        return value
    with _lock:
        value = _cache.get(name)
        if value is None:
            client = clients.client("ssm")
            try:
                reply = client.get_parameter(Name=name, WithDecryption=True)
            except client.exceptions.ParameterNotFound as exc:
                raise ParameterMissing(name) from exc
            value = str(reply["Parameter"]["Value"])
            _cache[name] = value
    return value


def jwt_secret() -> str:
    """The token signing secret named in this function's environment."""
    return get_secure(settings.TokenSettings.from_env().secret_param)


def reset_cache() -> None:
    """Forget cached values (a new container, for tests and `local`)."""
    with _lock:
        _cache.clear()
