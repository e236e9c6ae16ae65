"""A per-stack deploy lock held in AWS, so two runs of `up` or `teardown` (from one machine or
from two) never change the same stack at the same time.

The lock is one item in the stack's own DynamoDB table (``StackNames.lock_table``), written
with conditional writes: DynamoDB applies a conditional write atomically, so of two runs
racing for a free lock exactly one wins, with no local state file.

A run holds the lock for a lease (``LEASE_S``) that a daemon thread renews every third of
it. A run that dies without releasing stops renewing, and its lock is free once the lease
ends; sooner when the dead run was on this machine: its pid is gone, so a waiting run takes
over at once. Only then: a pid says nothing about another machine.

Clocks: a waiter treats the lock as free when the holder's ``expires`` (written with the
holder's clock) is before its own clock, so the machines' clocks must agree to well within
the lease. A clock that is ahead by more than the lease lets a run take a lock that is still
held. AWS request signing already rejects clocks more than 5 minutes off, which does not
guarantee this; NTP-synchronised machines are off by far less than 60 s, which is why the
lease is a minute rather than a few seconds. Renewal itself compares only times written by
the holder's own clock.

``chatbot-deploy unlock`` (``break_lock``) is the manual escape when a lock must go at once.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.table import WAITER_CONFIG, create_on_demand
from chatbot_deploy.errors import UserError
from chatbot_deploy.names import StackNames

LEASE_S = 60.0
WAIT_S = 120.0
POLL_S = 2.0

LOCK_ID = "lock"
KEY = {"id": {"S": LOCK_ID}}

CONDITION_FAILED = "ConditionalCheckFailedException"
NOT_FOUND = "ResourceNotFoundException"


@dataclass(frozen=True)
class Holder:
    """Who holds a stack's lock, as stored in the lock item."""

    command: str
    host: str
    pid: int
    machine: str
    since: float
    expires: float
    token: str

    def describe(self) -> str:
        return f"`{self.command}` on {self.host} (pid {self.pid}) since {_utc(self.since)} UTC"

    def item(self) -> dict[str, dict[str, str]]:
        return {
            **KEY,
            "command": {"S": self.command},
            "host": {"S": self.host},
            "pid": {"N": str(self.pid)},
            "machine": {"S": self.machine},
            "since": {"N": str(self.since)},
            "expires": {"N": str(self.expires)},
            "token": {"S": self.token},
        }

    @classmethod
    def from_item(cls, item: dict[str, dict[str, str]]) -> Holder:
        return cls(
            command=item["command"]["S"],
            host=item["host"]["S"],
            pid=int(item["pid"]["N"]),
            machine=item["machine"]["S"],
            since=float(item["since"]["N"]),
            expires=float(item["expires"]["N"]),
            token=item["token"]["S"],
        )


class LockBusy(UserError):
    """Another run holds the stack's lock and did not let go within the wait."""

    def __init__(self, stack: str, holder: Holder, unlock: str | None = None) -> None:
        self.stack = stack
        self.holder = holder
        unlock = unlock or f"chatbot-deploy unlock --stack {stack}"
        super().__init__(
            f"stack {stack} is busy: {holder.describe()}; its lease ends at "
            f"{_utc(holder.expires, '%H:%M:%S')} UTC unless it is renewed; try again when it "
            f"has finished, or if that run is gone, run `{unlock}`"
        )


class LockLost(UserError):
    """The lock this run held was taken over, broken or not renewed in time: another run may
    be changing the stack, so this one must not take another step."""

    def __init__(self, stack: str, reason: str) -> None:
        self.stack = stack
        self.reason = reason
        super().__init__(
            f"lost the lock on stack {stack} ({reason}); stopped before the next step: "
            "run the command again"
        )


def this_machine() -> str:
    """What makes a pid meaningful: the host name, and on Linux the boot id (pids restart
    after a reboot) and the pid namespace (containers sharing a host name and a kernel do
    not see each other's pids). Anything unreadable is left out."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass
    return "/".join(part for part in parts if part)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is alive. True when it cannot be told, which only
    means waiting for the lease: on Windows signal 0 would kill the process, and pids below
    1 address process groups."""
    if os.name != "posix" or pid < 1:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def ensure_table(dynamodb: Any, names: StackNames) -> bool:
    """Create the lock table if missing and wait until it is ACTIVE; True if created here.

    A concurrent create (ResourceInUseException) just means waiting for it. A table still
    DELETING (a teardown just removed it) cannot be created again until it is gone.
    """
    name = names.lock_table
    status = _table_status(dynamodb, name)
    if status == "DELETING":
        dynamodb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=WAITER_CONFIG)
        status = None
    if status is None:
        return create_on_demand(dynamodb, name, "id", names.tags)
    if status != "ACTIVE":
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAITER_CONFIG)
    return False


