"""Run `chatbot-deploy ARGS...` with offline artifacts (the child process of test_kill.py).

The function code, layer (fake installer) and web app come from paths in the environment;
AWS is the moto server named by AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chatbot_deploy import cli
from chatbot_deploy.deploy import engine, functions, layer, packaging, site
from tests.deploy.conftest import FakeInstaller


def sources() -> engine.Sources:
    code_dir = Path(os.environ["KILL_CODE_DIR"])
    dist = Path(os.environ["KILL_DIST"])
    cache = Path(os.environ["KILL_LAYER_CACHE"])

    def code(kind: str) -> functions.Code:
        data = packaging.deterministic_zip(
            functions.files_for(kind, packaging.function_files(code_dir))
        )
        return functions.Code(data, packaging.code_sha256(data))

    return engine.Sources(
        function_code=code,
        build_layer=lambda arch: layer.build_layer(
            arch, cache_dir=cache, installer=FakeInstaller()
        ),
        layer_hash=layer.layer_hash,
        build_web=lambda: dist,
        sync_site=site.sync_site,
    )


if __name__ == "__main__":
    engine.default_sources = sources
    sys.argv = ["chatbot-deploy", *sys.argv[1:]]
    cli.main()
