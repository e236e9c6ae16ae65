"""Syncing the built web app to the site bucket (S3 emulated by moto)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from chatbot_deploy import webconfig
from chatbot_deploy.deploy import site
from chatbot_deploy.errors import UserError

BUCKET = "demo-site-123456789012-us-east-1"
WRITE_OPERATIONS = {"PutObject", "DeleteObjects", "DeleteObject", "CopyObject", "UploadPart"}
CONFIG = webconfig.runtime_config_bytes(
    "https://abc.execute-api.us-east-1.amazonaws.com", "demo", models=("gpt-4o-mini",)
)


class CallLog:
    """Counts the S3 operations a client makes, via botocore's before-call event."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.s3", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITE_OPERATIONS)

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><script src=/assets/index-Bq3xZ9_k.js>")
    (root / "assets" / "index-Bq3xZ9_k.js").write_text("console.log('app')")
    (root / "assets" / "index-C4a-1bQe.css").write_text("body{margin:0}")
    (root / "assets" / "inter-D0g9Ow2X.woff2").write_bytes(b"wOF2\x00binary")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "site.webmanifest").write_text("{}")
    (root / "robots.txt").write_text("User-agent: *\n")
    return root


def _keys(s3) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


ALL_KEYS = {
    "index.html",
    "assets/index-Bq3xZ9_k.js",
    "assets/index-C4a-1bQe.css",
    "assets/inter-D0g9Ow2X.woff2",
    "favicon.svg",
    "site.webmanifest",
    "robots.txt",
    "config.json",
}


def test_first_sync_uploads_everything(s3, dist):
    log = CallLog(s3)
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert set(result.uploaded) == ALL_KEYS
    assert result.deleted == []
    assert result.unchanged == []
    assert _keys(s3) == ALL_KEYS
    assert log.calls["PutObject"] == len(ALL_KEYS)
    body = s3.get_object(Bucket=BUCKET, Key="assets/index-Bq3xZ9_k.js")["Body"].read()
    assert body == b"console.log('app')"


