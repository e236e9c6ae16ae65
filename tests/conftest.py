"""Shared fixtures: a fake OpenAI-compatible server and `local` running in-process."""

from __future__ import annotations

from collections.abc import Iterator

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
