"""Building the web app (frontend/) with npm, only when its sources changed.

Standard library only: the wheel build hook (hatch_build.py) imports this module from the
source tree in an isolated build environment, and `up` uses it through
:func:`chatbot_deploy.deploy.site.build_web`, so both judge "is the build current?" the same
way: a hash of everything the build reads, recorded in ``dist/.source-hash``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from chatbot_deploy.errors import UserError

SOURCE_HASH_FILE = ".source-hash"  # in dist/: the sources the build was made from
LOCK_HASH_FILE = ".chatbot-deploy-lock-hash"  # in node_modules/: the lock npm ci installed

_SOURCE_FILES = ("package.json", "package-lock.json", "index.html")
_SOURCE_GLOBS = ("vite.config.*", "tsconfig*.json")
_SOURCE_DIRS = ("src", "public")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_inputs(source: Path) -> list[Path]:
    files = [source / name for name in _SOURCE_FILES if (source / name).is_file()]
    for pattern in _SOURCE_GLOBS:
        files.extend(p for p in source.glob(pattern) if p.is_file())
    for directory in _SOURCE_DIRS:
        if (source / directory).is_dir():
            files.extend(p for p in (source / directory).rglob("*") if p.is_file())
    return sorted(set(files))


def source_hash(source: Path) -> str:
    """A hash of everything the build reads: names and contents of the frontend sources."""
    digest = hashlib.sha256()
    for path in _source_inputs(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(_sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def _lock_hash(source: Path) -> str:
    lock = source / "package-lock.json"
    return _sha256_file(lock) if lock.is_file() else "no-lock"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _run_npm(npm: str, args: list[str], cwd: Path) -> None:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed arguments, npm found on PATH
            [npm, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise UserError(f"could not run {npm}: {exc}") from exc
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise UserError(f"`npm {' '.join(args)}` failed in {cwd}:\n{tail}")


def build(source: Path, *, force: bool = False, npm: str | None = None) -> Path:
    """``source/dist``, rebuilt first unless it was built from exactly these sources.

    Runs `npm ci` (when node_modules is missing or package-lock.json changed) and
    `npm run build`; `force` reinstalls and rebuilds regardless."""
    dist = source / "dist"
    wanted = source_hash(source)
    if not force and (dist / "index.html").is_file() and _read(dist / SOURCE_HASH_FILE) == wanted:
        return dist

    npm = npm or shutil.which("npm")
    if npm is None:
        raise UserError(
            "npm not found: install Node.js 20+ (https://nodejs.org) to build the web app "
            f"in {source}"
        )
    node_modules = source / "node_modules"
    lock = _lock_hash(source)
    if force or not node_modules.is_dir() or _read(node_modules / LOCK_HASH_FILE) != lock:
        _run_npm(npm, ["ci"] if lock != "no-lock" else ["install"], source)
        node_modules.mkdir(exist_ok=True)
        (node_modules / LOCK_HASH_FILE).write_text(lock + "\n")
    _run_npm(npm, ["run", "build"], source)
    if not (dist / "index.html").is_file():
        raise UserError(f"`npm run build` did not produce {dist / 'index.html'}")
    (dist / SOURCE_HASH_FILE).write_text(wanted + "\n")
    return dist
