"""Hatchling build hook: ship the built web app inside the wheel as ``chatbot_deploy/web/``.

For a regular (non-editable) wheel, ``frontend/dist`` is built first unless it was built from
exactly the current sources -- the same rule, and the same code, as `chatbot-deploy up`
(``chatbot_deploy/webbuild.py``, standard library only, imported here from the source tree) --
and included where ``chatbot_deploy.paths.PACKAGED_WEB_DIR`` looks. Editable installs do
nothing: ``paths.web_dist()`` finds ``frontend/dist`` in the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WHEEL_WEB_DIR = "chatbot_deploy/web"


def build_web_app(root: Path) -> Path:
    """Make sure ``frontend/dist`` is current; return it."""
    sys.path.insert(0, str(root))
    try:
        # From the tree being built (standard library only), as `up` uses it.
        from chatbot_deploy import webbuild

        return webbuild.build(root / "frontend")
    finally:
        sys.path.remove(str(root))


class FrontendBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        dist = build_web_app(Path(self.root))
        build_data["force_include"][str(dist)] = WHEEL_WEB_DIR
