"""`chatbot-deploy local` as a user runs it: a real process, a real port, Ctrl-C to stop."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import http

ROOT = Path(__file__).resolve().parent.parent


def start_local(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("OPENAI_API_KEY", None) if env is None or "OPENAI_API_KEY" not in env else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatbot_deploy", "local", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    output = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output += line
        if "Press Ctrl-C" in line:
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", output)
            assert match, output
            return proc, output
    proc.kill()
    raise AssertionError(f"local did not start:\n{output}")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=20)
    return proc.returncode, rest


def url_of(output: str) -> str:
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", output)
    assert match
    return match.group(1)


@pytest.mark.slow
def test_default_demo_user_and_clean_ctrl_c():
    proc, output = start_local()
    try:
        match = re.search(r"User\s+demo\s+password:\s+(\S+)", output)
        assert match, output
        password = match.group(1)
        base = url_of(output)
        token = http.login(base, "demo", password)
        reply = http.post(
            f"{base}/chat", {"messages": [{"role": "user", "content": "hi"}]}, http.bearer(token)
        )
        assert reply.status == 503
        assert "OPENAI_API_KEY" in reply.json()["error"]
        assert "OPENAI_API_KEY is not set" in output
    finally:
        code, rest = stop(proc)
    assert code == 0, rest
    assert "Traceback" not in rest
    assert "Stopped." in rest


@pytest.mark.slow
def test_seeded_users_and_openai_settings_from_the_environment(fake_openai):
    proc, output = start_local(
        "--user",
        "bob:bob-password-1",
        "--user",
        "carol:carol-password-1",
        env={"OPENAI_API_KEY": "sk-from-env", "OPENAI_BASE_URL": fake_openai.base_url},
    )
    try:
        assert "sk-from-env" not in output
        assert "bob-password-1" not in output
        base = url_of(output)
        http.login(base, "carol", "carol-password-1")
        token = http.login(base, "bob", "bob-password-1")
        reply = http.post(
            f"{base}/chat", {"messages": [{"role": "user", "content": "hi"}]}, http.bearer(token)
        )
        assert reply.status == 200, reply.body
        assert fake_openai.requests[-1].api_key == "sk-from-env"
    finally:
        stop(proc)


@pytest.mark.slow
def test_several_models_are_offered_and_the_first_is_the_default(fake_openai):
    proc, output = start_local(
        "--user",
        "bob:bob-password-1",
        "--model",
        "m-default",
        "--model",
        "m-other",
        env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url},
    )
    try:
        base = url_of(output)
        config = http.request("GET", f"{base}/config.json")
        assert config.status == 200
        assert config.json()["models"] == ["m-default", "m-other"]
        token = http.login(base, "bob", "bob-password-1")
        messages = [{"role": "user", "content": "hi"}]
        reply = http.post(f"{base}/chat", {"messages": messages}, http.bearer(token))
        assert reply.status == 200, reply.body
        assert fake_openai.requests[-1].body["model"] == "m-default"
        reply = http.post(
            f"{base}/chat", {"messages": messages, "model": "m-other"}, http.bearer(token)
        )
        assert reply.status == 200, reply.body
        assert fake_openai.requests[-1].body["model"] == "m-other"
        asked = len(fake_openai.requests)
        reply = http.post(
            f"{base}/chat", {"messages": messages, "model": "gpt-4o-mini"}, http.bearer(token)
        )
        assert reply.status == 400
        assert "m-default, m-other" in reply.json()["error"]
        assert len(fake_openai.requests) == asked  # refused before the provider is asked
    finally:
        stop(proc)


@pytest.mark.slow
def test_sigterm_stops_it_cleanly_too():
    proc, _ = start_local()
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, rest
    assert "Stopped." in rest
    assert "Traceback" not in rest


def test_bad_user_option_is_refused_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-m", "chatbot_deploy", "local", "--user", "nopassword"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "NAME:PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_one_line_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "chatbot_deploy", "local", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_starts_without_loading_local_s_heavy_modules():
    # moto, boto3's data plane and the openai SDK are `local`'s alone: every other command
    # (and --help) would pay ~1.3 s of imports for them.
    code = "import sys, chatbot_deploy.cli; print(sorted({'moto', 'openai'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
