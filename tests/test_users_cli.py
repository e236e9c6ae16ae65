"""add-user, remove-user, list-users against a moto DynamoDB table, through cli.main."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws

from chatbot_deploy import app_spec
from chatbot_deploy.deploy import table
from chatbot_deploy.errors import UserError
from chatbot_deploy.local import events
from chatbot_deploy.local.emulator import new_container
from chatbot_deploy.names import StackNames
from chatbot_deploy.userstore import UserStore
from chatbot_lambda import authorizer, chat, login, passwords, signed_in, users
from tests.cli_run import REGION, MotoServer, fake_aws_env, moto_server, run

__all__ = ["fake_aws_env", "moto_server"]  # fixtures, used by name

STACK = "chatbot"
NAMES = StackNames(STACK)
PASSWORD = "correct horse battery"


def create_users_table(dynamodb: Any, names: StackNames = NAMES) -> None:
    """The table as `up` creates it: the key from chatbot_lambda.users."""
    dynamodb.create_table(
        TableName=names.users_table,
        AttributeDefinitions=[{"AttributeName": users.KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": users.KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


FAST = passwords.ScryptParams(log2_n=10, r=8, p=1)


@pytest.fixture(autouse=True)
def cheap_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same hashing function with a lower cost (the parameters travel with each hash, so
    verification is unchanged); tests that request `real_hash_cost` keep the real cost."""
    if "real_hash_cost" in request.fixturenames:
        return
    real = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password", lambda password: real(password, FAST))


@pytest.fixture
def real_hash_cost() -> None:
    return None


@pytest.fixture
def aws(fake_aws_env: None) -> Any:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def dynamodb(aws: Any) -> Any:
    create_users_table(aws)
    return aws


def items(dynamodb: Any, names: StackNames = NAMES) -> dict[str, dict[str, Any]]:
    found = dynamodb.scan(TableName=names.users_table)["Items"]
    return {item[users.KEY]["S"]: item for item in found}


@pytest.fixture
def at_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at the terminal: prompts are answered from the test's input."""
    from chatbot_deploy.commands import confirm

    monkeypatch.setattr(confirm, "interactive", lambda: True)


