"""The Lambda dependency layer build: caching, layout, platform checks, pip errors.

No network: most tests inject a fake installer; the pip tests install hand-made wheels from
a local directory (PIP_NO_INDEX + PIP_FIND_LINKS).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chatbot_deploy import paths
from chatbot_deploy.deploy import context, layer
from chatbot_deploy.errors import UserError

LINUX_ARM = "cp312-cp312-manylinux_2_17_aarch64"


class FakeInstaller:
    """Installs one pure package and one compiled one, as pip --target would."""

    def __init__(self, platform_tag: str = LINUX_ARM) -> None:
        self.calls: list[tuple[Path, Path, str]] = []
        self.platform_tag = platform_tag

    def __call__(self, requirements: Path, target: Path, arch: str) -> None:
        self.calls.append((requirements, target, arch))
        assert target.is_dir() and not any(target.iterdir())
        (target / "purepkg").mkdir()
        (target / "purepkg" / "__init__.py").write_text("VERSION = 1\n")
        (target / "purepkg" / "__pycache__").mkdir()
        (target / "purepkg" / "__pycache__" / "__init__.cpython-312.pyc").write_bytes(b"c")
        _dist_info(target, "purepkg", "py3-none-any")
        (target / "native").mkdir()
        (target / "native" / "_core.cpython-312-aarch64-linux-gnu.so").write_bytes(b"\x7fELF")
        _dist_info(target, "native", self.platform_tag)
        (target / "bin").mkdir()
        (target / "bin" / "purepkg").write_text("#!/usr/bin/python\n")


def _dist_info(target: Path, name: str, tag: str) -> None:
    info = target / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")


@pytest.fixture
def lock(tmp_path, monkeypatch):
    path = tmp_path / "requirements.txt"
    path.write_text("purepkg==1.0\nnative==1.0\n")
    monkeypatch.setattr(paths, "lambda_requirements", lambda: path)
    return path


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_layer_layout_and_stripping(tmp_path, lock, monkeypatch):
    monkeypatch.setattr(layer, "LAMBDA_PYTHON_VERSION", "3.99")  # not this interpreter
    installer = FakeInstaller()
    artifact = layer.build_layer("arm64", cache_dir=tmp_path / "cache", installer=installer)
    assert artifact.arch == "arm64"
    assert artifact.zip_path.parent == tmp_path / "cache"
    assert artifact.size_bytes == artifact.zip_path.stat().st_size > 0
    assert _names(artifact.zip_path) == [
        "python/native-1.0.dist-info/METADATA",
        "python/native-1.0.dist-info/WHEEL",
        "python/native/_core.cpython-312-aarch64-linux-gnu.so",
        "python/purepkg-1.0.dist-info/METADATA",
        "python/purepkg-1.0.dist-info/WHEEL",
        "python/purepkg/__init__.py",
    ]
    assert artifact.bytecode_note == "no bytecode: deploy from Python 3.99 for faster cold starts"
    [(requirements, target, arch)] = installer.calls
    assert requirements == lock
    assert target.name == "python"
    assert arch == "arm64"
    # the work directory is gone; only the zip stays in the cache
    assert list((tmp_path / "cache").iterdir()) == [artifact.zip_path]


def test_layer_has_bytecode_when_this_python_is_lambdas(tmp_path, lock, monkeypatch):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setattr(layer, "LAMBDA_PYTHON_VERSION", here)
    artifact = layer.build_layer("arm64", cache_dir=tmp_path, installer=FakeInstaller())
    pyc = f"python/purepkg/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"
    assert pyc in _names(artifact.zip_path)
    assert artifact.bytecode_note == ""
    assert "python/purepkg/__init__.py" in _names(artifact.zip_path)
    with zipfile.ZipFile(artifact.zip_path) as archive:
        data = archive.read(pyc)
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, source not checked
    # It loads from the unpacked layer (the fake's bogus 3.12 pyc was dropped, not shipped).
    unpacked = tmp_path / "opt"
    with zipfile.ZipFile(artifact.zip_path) as archive:
        archive.extractall(unpacked)
    script = (
        f"import sys; sys.path.insert(0, {str(unpacked / 'python')!r}); import purepkg; "
        "print(purepkg.VERSION, purepkg.__cached__)"
    )
    done = subprocess.run(
        [sys.executable, "-B", "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[0] == "1"
    assert done.stdout.split()[1].endswith(pyc.removeprefix("python/"))
    code = marshal.loads(data[16:])
    assert code.co_filename == "/opt/python/purepkg/__init__.py"  # where Lambda unpacks it
    # Rebuilt elsewhere: byte-identical, bytecode included.
    again = layer.build_layer("arm64", cache_dir=tmp_path / "b", installer=FakeInstaller())
    assert again.zip_path.read_bytes() == artifact.zip_path.read_bytes()


def test_second_build_uses_the_cache(tmp_path, lock):
    installer = FakeInstaller()
    first = layer.build_layer("arm64", cache_dir=tmp_path, installer=installer)
    content = first.zip_path.read_bytes()
    second = layer.build_layer("arm64", cache_dir=tmp_path, installer=installer)
    assert second == first
    assert len(installer.calls) == 1
    assert second.zip_path.read_bytes() == content


def test_rebuilt_layer_is_byte_identical(tmp_path, lock):
    a = layer.build_layer("arm64", cache_dir=tmp_path / "a", installer=FakeInstaller())
    b = layer.build_layer("arm64", cache_dir=tmp_path / "b", installer=FakeInstaller())
    assert a.zip_path.read_bytes() == b.zip_path.read_bytes()


def test_hash_covers_lock_arch_and_python(tmp_path, lock):
    content = lock.read_bytes()
    artifact = layer.build_layer("arm64", cache_dir=tmp_path, installer=FakeInstaller())
    assert artifact.requirements_hash == layer.requirements_hash(content, "arm64", "3.12")
    assert artifact.requirements_hash == layer.layer_hash("arm64")
    assert len(artifact.requirements_hash) == 64
    int(artifact.requirements_hash, 16)
    others = {
        layer.requirements_hash(content, "x86_64", "3.12"),
        layer.requirements_hash(content, "arm64", "3.13"),
        layer.requirements_hash(content + b"extra==1\n", "arm64", "3.12"),
    }
    assert artifact.requirements_hash not in others
    assert len(others) == 3


def test_lock_change_rebuilds(tmp_path, lock):
    installer = FakeInstaller()
    first = layer.build_layer("arm64", cache_dir=tmp_path, installer=installer)
    lock.write_text("purepkg==1.0\nnative==1.1\n")
    second = layer.build_layer("arm64", cache_dir=tmp_path, installer=installer)
    assert second.requirements_hash != first.requirements_hash
    assert second.zip_path != first.zip_path
    assert len(installer.calls) == 2


def test_architectures_are_cached_separately(tmp_path, lock):
    arm = layer.build_layer("arm64", cache_dir=tmp_path, installer=FakeInstaller())
    x86_installer = FakeInstaller("cp312-cp312-manylinux2014_x86_64")
    x86 = layer.build_layer("x86_64", cache_dir=tmp_path, installer=x86_installer)
    assert x86.zip_path != arm.zip_path
    assert x86.arch == "x86_64"
    assert x86_installer.calls[0][2] == "x86_64"


@pytest.mark.parametrize(
    "tag",
    ["cp312-cp312-macosx_11_0_arm64", "cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-win_amd64"],
)
def test_wheels_for_another_platform_are_refused(tmp_path, lock, tag):
    with pytest.raises(UserError, match="not Lambda arm64"):
        layer.build_layer("arm64", cache_dir=tmp_path, installer=FakeInstaller(tag))
    assert not list(tmp_path.glob("*.zip"))


def test_empty_install_is_refused(tmp_path, lock):
    with pytest.raises(UserError, match="installed no packages"):
        layer.build_layer("arm64", cache_dir=tmp_path, installer=lambda lock, target, arch: None)


def test_installer_failure_leaves_nothing_in_the_cache(tmp_path, lock):
    def broken(requirements: Path, target: Path, arch: str) -> None:
        (target / "half").mkdir()
        raise UserError("pip failed")

    with pytest.raises(UserError, match="pip failed"):
        layer.build_layer("arm64", cache_dir=tmp_path / "cache", installer=broken)
    assert list((tmp_path / "cache").iterdir()) == []


def test_unknown_architecture(tmp_path, lock):
    with pytest.raises(ValueError, match="unknown Lambda architecture"):
        layer.build_layer("riscv", cache_dir=tmp_path, installer=FakeInstaller())


def test_missing_lock_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "lambda_requirements", lambda: tmp_path / "nope.txt")
    with pytest.raises(UserError, match="lock is missing"):
        layer.build_layer("arm64", cache_dir=tmp_path, installer=FakeInstaller())


def test_real_lock_is_found():
    text = paths.lambda_requirements().read_text()
    assert "openai==" in text
    assert "pyjwt==" in text.lower()


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert layer.default_cache_dir() == tmp_path / "xdg" / "chatbot-deploy" / "layers"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert layer.default_cache_dir() == tmp_path / "home" / ".cache" / "chatbot-deploy" / "layers"


def test_default_cache_dir_is_used_without_cache_dir(tmp_path, lock, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    artifact = layer.build_layer("arm64", installer=FakeInstaller())
    assert artifact.zip_path.parent == tmp_path / "xdg" / "chatbot-deploy" / "layers"


def test_python_version_follows_the_function_runtime():
    assert f"python{layer.LAMBDA_PYTHON_VERSION}" == context.RUNTIME
    assert layer.LAMBDA_PYTHON_VERSION == "3.12"
    for arch in context.ARCHITECTURES:
        assert layer.platforms(arch)


def test_platform_tags():
    assert layer.platforms("arm64") == ["manylinux2014_aarch64", "manylinux_2_28_aarch64"]
    assert layer.platforms("x86_64") == ["manylinux2014_x86_64", "manylinux_2_28_x86_64"]


# --- the real pip installer, against a local wheel directory -----------------------------


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _make_wheel(directory: Path, name: str, tag: str, module: bytes) -> None:
    files = {
        f"{name}/__init__.py": module,
        f"{name}-1.0.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()
        ),
        f"{name}-1.0.dist-info/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
            f"{'true' if tag.endswith('any') else 'false'}\nTag: {tag}\n".encode()
        ),
    }
    record_name = f"{name}-1.0.dist-info/RECORD"
    record = "\n".join([*(_record_line(n, d) for n, d in files.items()), f"{record_name},,"])
    files[record_name] = record.encode() + b"\n"
    with zipfile.ZipFile(directory / f"{name}-1.0-{tag}.whl", "w") as wheel:
        for file_name, data in files.items():
            wheel.writestr(file_name, data)


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    return wheels


@pytest.mark.slow
def test_pip_installer_picks_lambda_wheels_not_the_build_machines(tmp_path, lock, local_index):
    _make_wheel(local_index, "purepkg", "py3-none-any", b"VERSION = 1\n")
    _make_wheel(local_index, "native", "cp312-cp312-manylinux2014_aarch64", b"ARM = True\n")
    _make_wheel(local_index, "native", "cp312-cp312-manylinux2014_x86_64", b"ARM = False\n")
    # a wheel for this very machine's Python must not be picked
    host = f"cp{sys.version_info.major}{sys.version_info.minor}"
    _make_wheel(local_index, "native", f"{host}-{host}-linux_x86_64", b"HOST = True\n")
    artifact = layer.build_layer("arm64", cache_dir=tmp_path / "cache")
    with zipfile.ZipFile(artifact.zip_path) as archive:
        names = archive.namelist()
        assert archive.read("python/native/__init__.py") == b"ARM = True\n"
        assert archive.read("python/purepkg/__init__.py") == b"VERSION = 1\n"
        wheel = archive.read("python/native-1.0.dist-info/WHEEL").decode()
    assert "manylinux2014_aarch64" in wheel
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


@pytest.mark.slow
def test_pip_failure_becomes_user_error_with_pips_words(tmp_path, lock, local_index):
    _make_wheel(local_index, "purepkg", "py3-none-any", b"VERSION = 1\n")
    _make_wheel(local_index, "native", "cp312-cp312-macosx_11_0_arm64", b"MAC = True\n")
    with pytest.raises(UserError) as caught:
        layer.build_layer("arm64", cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert "Looking in links" not in message  # pip's errors, not its chatter
    assert message.startswith("building the Lambda layer (arm64) with pip failed:")
    assert "native" in message
    assert "No matching distribution" in message or "Could not find a version" in message
    assert not list((tmp_path / "cache").glob("*.zip"))


def test_missing_pip_is_explained(tmp_path, monkeypatch):
    def no_pip(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "/x/python: No module named pip\n")

    monkeypatch.setattr(subprocess, "run", no_pip)
    with pytest.raises(UserError, match="pip is not available"):
        layer.pip_installer(tmp_path / "r.txt", tmp_path, "arm64")
