"""The site-sync benchmark helper runs end to end against a local S3 emulator."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from benchmarks import site_sync


@pytest.fixture
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_generate_files_looks_like_a_vite_build(tmp_path):
    dist = site_sync.generate_files(tmp_path / "dist", count=8, kib=1)
    files = sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file())
    assert len(files) == 8
    assert "index.html" in files
    assert sum(f.startswith("assets/") for f in files) == 6
    again = site_sync.generate_files(tmp_path / "again", count=8, kib=1)
    assert sorted(p.name for p in again.rglob("*")) == sorted(p.name for p in dist.rglob("*"))


@pytest.mark.slow
def test_compare_sync_times_sync_site(tmp_path, endpoint, monkeypatch):
    monkeypatch.setattr(site_sync, "_aws_cli", lambda: None)
    dist = site_sync.generate_files(tmp_path / "dist", count=6, kib=1)
    before = {p: p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    figures = site_sync.compare_sync(endpoint, dist)
    assert set(figures) == {"files", "sync_site_first", "sync_site_noop", "sync_site_one_change"}
    assert figures["files"] == 6
    assert all(value > 0 for value in figures.values())
    assert {p: p.read_bytes() for p in dist.rglob("*") if p.is_file()} == before
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    [bucket] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {p.relative_to(dist).as_posix() for p in before} | {"config.json"}
