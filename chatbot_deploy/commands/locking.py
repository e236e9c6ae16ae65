"""Taking a stack's deploy lock from a command: a visible message while another run holds
it, a clear refusal after the bound (`deploy/lock.py` has the protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatbot_deploy.aws import Aws
from chatbot_deploy.console import err
from chatbot_deploy.deploy import lock
from chatbot_deploy.hints import command_line
from chatbot_deploy.names import StackNames


@contextmanager
def stack_lock(aws: Aws, names: StackNames, command: str) -> Iterator[lock.StackLock]:
    """Hold the stack's lock for the block: waits up to lock.WAIT_S for another run."""

    def on_wait(holder: lock.Holder) -> None:
        err.print(
            f"Waiting for stack {names.stack}: {holder.describe()} is changing it "
            f"(up to {lock.WAIT_S:.0f} s) …"
        )

    held = lock.StackLock(
        aws.client("dynamodb"),
        names,
        command,
        lease_s=lock.LEASE_S,
        wait_s=lock.WAIT_S,
        poll_s=lock.POLL_S,
        on_wait=on_wait,
        unlock=command_line("unlock", stack=names.stack, aws=aws),
    )
    with held:
        yield held
