"""`pip install .` must give a working tool outside the checkout (pipx users)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (built,) = out.glob("chatbot_deploy-*.whl")
    return built


@pytest.mark.slow
def test_wheel_ships_the_lambda_code_and_its_lock(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("login", "chat", "authorizer", "passwords", "tokens", "upstream"):
        assert f"chatbot_lambda/{module}.py" in names
    assert "chatbot_lambda/requirements.txt" in names
    assert "chatbot_deploy/cli.py" in names
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)


@pytest.mark.slow
def test_installed_package_finds_its_parts_outside_the_checkout(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    probe = (
        "import json; from chatbot_deploy import paths; "
        "print(json.dumps({'lambda': str(paths.LAMBDA_PACKAGE_DIR), "
        "'lock': str(paths.lambda_requirements()), "
        "'lock_exists': paths.lambda_requirements().exists(), "
        "'frontend_source': str(paths.frontend_source())}))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    found = json.loads(out.stdout)
    assert found["lambda"].startswith(str(target))
    assert found["lock"].startswith(str(target)) and found["lock_exists"]
    assert found["frontend_source"] == "None"  # no checkout around an installed package
    help_out = subprocess.run(
        [sys.executable, "-m", "chatbot_deploy", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "local" in help_out.stdout


@pytest.mark.slow
def test_wheel_ships_the_built_web_app(wheel: Path, tmp_path: Path):
    """hatch_build.py puts frontend/dist in the wheel where paths.web_dist() finds it."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "chatbot_deploy/web/index.html" in names
    assets = [n for n in names if n.startswith("chatbot_deploy/web/assets/")]
    assert any(n.endswith(".js") for n in assets) and any(n.endswith(".css") for n in assets)
    assert not any("node_modules" in n or n.startswith("frontend/") for n in names)
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--target", str(target), str(wheel)], check=True)
    probe = "from chatbot_deploy import paths; print(paths.web_dist())"
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(target / "chatbot_deploy" / "web")
