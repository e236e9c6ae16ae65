"""The per-stack deploy lock: conditional writes, waiting, lease and renewal, takeover of a
holder killed on this machine, and the manual escape."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.exceptions
import pytest

from chatbot_deploy.aws import connect
from chatbot_deploy.deploy.lock import (
    LEASE_S,
    Holder,
    LockBusy,
    LockLost,
    StackLock,
    break_lock,
    current_holder,
    delete_table,
    ensure_table,
    this_machine,
)
from chatbot_deploy.names import TAG_KEY, StackNames

ROOT = Path(__file__).resolve().parents[2]
NAMES = StackNames("chatbot")


class FakeTime:
    """A clock that moves only when `sleep` is called."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def dynamodb(moto):
    return connect(None, None).client("dynamodb")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: no zombie left to look alive
    return proc.pid


def _plant(dynamodb, machine: str, pid: int, now: float) -> Holder:
    """A lock item as a run elsewhere would have left it, lease far from over."""
    ensure_table(dynamodb, NAMES)
    holder = Holder("up", "host-a", pid, machine, now, now + 1000, "dead-token")
    dynamodb.put_item(TableName=NAMES.lock_table, Item=holder.item())
    return holder


def _record_puts(dynamodb) -> list[dict[str, Any]]:
    puts: list[dict[str, Any]] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.PutItem", lambda params, **_: puts.append(params)
    )
    return puts


def test_acquire_creates_the_table_then_a_second_run_waits_and_is_told_who_holds(dynamodb):
    t = FakeTime()
    first = StackLock(dynamodb, NAMES, "up", clock=t.clock, sleep=t.sleep)
    first.acquire()

    table = dynamodb.describe_table(TableName="chatbot-lock")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": TAG_KEY, "Value": "chatbot"}]
    holder = current_holder(dynamodb, NAMES)
    assert holder is not None and holder == first.holder
    assert (holder.command, holder.host, holder.pid) == ("up", socket.gethostname(), os.getpid())
    assert holder.expires == t.now + LEASE_S

    waits: list[Holder] = []
    second = StackLock(
        dynamodb, NAMES, "teardown", wait_s=5, poll_s=2, on_wait=waits.append,
        clock=t.clock, sleep=t.sleep,
    )  # fmt: skip
    with pytest.raises(LockBusy) as busy:
        second.acquire()
    message = str(busy.value)
    assert f"stack chatbot is busy: `up` on {holder.host} (pid {os.getpid()}) since " in message
    assert "run `chatbot-deploy unlock --stack chatbot`" in message
    assert "its lease ends at " in message
    assert waits == [holder]  # once, although it polled three times
    assert t.sleeps == [2, 2, 1]  # never past the wait

    first.release()
    assert current_holder(dynamodb, NAMES) is None
    second.acquire()
    assert current_holder(dynamodb, NAMES) == second.holder
    second.release()
    assert current_holder(dynamodb, NAMES) is None


