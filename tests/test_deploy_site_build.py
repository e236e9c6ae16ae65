"""Building the web app: npm is only run when the frontend sources changed.

A fake `npm` (a shell script) stands in for Node: it logs its arguments and writes what
`npm ci` and `npm run build` would. No network.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from chatbot_deploy import paths
from chatbot_deploy.deploy import site
from chatbot_deploy.errors import UserError

FAKE_NPM = """#!/bin/sh
echo "$*" >> "$NPM_LOG"
if [ -n "$NPM_FAIL" ]; then
  echo "some progress"
  echo "npm ERR! $NPM_FAIL" >&2
  exit 1
fi
case "$1" in
  ci|install) mkdir -p node_modules/vite && echo ok > node_modules/vite/index.js ;;
  run)
    [ -d node_modules ] || { echo "vite: not found" >&2; exit 127; }
    [ -n "$NPM_NO_OUTPUT" ] && exit 0
    rm -rf dist && mkdir -p dist/assets
    cp index.html dist/index.html
    cat src/*.js > dist/assets/index-Ab12Cd34.js
    ;;
esac
"""


@pytest.fixture
def frontend(tmp_path):
    root = tmp_path / "frontend"
    (root / "src").mkdir(parents=True)
    (root / "public").mkdir()
    (root / "package.json").write_text('{"name": "web", "scripts": {"build": "vite build"}}')
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (root / "index.html").write_text("<!doctype html><div id=app></div>")
    (root / "vite.config.ts").write_text("export default {}")
    (root / "src" / "main.js").write_text("console.log(1)\n")
    (root / "public" / "favicon.svg").write_text("<svg/>")
    return root


@pytest.fixture
def npm(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(FAKE_NPM)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "npm.log"
    log.write_text("")
    monkeypatch.setenv("NPM_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("NPM_FAIL", raising=False)
    return log


def _runs(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_first_build_installs_and_builds(frontend, npm):
    dist = site.build_web(source=frontend)
    assert dist == frontend / "dist"
    assert _runs(npm) == ["ci", "run build"]
    assert (dist / "index.html").read_text() == "<!doctype html><div id=app></div>"
    assert (dist / site.SOURCE_HASH_FILE).read_text().strip() == site.source_hash(frontend)


def test_unchanged_sources_skip_npm_entirely(frontend, npm, monkeypatch):
    site.build_web(source=frontend)
    monkeypatch.setenv("PATH", "/nonexistent")  # not even npm is needed now
    assert site.build_web(source=frontend) == frontend / "dist"
    assert _runs(npm) == ["ci", "run build"]


def test_source_change_rebuilds_without_reinstalling(frontend, npm):
    site.build_web(source=frontend)
    (frontend / "src" / "main.js").write_text("console.log(2)\n")
    dist = site.build_web(source=frontend)
    assert _runs(npm) == ["ci", "run build", "run build"]
    assert (dist / "assets" / "index-Ab12Cd34.js").read_text() == "console.log(2)\n"


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "public" / "robots.txt").write_text("x"),
        lambda root: (root / "vite.config.ts").write_text("export default {base: '/'}"),
        lambda root: (root / "index.html").write_text("<!doctype html>changed"),
        lambda root: (root / "src" / "main.js").rename(root / "src" / "app.js"),
    ],
)
def test_every_source_kind_counts(frontend, npm, change):
    site.build_web(source=frontend)
    change(frontend)
    site.build_web(source=frontend)
    assert _runs(npm)[-1] == "run build"
    assert len(_runs(npm)) == 3


def test_lock_change_reinstalls(frontend, npm):
    site.build_web(source=frontend)
    (frontend / "package-lock.json").write_text('{"lockfileVersion": 3, "x": 1}')
    site.build_web(source=frontend)
    assert _runs(npm) == ["ci", "run build", "ci", "run build"]


def test_missing_node_modules_reinstalls(frontend, npm):
    site.build_web(source=frontend)
    (frontend / "src" / "main.js").write_text("console.log(3)\n")
    shutil.rmtree(frontend / "node_modules")
    site.build_web(source=frontend)
    assert _runs(npm) == ["ci", "run build", "ci", "run build"]


def test_deleted_dist_rebuilds(frontend, npm):
    site.build_web(source=frontend)
    (frontend / "dist" / "index.html").unlink()
    site.build_web(source=frontend)
    assert _runs(npm) == ["ci", "run build", "run build"]
    assert (frontend / "dist" / "index.html").is_file()


def test_force_reinstalls_and_rebuilds(frontend, npm):
    site.build_web(source=frontend)
    site.build_web(force=True, source=frontend)
    assert _runs(npm) == ["ci", "run build", "ci", "run build"]


def test_without_lock_npm_install_is_used(frontend, npm):
    (frontend / "package-lock.json").unlink()
    site.build_web(source=frontend)
    assert _runs(npm) == ["install", "run build"]


def test_explicit_npm_path(frontend, npm, tmp_path, monkeypatch):
    fake_bin = str(tmp_path / "bin")
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != fake_bin]
    monkeypatch.setenv("PATH", os.pathsep.join(path))  # the fake is no longer found on PATH
    site.build_web(source=frontend, npm=str(tmp_path / "bin" / "npm"))
    assert _runs(npm) == ["ci", "run build"]


def test_missing_npm_is_a_user_error(frontend, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match=r"npm not found: install Node\.js 20\+"):
        site.build_web(source=frontend)


def test_npm_failure_shows_its_output(frontend, npm, monkeypatch):
    monkeypatch.setenv("NPM_FAIL", "code ERESOLVE")
    with pytest.raises(UserError) as caught:
        site.build_web(source=frontend)
    assert "`npm ci` failed" in str(caught.value)
    assert "npm ERR! code ERESOLVE" in str(caught.value)
    assert not (frontend / "dist").exists()


def test_build_without_output_is_a_user_error(frontend, npm, monkeypatch):
    monkeypatch.setenv("NPM_NO_OUTPUT", "1")
    with pytest.raises(UserError, match="did not produce"):
        site.build_web(source=frontend)


def test_failed_build_is_retried_next_time(frontend, npm, monkeypatch):
    site.build_web(source=frontend)
    (frontend / "src" / "main.js").write_text("broken(\n")
    monkeypatch.setenv("NPM_FAIL", "build error")
    with pytest.raises(UserError):
        site.build_web(source=frontend)
    monkeypatch.delenv("NPM_FAIL")
    site.build_web(source=frontend)
    assert _runs(npm)[-1] == "run build"
    assert (frontend / "dist" / "assets" / "index-Ab12Cd34.js").read_text() == "broken(\n"


def test_source_hash_ignores_build_outputs_and_dependencies(frontend):
    before = site.source_hash(frontend)
    (frontend / "dist").mkdir()
    (frontend / "dist" / "index.html").write_text("built")
    (frontend / "node_modules").mkdir()
    (frontend / "node_modules" / "x.js").write_text("dep")
    (frontend / "README.md").write_text("docs")
    assert site.source_hash(frontend) == before


def test_installed_package_uses_the_shipped_app(tmp_path, monkeypatch):
    shipped = tmp_path / "web"
    shipped.mkdir()
    (shipped / "index.html").write_text("prebuilt")
    monkeypatch.setattr(paths, "frontend_source", lambda: None)
    monkeypatch.setattr(paths, "web_dist", lambda: shipped)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert site.build_web() == shipped


def test_installed_package_without_app_is_a_user_error(monkeypatch):
    monkeypatch.setattr(paths, "frontend_source", lambda: None)
    monkeypatch.setattr(paths, "web_dist", lambda: None)
    with pytest.raises(UserError, match="no built web app"):
        site.build_web()
