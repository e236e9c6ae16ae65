"""Deterministic zip archives: the function code package, and the helper the layer shares.

The same source files always give a byte-identical archive (sorted entries, fixed timestamps,
fixed permissions, fixed compression), so `CodeSha256` only changes when the code does and
`up` can skip an unchanged function.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from chatbot_deploy import paths

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
FILE_MODE = 0o644
_REGULAR_FILE = 0o100000  # S_IFREG: tells unzip (and Lambda) the entry is a plain file
_COMPRESS_LEVEL = 6

FUNCTION_ARCHIVE_ROOT = "chatbot_lambda"
_FUNCTION_EXCLUDED_NAMES = frozenset({"requirements.txt"})  # the layer's lock, not code


def is_build_cache(relative: Path) -> bool:
    """True for interpreter caches, which never belong in an archive."""
    return "__pycache__" in relative.parts or relative.suffix in {".pyc", ".pyo"}


def tree_files(
    root: Path,
    prefix: str,
    *,
    exclude: Callable[[Path], bool] = is_build_cache,
) -> list[tuple[str, Path]]:
    """(archive name, file) for every file under `root`, named `prefix/relative/path`.

    `exclude` gets each file's path relative to `root` and drops it when it returns True.
    """
    entries: list[tuple[str, Path]] = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(root)
        if exclude(relative):
            continue
        name = "/".join((prefix.strip("/"), *relative.parts)) if prefix else relative.as_posix()
        entries.append((name, path))
    return sorted(entries)


def write_deterministic_zip(files: Iterable[tuple[str, Path]], out: BinaryIO) -> None:
    """Write a reproducible zip of `files` ((archive name, source file) pairs) to `out`."""
    ordered = sorted(files, key=lambda entry: entry[0])
    _check_names(name for name, _ in ordered)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, source in ordered:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the permission bits
            info.external_attr = (_REGULAR_FILE | FILE_MODE) << 16
            with source.open("rb") as src, archive.open(info, "w") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)


def deterministic_zip(files: Iterable[tuple[str, Path]]) -> bytes:
    """A reproducible zip of `files` ((archive name, source file) pairs), in memory."""
    buffer = io.BytesIO()
    write_deterministic_zip(files, buffer)
    return buffer.getvalue()


def _check_names(names: Iterator[str]) -> None:
    previous = None
    for name in names:
        if not name or name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise ValueError(f"unsafe archive name: {name!r}")
        if name == previous:
            raise ValueError(f"duplicate archive name: {name!r}")
        previous = name


def _function_excluded(relative: Path) -> bool:
    return is_build_cache(relative) or relative.as_posix() in _FUNCTION_EXCLUDED_NAMES


def function_files(package_dir: Path | None = None) -> list[tuple[str, Path]]:
    """The files of the function package, as `chatbot_lambda/...` archive entries."""
    root = package_dir or paths.LAMBDA_PACKAGE_DIR
    return tree_files(root, FUNCTION_ARCHIVE_ROOT, exclude=_function_excluded)


def function_zip(package_dir: Path | None = None) -> bytes:
    """The deployment package of every function: the `chatbot_lambda` package, zipped."""
    root = package_dir or paths.LAMBDA_PACKAGE_DIR
    files = function_files(root)
    if f"{FUNCTION_ARCHIVE_ROOT}/__init__.py" not in {name for name, _ in files}:
        raise FileNotFoundError(f"no Python package in {root}")
    return deterministic_zip(files)


def code_sha256(data: bytes) -> str:
    """Base64 of the SHA-256 digest: what Lambda reports as `CodeSha256`."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
