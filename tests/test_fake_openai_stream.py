"""The fake model server's streaming, which the socket tests rely on (tests/support/fake_openai)."""

from __future__ import annotations

import openai

from tests.support.fake_openai import FakeOpenAI, stream_text


def _client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0)


def test_streams_chunks_and_usage(fake_openai: FakeOpenAI) -> None:
    first = len(fake_openai.streams)
    chunks = _client(fake_openai).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "[[chunks:5x0.01]]"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: list[str] = []
    usages: list[int] = []
    for chunk in chunks:
        texts.extend(choice.delta.content or "" for choice in chunk.choices)
        if chunk.usage is not None:
            usages.append(chunk.usage.total_tokens)
    assert "".join(texts) == stream_text(5)
    assert len(usages) == 1 and usages[0] > 0
    record = fake_openai.wait_for_stream(first)
    # the server marks the stream finished just after its last write, which the client may
    # have read already
    assert record.finished.wait(5) and record.sent == 5
    assert not record.client_closed.is_set()


def test_plain_stream_has_no_usage_chunk(fake_openai: FakeOpenAI) -> None:
    chunks = _client(fake_openai).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello there"}], stream=True
    )
    texts: list[str] = []
    for chunk in chunks:
        assert chunk.usage is None
        texts.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(texts) == "echo: hello there"


def test_sees_the_client_close_mid_stream(fake_openai: FakeOpenAI) -> None:
    first = len(fake_openai.streams)
    chunks = _client(fake_openai).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "[[chunks:100x0.2]]"}], stream=True
    )
    iterator = iter(chunks)
    next(iterator)
    record = fake_openai.wait_for_stream(first)
    assert not record.client_closed.is_set()
    chunks.close()
    assert record.client_closed.wait(2)  # generous: it polls every 50 ms
    assert not record.finished.is_set() and record.sent < 100
