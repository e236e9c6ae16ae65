"""The deploy lock as the commands use it: a busy stack makes `up` wait with a message,
then refuse naming the holder; `unlock` breaks it; `status` shows it; a run that loses its
lock stops before its next step; teardown removes the lock's table last."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from chatbot_deploy.deploy import lock
from chatbot_deploy.names import StackNames
from tests.deploy.test_cli import run

NAMES = StackNames("chatbot")


def hold_elsewhere(seconds: float = 600) -> lock.Holder:
    """A lock held by a run on another machine (so its pid says nothing here)."""
    dynamodb = boto3.client("dynamodb")
    lock.ensure_table(dynamodb, NAMES)
    now = time.time()
    holder = lock.Holder("up", "build-42", 4242, "another-machine", now, now + seconds, "t0k")
    dynamodb.put_item(TableName=NAMES.lock_table, Item=holder.item())
    return holder


@pytest.fixture
def short_wait(monkeypatch):
    monkeypatch.setattr(lock, "WAIT_S", 0.3)
    monkeypatch.setattr(lock, "POLL_S", 0.05)


def test_a_busy_stack_waits_then_refuses_naming_the_holder(app, short_wait, monkeypatch, capsys):
    hold_elsewhere()
    code, out, err = run(monkeypatch, capsys, "up")
    assert code == 1
    assert "Waiting for stack chatbot: `up` on build-42 (pid 4242)" in err
    assert "stack chatbot is busy: `up` on build-42 (pid 4242) since" in err
    assert "chatbot-deploy unlock --stack chatbot" in err
    assert "Traceback" not in err
    assert boto3.client("lambda").list_functions()["Functions"] == []  # nothing was done

    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert json.loads(out)["lock"].startswith("`up` on build-42 (pid 4242)")
    code, _, err = run(monkeypatch, capsys, "unlock")
    assert code == 1 and "pass --yes" in err  # no terminal to ask on
    code, out, _ = run(monkeypatch, capsys, "unlock", "--yes")
    assert code == 0 and "Lock broken (it was held by `up` on build-42" in out
    code, out, _ = run(monkeypatch, capsys, "unlock", "--yes")
    assert code == 0 and "is not locked" in out

    code, out, err = run(monkeypatch, capsys, "up", "--json")
    assert code == 0, err
    assert lock.current_holder(boto3.client("dynamodb"), NAMES) is None  # released


def test_an_expired_lease_is_taken_over(app, short_wait, monkeypatch, capsys):
    hold_elsewhere(seconds=-1)  # its run stopped renewing it
    code, _, err = run(monkeypatch, capsys, "up", "--json")
    assert code == 0, err
    assert "Waiting" not in err


def test_teardown_waits_for_the_lock_and_removes_its_table_last(
    app, short_wait, monkeypatch, capsys
):
    run(monkeypatch, capsys, "up", "--json")
    hold_elsewhere()
    code, _, err = run(monkeypatch, capsys, "teardown", "--yes")
    assert code == 1 and "is busy" in err
    code, out, _ = run(monkeypatch, capsys, "status", "--json")
    assert json.loads(out)["deployed"] is True  # refused: nothing deleted
    run(monkeypatch, capsys, "unlock", "--yes")
    code, out, err = run(monkeypatch, capsys, "teardown", "--yes")
    assert code == 0, err
    assert "lock" in out and NAMES.lock_table in out
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    code, out, _ = run(monkeypatch, capsys, "teardown", "--yes")
    assert code == 0 and "Nothing to delete" in out


def test_a_run_that_loses_its_lock_stops_before_its_next_step(app, monkeypatch, capsys):
    """Someone breaks the lock of a running `up` (or its lease ran out): the renewal is
    refused, and the run stops before starting another step, with one clear line."""
    monkeypatch.setattr(lock, "LEASE_S", 0.3)  # renewed every 0.1 s
    from chatbot_deploy.deploy import functions

    real = functions.ensure_function

    def slow_after_break(*args, **kwargs):
        lock.break_lock(boto3.client("dynamodb"), NAMES)
        time.sleep(0.5)  # the renewal thread notices
        return real(*args, **kwargs)

    monkeypatch.setattr(functions, "ensure_function", slow_after_break)
    code, _, err = run(monkeypatch, capsys, "up")
    assert code == 1
    assert "lost the lock on stack chatbot" in err and "Traceback" not in err
    assert boto3.client("apigatewayv2").get_apis()["Items"] == []  # the API step never ran


def test_a_no_op_up_writes_only_the_lock(app, monkeypatch, capsys):
    """Through the command, with its lock: nothing of the stack is written, and the only
    writes are taking and releasing the lock's item."""
    from chatbot_deploy.commands import up as up_command
    from chatbot_deploy.deploy.calls import CallLog

    run(monkeypatch, capsys, "up", "--json")
    logs: list[CallLog] = []
    from chatbot_deploy.aws import connect as real_connect

    def connect(profile, region):
        aws = real_connect(profile, region)
        logs.append(CallLog().attach(aws.session))
        return aws

    monkeypatch.setattr(up_command, "connect", connect)
    code, out, err = run(monkeypatch, capsys, "up", "--json")
    assert code == 0, err
    assert json.loads(out)["changed"] == []
    assert sorted(logs[0].writes) == [("dynamodb", "DeleteItem"), ("dynamodb", "PutItem")]
