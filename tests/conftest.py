"""Shared fixtures: a fake OpenAI-compatible server and `local` running in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.local_app import LocalApp, running_local


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def local_app(fake_openai: FakeOpenAI) -> Iterator[LocalApp]:
    with running_local(fake_openai.base_url) as app:
        yield app


@pytest.fixture(autouse=True, scope="session")
def _serialize_in_process_moto() -> Iterator[None]:
    """moto's in-process backends are plain dicts, not safe for concurrent calls (real AWS
    is). `up` runs independent steps in threads, and an unlucky interleaving made moto raise
    "dictionary changed size during iteration". Answer one emulated request at a time; the
    engine's own concurrency (threads, waits, ordering) is unchanged."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]
