"""The settings of a stack deployed before settings were stored with it, read back from
what is deployed (the chat function's environment and architecture, its log group's
retention), so the first `up` of this version changes nothing the user had chosen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatbot_deploy import stack_settings
from chatbot_deploy.deploy import distribution, functions, logs
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.errors import UserError
from chatbot_deploy.stack_settings import Settings
from chatbot_lambda import settings as env

SOURCE_FUNCTION = "chat"  # the function whose environment carries the app settings


def deployed_settings(ctx: DeployContext, *, replacing: Iterable[str] = ()) -> Settings | None:
    """What the deployed stack runs with, or None when it has no chat function (a new
    stack). A value that is not valid any more is an error, unless its setting is in
    `replacing` (given or reset in this run)."""
    function = functions.get_function(ctx, SOURCE_FUNCTION)
    if function is None:
        return None
    configuration = function["Configuration"]
    variables = configuration.get("Environment", {}).get("Variables", {})
    found: dict[str, Any] = {
        # OPENAI_MODELS since several models are offered; OPENAI_MODEL (one) before
        "model": list(env.parse_models(variables.get(env.ENV_OPENAI_MODELS)))
        or variables.get(env.ENV_OPENAI_MODEL),
        "openai-base-url": variables.get(env.ENV_OPENAI_BASE_URL),
        "system-prompt": variables.get(env.ENV_SYSTEM_PROMPT),
        "arch": (configuration.get("Architectures") or ["x86_64"])[0],
        # stacks of that time were S3 websites (kept so until `up --cdn`), unless it has a
        # distribution (its settings parameter was deleted)
        "cdn": bool(distribution.find_distributions(ctx)),
    }
    group = logs.get_log_group(ctx, SOURCE_FUNCTION)
    if group is not None and "retentionInDays" in group:
        found["log-retention"] = int(group["retentionInDays"])
    skip = set(replacing)
    adopted: dict[str, Any] = {}
    for name, value in found.items():
        if value is None:
            continue
        try:
            adopted[name] = stack_settings.setting(name).validate(value)
        except stack_settings.InvalidSetting as exc:
            if name in skip:  # about to be replaced: the old value is not needed
                continue
            raise UserError(
                f"the deployed stack's {name} is not valid any more ({exc.reason}); "
                f"give --{name} VALUE or --reset {name}"
            ) from exc
    return stack_settings.apply(Settings(), adopted)