def test_two_threads_never_hold_the_lock_at_once(dynamodb):
    ensure_table(dynamodb, NAMES)
    spans: list[tuple[float, float, str]] = []
    seen_by_item: list[bool] = []
    waits: list[Holder] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def run(name: str) -> None:
        try:
            for _ in range(3):
                lock = StackLock(
                    dynamodb, NAMES, name, lease_s=5, wait_s=10, poll_s=0.02,
                    on_wait=waits.append, create_table=False,
                )  # fmt: skip
                with lock:
                    entered = time.monotonic()
                    mine = current_holder(dynamodb, NAMES) == lock.holder
                    time.sleep(0.05)
                    left = time.monotonic()
                with guard:
                    spans.append((entered, left, name))
                    seen_by_item.append(mine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("up", "teardown")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(name for _, _, name in spans) == ["teardown"] * 3 + ["up"] * 3
    assert all(seen_by_item)
    assert waits  # they did contend
    spans.sort()
    for (_, left, _), (entered, _, _) in pairwise(spans):
        assert left <= entered


def test_renewal_extends_the_lease_and_without_it_the_lock_is_lost(dynamodb):
    t = FakeTime()
    lock = StackLock(dynamodb, NAMES, "up", clock=t.clock, sleep=t.sleep)
    lock.acquire()
    t.now += LEASE_S / 3
    assert lock.renew_once() is True
    assert lock.holder is not None and lock.holder.expires == t.now + LEASE_S
    assert current_holder(dynamodb, NAMES) == lock.holder
    lock.check()

    t.now += LEASE_S  # no renewal got through in a whole lease
    with pytest.raises(LockLost, match=r"lost the lock on stack chatbot \(its lease ended at "):
        lock.check()
    assert lock.renew_once() is False
    lock.release()


def test_the_renewal_thread_keeps_the_lease_and_stops_on_release(dynamodb):
    lock = StackLock(dynamodb, NAMES, "up", lease_s=0.3)  # renews every 0.1 s
    lock.acquire()
    assert lock.holder is not None
    first_expires = lock.holder.expires
    time.sleep(0.45)  # longer than the lease: only renewals keep it
    lock.check()
    assert lock.holder.expires > first_expires
    assert current_holder(dynamodb, NAMES) == lock.holder
    lock.release()
    assert not [t for t in threading.enumerate() if t.name == "lock-renewal-chatbot"]
    assert current_holder(dynamodb, NAMES) is None


def test_an_expired_lease_is_taken_over_and_the_old_holder_finds_out(dynamodb):
    t = FakeTime()
    a = StackLock(dynamodb, NAMES, "up", clock=t.clock, sleep=t.sleep)
    a.acquire()
    later = FakeTime(t.now + LEASE_S + 1)
    b = StackLock(dynamodb, NAMES, "teardown", clock=later.clock, sleep=later.sleep)
    b.acquire()
    assert later.sleeps == []
    assert current_holder(dynamodb, NAMES) == b.holder

    a.check()  # by its own clock A is still inside its lease: it learns at the renewal
    assert a.renew_once() is False
    with pytest.raises(LockLost) as lost:
        a.check()
    assert str(lost.value).endswith("stopped before the next step: run the command again")

    a.release()  # conditional on A's token: B's lock stays
    assert current_holder(dynamodb, NAMES) == b.holder
    b.release()


def test_a_holder_killed_on_this_machine_is_taken_over_at_once(dynamodb):
    t = FakeTime()
    dead = _plant(dynamodb, this_machine(), _dead_pid(), t.now)
    puts = _record_puts(dynamodb)
    lock = StackLock(dynamodb, NAMES, "up", clock=t.clock, sleep=t.sleep)
    lock.acquire()

    assert t.sleeps == []
    assert lock.holder is not None and lock.holder.token != dead.token
    assert current_holder(dynamodb, NAMES) == lock.holder
    takeover = puts[-1]
    assert takeover["ConditionExpression"] == "#token = :dead"
    assert takeover["ExpressionAttributeValues"] == {":dead": {"S": "dead-token"}}

    # A second waiter that also saw the dead holder cannot take it too: the token moved on,
    # and the new holder (this process) is alive.
    with pytest.raises(LockBusy):
        StackLock(dynamodb, NAMES, "up", wait_s=0, clock=t.clock, sleep=t.sleep).acquire()
    lock.release()


def test_a_dead_looking_pid_on_another_machine_is_left_alone(dynamodb):
    t = FakeTime()
    _plant(dynamodb, "other-host/boot/pid:[1]", _dead_pid(), t.now)
    lock = StackLock(dynamodb, NAMES, "up", wait_s=4, poll_s=2, clock=t.clock, sleep=t.sleep)
    with pytest.raises(LockBusy, match=r"`up` on host-a \(pid "):
        lock.acquire()
    assert t.sleeps == [2, 2]
    holder = current_holder(dynamodb, NAMES)
    assert holder is not None and holder.token == "dead-token"


def test_break_lock_removes_whoever_holds_it(dynamodb):
    assert break_lock(dynamodb, NAMES) is None  # no table yet
    lock = StackLock(dynamodb, NAMES, "up")
    lock.acquire()
    assert break_lock(dynamodb, NAMES) == lock.holder
    assert current_holder(dynamodb, NAMES) is None
    assert break_lock(dynamodb, NAMES) is None
    assert lock.renew_once() is False
    with pytest.raises(LockLost, match="broken by hand"):
        lock.check()
    lock.release()


def test_a_table_deleted_while_waiting_is_created_again(dynamodb):
    t = FakeTime()
    teardown = StackLock(dynamodb, NAMES, "teardown", clock=t.clock, sleep=t.sleep)
    teardown.acquire()

    def teardown_finishes(holder: Holder) -> None:
        assert delete_table(dynamodb, NAMES) is True

    up = StackLock(
        dynamodb, NAMES, "up", wait_s=10, on_wait=teardown_finishes, clock=t.clock, sleep=t.sleep
    )
    up.acquire()
    assert len(t.sleeps) == 1
    assert current_holder(dynamodb, NAMES) == up.holder
    teardown.release()  # its item went with the table: nothing of `up`'s is touched
    assert current_holder(dynamodb, NAMES) == up.holder
    up.release()
    assert delete_table(dynamodb, NAMES) is True
    assert delete_table(dynamodb, NAMES) is False


def test_without_create_table_a_missing_table_is_an_error(dynamodb):
    lock = StackLock(dynamodb, NAMES, "up", create_table=False)
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceNotFoundException"):
        lock.acquire()


def test_ensure_table_waits_for_a_deleting_table_before_creating_it():
    calls: list[str] = []

    class Deleting:
        """What DynamoDB shows for a while after a teardown deleted the table."""

        def describe_table(self, **_: str) -> dict[str, Any]:
            calls.append("describe")
            return {"Table": {"TableStatus": "DELETING"}}

        def create_table(self, **_: Any) -> None:
            calls.append("create")

        def get_waiter(self, name: str) -> SimpleNamespace:
            return SimpleNamespace(wait=lambda **_: calls.append(name))

    assert ensure_table(Deleting(), NAMES) is True
    assert calls == ["describe", "table_not_exists", "create", "table_exists"]


CHILD = textwrap.dedent(
    """
    import sys, time
    import boto3
    from chatbot_deploy.deploy.lock import StackLock
    from chatbot_deploy.names import StackNames

    with StackLock(boto3.client("dynamodb"), StackNames("chatbot"), "up"):
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
    print("released", flush=True)
    """
)


def _holding_child(endpoint: str, hold_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(hold_s)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_line(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


@pytest.mark.slow
def test_two_processes_then_a_killed_holder(server):
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=server)
    children: list[subprocess.Popen[str]] = []
    try:
        children.append(holder := _holding_child(server, 2.0))
        assert _read_line(holder) == "held\n", holder.stderr.read() if holder.stderr else ""
        with pytest.raises(LockBusy, match=rf"`up` on .* \(pid {holder.pid}\)"):
            StackLock(dynamodb, NAMES, "up", wait_s=0.5, poll_s=0.1).acquire()
        out, err = holder.communicate(timeout=30)
        assert holder.returncode == 0, err
        assert out.splitlines() == ["released"]  # "held" was read above
        assert current_holder(dynamodb, NAMES) is None

        children.append(killed := _holding_child(server, 60.0))
        assert _read_line(killed) == "held\n"
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)  # reaped: its pid is gone
        left = current_holder(dynamodb, NAMES)
        assert left is not None and left.pid == killed.pid

        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            time.sleep(seconds)

        lock = StackLock(dynamodb, NAMES, "up", wait_s=0.5, sleep=sleep)
        with lock:
            assert sleeps == []
            assert current_holder(dynamodb, NAMES) == lock.holder
        assert current_holder(dynamodb, NAMES) is None
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=30)
