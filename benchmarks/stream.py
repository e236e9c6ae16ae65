"""Figures for streamed answers through `local` (not a test: it prints numbers).

(a) time to first token through `local`'s WebSocket, minus the fake provider's own: the
    client's time from sending ``send`` to the first ``delta`` frame, and the same model
    asked directly with the official SDK (``stream=True``, time to the first chunk); p50/p99
    of warm turns on one connection.
(b) WebSocket frames per 1,000 answer tokens, at several provider speeds (one token per
    chunk; the batching rule is in docs/api.md).
(c) DynamoDB reads and writes per turn (a new conversation's first turn, a later turn, and a
    stopped one), counted on the handlers' own boto3 clients.

Run: .venv/bin/python -m benchmarks.stream [--turns 200]

Everything runs in this process on 127.0.0.1: the fake OpenAI-compatible server of the tests
(`tests/support/fake_openai.py`) and `local` (emulated AWS), as the tests start them.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import openai
from websockets.sync.client import ClientConnection, connect

from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator
from tests.support.fake_openai import FakeOpenAI
from tests.support.local_app import PASSWORD, USERNAME, LocalApp, running_local

READS = {"GetItem", "Query", "BatchGetItem", "Scan"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


class Calls:
    """DynamoDB operations made by the handlers, counted by a botocore event hook on the
    default session (the handlers' clients are created from it after it is registered)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        boto3.setup_default_session()
        session = boto3._get_default_session()
        session.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1

    @contextmanager
    def measuring(self) -> Iterator[collections.Counter[str]]:
        with self._lock:
            before = collections.Counter(self.counts)
        result: collections.Counter[str] = collections.Counter()
        yield result
        with self._lock:
            result.update(self.counts)
        result.subtract(before)


def login(app: LocalApp) -> str:
    host, port = app.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    body = json.dumps({"username": USERNAME, "password": PASSWORD})
    conn.request("POST", "/login", body, {"content-type": "application/json"})
    reply = conn.getresponse()
    data = json.loads(reply.read())
    assert reply.status == 200, data
    return str(data["token"])


def socket(app: LocalApp, token: str) -> ClientConnection:
    url = app.url.replace("http://", "ws://") + f"{app_spec.SOCKET_PATH}?token={token}"
    return connect(url, max_size=None)


class Turn:
    """One request over the socket: frames by type, the first delta's arrival."""

    def __init__(self) -> None:
        self.frames: collections.Counter[str] = collections.Counter()
        self.first_delta_s: float | None = None
        self.conversation: str | None = None
        self.text = ""
        self.last: dict[str, Any] = {}


def run_turn(
    ws: ClientConnection,
    request: str,
    content: str,
    conversation: str | None,
    stop_after_s: float | None = None,
) -> Turn:
    turn = Turn()
    started = time.perf_counter()
    ws.send(
        json.dumps(
            {"action": "send", "request": request, "conversation": conversation, "content": content}
        )
    )
    stop_sent = False
    while True:
        timeout = 120.0
        if stop_after_s is not None and not stop_sent:
            timeout = max(0.0, started + stop_after_s - time.perf_counter())
        try:
            frame = json.loads(ws.recv(timeout=timeout))
        except TimeoutError:
            ws.send(json.dumps({"action": "stop", "request": request}))
            stop_sent = True
            continue
        kind = frame.get("type")
        if kind is None:  # not ours (API Gateway's own)
            continue
        turn.frames[kind] += 1
        if kind == "started":
            turn.conversation = frame["conversation"]["id"]
        elif kind == "delta":
            if turn.first_delta_s is None:
                turn.first_delta_s = time.perf_counter() - started
            turn.text += frame["text"]
        elif kind in ("done", "error"):
            turn.last = frame
            return turn


def direct_first_chunk_s(base_url: str) -> float:
    client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "[[chunks:20x0]] hi"}],
        stream=True,
    )
    try:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                return time.perf_counter() - started
    finally:
        stream.close()
    raise RuntimeError("no chunk")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def section_first_token(app: LocalApp, fake: FakeOpenAI, token: str, turns: int) -> None:
    direct = [direct_first_chunk_s(fake.base_url) * 1000 for _ in range(turns)]
    through: list[float] = []
    with socket(app, token) as ws:
        conversation = None
        for index in range(turns + 5):
            turn = run_turn(ws, f"t{index}", "[[chunks:20x0]] hi", conversation)
            assert turn.last.get("type") == "done", turn.last
            conversation = turn.conversation
            if index >= 5 and turn.first_delta_s is not None:  # the first ones warm up
                through.append(turn.first_delta_s * 1000)
            if index % 50 == 49:
                conversation = None  # a conversation holds at most 1,000 messages
    overhead = [t - statistics.median(direct) for t in through]
    print(f"(a) time to first token, {turns} warm turns on one connection")
    print(
        f"    through local's socket: p50 {statistics.median(through):.1f} ms, "
        f"p99 {percentile(through, 0.99):.1f} ms"
    )
    print(
        f"    the provider asked directly: p50 {statistics.median(direct):.1f} ms, "
        f"p99 {percentile(direct, 0.99):.1f} ms"
    )
    print(
        f"    local's own (through - direct p50): p50 {statistics.median(overhead):.1f} ms, "
        f"p99 {percentile(overhead, 0.99):.1f} ms  (goal <= 20 ms warm)"
    )


