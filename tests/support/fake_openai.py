"""An OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It speaks enough of the real API for the official SDK: plain and streamed (SSE) answers,
usage, and the provider's error shapes. The last user message steers it:

- ``[[rate-limit]]`` -> 429, ``[[server-error]]`` -> 500, ``[[empty]]`` -> no choices
- ``[[reply:<name>]]`` -> a 200 whose body is ``MALFORMED[name]`` (not JSON, or JSON of
  the wrong shape), as a broken or misconfigured OpenAI-compatible server may send, or
  ``ODD_BUT_FINE[name]``; streamed, ``MALFORMED_STREAM[name]``
- ``[[slow:<seconds>]]`` -> waits before answering
- ``[[markdown]]`` -> a Markdown answer with a code block and a <script> tag
- ``[[chunks:<count>x<seconds>]]`` -> (streamed) ``count`` chunks, ``<seconds>`` apart (the
  first after the same wait): chunk ``i`` is ``stream_piece(i)``, so the whole answer is
  ``stream_text(count)``. E.g. ``[[chunks:40x1]]``: one chunk a second for 40 s.
- anything else -> ``echo: <the message>``

The API key ``sk-bad`` is refused with 401 (and the provider's message quotes part of the
key, as the real one does, so tests can check it never reaches a client).

Streaming (``"stream": true``): server-sent events of ``chat.completion.chunk`` objects, the
first delta with the role, a last chunk with ``finish_reason: "stop"``, then ``data: [DONE]``.
With ``"stream_options": {"include_usage": true}`` every chunk has ``"usage": null`` and a
last chunk before ``[DONE]`` has ``"choices": []`` and the usage, as OpenAI sends it.

Each streamed answer is recorded as a :class:`StreamRecord` in ``FakeOpenAI.streams``, with
events a test can wait on: ``client_closed`` is set as soon as the client closes its
connection before the answer's end (seen while waiting between chunks, within
``CLOSE_POLL_S``, or when a write fails), ``finished`` when the whole answer was sent.
``FakeOpenAI.wait_for_stream(index)`` waits for the ``index``-th stream (0-based; take
``len(fake.streams)`` before sending) to start::

    first = len(fake.streams)
    ...  # make the app ask for [[chunks:40x1]]
    record = fake.wait_for_stream(first)
    assert record.client_closed.wait(5)
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BAD_KEY = "sk-bad"
MARKDOWN_ANSWER = (
    "# Title\n\nSome **bold** text and a list:\n\n- one\n- two\n\n"
    "```python\nprint('hello')\n```\n\n<script>window.__pwned = true</script>\n"
)
_SLOW = re.compile(r"\[\[slow:([0-9.]+)\]\]")
_REPLY = re.compile(r"\[\[reply:([a-z0-9-]+)\]\]")
_CHUNKS = re.compile(r"\[\[chunks:([0-9]+)x([0-9.]+)\]\]")
# While waiting between chunks, how often a closed client connection is looked for.
CLOSE_POLL_S = 0.05


def stream_piece(index: int) -> str:
    """Chunk ``index`` (1-based) of a ``[[chunks:...]]`` answer."""
    return f"part{index} "


def stream_text(count: int) -> str:
    """The whole answer of ``[[chunks:<count>x...]]``."""
    return "".join(stream_piece(index) for index in range(1, count + 1))


def _completion(**fields: Any) -> bytes:
    body = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake"}
    return json.dumps({**body, **fields}).encode()


def _choice(message: Any) -> list[dict[str, Any]]:
    return [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}]


# (content type, body) of a 200 that is not a chat completion.
MALFORMED: dict[str, tuple[str, bytes]] = {
    "text": ("text/plain", b"Hello from a server that is not an OpenAI API"),
    "html": ("text/html", b"<!doctype html><title>Proxy login</title><p>Sign in</p>"),
    "bad-json": ("application/json", b'{"choices": [{"message": '),
    "not-utf8": ("application/json", b'{"choices": "\xff\xfe"}'),
    "empty-body": ("application/json", b""),
    "array": ("application/json", b"[]"),
    "error-object": ("application/json", b'{"error": {"message": "upstream sk-abc***yz failed"}}'),
    "no-choices": ("application/json", _completion()),
    "choices-null": ("application/json", _completion(choices=None)),
    "choices-object": ("application/json", _completion(choices={"0": {"message": {}}})),
    "choice-string": ("application/json", _completion(choices=["hello"])),
    "no-message": ("application/json", _completion(choices=[{"index": 0}])),
    "message-string": ("application/json", _completion(choices=_choice("hello"))),
    "content-null": (
        "application/json",
        _completion(choices=_choice({"role": "assistant", "content": None})),
    ),
    "content-number": (
        "application/json",
        _completion(choices=_choice({"role": "assistant", "content": 42})),
    ),
    "content-surrogate": (
        "application/json",
        _completion(choices=_choice({"role": "assistant", "content": "half \ud800 a pair"})),
    ),
}
# Event streams that are not chat-completion chunks (the same names, when streamed).
MALFORMED_STREAM: dict[str, bytes] = {
    "bad-json": b"data: {not json\n\n",
    "choices-number": b'data: {"choices": 5}\n\n',
    "content-surrogate": b'data: {"choices": [{"delta": {"content": "\\ud800"}}]}\n\n',
}
# 200s of odd but usable shape: the answer gets through, odd fields are ignored.
ODD_BUT_FINE: dict[str, tuple[str, bytes]] = {
    "bad-usage": (
        "application/json",
        _completion(
            choices=_choice({"role": "assistant", "content": "fine"}),
            usage={"prompt_tokens": "12", "completion_tokens": True, "total_tokens": 3},
        ),
    ),
    "model-number": (
        "application/json",
        _completion(choices=_choice({"role": "assistant", "content": "fine"}), model=7),
    ),
    "minimal": (
        "text/plain",  # the content type is not what decides
        json.dumps({"choices": [{"message": {"content": "fine"}}]}).encode(),
    ),
}


@dataclass
class RecordedRequest:
    path: str
    api_key: str
    body: dict[str, Any]


@dataclass
class StreamRecord:
    """One streamed answer, as the fake server sent it."""

    request: RecordedRequest
    pieces: list[str]
    sent: int = 0  # chunks of text written so far
    client_closed: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass
class FakeOpenAI:
    host: str = "127.0.0.1"
    requests: list[RecordedRequest] = field(default_factory=list)
    streams: list[StreamRecord] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _new_stream: threading.Condition = field(default_factory=threading.Condition)

    def add_stream(self, record: StreamRecord) -> None:
        with self._new_stream:
            self.streams.append(record)
            self._new_stream.notify_all()

    def wait_for_stream(self, index: int, timeout: float = 10.0) -> StreamRecord:
        """The ``index``-th streamed answer (0-based), once it has started."""
        with self._new_stream:
            if not self._new_stream.wait_for(lambda: len(self.streams) > index, timeout):
                raise TimeoutError(f"no stream #{index} within {timeout} s")
            return self.streams[index]

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def answer_for(content: str) -> str:
    if "[[markdown]]" in content:
        return MARKDOWN_ANSWER
    return f"echo: {content}"


class _Handler(BaseHTTPRequestHandler):
    owner: FakeOpenAI
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._raw(status, "application/json", json.dumps(body).encode())

    def _raw(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        api_key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        self.owner.requests.append(RecordedRequest(self.path, api_key, body))
        if not self.path.endswith("/chat/completions"):
            self._json(404, _error("Unknown path", "invalid_request_error"))
            return
        if api_key == BAD_KEY:
            self._json(
                401,
                _error(
                    f"Incorrect API key provided: {api_key[:3]}***{api_key[-2:]}.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            )
            return
        if body.get("model") == "missing-model":
            self._json(404, _error("The model does not exist", "invalid_request_error"))
            return
        messages = body.get("messages") or []
        content = str(messages[-1].get("content", "")) if messages else ""
        slow = _SLOW.search(content)
        if slow:
            time.sleep(float(slow.group(1)))
        if "[[rate-limit]]" in content:
            self._json(429, _error("Rate limit reached", "requests", "rate_limit_exceeded"))
            return
        if "[[server-error]]" in content:
            self._json(500, _error("The server had an error", "server_error"))
            return
        reply = _REPLY.search(content)
        if reply and body.get("stream"):
            self._raw(200, "text/event-stream", MALFORMED_STREAM[reply.group(1)])
            return
        if reply:
            self._raw(200, *{**MALFORMED, **ODD_BUT_FINE}[reply.group(1)])
            return
        answer = answer_for(content)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer.split()),
            "total_tokens": prompt_tokens + len(answer.split()),
        }
        model = str(body.get("model", "fake"))
        if body.get("stream"):
            chunks = _CHUNKS.search(content)
            if chunks:
                count, delay = int(chunks.group(1)), float(chunks.group(2))
                pieces = [stream_piece(index) for index in range(1, count + 1)]
            else:
                pieces, delay = re.findall(r"\S+\s*|\s+", answer), 0.0
            options = body.get("stream_options") or {}
            record = StreamRecord(self.owner.requests[-1], pieces)
            self.owner.add_stream(record)
            try:
                self._stream(model, record, delay, usage if options.get("include_usage") else None)
            except OSError:  # reset, broken pipe: the client went away mid-answer
                record.client_closed.set()
                self.close_connection = True
            return
        choices = (
            []
            if "[[empty]]" in content
            else [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ]
        )
        self._json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
                "usage": usage,
            },
        )

    def _stream(
        self, model: str, record: StreamRecord, delay: float, usage: dict[str, int] | None
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
                **({"usage": None} if usage is not None else {}),
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        for index, piece in enumerate(record.pieces):
            if delay and not self._wait_open(delay):
                record.client_closed.set()
                return
            delta: dict[str, str] = {"content": piece}
            if index == 0:
                delta["role"] = "assistant"
            self.wfile.write(event([{"index": 0, "delta": delta, "finish_reason": None}]))
            self.wfile.flush()
            record.sent += 1
        data = event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if usage is not None:
            data += event([], usage=usage)
        self.wfile.write(data + b"data: [DONE]\n\n")
        self.wfile.flush()
        record.finished.set()

    def _wait_open(self, seconds: float) -> bool:
        """Wait ``seconds``; False as soon as the client has closed its connection."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, CLOSE_POLL_S))
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return False  # end of file: the client closed
                except OSError:
                    return False
                time.sleep(min(left, CLOSE_POLL_S))  # it sent something: not ours to read
        return True


def main() -> None:
    """Serve until killed; prints the base URL on the first line (used by benchmarks)."""
    import signal

    server = FakeOpenAI().start()
    print(server.base_url, flush=True)
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    server.stop()


if __name__ == "__main__":
    main()
