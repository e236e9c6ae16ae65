"""Benchmark: AWS calls and wall time of `up` (fresh, no-op), a code change and `teardown`,
against a local moto server, counted by hooking botocore's event system; then site sync
compared with `aws s3 sync` on the same files and the same server.

Offline by default: the layer is built by the real build code with a stand-in for pip (one
small package), the web app is a generated Vite-like build. `--real-layer` builds the real
layer with pip instead (needs PyPI; cached in the user's cache directory).

    python -m benchmarks.deploy [--files N] [--kib K] [--real-layer] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from benchmarks.site_sync import compare_sync, generate_files
from chatbot_deploy import paths, stack_settings
from chatbot_deploy.aws import connect
from chatbot_deploy.deploy import (
    engine,
    functions,
    inventory,
    layer,
    lock,
    packaging,
    site,
    teardown,
)
from chatbot_deploy.deploy.calls import CallLog
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import RunRecord
from chatbot_deploy.names import StackNames
from chatbot_deploy.stack_settings import Settings

REGION = "us-east-1"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def offline_installer(requirements: Path, target: Path, arch: str) -> None:
    """Stands in for pip: one pure-Python package."""
    (target / "benchdep").mkdir()
    (target / "benchdep" / "__init__.py").write_text("VERSION = '1.0'\n")
    info = target / "benchdep-1.0.dist-info"
    info.mkdir()
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n")


@dataclass
class Phase:
    name: str
    seconds: float
    reads: int
    writes: int
    lock_writes: int  # of `writes`: taking and releasing the stack's lock (its item)
    record: RunRecord | None = None

    def row(self) -> str:
        return (
            f"| {self.name} | {self.reads} | {self.writes - self.lock_writes} | "
            f"{self.lock_writes} | {self.seconds:.2f} |"
        )


# The engine writes no DynamoDB item: these calls are the lock's (deploy/lock.py).
LOCK_ITEM_WRITES = {("dynamodb", op) for op in ("PutItem", "UpdateItem", "DeleteItem")}


def measure(name: str, action: Callable[[DeployContext], RunRecord | None]) -> Phase:
    """One CLI-like invocation: a new session (so every call is counted), then `action`."""
    start = time.perf_counter()
    aws = connect(None, REGION)
    log = CallLog().attach(aws.session)
    ctx = DeployContext.create(aws, StackNames("bench"))
    record = action(ctx)
    seconds = time.perf_counter() - start
    lock_writes = [call for call in log.writes if call in LOCK_ITEM_WRITES]
    return Phase(name, seconds, len(log.reads), len(log.writes), len(lock_writes), record)


def critical_path(record: RunRecord) -> str:
    return " → ".join(f"{step.key} {step.seconds:.2f}s" for step in record.critical_path())


def concurrency(record: RunRecord) -> float:
    busy = sum(step.seconds for step in record.steps.values())
    return busy / max(record.finished - record.started, 1e-9)


def run(files: int, kib: int, real_layer: bool) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # no per-request lines
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = {key: os.environ.get(key) for key in [*ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
        os.environ.pop("AWS_PROFILE", None)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            dist = generate_files(work / "dist", files, kib)
            code_dir = work / "chatbot_lambda"
            shutil.copytree(
                paths.LAMBDA_PACKAGE_DIR, code_dir, ignore=shutil.ignore_patterns("__pycache__")
            )

            def code(kind: str) -> functions.Code:
                files = functions.files_for(kind, packaging.function_files(code_dir))
                data = packaging.deterministic_zip(files)
                return functions.Code(data, packaging.code_sha256(data))

            cache = None if real_layer else work / "layer-cache"
            installer = None if real_layer else offline_installer
            sources = engine.Sources(
                function_code=code,
                build_layer=lambda arch: layer.build_layer(
                    arch, cache_dir=cache, installer=installer
                ),
                layer_hash=layer.layer_hash,
                build_web=lambda: dist,
                sync_site=site.sync_site,
            )

            def up(ctx: DeployContext) -> RunRecord:
                # As the command does: the stack's lock, its stored settings, then the steps.
                with lock.StackLock(ctx.client("dynamodb"), ctx.names, "up") as held:
                    stored = stack_settings.load(ctx.client("ssm"), ctx.names) or Settings()
                    job = engine.Job(replace(ctx, settings=stored), sources, "sk-bench")
                    return engine.up(job, guard=held.check).record

            def change_code(ctx: DeployContext) -> RunRecord:
                handler = code_dir / "chat.py"
                handler.write_text(handler.read_text() + "\n# changed\n")
                return up(ctx)

            def remove(ctx: DeployContext) -> RunRecord | None:
                dynamodb = ctx.client("dynamodb")
                found = inventory.take(ctx)
                if not found.present and not lock.table_exists(dynamodb, ctx.names):
                    return None  # "Nothing to delete": no lock taken
                with lock.StackLock(dynamodb, ctx.names, "teardown") as held:
                    record = teardown.teardown(ctx, inventory.take(ctx), guard=held.check)
                    lock.delete_table(dynamodb, ctx.names)
                return record

            phases = [
                measure("fresh `up`", up),
                measure("no-op `up`", up),
                measure("`up` after one handler changed", change_code),
                measure("`teardown`", remove),
                measure("second `teardown`", remove),
            ]
            sync = compare_sync(endpoint, dist)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    fresh, noop = phases[0].record, phases[1].record
    assert fresh is not None and noop is not None
    return {
        "phases": [
            {"name": p.name, "reads": p.reads, "writes": p.writes, "seconds": round(p.seconds, 3)}
            for p in phases
        ],
        "fresh_critical_path": critical_path(fresh),
        "fresh_concurrency": round(concurrency(fresh), 2),
        "fresh_steps": {k: round(s.seconds, 3) for k, s in fresh.steps.items()},
        "noop_critical_path": critical_path(noop),
        "noop_steps": {k: round(s.seconds, 3) for k, s in noop.steps.items()},
        "site_sync": {k: round(v, 3) for k, v in sync.items()},
        "markdown": "\n".join(
            [
                "| run | reads | writes to the stack | lock item writes | wall time (s) |",
                "| --- | ---: | ---: | ---: | ---: |",
                *(p.row() for p in phases),
            ]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=40, help="files in the generated web app")
    parser.add_argument("--kib", type=int, default=32, help="size of each asset in KiB")
    parser.add_argument("--real-layer", action="store_true", help="build the layer with pip")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = run(args.files, args.kib, args.real_layer)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(figures["markdown"])
    print()
    print(f"fresh `up` critical path: {figures['fresh_critical_path']}")
    print(f"no-op `up` critical path: {figures['noop_critical_path']}")
    print(
        f"fresh `up` concurrency: {figures['fresh_concurrency']}x (sum of step times / wall time)"
    )
    print()
    print("site sync (seconds):")
    for key, value in figures["site_sync"].items():
        print(f"  {key}: {value}")
    if "aws_s3_sync_first" not in figures["site_sync"]:
        print("  (aws CLI not found: set AWS_CLI or put aws on PATH to compare)")


if __name__ == "__main__":
    main()
