"""Hatchling build hook: ship the built web app inside the wheel as ``chatbot_deploy/web/``.

For a regular (non-editable) wheel, ``frontend/dist`` is built first when it is missing or
older than the sources (``npm ci`` when ``node_modules`` is missing or behind the lock file,
then ``npm run build``), and included where ``chatbot_deploy.paths.PACKAGED_WEB_DIR`` looks.
Editable installs do nothing: ``paths.web_dist()`` finds ``frontend/dist`` in the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WHEEL_WEB_DIR = "chatbot_deploy/web"
# What the build reads; a change to any of them makes dist stale.
SOURCES = ("src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts")


def _files(frontend: Path) -> Iterator[Path]:
    for name in SOURCES:
        path = frontend / name
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def dist_is_stale(frontend: Path) -> bool:
    index = frontend / "dist" / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _files(frontend))


def dependencies_are_stale(frontend: Path) -> bool:
    installed = frontend / "node_modules" / ".package-lock.json"
    lock = frontend / "package-lock.json"
    return not installed.exists() or lock.stat().st_mtime > installed.stat().st_mtime


def _npm(frontend: Path, *args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "building the chatbot-deploy wheel needs the web app built: install Node.js 20+ "
            "and npm, or run `npm ci && npm run build` in frontend/ beforehand"
        )
    print(f"hatch_build: npm {' '.join(args)} (in {frontend})", file=sys.stderr)
    # npm's output goes to stderr so it never mixes with a build frontend's stdout protocol.
    subprocess.run([npm, *args], cwd=frontend, check=True, stdout=sys.stderr)  # noqa: S603


def build_web_app(frontend: Path) -> Path:
    """Make sure ``frontend/dist`` is current; return it."""
    if dist_is_stale(frontend):
        if not (frontend / "package.json").exists():
            raise RuntimeError(f"{frontend} has no package.json and no built dist/")
        if dependencies_are_stale(frontend):
            _npm(frontend, "ci", "--no-audit", "--no-fund")
        _npm(frontend, "run", "build")
    dist = frontend / "dist"
    if not (dist / "index.html").exists():
        raise RuntimeError(f"the web app build left no {dist / 'index.html'}")
    return dist


class FrontendBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        dist = build_web_app(Path(self.root) / "frontend")
        build_data["force_include"][str(dist)] = WHEEL_WEB_DIR