def test_second_sync_of_unchanged_files_writes_nothing(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    log = CallLog(s3)
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert log.writes == 0
    assert result.uploaded == []
    assert result.deleted == []
    assert set(result.unchanged) == ALL_KEYS


def test_changing_one_file_uploads_only_it(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    (dist / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    log = CallLog(s3)
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert result.uploaded == ["robots.txt"]
    assert log.calls["PutObject"] == 1
    assert log.writes == 1
    body = s3.get_object(Bucket=BUCKET, Key="robots.txt")["Body"].read()
    assert body == b"User-agent: *\nDisallow: /\n"


def test_removed_files_are_deleted(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    (dist / "assets" / "index-Bq3xZ9_k.js").unlink()
    (dist / "assets" / "index-NEWhash1.js").write_text("console.log('v2')")
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert result.uploaded == ["assets/index-NEWhash1.js"]
    assert result.deleted == ["assets/index-Bq3xZ9_k.js"]
    assert _keys(s3) == (ALL_KEYS - {"assets/index-Bq3xZ9_k.js"}) | {"assets/index-NEWhash1.js"}


def test_content_types_and_cache_headers(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    expected = {
        "index.html": ("text/html; charset=utf-8", "no-cache"),
        "assets/index-Bq3xZ9_k.js": ("text/javascript; charset=utf-8", site.IMMUTABLE),
        "assets/index-C4a-1bQe.css": ("text/css; charset=utf-8", site.IMMUTABLE),
        "assets/inter-D0g9Ow2X.woff2": ("font/woff2", site.IMMUTABLE),
        "favicon.svg": ("image/svg+xml", "no-cache"),
        "site.webmanifest": ("application/manifest+json", "no-cache"),
        "robots.txt": ("text/plain; charset=utf-8", "no-cache"),
        "config.json": ("application/json", "no-cache"),
    }
    for key, (ctype, cache) in expected.items():
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (key, head["ContentType"], head["CacheControl"]) == (key, ctype, cache)
    assert site.IMMUTABLE == "public, max-age=31536000, immutable"


def test_config_json_comes_from_the_given_bytes(s3, dist):
    (dist / "config.json").write_text('{"apiUrl": "http://localhost:8000"}')  # dev placeholder
    site.sync_site(s3, BUCKET, dist, CONFIG)
    obj = s3.get_object(Bucket=BUCKET, Key="config.json")
    assert obj["Body"].read() == CONFIG
    assert obj["CacheControl"] == "no-cache"
    assert json.loads(CONFIG)["stack"] == "demo"
    # a new API URL means a new config.json, and nothing else is written
    log = CallLog(s3)
    other = webconfig.runtime_config_bytes("https://xyz.example.com", "demo", models=("m",))
    result = site.sync_site(s3, BUCKET, dist, other)
    assert result.uploaded == ["config.json"]
    assert log.writes == 1
    assert s3.get_object(Bucket=BUCKET, Key="config.json")["Body"].read() == other


def test_header_change_counts_as_change(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    # same bytes, wrong headers (e.g. uploaded by hand or by an older version)
    s3.put_object(
        Bucket=BUCKET,
        Key="index.html",
        Body=(dist / "index.html").read_bytes(),
        ContentType="binary/octet-stream",
    )
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert result.uploaded == ["index.html"]
    head = s3.head_object(Bucket=BUCKET, Key="index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "no-cache"


def test_multipart_etag_is_treated_as_changed(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    key = "favicon.svg"
    body = (dist / key).read_bytes()
    upload = s3.create_multipart_upload(
        Bucket=BUCKET, Key=key, ContentType="image/svg+xml", CacheControl="no-cache"
    )
    part = s3.upload_part(
        Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body
    )
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert "-" in s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert result.uploaded == [key]
    etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
    assert etag == hashlib.md5(body).hexdigest()


def test_listing_follows_pagination(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)

    def small_pages(params: dict[str, Any], **_: Any) -> None:
        params["MaxKeys"] = 2

    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", small_pages)
    log = CallLog(s3)
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert log.calls["ListObjectsV2"] == 4  # 8 objects, 2 per page
    assert log.writes == 0
    assert set(result.unchanged) == ALL_KEYS


def test_deletes_in_batches(s3, dist, monkeypatch):
    for i in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"old/{i}.js", Body=b"x")
    monkeypatch.setattr(site, "DELETE_BATCH", 2)
    log = CallLog(s3)
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert result.deleted == [f"old/{i}.js" for i in range(5)]
    assert log.calls["DeleteObjects"] == 3
    assert _keys(s3) == ALL_KEYS


def test_delete_errors_become_user_error(s3, dist):
    s3.put_object(Bucket=BUCKET, Key="old.js", Body=b"x")

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        errors = [{"Key": "old.js", "Code": "AccessDenied", "Message": "Access Denied"}]
        return AWSResponse("https://s3", 200, HTTPHeaders(), None), {"Errors": errors}

    s3.meta.events.register("before-call.s3.DeleteObjects", refuse)
    with pytest.raises(UserError, match=r"could not delete 1 old file.*old\.js: AccessDenied"):
        site.sync_site(s3, BUCKET, dist, CONFIG)


def test_upload_errors_propagate(s3, dist):
    with pytest.raises(s3.exceptions.NoSuchBucket):
        site.sync_site(s3, "no-such-bucket-here", dist, CONFIG)


def test_missing_build_is_a_user_error(s3, tmp_path):
    with pytest.raises(UserError, match=r"index\.html missing"):
        site.sync_site(s3, BUCKET, tmp_path, CONFIG)


def test_source_hash_marker_is_not_uploaded(s3, dist):
    (dist / site.SOURCE_HASH_FILE).write_text("abc\n")
    result = site.sync_site(s3, BUCKET, dist, CONFIG)
    assert site.SOURCE_HASH_FILE not in result.uploaded
    assert site.SOURCE_HASH_FILE not in _keys(s3)


def test_parallel_uploads_with_one_worker_give_the_same_result(s3, dist):
    result = site.sync_site(s3, BUCKET, dist, CONFIG, max_workers=1)
    assert set(result.uploaded) == ALL_KEYS


@pytest.mark.parametrize(
    ("key", "hashed"),
    [
        ("assets/index-Bq3xZ9_k.js", True),
        ("assets/index-B-x_12ab.js", True),
        ("assets/vendor.chunk-AbCdEf12.js", True),
        ("assets/index-Bq3xZ9_k.js.map", True),
        ("assets/sub/logo-a1b2c3d4.png", True),
        ("assets/logo.png", False),
        ("assets/my-fontfile.woff2", False),
        ("assets/logo-horizontal.svg", False),
        ("index-Bq3xZ9_k.js", False),
        ("index.html", False),
        ("config.json", False),
    ],
)
def test_hashed_asset_detection(key, hashed):
    assert site.is_hashed_asset(key) is hashed
    assert site.cache_control(key) == (site.IMMUTABLE if hashed else "no-cache")


@pytest.mark.parametrize(
    ("key", "ctype"),
    [
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.MJS", "text/javascript; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.svg", "image/svg+xml"),
        ("a.woff2", "font/woff2"),
        ("a.json", "application/json"),
        ("a.webmanifest", "application/manifest+json"),
        ("a.png", "image/png"),
        ("a.ico", "image/x-icon"),
        ("a.pdf", "application/pdf"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_content_type(key, ctype):
    assert site.content_type(key) == ctype


def test_hashed_assets_are_uploaded_before_the_pages_that_use_them(s3, dist):
    events: list[tuple[str, str]] = []

    def started(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["test_key"] = params["Key"]
        events.append(("start", params["Key"]))

    def finished(context: dict[str, Any], **_: Any) -> None:
        events.append(("end", context["test_key"]))

    s3.meta.events.register("provide-client-params.s3.PutObject", started)
    s3.meta.events.register("after-call.s3.PutObject", finished)
    site.sync_site(s3, BUCKET, dist, CONFIG, max_workers=8)
    assets = {key for key in ALL_KEYS if site.is_hashed_asset(key)}
    assert len(assets) == 3
    last_asset_end = max(
        i for i, (kind, key) in enumerate(events) if kind == "end" and key in assets
    )
    first_page_start = min(
        i for i, (kind, key) in enumerate(events) if kind == "start" and key not in assets
    )
    assert last_asset_end < first_page_start


def test_failed_asset_upload_leaves_the_old_index_in_place(s3, dist):
    site.sync_site(s3, BUCKET, dist, CONFIG)
    (dist / "assets" / "index-NEWhash1.js").write_text("console.log('v2')")
    (dist / "index.html").write_text("<!doctype html><script src=/assets/index-NEWhash1.js>")

    def fail_assets(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("assets/"):
            raise RuntimeError("network down")

    s3.meta.events.register("provide-client-params.s3.PutObject", fail_assets)
    with pytest.raises(RuntimeError, match="network down"):
        site.sync_site(s3, BUCKET, dist, CONFIG)
    index = s3.get_object(Bucket=BUCKET, Key="index.html")["Body"].read()
    assert b"index-Bq3xZ9_k.js" in index  # the old page, whose assets are all still there
    assert "assets/index-Bq3xZ9_k.js" in _keys(s3)
