"""The Lambda dependency layer: the locked requirements, installed for Lambda, zipped.

Wheels are always those of the Lambda platform (manylinux, CPython 3.12, the function's
architecture), never the build machine's, so a deploy from macOS or Windows works. The zip is
cached per (lock file, architecture, Python version): the second build is a file lookup.

Lambda's /opt is read-only, so a layer without bytecode is compiled again at every cold start
(0.6 to 0.8 s more for the chat function's `import openai` here; `benchmarks/handlers.py`).
Bytecode only loads in the exact Python version that wrote it, so the layer gets it when the
deploying interpreter is Lambda's version; from any other, it holds sources only (correct,
slower cold starts). Which of the two a layer holds does not change its identity: a layer
published from one machine is kept by a deploy from another.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chatbot_deploy import paths
from chatbot_deploy.deploy.context import ARCHITECTURES, RUNTIME
from chatbot_deploy.deploy.packaging import is_build_cache, tree_files, write_deterministic_zip
from chatbot_deploy.errors import UserError

LAMBDA_PYTHON_VERSION = RUNTIME.removeprefix("python")  # "3.12"
# manylinux2014 (glibc 2.17) is what AWS documents for Lambda; Lambda's python3.12 runs on
# Amazon Linux 2023 (glibc 2.34), so manylinux_2_28 wheels run there too.
_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}  # Lambda architecture -> wheel machine
LAYER_ROOT = "python"  # Lambda puts /opt/python on sys.path
# Bumped whenever the way the layer is made changes, so cached layers are rebuilt.
_RECIPE = "pip-target-v1"

Installer = Callable[[Path, Path, str], None]
"""Installs (locked requirements file, target directory, architecture) into the target."""


@dataclass(frozen=True)
class LayerArtifact:
    zip_path: Path
    requirements_hash: str  # hex sha256 of lock content, architecture, Python version
    arch: str  # "arm64" or "x86_64"

    @property
    def size_bytes(self) -> int:
        return self.zip_path.stat().st_size

    @property
    def bytecode_note(self) -> str:
        """Why the layer holds no bytecode, for `up`'s output; empty when it does."""
        with zipfile.ZipFile(self.zip_path) as archive:
            if any("/__pycache__/" in name for name in archive.namelist()):
                return ""
        return f"no bytecode: deploy from Python {LAMBDA_PYTHON_VERSION} for faster cold starts"


def platforms(arch: str) -> list[str]:
    """The pip --platform tags of Lambda for `arch`."""
    machine = _machine(arch)
    return [f"manylinux2014_{machine}", f"manylinux_2_28_{machine}"]


def _machine(arch: str) -> str:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown Lambda architecture {arch!r} (use {' or '.join(ARCHITECTURES)})")
    return _MACHINES[arch]


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/chatbot-deploy/layers, or ~/.cache/chatbot-deploy/layers."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chatbot-deploy" / "layers"


def requirements_hash(lock: bytes, arch: str, python_version: str = LAMBDA_PYTHON_VERSION) -> str:
    """What identifies a layer build: the lock's content, the architecture, the Python."""
    digest = hashlib.sha256()
    for part in (lock, arch.encode(), python_version.encode(), _RECIPE.encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _lock_file() -> Path:
    lock = paths.lambda_requirements()
    if not lock.is_file():
        raise UserError(f"the Lambda requirements lock is missing ({lock}): reinstall")
    return lock


def layer_hash(arch: str) -> str:
    """The requirements_hash the layer for `arch` has, without building it."""
    _machine(arch)
    return requirements_hash(_lock_file().read_bytes(), arch)


def pip_installer(requirements: Path, target: Path, arch: str) -> None:
    """Install the locked requirements as Lambda wheels into `target` with pip."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--no-deps",  # the lock is complete; resolving again could drift from it
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        *(arg for tag in platforms(arch) for arg in ("--platform", tag)),
        "--target",
        str(target),
        "--requirement",
        str(requirements),
    ]
    try:
        completed = subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
            command, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise UserError(f"could not run pip ({sys.executable}): {exc}") from exc
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        if any("No module named pip" in line for line in output):
            raise UserError(
                f"pip is not available in {sys.executable}: install chatbot-deploy in an "
                "environment with pip (python -m ensurepip) to build the Lambda layer"
            )
        errors = [line for line in output if line.startswith("ERROR:")]
        tail = "\n".join((errors or output)[-12:])
        raise UserError(f"building the Lambda layer ({arch}) with pip failed:\n{tail}")


def _strip(root: Path) -> None:
    """Drop what Lambda never uses: interpreter caches and console scripts."""
    for cache in [p for p in root.rglob("__pycache__") if p.is_dir()]:
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(root / "bin", ignore_errors=True)


def _nothing(path: Path) -> bool:
    return False


def compile_bytecode(root: Path, python_version: str) -> bool:
    """Precompile `root` when this interpreter is `python_version`; True if it did.

    Unchecked-hash pycs (PEP 552) stay valid whatever timestamps the zip gives the sources;
    a fixed hash seed and file names make them reproducible. A file that does not compile (a
    package's test data, say) just keeps no bytecode; Python compiles it if it is imported.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" != python_version:
        return False
    command = [sys.executable, "-m", "compileall", "-q", "-j", "0"]
    command += ["--invalidation-mode", "unchecked-hash", str(root)]
    command += ["-s", str(root), "-p", f"/opt/{LAYER_ROOT}"]  # tracebacks name Lambda's path
    subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        command, capture_output=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    return True


def _check_wheels(root: Path, arch: str) -> None:
    """Every installed wheel must be pure Python or built for Lambda's platform."""
    machine = _machine(arch)
    wheels = list(root.glob("*.dist-info/WHEEL"))
    if not wheels:
        raise UserError(f"building the Lambda layer ({arch}) installed no packages")
    for wheel in wheels:
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")
        ]
        for tag in tags:
            platform = tag.rsplit("-", 1)[-1]
            if platform != "any" and not (platform.startswith("manylinux") and machine in tag):
                raise UserError(
                    f"{wheel.parent.name} is built for {platform}, not Lambda {arch}: "
                    "the layer would not load"
                )


def build_layer(
    arch: str,
    *,
    cache_dir: Path | None = None,
    installer: Installer | None = None,
) -> LayerArtifact:
    """The layer zip for `arch` (`python/...` inside), built once per lock and cached."""
    _machine(arch)
    lock = _lock_file()
    digest = requirements_hash(lock.read_bytes(), arch)
    cache = cache_dir or default_cache_dir()
    zip_path = cache / f"layer-{arch}-{digest}.zip"
    artifact = LayerArtifact(zip_path=zip_path, requirements_hash=digest, arch=arch)
    if zip_path.is_file():
        return artifact

    cache.mkdir(parents=True, exist_ok=True)
    install = installer or pip_installer
    with tempfile.TemporaryDirectory(prefix="layer-", dir=cache) as work:
        root = Path(work) / LAYER_ROOT
        root.mkdir()
        install(lock, root, arch)
        _strip(root)
        _check_wheels(root, arch)
        compiled = compile_bytecode(root, LAMBDA_PYTHON_VERSION)
        files = tree_files(root, LAYER_ROOT, exclude=_nothing if compiled else is_build_cache)
        partial = Path(work) / "layer.zip"
        with partial.open("wb") as out:
            write_deterministic_zip(files, out)
        os.replace(partial, zip_path)  # atomic: a concurrent reader sees all or nothing
    return artifact
