"""Figures for the Lambda handlers and `local` (not a test: it prints numbers).

(a) cold import of each handler module in a fresh interpreter (the whole cold start, per
    memory size, is `benchmarks/cold_start.py`),
(b) login latency: the password KDF alone and a whole POST /login against `local`,
(c) requests/s and p50/p99 latency of authorized POST /chat against `local` with an instant
    OpenAI-compatible upstream, 8 concurrent keep-alive clients.

Run: .venv/bin/python -m benchmarks.handlers [--layer-dir DIR] [--seconds 10]

For (a) it builds (once, cached) a "Lambda-like" directory holding only the locked layer
requirements plus boto3 -- what a function has on Lambda -- and awslambdaric, the runtime
interface client AWS's Python runtimes run. The main column imports a handler after
``awslambdaric.bootstrap`` is loaded, as on Lambda; the others show a bare interpreter and the
cost without any bytecode cache (a layer without ``__pycache__`` pays that at every cold start).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
HANDLERS = ("authorizer", "login", "chat")
RUNS = 7

IMPORT_SNIPPET = """
import sys, time
sys.path[:0] = {paths!r}
if {runtime!r}:
    import awslambdaric.bootstrap  # what the Lambda runtime has loaded before our init
t = time.perf_counter()
{statement}
print((time.perf_counter() - t) * 1000)
"""

# Bumped when the Lambda-like directory needs other packages (it is rebuilt then).
LAMBDA_LIKE_RECIPE = "layer-lock + boto3 + awslambdaric v2"


def lambda_like_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
        "chatbot-deploy/bench-lambda-like"
    )
    marker = target / ".done"
    if not marker.exists() or marker.read_text() != LAMBDA_LIKE_RECIPE:
        print(f"building a Lambda-like package dir in {target} (pip, once) ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--upgrade",
                "--target",
                str(target),
                "-r",
                str(LAMBDA_SRC / "requirements.txt"),
                "boto3",
                # The runtime interface client that AWS's Python runtimes run: its bootstrap
                # imports (json, logging, re, decimal ...) are paid before a handler's init.
                "awslambdaric",
            ],
            check=True,
        )
        marker.write_text(LAMBDA_LIKE_RECIPE)
    return target


def without_bytecode(directory: Path, into: Path) -> Path:
    """A copy of `directory` with no __pycache__, as a layer or function zip unpacks."""
    copy = into / directory.name
    shutil.copytree(directory, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


def import_ms(
    statement: str, paths: list[str], *, runtime: bool = True, no_bytecode: bool = False
) -> list[float]:
    """Milliseconds `statement` takes in fresh isolated interpreters (-S -s), one per run.

    With `no_bytecode`, `paths` must hold no caches and none are written (-B): the packages are
    compiled at every import, as on Lambda's read-only file system; the stdlib keeps its own.
    """
    snippet = IMPORT_SNIPPET.format(paths=paths, runtime=runtime, statement=statement)
    flags = ["-S", "-s", *(["-B"] if no_bytecode else [])]
    results = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, *flags, "-c", snippet],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        )
        results.append(float(out.stdout.strip().splitlines()[-1]))
    return results


def fmt(values: list[float]) -> str:
    return f"{min(values):5.0f} / {statistics.median(values):5.0f} ms"


def section_cold(layer_dir: str | None) -> None:
    print(f"\n(a) cold import of each handler module, fresh interpreter, min / median of {RUNS}")
    print("    path: only the layer's locked packages + boto3 (as on Lambda), -S -s")
    like = lambda_like_dir(layer_dir)
    paths = [str(LAMBDA_SRC), str(like)]
    print(
        f"  {'':<11} {'after runtime bootstrap':>23}   {'bare interpreter':>17}"
        f"   {'no bytecode cache':>17}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-src-") as scratch:
        source_paths = [str(without_bytecode(d, Path(scratch))) for d in (LAMBDA_SRC, like)]
        for module in HANDLERS:
            statement = f"import chatbot_lambda.{module}"
            on_lambda = import_ms(statement, paths)
            bare = import_ms(statement, paths, runtime=False)
            source = import_ms(statement, source_paths, no_bytecode=True)
            print(f"  {module:<11} {fmt(on_lambda):>23}   {fmt(bare):>17}   {fmt(source):>17}")
    print(
        "  (the handler modules import boto3 with them; on Lambda their init also creates the"
        " clients and reads the secrets: `python -m benchmarks.cold_start` models a cold start)"
    )


def section_kdf() -> None:
    sys.path.insert(0, str(LAMBDA_SRC))
    from chatbot_lambda import passwords

    stored = passwords.hash_password("benchmark-password")
    times = []
    for _ in range(10):
        t = time.perf_counter()
        passwords.verify_password("benchmark-password", stored)
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"\n(b) login: scrypt verify ({passwords.CURRENT.encode()}) median "
        f"{statistics.median(times):.0f} ms, min {min(times):.0f} ms"
    )


def start(cmd: list[str], env: dict[str, str], ready: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    assert proc.stdout is not None
    seen = ""
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{cmd} exited:\n{seen}")
        seen += line
        if ready in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, seen


def post(
    conn: http.client.HTTPConnection, path: str, body: Mapping[str, object], headers: dict[str, str]
) -> tuple[int, bytes]:
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **headers})
    resp = conn.getresponse()
    return resp.status, resp.read()


def section_local(seconds: float, clients: int = 8) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    upstream, first = start([sys.executable, "-m", "tests.support.fake_openai"], env, "http")
    base_url = first.strip().splitlines()[-1]
    env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=base_url, COLUMNS="200")
    local, output = start(
        [
            sys.executable,
            "-m",
            "chatbot_deploy",
            "local",
            "--port",
            "0",
            "--user",
            "bench:bench-password-1",
        ],
        env,
        "Press Ctrl-C",
    )
    try:
        import re

        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", output).group(1))  # type: ignore[union-attr]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t = time.perf_counter()
        status, body = post(
            conn, "/login", {"username": "bench", "password": "bench-password-1"}, {}
        )
        login_ms = (time.perf_counter() - t) * 1000
        assert status == 200, body
        token = json.loads(body)["token"]
        auth = {"authorization": f"Bearer {token}"}
        message = {"messages": [{"role": "user", "content": "ping"}]}
        print(f"    whole POST /login against local: {login_ms:.0f} ms")
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop_at = time.perf_counter() + seconds

        def client() -> None:
            nonlocal errors
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine: list[float] = []
            bad = 0
            while time.perf_counter() < stop_at:
                s = time.perf_counter()
                code, _ = post(c, "/chat", message, auth)
                mine.append((time.perf_counter() - s) * 1000)
                bad += code != 200
            with lock:
                latencies.extend(mine)
                errors += bad

        post(conn, "/chat", message, auth)  # warm: authorizer cache, SDK client
        threads = [threading.Thread(target=client) for _ in range(clients)]
        began = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - began
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"\n(c) local POST /chat, {clients} clients, {elapsed:.1f} s: "
            f"{len(latencies) / elapsed:.0f} req/s, p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {p99:.1f} ms, non-200: {errors}"
        )
    finally:
        for proc in (local, upstream):
            proc.send_signal(2)
            proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layer-dir", help="directory with the Lambda layer's packages")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if not args.skip_cold:
        section_cold(args.layer_dir)
    section_kdf()
    section_local(args.seconds)


if __name__ == "__main__":
    main()
