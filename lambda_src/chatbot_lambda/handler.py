"""The wrapper every HTTP handler goes through: client errors become 4xx, anything
unexpected is logged (without request data) and answered with a bare 500 JSON body."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from chatbot_lambda.http import Event, HttpError, Response, error_response

logger = logging.getLogger("chatbot")
logger.setLevel(logging.INFO)

HttpHandler = Callable[[Event, Any], Response]


def http_handler(func: HttpHandler) -> HttpHandler:
    @functools.wraps(func)
    def wrapper(event: Event, context: Any) -> Response:
        try:
            return func(event, context)
        except HttpError as exc:
            return error_response(exc.status, exc.message)
        except Exception as exc:
            # Type only: exception text may quote request data.
            logger.error("unhandled %s in %s", type(exc).__name__, func.__module__)
            return error_response(500, "internal error")

    return wrapper