def table_exists(dynamodb: Any, names: StackNames) -> bool:
    return _table_status(dynamodb, names.lock_table) is not None


def delete_table(dynamodb: Any, names: StackNames) -> bool:
    """Delete the lock table, which also drops any lock in it: teardown does this last.
    False if it did not exist. No wait: a run that wants the lock meanwhile waits for a
    DELETING table to go (``ensure_table``)."""
    return succeeded(lambda: dynamodb.delete_table(TableName=names.lock_table), unless=NOT_FOUND)


def current_holder(dynamodb: Any, names: StackNames) -> Holder | None:
    """Who holds the lock now (a consistent read), or None: no table or no lock item."""
    try:
        response = dynamodb.get_item(TableName=names.lock_table, Key=KEY, ConsistentRead=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == NOT_FOUND:
            return None
        raise
    item = response.get("Item")
    return Holder.from_item(item) if item else None


def break_lock(dynamodb: Any, names: StackNames) -> Holder | None:
    """Remove the lock whoever holds it (the documented manual escape for a run that is
    gone); returns who held it. A holder still running notices at its next renewal."""
    try:
        response = dynamodb.delete_item(TableName=names.lock_table, Key=KEY, ReturnValues="ALL_OLD")
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == NOT_FOUND:
            return None
        raise
    old = response.get("Attributes")
    return Holder.from_item(old) if old else None


class StackLock:
    """The deploy lock of one stack for one run: ``with StackLock(...) as lock:`` then
    ``lock.check()`` before each step.

    ``clock`` and ``sleep`` are the timestamps and the pauses of ``acquire`` (tests replace
    them); the renewal thread keeps real time for its cadence and ``clock`` for timestamps.
    With ``create_table=False`` the caller guarantees the table exists; if it does not,
    ResourceNotFoundException propagates.
    """

    def __init__(
        self,
        dynamodb: Any,
        names: StackNames,
        command: str,
        *,
        lease_s: float = LEASE_S,
        wait_s: float = WAIT_S,
        poll_s: float = POLL_S,
        on_wait: Callable[[Holder], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        create_table: bool = True,
        unlock: str | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self._unlock = unlock  # the command that breaks this lock, as the user types it
        self._names = names
        self._command = command
        self._lease_s = lease_s
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._on_wait = on_wait
        self._clock = clock
        self._sleep = sleep
        self._create_table = create_table
        self._machine = this_machine()
        self._holder: Holder | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._renewal: threading.Thread | None = None

    @property
    def holder(self) -> Holder | None:
        """Ours, once acquired (its ``expires`` moves with each renewal)."""
        return self._holder

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait_s`` while another run holds it; LockBusy then."""
        if self._holder is not None:
            raise RuntimeError("the stack lock is already held by this StackLock")
        if self._create_table:
            ensure_table(self._dynamodb, self._names)
        start = self._clock()
        waited_for: str | None = None
        while True:
            now = self._clock()
            mine = self._new_holder(now)
            try:
                if self._put(mine, "attribute_not_exists(#id) OR #expires < :now", now=now):
                    return self._start(mine)
                holder = current_holder(self._dynamodb, self._names)
                if holder is None:  # released in between, or the table went: try again
                    continue
                if holder.machine == self._machine and not pid_alive(holder.pid):
                    # Killed on this machine: take over, conditional on its token so that
                    # of two waiters only one does.
                    if self._put(mine, "#token = :dead", dead=holder.token):
                        return self._start(mine)
                    continue
            except botocore.exceptions.ClientError as exc:
                # A teardown deleted the table (a DELETING table answers this too).
                if error_code(exc) != NOT_FOUND or not self._create_table:
                    raise
                ensure_table(self._dynamodb, self._names)
                continue
            remaining = start + self._wait_s - now
            if remaining <= 0:
                raise LockBusy(self._names.stack, holder, self._unlock)
            if holder.token != waited_for and self._on_wait is not None:
                self._on_wait(holder)
            waited_for = holder.token
            self._sleep(min(self._poll_s, remaining))

    def release(self) -> None:
        """Stop renewing and delete the lock if it is still ours. A lock already broken,
        taken over, or deleted with its table is not an error."""
        holder = self._holder
        self._stop_renewal()
        self._holder = None
        if holder is None:
            return
        try:
            self._dynamodb.delete_item(
                TableName=self._names.lock_table,
                Key=KEY,
                ConditionExpression="#token = :mine",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":mine": {"S": holder.token}},
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in {CONDITION_FAILED, NOT_FOUND}:
                raise

    def check(self) -> None:
        """Raise LockLost if the lock is no longer surely ours: a renewal was refused, or the
        lease ended before one succeeded (someone may have taken over since)."""
        holder = self._holder
        if holder is None:
            raise RuntimeError("the stack lock is not held")
        if self._lost is None and self._clock() >= holder.expires:
            self._lost = f"its lease ended at {_utc(holder.expires, '%H:%M:%S')} UTC"
        if self._lost is not None:
            raise LockLost(self._names.stack, self._lost)

    def renew_once(self) -> bool:
        """Extend the lease by ``lease_s`` from now if the lock is still ours (the renewal
        thread calls this every ``lease_s / 3``). False once the lock is lost: stop renewing.
        Other errors (network) leave the lease as it is, for the next tick to retry."""
        holder = self._holder
        if holder is None or self._lost is not None:
            return False
        now = self._clock()
        if now >= holder.expires:
            self._lost = f"its lease ended at {_utc(holder.expires, '%H:%M:%S')} UTC"
            return False
        expires = now + self._lease_s
        try:
            self._dynamodb.update_item(
                TableName=self._names.lock_table,
                Key=KEY,
                UpdateExpression="SET #expires = :expires",
                ConditionExpression="#token = :mine",
                ExpressionAttributeNames={"#expires": "expires", "#token": "token"},
                ExpressionAttributeValues={
                    ":expires": {"N": str(expires)},
                    ":mine": {"S": holder.token},
                },
            )
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == CONDITION_FAILED:
                self._lost = "another run took it over, or it was broken by hand"
                return False
            if code == NOT_FOUND:
                self._lost = "its table was deleted"
                return False
            return True
        except botocore.exceptions.BotoCoreError:  # no connection: retry next tick
            return True
        if self._holder is holder:  # not released meanwhile
            self._holder = replace(holder, expires=expires)
        return True

    def __enter__(self) -> StackLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def _new_holder(self, now: float) -> Holder:
        return Holder(
            command=self._command,
            host=socket.gethostname(),
            pid=os.getpid(),
            machine=self._machine,
            since=now,
            expires=now + self._lease_s,
            token=secrets.token_hex(16),
        )

    def _put(self, holder: Holder, condition: str, **values: str | float) -> bool:
        """Write ``holder`` if ``condition`` holds; False if it does not. Only the names and
        values the condition uses may be sent (DynamoDB rejects unused ones)."""
        names = {"#id": "id", "#expires": "expires", "#token": "token"}
        return succeeded(
            lambda: self._dynamodb.put_item(
                TableName=self._names.lock_table,
                Item=holder.item(),
                ConditionExpression=condition,
                ExpressionAttributeNames={k: v for k, v in names.items() if k in condition},
                ExpressionAttributeValues={
                    f":{key}": {"S": value} if isinstance(value, str) else {"N": str(value)}
                    for key, value in values.items()
                },
            ),
            unless=CONDITION_FAILED,
        )

    def _start(self, holder: Holder) -> None:
        self._holder = holder
        self._lost = None
        self._stop = threading.Event()
        self._renewal = threading.Thread(
            target=self._renew_until_stopped,
            args=(self._stop,),
            name=f"lock-renewal-{self._names.stack}",
            daemon=True,
        )
        self._renewal.start()

    def _renew_until_stopped(self, stop: threading.Event) -> None:
        while not stop.wait(self._lease_s / 3) and self.renew_once():
            pass

    def _stop_renewal(self) -> None:
        self._stop.set()
        if self._renewal is not None and self._renewal is not threading.current_thread():
            # Bounded: a renewal stuck on the network must not hold up the exit; one that
            # lands after the delete below fails its condition and changes nothing.
            self._renewal.join(timeout=self._lease_s / 3)
        self._renewal = None


def _table_status(dynamodb: Any, name: str) -> str | None:
    try:
        return str(dynamodb.describe_table(TableName=name)["Table"]["TableStatus"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == NOT_FOUND:
            return None
        raise


def _utc(epoch: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(fmt)