@pytest.fixture
def person(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Call it to put a person at the terminal from then on (after users are added)."""
    from chatbot_deploy.commands import confirm

    return lambda: monkeypatch.setattr(confirm, "interactive", lambda: True)


def stored_hash(dynamodb: Any, username: str) -> str:
    return str(items(dynamodb)[username][users.HASH_ATTRIBUTE]["S"])


def add(username: str, password: str = PASSWORD, *extra: str) -> Any:
    return run("add-user", username, "--password-stdin", *extra, input=password + "\n")


# ---------------------------------------------------------------- add-user


def test_add_user_with_hidden_prompt_asked_twice(
    dynamodb: Any, real_hash_cost: None, at_terminal: None
) -> None:
    result = run("add-user", "alice", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.code == 0, result
    assert "User 'alice' added to 'chatbot-users' in eu-west-1." in result.err_text
    assert PASSWORD not in result.all_output  # hidden: never echoed
    assert result.stderr.count("Password") == 1
    assert "Repeat for confirmation" in result.stderr
    item = items(dynamodb)["alice"]
    assert passwords.verify_password(PASSWORD, item[users.HASH_ATTRIBUTE]["S"])
    assert not passwords.needs_rehash(item[users.HASH_ATTRIBUTE]["S"])
    assert item[users.CREATED_ATTRIBUTE]["S"].endswith("Z")
    # Sessions are valid from the second after it was set (tokens of a removed namesake end).
    assert time.time() - 2 < int(item[users.SESSIONS_AFTER_ATTRIBUTE]["N"]) <= time.time() + 1
    assert set(item) == {
        users.KEY,
        users.HASH_ATTRIBUTE,
        users.CREATED_ATTRIBUTE,
        users.SESSIONS_AFTER_ATTRIBUTE,
    }


def test_prompt_asks_again_when_the_two_entries_differ(dynamodb: Any, at_terminal: None) -> None:
    result = run("add-user", "alice", input=f"first-try1\nsecond-try\n{PASSWORD}\n{PASSWORD}\n")
    assert result.code == 0, result
    assert "the two entries differ" in result.stderr
    assert passwords.verify_password(PASSWORD, stored_hash(dynamodb, "alice"))
    for secret in ("first-try1", "second-try", PASSWORD):
        assert secret not in result.all_output


def test_password_stdin_reads_exactly_one_line(dynamodb: Any) -> None:
    result = run(
        "add-user", "bob@example.com", "--password-stdin", input="line one pw\r\nline two pw\n"
    )
    assert result.code == 0, result
    hashed = stored_hash(dynamodb, "bob@example.com")
    assert passwords.verify_password("line one pw", hashed)
    assert "line one pw" not in result.all_output


def test_password_stdin_without_newline_at_end(dynamodb: Any) -> None:
    result = run("add-user", "carol", "--password-stdin", input="no-newline-pw")
    assert result.code == 0, result
    assert passwords.verify_password("no-newline-pw", stored_hash(dynamodb, "carol"))


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("a b", "invalid username: ' ' not allowed"),
        ("x" * 65, "invalid username: it has 65 characters"),
        ("jürgen", "invalid username: 'ü' not allowed"),
        ("a/b:c", "invalid username: '/', ':' not allowed"),
        ("[bold]x", "invalid username: '[', ']' not allowed"),
    ],
)
def test_bad_username_is_refused_and_changes_nothing(
    dynamodb: Any, username: str, message: str
) -> None:
    result = add(username)
    assert result.code == 1
    assert message in result.err_text
    assert "1-64 characters among letters" in result.err_text
    assert "Traceback" not in result.all_output
    assert items(dynamodb) == {}


def test_empty_username_is_refused(dynamodb: Any) -> None:
    result = add("")
    assert result.code == 1
    assert "invalid username: it is empty" in result.err_text
    assert items(dynamodb) == {}


def test_longest_and_all_allowed_characters_are_accepted(dynamodb: Any) -> None:
    longest = "A" * 60 + "z9_."
    assert add(longest).code == 0
    assert add("first.last-2_x@example.org").code == 0
    assert set(items(dynamodb)) == {longest, "first.last-2_x@example.org"}


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "password too short: use at least 8 characters"),
        ("seven77", "password too short: use at least 8 characters"),
        ("x" * 1025, "password too long: use at most 1024 characters"),
        (" " * 8, "invalid password: it is only whitespace"),
        ("\t \u00a0 \u2003  \t", "invalid password: it is only whitespace"),
    ],
)
def test_bad_password_is_refused_and_changes_nothing(
    dynamodb: Any, password: str, message: str
) -> None:
    result = add("alice", password)
    assert result.code == 1
    assert message in result.err_text
    assert items(dynamodb) == {}


def test_short_password_from_prompt_is_refused(dynamodb: Any, at_terminal: None) -> None:
    result = run("add-user", "alice", input="short\nshort\n")
    assert result.code == 1
    assert "password too short" in result.err_text
    assert items(dynamodb) == {}


def test_bad_password_is_refused_before_it_is_asked_again(dynamodb: Any, at_terminal: None) -> None:
    result = run("add-user", "alice", input="        \n")
    assert result.code == 1
    assert "only whitespace" in result.err_text
    assert "Repeat for confirmation" not in result.stderr
    assert items(dynamodb) == {}


def test_prompt_gives_up_after_three_mismatches(dynamodb: Any, at_terminal: None) -> None:
    result = run("add-user", "alice", input="first-try1\nother-try1\n" * 3)
    assert result.code == 1
    assert "differed 3 times: nothing was changed" in result.err_text
    assert items(dynamodb) == {}


def test_no_terminal_and_no_password_stdin_says_what_to_do(dynamodb: Any) -> None:
    result = run("add-user", "alice", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.code == 1
    assert result.err_text == (
        "Error: no terminal to ask for the password on: pipe it in with --password-stdin"
    )
    assert "Warning" not in result.all_output  # not getpass's raw GetPassWarning
    assert items(dynamodb) == {}


def test_password_stdin_must_be_utf8(dynamodb: Any) -> None:
    from typer.testing import CliRunner

    from chatbot_deploy.commands import users as users_command

    with (
        CliRunner().isolation(input=b"\xff\xfepassword\n"),
        pytest.raises(UserError, match="not UTF-8 text"),
    ):
        users_command.read_password(from_stdin=True)


def test_password_stdin_refuses_a_terminal(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Typing into --password-stdin would show the password: refused before reading."""
    import io

    from chatbot_deploy.commands import users as users_command

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal("typed password\n")
    monkeypatch.setattr("sys.stdin", terminal)
    with pytest.raises(UserError, match="expects the password piped in"):
        users_command.read_password(from_stdin=True)
    assert terminal.tell() == 0


def test_empty_stdin_is_refused(dynamodb: Any) -> None:
    result = run("add-user", "alice", "--password-stdin", input="")
    assert result.code == 1
    assert "nothing on standard input" in result.err_text
    assert items(dynamodb) == {}


def test_existing_user_is_not_overwritten_without_update(dynamodb: Any) -> None:
    assert add("alice").code == 0
    before = items(dynamodb)
    result = add("alice", "another password")
    assert result.code == 1
    assert (
        "user 'alice' already exists in 'chatbot-users' in eu-west-1: "
        "pass --update to change its password"
    ) in result.err_text
    assert items(dynamodb) == before


def test_existing_user_is_refused_before_the_password_is_asked(dynamodb: Any) -> None:
    assert add("alice").code == 0
    result = run("add-user", "alice", input="")
    assert result.code == 1
    assert "already exists" in result.err_text
    assert "Password" not in result.stderr


def test_conditional_put_refuses_a_user_created_after_the_check(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins at once: the pre-check passes, the conditional put still refuses."""
    assert add("alice").code == 0
    before = items(dynamodb)
    monkeypatch.setattr(UserStore, "refuse_if_exists", lambda self, username: None)
    result = add("alice", "racing password")
    assert result.code == 1
    assert "user 'alice' already exists" in result.err_text
    assert items(dynamodb) == before


def test_update_changes_the_password_and_keeps_created_at(dynamodb: Any) -> None:
    assert add("alice").code == 0
    before = items(dynamodb)["alice"]
    result = add("alice", "a new password", "--update")
    assert result.code == 0, result
    assert "Password of user 'alice' changed" in result.err_text
    after = items(dynamodb)["alice"]
    assert passwords.verify_password("a new password", after[users.HASH_ATTRIBUTE]["S"])
    assert not passwords.verify_password(PASSWORD, after[users.HASH_ATTRIBUTE]["S"])
    assert after[users.CREATED_ATTRIBUTE] == before[users.CREATED_ATTRIBUTE]


def test_update_never_creates_a_user(dynamodb: Any) -> None:
    result = add("alicee", PASSWORD, "--update")
    assert result.code == 1
    assert "no user 'alicee' in 'chatbot-users' in eu-west-1: add it without --update" in (
        result.err_text
    )
    assert items(dynamodb) == {}


def test_update_condition_refuses_a_user_removed_after_the_check(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(UserStore, "refuse_if_missing", lambda self, username, hint_add: None)
    result = add("ghost", PASSWORD, "--update")
    assert result.code == 1
    assert "no user 'ghost'" in result.err_text
    assert items(dynamodb) == {}


# ---------------------------------------------------------------- missing stack


@pytest.mark.parametrize(
    "argv",
    [
        ("add-user", "alice", "--password-stdin"),
        ("remove-user", "alice", "--yes"),
        ("list-users",),
        ("list-users", "--json"),
    ],
)
def test_missing_table_says_to_deploy_first(aws: Any, argv: tuple[str, ...]) -> None:
    result = run(*argv, input=PASSWORD + "\n")
    assert result.code == 1
    assert result.err_text == (
        "Error: no users table 'chatbot-users' in eu-west-1: deploy the stack first with "
        "`chatbot-deploy up --stack chatbot`"
    )
    assert result.stdout == ""
    assert aws.list_tables()["TableNames"] == []


def test_stack_and_region_select_the_table(aws: Any) -> None:
    """Nothing local is needed: the table is found by name, in the region asked for."""
    other = StackNames("team-b")
    west = boto3.client("dynamodb", region_name="us-west-2")
    create_users_table(west, other)
    result = add("alice", PASSWORD, "--stack", "team-b", "--region", "us-west-2")
    assert result.code == 0, result
    assert "'team-b-users' in us-west-2" in result.err_text
    assert set(items(west, other)) == {"alice"}
    # The same stack in the default region is not deployed.
    missing = run("list-users", "--stack", "team-b")
    assert missing.code == 1
    assert "no users table 'team-b-users' in eu-west-1" in missing.err_text
    assert "`chatbot-deploy up --stack team-b`" in missing.err_text


def test_invalid_stack_name_is_a_usage_error(aws: Any) -> None:
    result = run("list-users", "--stack", "Bad_Stack")
    assert result.code == 2
    assert "invalid stack name" in " ".join(result.stderr.replace("│", " ").split())


# ---------------------------------------------------------------- remove-user


def test_remove_user_with_yes(dynamodb: Any) -> None:
    assert add("alice").code == 0
    assert add("bob").code == 0
    result = run("remove-user", "alice", "--yes")
    assert result.code == 0, result
    assert "User 'alice' removed from 'chatbot-users' in eu-west-1." in result.err_text
    assert set(items(dynamodb)) == {"bob"}


def test_remove_user_asks_first(dynamodb: Any, person: Any) -> None:
    assert add("alice").code == 0
    person()
    result = run("remove-user", "alice", input="y\n")
    assert result.code == 0, result
    assert "Remove user 'alice' from 'chatbot-users' in eu-west-1? [y/N]" in result.err_text
    assert items(dynamodb) == {}


def test_remove_user_declined_changes_nothing(dynamodb: Any, person: Any) -> None:
    assert add("alice").code == 0
    person()
    before = items(dynamodb)
    for answer, said in (("n\n", "not confirmed"), ("\n", "not confirmed"), ("", "Aborted")):
        result = run("remove-user", "alice", input=answer)  # "": end of input (Ctrl-D)
        assert result.code == 1
        assert said in result.err_text
        assert items(dynamodb) == before


def test_remove_user_off_a_terminal_needs_yes_as_teardown_does(dynamodb: Any) -> None:
    """A piped `y` is not a person agreeing: refused, the same in every command."""
    assert add("alice").code == 0
    result = run("remove-user", "alice", input="y\n")
    assert result.code == 1
    assert result.err_text == "Error: this needs confirmation and there is no terminal: pass --yes"
    assert set(items(dynamodb)) == {"alice"}


def test_remove_missing_user_is_refused_without_asking(dynamodb: Any, person: Any) -> None:
    assert add("alice").code == 0
    person()
    before = items(dynamodb)
    result = run("remove-user", "alicia", input="y\n")
    assert result.code == 1
    assert result.err_text == "Error: no user 'alicia' in 'chatbot-users' in eu-west-1"
    assert items(dynamodb) == before


def test_remove_condition_refuses_a_user_removed_after_the_check(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(UserStore, "refuse_if_missing", lambda self, username: None)
    result = run("remove-user", "ghost", "--yes")
    assert result.code == 1
    assert "no user 'ghost'" in result.err_text


def test_remove_user_works_for_names_add_user_would_refuse(dynamodb: Any) -> None:
    """Users typed into the console by the tutorial can still be removed."""
    dynamodb.put_item(
        TableName=NAMES.users_table, Item={**users.key("Old User"), "password": {"S": "x"}}
    )
    result = run("remove-user", "Old User", "--yes")
    assert result.code == 0, result
    assert items(dynamodb) == {}


# ---------------------------------------------------------------- list-users


def test_list_users_never_prints_hashes(dynamodb: Any) -> None:
    for name in ("zoe", "alice", "bob@example.com"):
        assert add(name).code == 0
    dynamodb.put_item(  # a user from the tutorial era: no created_at
        TableName=NAMES.users_table,
        Item={**users.key("legacy"), users.HASH_ATTRIBUTE: {"S": passwords.hash_password("x")}},
    )
    hashes = [item[users.HASH_ATTRIBUTE]["S"] for item in items(dynamodb).values()]
    created = items(dynamodb)["alice"][users.CREATED_ATTRIBUTE]["S"]

    text = run("list-users")
    assert text.code == 0, text
    rows = [line.split() for line in text.stdout.splitlines()]
    assert rows[0] == ["user", "created"]
    assert rows[1:] == [
        ["alice", created],
        ["bob@example.com", items(dynamodb)["bob@example.com"][users.CREATED_ATTRIBUTE]["S"]],
        ["legacy", "-"],
        ["zoe", items(dynamodb)["zoe"][users.CREATED_ATTRIBUTE]["S"]],
    ]

    as_json = run("list-users", "--json")
    assert as_json.code == 0, as_json
    document = json.loads(as_json.stdout)
    assert document["stack"] == STACK
    assert document["region"] == REGION
    assert document["table"] == "chatbot-users"
    assert [user["username"] for user in document["users"]] == [
        "alice",
        "bob@example.com",
        "legacy",
        "zoe",
    ]
    assert document["users"][0] == {"username": "alice", "created_at": created}
    assert document["users"][2] == {"username": "legacy", "created_at": None}

    for output in (text.all_output, as_json.all_output):
        assert "scrypt$" not in output
        assert users.HASH_ATTRIBUTE not in output
        for hashed in hashes:
            assert hashed.split("$")[-1] not in output


def test_list_users_empty(dynamodb: Any) -> None:
    text = run("list-users")
    assert text.code == 0
    assert text.stdout == ""
    assert "No users in 'chatbot-users' in eu-west-1" in text.err_text
    as_json = run("list-users", "--json")
    assert json.loads(as_json.stdout)["users"] == []


def test_list_users_reads_every_page(dynamodb: Any) -> None:
    store = UserStore(dynamodb, NAMES.users_table, "here")
    names = [f"user{index:03d}" for index in range(120)]
    for name in names:
        dynamodb.put_item(TableName=NAMES.users_table, Item=users.key(name))
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=NAMES.users_table, PaginationConfig={"PageSize": 50}
    )
    assert sum(1 for _ in pages) >= 3
    assert [info.username for info in store.list()] == names


def test_user_with_markup_in_its_name_is_listed_literally(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=NAMES.users_table, Item=users.key("[red]eve[/]"))
    result = run("list-users")
    assert "[red]eve[/]" in result.stdout


def test_store_add_refuses_existing_user_directly(dynamodb: Any) -> None:
    store = UserStore(dynamodb, NAMES.users_table, "'chatbot-users' in eu-west-1")
    store.add("alice", PASSWORD)
    before = items(dynamodb)
    with pytest.raises(UserError, match="already exists"):
        store.add("alice", "other password")
    assert items(dynamodb) == before


# ---------------------------------------------------------------- end to end


def login_event(username: str, password: str) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event for POST /login."""
    body = json.dumps({"username": username, "password": password})
    return {
        "version": "2.0",
        "routeKey": "POST /login",
        "rawPath": "/login",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": "/login", "sourceIp": "192.0.2.1"},
            "routeKey": "POST /login",
            "stage": "$default",
        },
        "body": base64.b64encode(body.encode()).decode(),
        "isBase64Encoded": True,
    }


def chat_event(token: str) -> dict[str, Any]:
    """POST /chat as API Gateway passes it on once the real authorizer allowed `token`."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    allowed = authorizer.handler({"headers": headers}, None)
    assert allowed["isAuthorized"] is True, allowed
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    return events.http_event(
        method="POST",
        path="/chat",
        query="",
        headers=headers,
        body=body,
        route_key="POST /chat",
        source_ip="192.0.2.1",
        api_id="test",
        authorizer_context=allowed["context"],
    )


def next_second() -> None:
    time.sleep(1 - time.time() % 1 + 0.01)


def test_added_user_can_log_in_through_the_real_login_handler(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, real_hash_cost: None
) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=NAMES.jwt_secret_param, Value="s" * 48, Type="SecureString")
    for spec in app_spec.TABLES.values():  # the other tables, as `up` makes them
        if spec.key != "users":
            table.create_on_demand(dynamodb, NAMES.table(spec.key), spec, NAMES.tags)
    for kind in ("login", "authorizer", "chat"):
        for key, value in app_spec.function_environment(kind, NAMES, app_spec.AppConfig()).items():
            monkeypatch.setenv(key, value)
    new_container()
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)  # else the check holds for 5 s

    def chat_status(token: str) -> int:
        return int(chat.handler(chat_event(token), None)["statusCode"])

    try:
        assert add("alice").code == 0
        next_second()  # tokens of the second the password was set in are refused

        ok = login.handler(login_event("alice", PASSWORD), None)
        assert ok["statusCode"] == 200, ok
        body = json.loads(ok["body"])
        claims = jwt.decode(
            body["token"], "s" * 48, algorithms=["HS256"], issuer=NAMES.token_issuer
        )
        assert claims["sub"] == "alice"
        assert body["username"] == "alice"
        first = body["token"]
        # Past the session check (no OpenAI key is configured here: 503, not 401).
        assert chat_status(first) == 503

        wrong = login.handler(login_event("alice", "wrong password"), None)
        assert wrong["statusCode"] == 401

        # --update: the old password stops working, the new one works, and the session
        # opened with the old one ends.
        assert add("alice", "brand new password", "--update").code == 0
        assert login.handler(login_event("alice", PASSWORD), None)["statusCode"] == 401
        assert chat_status(first) == 401
        next_second()
        renewed = login.handler(login_event("alice", "brand new password"), None)
        assert renewed["statusCode"] == 200
        second = json.loads(renewed["body"])["token"]
        assert chat_status(second) == 503

        # remove-user: the user can no longer log in, and their session ends at once.
        assert run("remove-user", "alice", "--yes").code == 0
        gone = login.handler(login_event("alice", "brand new password"), None)
        assert gone["statusCode"] == 401
        assert chat_status(second) == 401
    finally:
        new_container()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pseudo-terminal")
def test_password_prompt_on_a_real_terminal_is_not_echoed(moto_server: MotoServer) -> None:
    """The real process on a pseudo-terminal: both prompts shown, the typed password never
    appears on the terminal, and the stored hash verifies it."""
    import pty
    import select
    import sys
    import time

    dynamodb = moto_server.client("dynamodb")
    create_users_table(dynamodb)
    secret = b"typed-on-a-tty-42"
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the CLI
        os.execve(
            sys.executable,
            [sys.executable, "-m", "chatbot_deploy", "add-user", "alice"],
            moto_server.env,
        )
    screen = b""

    def read_until(token: bytes) -> None:
        nonlocal screen
        deadline = time.monotonic() + 60
        while token not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:
                    return
                if not chunk:
                    return
                screen += chunk

    done = 0
    try:
        # Click writes "Password:" and then lets getpass write the last " " once echo is off:
        # type only after that, as a person would.
        read_until(b"Password: ")
        os.write(fd, secret + b"\n")
        read_until(b"Repeat for confirmation: ")
        os.write(fd, secret + b"\n")
        read_until(b"added")
        deadline = time.monotonic() + 30
        done, status = os.waitpid(pid, os.WNOHANG)
        while not done and time.monotonic() < deadline:
            time.sleep(0.1)
            done, status = os.waitpid(pid, os.WNOHANG)
    finally:
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert b"User 'alice' added" in screen
    assert secret not in screen
    found = dynamodb.get_item(TableName=NAMES.users_table, Key=users.key("alice"))["Item"]
    assert passwords.verify_password(secret.decode(), found[users.HASH_ATTRIBUTE]["S"])
