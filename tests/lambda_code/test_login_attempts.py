"""Brute-force protection of POST /login: failed logins counted per username in DynamoDB
(the emulator `local` uses), growing delays answered 429 with Retry-After, the same for
unknown users, refused logins logged with username and source IP (never the password)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chatbot_lambda import attempts, login, passwords
from tests.lambda_code.test_handlers import PASSWORD, aws, body_of, http_event

__all__ = ["aws"]  # the fixture, used by name


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(login, "clock", clock)
    return clock


@pytest.fixture(autouse=True)
def cheap_unknown_user_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The constant-time path for unknown users at a test's cost (same code, lower cost)."""
    fast = passwords.ScryptParams(log2_n=10, r=8, p=1)
    dummy = passwords.hash_password("x" * 12, fast)
    monkeypatch.setattr(
        passwords, "verify_unknown_user", lambda pw: passwords.verify_password(pw, dummy)
    )


def attempt(username: str, password: str, ip: str = "203.0.113.7") -> dict[str, Any]:
    event = http_event({"username": username, "password": password})
    event["requestContext"]["http"]["sourceIp"] = ip
    return login.handler(event, None)


def test_delays_grow_after_the_free_failures_up_to_the_cap() -> None:
    delays = [attempts.delay_after(n) for n in range(1, 30)]
    free = attempts.FREE_FAILURES - 1
    assert delays[:free] == [0] * free
    assert delays[free : free + 4] == [1, 2, 4, 8]
    assert max(delays) == attempts.MAX_DELAY_S == delays[-1]
    assert delays == sorted(delays)


@pytest.mark.parametrize("username", ["alice", "nobody-by-that-name"])
def test_failures_lock_the_username_with_429_and_retry_after(
    aws: Any, clock: Clock, username: str
) -> None:
    """A real user and an unknown one get exactly the same answers: nothing is revealed."""
    answers = [attempt(username, f"guess-{n:04d}") for n in range(attempts.FREE_FAILURES)]
    assert [a["statusCode"] for a in answers] == [401] * attempts.FREE_FAILURES
    locked = attempt(username, "another-guess")
    assert locked["statusCode"] == 429
    assert locked["headers"]["retry-after"] == "1"
    assert body_of(locked) == {
        "error": "too many failed logins for this username; try again in 1 s"
    }
    clock.now += 1  # the lock ended: one more guess, a longer lock
    assert attempt(username, "guess-after-wait")["statusCode"] == 401
    assert attempt(username, "too-soon-again")["headers"]["retry-after"] == "2"


def test_a_locked_username_is_refused_even_with_the_right_password(aws: Any, clock: Clock) -> None:
    for n in range(attempts.FREE_FAILURES):
        attempt("alice", f"guess-{n:04d}")
    assert attempt("alice", PASSWORD)["statusCode"] == 429  # no scrypt, no answer
    clock.now += 1
    assert attempt("alice", PASSWORD)["statusCode"] == 200


def test_a_success_clears_the_count_and_other_users_are_untouched(aws: Any, clock: Clock) -> None:
    for n in range(attempts.FREE_FAILURES - 1):
        attempt("alice", f"guess-{n:04d}")
    assert attempt("alice", PASSWORD)["statusCode"] == 200
    for n in range(attempts.FREE_FAILURES - 1):  # the count started again
        assert attempt("alice", f"again-{n:04d}")["statusCode"] == 401
    table = aws.names.table("login-attempts")
    item = aws.dynamodb.get_item(TableName=table, Key={"username": {"S": "alice"}})["Item"]
    assert item["failures"] == {"N": str(attempts.FREE_FAILURES - 1)}
    assert int(item["expires_at"]["N"]) == int(clock.now) + attempts.WINDOW_S
    for n in range(attempts.FREE_FAILURES):
        attempt("mallory", f"guess-{n:04d}")
    assert attempt("mallory", "x-guess-x")["statusCode"] == 429
    assert attempt("alice", PASSWORD)["statusCode"] == 200  # alice is not mallory


def test_a_count_older_than_a_day_is_forgotten_even_before_ttl_deletes_it(
    aws: Any, clock: Clock
) -> None:
    for n in range(attempts.FREE_FAILURES + 3):
        clock.now += attempts.MAX_DELAY_S
        attempt("alice", f"guess-{n:04d}")
    clock.now += attempts.WINDOW_S + 1  # expired; DynamoDB's TTL may take days to delete
    assert attempt("alice", "one-more-guess")["statusCode"] == 401
    table = aws.names.table("login-attempts")
    item = aws.dynamodb.get_item(TableName=table, Key={"username": {"S": "alice"}})["Item"]
    assert item["failures"] == {"N": "1"} and "locked_until" not in item


def test_refused_logins_are_logged_with_username_and_ip_never_the_password(
    aws: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for n in range(attempts.FREE_FAILURES + 1):
        attempt("alice", f"secret-guess-{n}", ip="198.51.100.9")
    attempt('evil\n"user', "secret-guess-x")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("login refused")]
    records = [json.loads(line.removeprefix("login refused: ")) for line in lines]
    assert records[0] == {
        "username": "alice",
        "source_ip": "198.51.100.9",
        "reason": "wrong password",
    }
    assert records[attempts.FREE_FAILURES]["reason"] == "locked"
    assert records[-1]["username"] == 'evil\n"user' and "\n" not in lines[-1]
    assert not any("secret-guess" in line for line in lines)
