"""Work a function does once per container, done in Lambda's init phase.

Lambda runs a handler module's top-level code (the init phase, up to 10 s) with burst CPU,
and each invocation with CPU in proportion to the function's memory (one full vCPU at
1,769 MB, about a seventh of one at 256 MB). Work every cold start needs anyway (boto3's
clients, the secrets from SSM, the model provider's client) is therefore cheapest at init:
the same CPU seconds, at full speed. docs/cold-starts.md has the model and the figures.

Each handler module ends with one :func:`at_init` call naming its steps. They run only on
Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set): importing a handler under `local` or in the
tests does no AWS work.

A step that fails (SSM throttled, a parameter missing, a network error) is logged, its type
only, and left undone: an exception out of init would fail the invocation and make Lambda
run init again on the next one, a crash loop while SSM is throttled. The handlers do every
step again on first use (each is cached once done), so the first request retries it and, if
it fails again, answers with the contract's error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

logger = logging.getLogger("chatbot.init")
logger.setLevel(logging.INFO)

# Set by Lambda in every function's environment (and by nothing else we run).
LAMBDA_FUNCTION_ENV = "AWS_LAMBDA_FUNCTION_NAME"


def on_lambda() -> bool:
    return bool(os.environ.get(LAMBDA_FUNCTION_ENV))


def at_init(**steps: Callable[[], object]) -> dict[str, bool]:
    """Run each step (keyword: its name in the log) now, on Lambda; never raise.

    Returns which steps succeeded (empty off Lambda). What a step returns is discarded: the
    steps fill the containers' caches (`clients`, `parameters`, `upstream`), and a secret
    never reaches the log."""
    if not on_lambda():
        return {}
    done: dict[str, bool] = {}
    for name, step in steps.items():
        try:
            step()
        except Exception as exc:
            logger.warning(
                "init: %s not ready (%s); the first request tries again", name, type(exc).__name__
            )
            done[name] = False
        else:
            done[name] = True
    return done
