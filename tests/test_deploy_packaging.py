"""The function package and the deterministic zip helper."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from chatbot_deploy import paths
from chatbot_deploy.deploy import packaging


def _names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def _make_package(root: Path) -> Path:
    package = root / "chatbot_lambda"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text('"""pkg"""\n')
    (package / "login.py").write_text("def handler(event, context):\n    return 1\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "deep.py").write_text("X = 2\n")
    (package / "requirements.txt").write_text("openai==1.0\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "login.cpython-312.pyc").write_bytes(b"\x00cache")
    (package / "sub" / "stray.pyc").write_bytes(b"\x00cache")
    return package


def test_function_zip_of_real_package_contains_the_handlers():
    data = packaging.function_zip()
    names = _names(data)
    assert names == sorted(names)
    assert "chatbot_lambda/__init__.py" in names
    for module in ("login", "authorizer", "chat", "passwords", "settings"):
        assert f"chatbot_lambda/{module}.py" in names
    assert all(name.startswith("chatbot_lambda/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert "chatbot_lambda/requirements.txt" not in names
    # every .py file of the source package is shipped
    sources = {
        p.relative_to(paths.LAMBDA_PACKAGE_DIR).as_posix()
        for p in paths.LAMBDA_PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {n.removeprefix("chatbot_lambda/") for n in names if n.endswith(".py")} == sources


def test_function_zip_layout_and_exclusions(tmp_path):
    package = _make_package(tmp_path)
    names = _names(packaging.function_zip(package))
    assert names == [
        "chatbot_lambda/__init__.py",
        "chatbot_lambda/login.py",
        "chatbot_lambda/sub/__init__.py",
        "chatbot_lambda/sub/deep.py",
    ]


def test_function_zip_is_byte_identical_regardless_of_mtime_and_mode(tmp_path):
    package = _make_package(tmp_path)
    first = packaging.function_zip(package)
    later = time.time() + 3600
    for path in package.rglob("*"):
        if path.is_file():
            os.utime(path, (later, later))
            path.chmod(0o755)
    # a new cache file must not change the archive either
    (package / "__pycache__" / "sub.cpython-312.pyc").write_bytes(b"new")
    assert packaging.function_zip(package) == first
    assert packaging.code_sha256(packaging.function_zip(package)) == packaging.code_sha256(first)


def test_function_zip_changes_when_code_changes(tmp_path):
    package = _make_package(tmp_path)
    first = packaging.function_zip(package)
    (package / "login.py").write_text("def handler(event, context):\n    return 2\n")
    second = packaging.function_zip(package)
    assert second != first
    assert packaging.code_sha256(second) != packaging.code_sha256(first)


def test_entries_have_fixed_timestamp_and_permissions(tmp_path):
    package = _make_package(tmp_path)
    (package / "login.py").chmod(0o700)
    with zipfile.ZipFile(io.BytesIO(packaging.function_zip(package))) as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("chatbot_lambda/sub/deep.py") == b"X = 2\n"
        assert archive.testzip() is None


def test_extracted_package_is_importable(tmp_path):
    package = _make_package(tmp_path / "src")
    target = tmp_path / "out"
    with zipfile.ZipFile(io.BytesIO(packaging.function_zip(package))) as archive:
        archive.extractall(target)
    assert (target / "chatbot_lambda" / "sub" / "deep.py").read_text() == "X = 2\n"
    assert (target / "chatbot_lambda" / "login.py").stat().st_mode & 0o777 in (0o644, 0o600)


def test_function_zip_without_package_fails(tmp_path):
    (tmp_path / "x.py").write_text("")
    with pytest.raises(FileNotFoundError):
        packaging.function_zip(tmp_path)


def test_code_sha256_matches_lambda_format():
    data = b"hello"
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert packaging.code_sha256(data) == expected
    assert packaging.code_sha256(data) == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="


def test_deterministic_zip_sorts_entries_whatever_the_input_order(tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("A")
    b.write_text("B")
    forward = packaging.deterministic_zip([("x/a.txt", a), ("x/b.txt", b)])
    backward = packaging.deterministic_zip([("x/b.txt", b), ("x/a.txt", a)])
    assert forward == backward
    assert _names(forward) == ["x/a.txt", "x/b.txt"]


@pytest.mark.parametrize("name", ["", "/abs.txt", "../up.txt", "a/../../b", "a\\b"])
def test_deterministic_zip_rejects_unsafe_names(tmp_path, name):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(ValueError, match="unsafe"):
        packaging.deterministic_zip([(name, f)])


def test_deterministic_zip_rejects_duplicates(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(ValueError, match="duplicate"):
        packaging.deterministic_zip([("a", f), ("a", f)])


def test_tree_files_prefix_and_default_exclusions(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "m.py").write_text("")
    (tmp_path / "pkg" / "__pycache__" / "m.pyc").write_text("")
    (tmp_path / "top.py").write_text("")
    assert [n for n, _ in packaging.tree_files(tmp_path, "python")] == [
        "python/pkg/m.py",
        "python/top.py",
    ]
    assert [n for n, _ in packaging.tree_files(tmp_path, "")] == ["pkg/m.py", "top.py"]


def test_large_file_round_trips(tmp_path):
    big = tmp_path / "big.bin"
    payload = os.urandom(3 * (1 << 20) + 17)
    big.write_bytes(payload)
    with zipfile.ZipFile(io.BytesIO(packaging.deterministic_zip([("big.bin", big)]))) as z:
        assert z.read("big.bin") == payload
