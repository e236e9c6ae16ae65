"""The web app: build it (from a checkout) and sync it to the site bucket.

`sync_site` is an `aws s3 sync` that also gets the HTTP headers right: it uploads only what
changed (content by MD5 against the ETag, headers by a HEAD of each unchanged-looking
object), with Content-Type and Cache-Control chosen per file, writes the stack's
`config.json`, and deletes what the new build no longer has.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from chatbot_deploy import paths, webbuild, webconfig
from chatbot_deploy.errors import UserError

CONFIG_KEY = webconfig.CONFIG_PATH.lstrip("/")
SOURCE_HASH_FILE = webbuild.SOURCE_HASH_FILE
source_hash = webbuild.source_hash

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes

# Explicit types for what a web build contains: mimetypes alone depends on the machine's
# /etc/mime.types (e.g. .js as application/x-javascript, .woff2 unknown).
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".wasm": "application/wasm",
}
_DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Vite emits bundles and imported assets as assets/<name>-<8-char base64url hash>.<ext>.
_HASHED_ASSET = re.compile(r"^assets/(?:.+/)?[^/]+-(?P<hash>[A-Za-z0-9_-]{8})\.\w+(?:\.map)?$")


def content_type(key: str) -> str:
    """The Content-Type a browser needs for `key`."""
    suffix = Path(key).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or _DEFAULT_CONTENT_TYPE


def is_hashed_asset(key: str) -> bool:
    """True for a Vite build output whose name changes whenever its content does."""
    match = _HASHED_ASSET.match(key)
    if match is None:
        return False
    # A word such as "fontfile" is a name, not a hash: real hashes mix cases and digits.
    return not match["hash"].isalpha() or not match["hash"].islower()


def cache_control(key: str) -> str:
    """Hashed assets are cached for a year; everything else is revalidated on each load."""
    return IMMUTABLE if is_hashed_asset(key) else NO_CACHE


@dataclass(frozen=True)
class _LocalObject:
    key: str
    body: bytes
    content_type: str
    cache_control: str

    @cached_property
    def _md5(self) -> bytes:
        return hashlib.md5(self.body, usedforsecurity=False).digest()

    @property
    def md5_hex(self) -> str:
        return self._md5.hex()

    @property
    def md5_b64(self) -> str:
        return base64.b64encode(self._md5).decode()


@dataclass
class SyncResult:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _local_objects(dist: Path, config_json: bytes) -> dict[str, _LocalObject]:
    objects: dict[str, _LocalObject] = {}
    for path in sorted(dist.rglob("*")):
        if not path.is_file():
            continue
        key = path.relative_to(dist).as_posix()
        if key == SOURCE_HASH_FILE:
            continue
        objects[key] = _LocalObject(key, path.read_bytes(), content_type(key), cache_control(key))
    # The stack's own config always wins over any placeholder shipped in the build.
    objects[CONFIG_KEY] = _LocalObject(CONFIG_KEY, config_json, content_type(CONFIG_KEY), NO_CACHE)
    return objects


def _remote_etags(s3_client: Any, bucket: str) -> dict[str, str]:
    etags: dict[str, str] = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            etags[item["Key"]] = item["ETag"].strip('"')
    return etags


def _headers_match(s3_client: Any, bucket: str, local: _LocalObject) -> bool:
    head = s3_client.head_object(Bucket=bucket, Key=local.key)
    return bool(
        head.get("ContentType") == local.content_type
        and head.get("CacheControl") == local.cache_control
    )


def _upload(s3_client: Any, bucket: str, local: _LocalObject) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key=local.key,
        Body=local.body,
        ContentType=local.content_type,
        CacheControl=local.cache_control,
        ContentMD5=local.md5_b64,
    )


def _batches(keys: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _delete(s3_client: Any, bucket: str, keys: Iterable[str]) -> None:
    for batch in _batches(sorted(keys), DELETE_BATCH):
        response = s3_client.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise UserError(
                f"could not delete {len(errors)} old file(s) from s3://{bucket} "
                f"(first: {first.get('Key')}: {first.get('Code')} {first.get('Message')})"
            )


def sync_site(
    s3_client: Any,
    bucket: str,
    dist: Path,
    config_json: bytes,
    *,
    max_workers: int = 8,
) -> SyncResult:
    """Make `bucket` hold exactly the web app in `dist` plus `config.json`.

    Unchanged objects (same MD5, same Content-Type and Cache-Control) are not written;
    objects the build no longer has are deleted, last, so the old pages keep working until
    the new ones are up. A second sync of the same files makes no write call at all.
    """
    if not (dist / "index.html").is_file():
        raise UserError(f"{dist} holds no built web app (index.html missing)")
    local = _local_objects(dist, config_json)
    remote = _remote_etags(s3_client, bucket)

    # Same bytes (single-part ETag == MD5); a multipart ETag ("...-N") is never trusted.
    same_content = [
        obj for key, obj in local.items() if key in remote and remote[key] == obj.md5_hex
    ]
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        headers_ok = list(
            pool.map(lambda obj: _headers_match(s3_client, bucket, obj), same_content)
        )
        unchanged = {obj.key for obj, ok in zip(same_content, headers_ok, strict=True) if ok}
        to_upload = [obj for key, obj in local.items() if key not in unchanged]
        # New hashed assets first, then the pages that reference them, so a visitor never
        # gets an index.html whose scripts are not there yet. list() re-raises the first
        # upload error (after the rest of that phase finished), stopping before index.html.
        for phase in (True, False):
            batch = [obj for obj in to_upload if is_hashed_asset(obj.key) is phase]
            list(pool.map(lambda obj: _upload(s3_client, bucket, obj), batch))

    stale = sorted(set(remote) - set(local))
    _delete(s3_client, bucket, stale)
    return SyncResult(
        uploaded=sorted(obj.key for obj in to_upload),
        deleted=stale,
        unchanged=sorted(unchanged),
    )


# --- building the web app ------------------------------------------------------------------


def build_web(force: bool = False, source: Path | None = None, npm: str | None = None) -> Path:
    """The built web app directory, building it first when its sources changed.

    In a checkout this builds frontend/ with npm unless the sources are exactly those of
    the last build (:func:`chatbot_deploy.webbuild.build`); `force` reinstalls and rebuilds
    regardless. `source` (default: the checkout's frontend/) and `npm` (default: found on
    PATH) are for tests and odd setups. In an installed package it returns the web app
    shipped in the wheel.
    """
    source = source or paths.frontend_source()
    if source is None:
        dist = paths.web_dist()
        if dist is None:
            raise UserError(
                "this installation has no built web app: reinstall chatbot-deploy, "
                "or run it from a checkout with Node.js 20+ installed"
            )
        return dist
    return webbuild.build(source, force=force, npm=npm)