def section_frames(app: LocalApp, token: str) -> None:
    print("\n(b) WebSocket frames per 1,000 answer tokens (one token per provider chunk)")
    with socket(app, token) as ws:
        for index, (chunks, delay) in enumerate(
            ((1000, 0.0), (1000, 0.002), (500, 0.01), (200, 0.05))
        ):
            turn = run_turn(ws, f"f{index}", f"[[chunks:{chunks}x{delay}]]", None)
            assert turn.last.get("type") == "done", turn.last
            per_1000 = turn.frames["delta"] * 1000 / chunks
            rate = "as fast as it can" if delay == 0 else f"{1 / delay:.0f} tokens/s"
            print(
                f"    provider {rate:>18}: {turn.frames['delta']} delta frames for {chunks} "
                f"tokens = {per_1000:.0f} per 1,000 (+ started, done)"
            )


def section_dynamodb(app: LocalApp, token: str, calls: Calls) -> None:
    print("\n(c) DynamoDB operations per turn (the stream function's, counted per call)")

    def show(label: str, counts: collections.Counter[str]) -> None:
        reads = sum(n for op, n in counts.items() if op in READS)
        writes = sum(n for op, n in counts.items() if op in WRITES)
        detail = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()) if n)
        print(f"    {label}: {reads} reads, {writes} writes ({detail})")

    with socket(app, token) as ws:
        with calls.measuring() as first:
            turn = run_turn(ws, "d1", "[[chunks:5x0]] hi", None)
        show("first turn of a new conversation", first)
        with calls.measuring() as later:
            run_turn(ws, "d2", "[[chunks:5x0]] more", turn.conversation)
        show("a later turn (short answer)    ", later)
        with calls.measuring() as long_one:
            run_turn(ws, "d3", "[[chunks:50x0.1]] long", turn.conversation)
        show("a later turn streaming 5 s     ", long_one)
        with calls.measuring() as stopped:
            run_turn(ws, "d4", "[[chunks:100x0.1]] stop me", turn.conversation, stop_after_s=1)
        show("a turn stopped after 1 s       ", stopped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    with FakeOpenAI() as fake, running_local(fake.base_url) as app:
        calls = Calls()  # after moto started (it replaces the default session)
        emulator.new_container()  # the handlers' clients, made again from that session
        token = login(app)
        section_first_token(app, fake, token, args.turns)
        section_frames(app, token)
        section_dynamodb(app, token, calls)


if __name__ == "__main__":
    main()
