"""Benchmark: `sync_site` against `aws s3 sync` on the same files and the same S3 emulator.

Both sync a generated Vite-like build into their own bucket three times: the first upload,
a second run with nothing changed, and a run after one file changed. `aws` is the AWS CLI
(v1 from PyPI or v2); it is looked up as $AWS_CLI, else on PATH, and skipped when absent.
Install it apart from the project's venv (it pins its own botocore), e.g.
`python3 -m venv /tmp/awscli && /tmp/awscli/bin/pip install awscli`.

    python -m benchmarks.site_sync [--files N] [--kib K]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from chatbot_deploy.deploy.site import sync_site

_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_CONFIG = b'{"apiUrl": "https://example.invalid", "stack": "bench"}\n'


def generate_files(dest: Path, count: int = 40, kib: int = 32, seed: int = 7) -> Path:
    """A fake `vite build` output: index.html, hashed assets, a few public files."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    (dest / "assets").mkdir(parents=True, exist_ok=True)
    # as Vite's build writes it: the Content-Security-Policy the CDN's headers start from
    (dest / "index.html").write_text(
        '<!doctype html><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'self'\"><div id=app></div>\n"
    )
    (dest / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    for i in range(max(0, count - 2)):
        digest = "".join(rng.choice(alphabet) for _ in range(8))
        suffix = (".js", ".css", ".woff2")[i % 3]
        body = "".join(rng.choice(alphabet) for _ in range(kib * 1024))
        (dest / "assets" / f"chunk{i}-{digest}{suffix}").write_text(body)
    return dest


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _aws_cli() -> str | None:
    return os.environ.get("AWS_CLI") or shutil.which("aws")


def _aws_sync(aws: str, endpoint_url: str, files: Path, bucket: str) -> None:
    env = {**os.environ, **_CREDENTIALS, "AWS_CONFIG_FILE": os.devnull}
    env.pop("AWS_PROFILE", None)
    subprocess.run(
        [aws, "s3", "sync", str(files), f"s3://{bucket}", "--delete", "--only-show-errors"],
        env={**env, "AWS_ENDPOINT_URL": endpoint_url},
        check=True,
    )


def compare_sync(endpoint_url: str, files: Path) -> dict[str, float]:
    """Seconds taken by sync_site and by `aws s3 sync` (if installed) for the same work.

    Keys: `<tool>_first` (empty bucket), `<tool>_noop` (nothing changed), `<tool>_one_change`
    (one asset rewritten), with tool `sync_site` or `aws_s3_sync`; plus `files`.
    `files` is copied; the original is left as it is.
    """
    s3: Any = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(max_pool_connections=16),
    )
    results: dict[str, float] = {"files": float(sum(1 for p in files.rglob("*") if p.is_file()))}
    with tempfile.TemporaryDirectory() as work:
        runners: dict[str, Callable[[Path, str], object]] = {
            "sync_site": lambda tree, bucket: sync_site(s3, bucket, tree, _CONFIG),
        }
        aws = _aws_cli()
        if aws is not None:
            runners["aws_s3_sync"] = lambda tree, bucket: _aws_sync(aws, endpoint_url, tree, bucket)
        for tool, run in runners.items():
            tree = Path(work) / tool
            shutil.copytree(files, tree)
            bucket = f"bench-{tool.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            results[f"{tool}_first"] = _timed(lambda: run(tree, bucket))  # noqa: B023
            results[f"{tool}_noop"] = _timed(lambda: run(tree, bucket))  # noqa: B023
            changed = next(p for p in sorted((tree / "assets").iterdir()) if p.is_file())
            changed.write_text(changed.read_text() + "// changed\n")
            results[f"{tool}_one_change"] = _timed(lambda: run(tree, bucket))  # noqa: B023
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=40, help="number of files in the build")
    parser.add_argument("--kib", type=int, default=32, help="size of each asset in KiB")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        with tempfile.TemporaryDirectory() as tmp:
            files = generate_files(Path(tmp) / "dist", args.files, args.kib)
            figures = compare_sync(f"http://{host}:{port}", files)
    finally:
        server.stop()
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}, indent=2))
    if _aws_cli() is None:
        print("aws CLI not found (set AWS_CLI or put aws on PATH): only sync_site was timed")


if __name__ == "__main__":
    main()
