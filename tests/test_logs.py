"""`logs`: history merged across log groups, folding, `--since`, follow (Live Tail and polling),
all against moto's CloudWatch Logs; Live Tail failures injected."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from chatbot_deploy.app_spec import FUNCTION_KINDS
from chatbot_deploy.commands import logs as logs_command
from chatbot_deploy.logs import follow as follow_module
from chatbot_deploy.logs.events import LogEvent, fold, parse_since
from chatbot_deploy.logs.fetch import existing_groups, fetch, group_events, merged
from chatbot_deploy.logs.follow import Follower, LiveTailEnded, Poller, kind_of, live_tail
from chatbot_deploy.logs.render import COLOURS, Renderer
from chatbot_deploy.names import StackNames
from tests.cli_run import REGION, MotoServer, fake_aws_env, moto_server, run, start_cli

__all__ = ["fake_aws_env", "moto_server"]  # fixtures, used by name

NAMES = StackNames("chatbot")
REQUEST_ID = "8f5e2b1a-3c4d-4e5f-9a0b-1c2d3e4f5a6b"
START = f"START RequestId: {REQUEST_ID} Version: $LATEST\n"
END = f"END RequestId: {REQUEST_ID}\n"
INIT = "INIT_START Runtime Version: python:3.12.v30\tRuntime Version ARN: arn:aws:lambda:x\n"
REPORT = (
    f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 1024 MB\tMax Memory Used: 81 MB\tInit Duration: 301.50 ms\t\n"
)
PY_LOG = f"[INFO]\t2026-11-24T15:30:01.123Z\t{REQUEST_ID}\tlogin ok for alice\n"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def client(fake_aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("logs", region_name=REGION)


def put(client: Any, kind: str, stream: str, events: list[tuple[int, str]]) -> None:
    group = NAMES.log_group(kind)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": message} for ts, message in events],
    )


def lines_of(stdout: str) -> list[tuple[str, str]]:
    """(function name, message) of each printed line."""
    found = []
    for line in stdout.splitlines():
        match = re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z (\S+)\s+(.*)", line)
        assert match, line
        found.append((match.group(1), match.group(2)))
    return found


# ---------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30s", 30_000), ("10m", 600_000), ("2h", 7_200_000), ("1d", 86_400_000), ("1w", 604_800_000)],
)
def test_parse_since(text: str, ms: int) -> None:
    assert parse_since(text) == ms


@pytest.mark.parametrize("text", ["", "10", "m", "0m", "-5m", "1.5h", "10 minutes", "2y"])
def test_parse_since_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="use a number and a unit"):
        parse_since(text)


def test_fold_hides_start_end_init_and_shortens_report() -> None:
    assert fold(START) is None
    assert fold(END) is None
    assert fold(INIT) is None
    assert fold(REPORT) == "done in 12.34 ms · 81/1024 MB · cold start 301.50 ms"
    warm = REPORT.replace("\tInit Duration: 301.50 ms", "")
    assert fold(warm) == "done in 12.34 ms · 81/1024 MB"
    timed_out = warm.rstrip() + "\tStatus: timeout\n"
    assert fold(timed_out) == "done in 12.34 ms · 81/1024 MB · timeout"
    assert fold(PY_LOG) == "INFO login ok for alice"
    assert fold("plain print output\n") == "plain print output"
    assert fold("[ERROR] KeyError: 'x'\rTraceback (most recent call last):\r  File") == (
        "[ERROR] KeyError: 'x'\nTraceback (most recent call last):\n  File"
    )


def test_merge_is_by_time_and_stable() -> None:
    a = [LogEvent(1, "login", "a1"), LogEvent(5, "login", "a5"), LogEvent(5, "login", "a5b")]
    b = [LogEvent(2, "chat", "b2"), LogEvent(5, "chat", "b5"), LogEvent(9, "chat", "b9")]
    c: list[LogEvent] = []
    assert [event.message for event in merged([a, b, c])] == [
        "a1",
        "b2",
        "a5",
        "a5b",
        "b5",
        "b9",
    ]


def test_each_function_has_its_own_colour() -> None:
    assert set(COLOURS) == set(FUNCTION_KINDS)
    assert len(set(COLOURS.values())) == len(FUNCTION_KINDS)
    renderer = Renderer(NAMES, FUNCTION_KINDS, verbose=False)
    for kind in FUNCTION_KINDS:
        text = renderer.line(LogEvent(0, kind, "hello [bold]x[/bold]"))
        assert text is not None
        name_spans = [span for span in text.spans if span.style == COLOURS[kind]]
        assert len(name_spans) == 1
        assert text.plain[name_spans[0].start : name_spans[0].end].strip() == NAMES.function(kind)
        assert text.plain.endswith("hello [bold]x[/bold]")  # not markup
    assert renderer.line(LogEvent(0, "chat", START)) is None
    assert Renderer(NAMES, FUNCTION_KINDS, verbose=True).line(LogEvent(0, "chat", START))


def test_kind_of_accepts_arn_and_account_name_forms() -> None:
    arns = {
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chatbot-chat": "chat",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chatbot-login": "login",
    }
    assert kind_of(arns, next(iter(arns))) == "chat"
    assert kind_of(arns, "123456789012:/aws/lambda/chatbot-login") == "login"
    assert kind_of(arns, "/aws/lambda/chatbot-chat") == "chat"
    assert kind_of(arns, "123456789012:/aws/lambda/chatbot-chatx") == ""


# ---------------------------------------------------------------- history


def test_logs_merges_the_three_functions_in_time_order(client: Any) -> None:
    t0 = now_ms() - 60_000
    # Puts in an order that is not the time order; chat has two containers (streams).
    put(client, "chat", "2026/11/24/[$LATEST]b", [(t0 + 100, "chat 1"), (t0 + 400, "chat 2")])
    put(client, "login", "2026/11/24/[$LATEST]a", [(t0, "login 1"), (t0 + 300, PY_LOG)])
    put(client, "chat", "2026/11/24/[$LATEST]c", [(t0 + 250, "chat 3 (second container)")])
    put(
        client,
        "authorizer",
        "2026/11/24/[$LATEST]d",
        [
            (t0 + 199, INIT),
            (t0 + 200, START),
            (t0 + 201, "auth 1"),
            (t0 + 202, END),
            (t0 + 203, REPORT),
        ],
    )
    result = run("logs", "--since", "1h")
    assert result.code == 0, result
    assert lines_of(result.stdout) == [
        ("chatbot-login", "login 1"),
        ("chatbot-chat", "chat 1"),
        ("chatbot-authorizer", "auth 1"),
        ("chatbot-authorizer", "done in 12.34 ms · 81/1024 MB · cold start 301.50 ms"),
        ("chatbot-chat", "chat 3 (second container)"),
        ("chatbot-login", "INFO login ok for alice"),
        ("chatbot-chat", "chat 2"),
    ]
    stamps = re.findall(r"^\S+ (\S+)", result.stdout, re.MULTILINE)
    assert stamps == sorted(stamps)

    verbose = run("logs", "--since", "1h", "--verbose")
    messages = [" ".join(message.split()) for _, message in lines_of(verbose.stdout)]
    raw = [" ".join(text.split()) for text in (INIT, START, "auth 1", END, REPORT, PY_LOG)]
    assert messages[2:7] == raw[:5]  # tabs are expanded on screen
    assert raw[5] in messages


def test_logs_chosen_functions_since_and_filter(client: Any) -> None:
    now = now_ms()
    put(client, "login", "s", [(now - 3 * 3600_000, "very old"), (now - 60_000, "login ERROR x")])
    put(client, "chat", "s", [(now - 50_000, "chat ERROR y"), (now - 40_000, "chat fine")])
    put(client, "authorizer", "s", [(now - 30_000, "auth ERROR z")])

    only_chat = run("logs", "chat")
    assert [m for _, m in lines_of(only_chat.stdout)] == ["chat ERROR y", "chat fine"]

    two = run("logs", "authorizer", "login", "--since", "2m")
    assert lines_of(two.stdout) == [
        ("chatbot-login", "login ERROR x"),
        ("chatbot-authorizer", "auth ERROR z"),
    ]

    longer = run("logs", "login", "--since", "4h")
    assert [m for _, m in lines_of(longer.stdout)] == ["very old", "login ERROR x"]

    errors = run("logs", "--filter", "ERROR")
    assert [m for _, m in lines_of(errors.stdout)] == [
        "login ERROR x",
        "chat ERROR y",
        "auth ERROR z",
    ]


def test_missing_log_group_is_not_an_error(client: Any) -> None:
    put(client, "login", "s", [(now_ms() - 1000, "hello")])
    result = run("logs")
    assert result.code == 0, result
    assert lines_of(result.stdout) == [("chatbot-login", "hello")]
    assert "no log group /aws/lambda/chatbot-chat in eu-west-1" in result.err_text
    assert "no log group /aws/lambda/chatbot-authorizer in eu-west-1" in result.err_text
    assert "is it deployed here" not in result.err_text


def test_an_empty_window_says_so(client: Any) -> None:
    put(client, "login", "s", [(now_ms() - 3 * 3600 * 1000, "old news")])
    result = run("logs", "login", "--since", "1h")
    assert result.code == 0, result
    assert result.stdout == ""
    assert "no log events in the last 1h" in result.err_text
    filtered = run("logs", "login", "--since", "1d", "--filter", "ERROR")
    assert "no log events in the last 1d matching 'ERROR'" in filtered.err_text


def test_no_log_group_at_all_says_so(client: Any) -> None:
    result = run("logs", "--stack", "other")
    assert result.code == 0
    assert result.stdout == ""
    assert "no logs at all for stack 'other' in eu-west-1: is it deployed here?" in (
        result.err_text
    )


def test_messages_are_printed_literally(client: Any) -> None:
    put(client, "chat", "s", [(now_ms() - 1000, "[bold red]not markup[/] and [link=x]y[/link]")])
    result = run("logs", "chat")
    assert "[bold red]not markup[/] and [link=x]y[/link]" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("logs", "nope"), "unknown function nope"),
        (("logs", "--since", "5x"), "invalid duration '5x'"),
    ],
)
def test_bad_arguments_are_usage_errors(client: Any, argv: tuple[str, ...], message: str) -> None:
    result = run(*argv)
    assert result.code == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_group_events_reads_every_page(client: Any) -> None:
    now = now_ms()
    put(client, "login", "a", [(now - 9000 + i, f"a{i}") for i in range(5)])
    put(client, "login", "b", [(now - 8000 + i, f"b{i}") for i in range(4)])
    events = group_events(client, NAMES.log_group("login"), "login", now - 10_000, page_size=2)
    assert events is not None
    assert [event.message for event in events] == [f"a{i}" for i in range(5)] + [
        f"b{i}" for i in range(4)
    ]
    assert all(event.event_id for event in events)
    assert group_events(client, NAMES.log_group("chat"), "chat", 0) is None


# ---------------------------------------------------------------- follow


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[LogEvent]] = []
        self.notices: list[str] = []

    def emit(self, batch: list[LogEvent]) -> None:
        self.batches.append(batch)

    def follower(
        self,
        client: Any,
        kinds: tuple[str, ...] = FUNCTION_KINDS,
        pattern: str | None = None,
        floor_ms: int = 0,
        **options: Any,
    ) -> Follower:
        """A Follower of the stack NAMES reporting to this recorder."""
        return Follower(
            client, NAMES, kinds, pattern, floor_ms, self.emit, self.notices.append, **options
        )

    @property
    def messages(self) -> list[str]:
        return [event.message for batch in self.batches for event in batch]


def scripted_sleep(steps: list[Any]) -> Any:
    """A sleep that runs one scripted step per call, then acts as Ctrl-C."""
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if not steps:
            raise KeyboardInterrupt
        steps.pop(0)()

    sleep.calls = calls  # type: ignore[attr-defined]
    return sleep


def test_polling_reports_each_new_event_once_in_time_order(client: Any) -> None:
    start = now_ms() - 600_000
    put(client, "login", "s", [(now_ms() - 5000, "already shown")])
    history = fetch(client, NAMES, FUNCTION_KINDS, start)
    assert history.missing == [kind for kind in FUNCTION_KINDS if kind != "login"]
    rec = Recorder()
    live_calls: list[Any] = []

    def record_live(*args: Any) -> list[list[LogEvent]]:
        live_calls.append(args)
        return []

    def step1() -> None:  # the chat function runs for the first time: its group appears
        now = now_ms()
        put(client, "chat", "s", [(now, "new chat")])
        put(client, "login", "s", [(now + 1, "new login")])

    def step2() -> None:  # an event that reaches CloudWatch late, timestamped in the past
        put(client, "authorizer", "s", [(now_ms() - 20_000, "late authorizer")])

    sleep = scripted_sleep([step1, step2, lambda: None])
    follower = rec.follower(
        client,
        floor_ms=start,
        live=record_live,
        sleep=sleep,
    )
    with pytest.raises(KeyboardInterrupt):
        follower.run(already_shown=history.events)
    assert rec.messages == ["new chat", "new login", "late authorizer"]
    assert [[e.kind for e in batch] for batch in rec.batches] == [
        ["chat", "login"],
        ["authorizer"],
    ]
    assert live_calls == []  # Live Tail cannot cover groups that do not exist yet
    assert rec.notices == [
        "Live Tail needs existing log groups; not yet created: "
        + ", ".join(NAMES.log_group(kind) for kind in FUNCTION_KINDS if kind != "login")
        + "; polling every 2 s"
    ]
    assert sleep.calls == [2.0, 2.0, 2.0, 2.0]


def test_poller_looks_back_but_not_before_since(client: Any) -> None:
    now = now_ms()
    put(client, "login", "s", [(now - 50_000, "before since"), (now - 5_000, "inside")])
    poller = Poller(client, {"login": NAMES.log_group("login")}, None, floor_ms=now - 10_000)
    assert [e.message for e in poller.poll(now)] == ["inside"]
    assert poller.poll(now + 1000) == []
    # Seen ids are forgotten once out of the window, so memory stays bounded.
    assert poller.poll(now + 120_000) == []
    assert poller.seen == {}


def test_polling_backs_off_when_throttled(client: Any) -> None:
    put(client, "login", "s", [(now_ms() - 1000, "x")])
    throttled = {"n": 0}

    def throttle(**kwargs: Any) -> None:
        if throttled["n"] < 2:
            throttled["n"] += 1
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                "FilterLogEvents",
            )

    client.meta.events.register("before-call.logs.FilterLogEvents", throttle)
    sleep = scripted_sleep([lambda: None] * 3)
    rec = Recorder()
    follower = rec.follower(client, kinds=("login",), live=None, sleep=sleep)
    with pytest.raises(KeyboardInterrupt):
        follower.run()
    assert sleep.calls == [4.0, 8.0, 2.0, 2.0]
    assert rec.messages == ["x"]


def all_groups(client: Any) -> None:
    for kind in FUNCTION_KINDS:
        put(client, kind, "s", [(now_ms() - 1000, f"{kind} old")])


def test_live_tail_is_used_when_every_group_exists(client: Any) -> None:
    all_groups(client)
    arns_seen: list[Mapping[str, str]] = []
    sessions: list[list[list[LogEvent]]] = [
        [[LogEvent(1, "login", "live 1")], [], [LogEvent(2, "chat", "live 2")]],
    ]

    def fake_live(client_: Any, arns: Mapping[str, str], pattern: str | None) -> Any:
        arns_seen.append(dict(arns))
        assert pattern == "ERROR"
        if sessions:
            return iter(sessions.pop(0))  # ends normally: the 3-hour timeout
        raise LiveTailEnded("the Live Tail session ended")

    rec = Recorder()
    follower = rec.follower(
        client,
        pattern="ERROR",
        live=fake_live,
        sleep=scripted_sleep([]),
    )
    with pytest.raises(KeyboardInterrupt):
        follower.run()
    # The catch-up poll once the session listens uses the filter too ("... old" lack ERROR);
    # empty updates are not emitted.
    assert rec.messages == ["live 1", "live 2"]
    assert len(arns_seen) == 2  # a timed-out session is restarted
    groups = existing_groups(client, NAMES, FUNCTION_KINDS)
    assert arns_seen[0] == {arn: kind for kind, arn in groups.items()}
    assert all(arn.startswith("arn:aws:logs:eu-west-1:") for arn in arns_seen[0])
    assert rec.notices == [
        "Following with CloudWatch Logs Live Tail (Ctrl-C to stop)",
        "Live Tail session timed out; starting a new one",
        "the Live Tail session ended; polling every 2 s",
    ]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "StartLiveTail"
            ),
            "Live Tail is not available (AccessDeniedException)",
        ),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="https://x"),
            "Live Tail is not available (EndpointConnectionError)",
        ),
    ],
)
def test_live_tail_failure_falls_back_to_polling(
    client: Any, failure: Exception, reason: str
) -> None:
    all_groups(client)

    def failing_live(*args: Any) -> Any:
        raise failure

    rec = Recorder()
    sleep = scripted_sleep([lambda: put(client, "authorizer", "s", [(now_ms(), "after fallback")])])
    follower = rec.follower(
        client,
        live=failing_live,
        sleep=sleep,
    )
    with pytest.raises(KeyboardInterrupt):
        follower.run()
    assert rec.notices[-1] == f"{reason}; polling every 2 s"
    # Polling started from scratch (nothing already shown): recent events, then the new one.
    assert rec.messages == [f"{kind} old" for kind in FUNCTION_KINDS] + ["after fallback"]


def test_live_tail_catches_up_and_never_shows_an_event_twice(client: Any) -> None:
    all_groups(client)
    history = fetch(client, NAMES, FUNCTION_KINDS, 0).events  # what `logs` printed first

    def live_then_end(*args: Any) -> Any:
        # Reached CloudWatch after the history was read, before the session listened.
        put(client, "chat", "s", [(now_ms(), "in the gap")])
        yield []  # the session listens
        put(client, "login", "s", [(now_ms(), "live new")])
        new = fetch(client, NAMES, ("login",), 0).events[-1]
        # What Live Tail reports for it: the same event without an event id.
        yield [LogEvent(new.timestamp, "login", new.message, new.stream)]
        raise LiveTailEnded("the Live Tail session ended")

    rec = Recorder()
    follower = rec.follower(
        client,
        live=live_then_end,
        sleep=scripted_sleep([]),  # one poll after the session ended: it finds nothing new
    )
    with pytest.raises(KeyboardInterrupt):
        follower.run(already_shown=history)
    assert rec.messages == ["in the gap", "live new"]
    assert rec.batches[1][0].event_id is None  # "live new" came from Live Tail, once


def test_no_live_tail_in_old_botocore_falls_back(client: Any) -> None:
    all_groups(client)

    class OldClient:
        def __getattr__(self, name: str) -> Any:
            if name == "start_live_tail":
                raise AttributeError(name)
            return getattr(client, name)

    rec = Recorder()
    follower = rec.follower(OldClient(), kinds=("login",), sleep=scripted_sleep([]))
    with pytest.raises(KeyboardInterrupt):
        follower.run()
    assert rec.notices == ["Live Tail is not available in this boto3 version; polling every 2 s"]


def test_real_live_tail_call_parses_the_stream(client: Any) -> None:
    """moto answers StartLiveTail with a start and one update, then ends the stream. (moto
    5.2 resolves every identifier of a multi-group session to the same group, so one group.)"""
    now = now_ms()
    put(client, "chat", "s", [(now - 10, "chat live")])
    put(client, "chat", "t", [(now - 20, "earlier")])
    groups = existing_groups(client, NAMES, ("chat",))
    arns = {arn: kind for kind, arn in groups.items()}
    batches: list[list[LogEvent]] = []
    with pytest.raises(LiveTailEnded, match="session ended"):
        for batch in live_tail(client, arns, None):
            batches.append(batch)
    events = [event for batch in batches for event in batch]
    assert [(e.kind, e.message, e.stream) for e in events] == [
        ("chat", "earlier", "t"),
        ("chat", "chat live", "s"),
    ]
    for batch in batches:
        assert [e.timestamp for e in batch] == sorted(e.timestamp for e in batch)


class FakeStream:
    def __init__(self, code: str) -> None:
        self.code = code
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield {"sessionStart": {"sessionId": "x"}}
        yield {
            "sessionUpdate": {
                "sessionResults": [
                    {
                        "logGroupIdentifier": "g",
                        "message": "m",
                        "timestamp": 5,
                        "logStreamName": "s",
                    }
                ]
            }
        }
        raise botocore.exceptions.EventStreamError(
            {"Error": {"Code": self.code, "Message": "x"}}, "StartLiveTail"
        )

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(("code", "ends"), [("SessionTimeoutException", False), ("X", True)])
def test_live_tail_stream_errors(code: str, ends: bool) -> None:
    stream = FakeStream(code)
    calls: list[dict[str, Any]] = []

    class Client:
        def start_live_tail(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return {"responseStream": stream}

    got: list[list[LogEvent]] = []
    if ends:
        with pytest.raises(LiveTailEnded, match=r"Live Tail stopped \(X\)"):
            got.extend(live_tail(Client(), {"g": "chat"}, "ERROR"))
    else:
        got.extend(live_tail(Client(), {"g": "chat"}, "ERROR"))
    assert got == [[], [LogEvent(5, "chat", "m", "s")]]  # [] once the session listens
    assert stream.closed
    assert calls == [{"logGroupIdentifiers": ["g"], "logEventFilterPattern": "ERROR"}]


def test_follow_from_the_command_line_and_ctrl_c(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(client, "login", "s", [(now_ms() - 1000, "before follow")])
    monkeypatch.setattr(logs_command, "LIVE_TAIL", None)
    real_sleep = time.sleep
    polls = {"n": 0}

    def sleep(seconds: float) -> None:
        if seconds != follow_module.POLL_INTERVAL_S:
            real_sleep(seconds)
            return
        polls["n"] += 1
        if polls["n"] == 1:
            put(client, "chat", "s", [(now_ms(), "while following")])
            return
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", sleep)
    result = run("logs", "--follow")
    assert result.code == 0, result
    assert [m for _, m in lines_of(result.stdout)] == ["before follow", "while following"]
    assert result.stderr.rstrip().endswith("Stopped.")
    assert "Traceback" not in result.all_output
    assert "polling every 2 s" in result.err_text


@pytest.mark.parametrize(
    ("endpoint", "live"),
    [
        ("https://logs.eu-west-1.amazonaws.com", True),
        ("https://logs.cn-north-1.amazonaws.com.cn", True),
        ("https://logs.eu-west-1.api.aws", True),
        ("http://127.0.0.1:5000", False),
        ("http://localhost.localstack.cloud:4566", False),
    ],
)
def test_live_tail_only_against_aws_itself(client: Any, endpoint: str, live: bool) -> None:
    all_groups(client)

    class Endpoint:
        meta = type("Meta", (), {"endpoint_url": endpoint})()

        def __getattr__(self, name: str) -> Any:
            return getattr(client, name)

    follower = Follower(Endpoint(), NAMES, FUNCTION_KINDS, None, 0, print, print, live=live_tail)
    arns, reason = follower.live_tail_targets()
    assert (arns is not None) == live
    if not live:
        assert reason == f"Live Tail needs AWS itself, not the endpoint {endpoint}"


@pytest.mark.slow
def test_follow_as_a_real_process_against_a_moto_server_and_sigint(
    moto_server: MotoServer,
) -> None:
    """The real entry point in its own process: history, a new event found by polling (Live
    Tail is not tried against an emulator endpoint), then SIGINT: exit 0, no traceback."""
    for kind in FUNCTION_KINDS:
        put(moto_server.client("logs"), kind, "s", [(now_ms() - 1000, f"{kind} before")])
    proc = start_cli(moto_server.env, "logs", "--follow")
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in FUNCTION_KINDS]
        put(moto_server.client("logs"), "chat", "s", [(now_ms(), "chat while following")])
        seen.append(proc.stdout.readline())  # blocks until the poll finds it
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert [m for _, m in lines_of("".join(seen))] == [
        *(f"{kind} before" for kind in FUNCTION_KINDS),
        "chat while following",
    ]
    assert rest == ""
    assert "Live Tail needs AWS itself" in stderr
    assert stderr.rstrip().endswith("Stopped.")
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_logs_piped_into_a_reader_that_stops_early(moto_server: MotoServer) -> None:
    """`chatbot-deploy logs | head -1`: no BrokenPipeError traceback (Typer's EPIPE handling:
    a quiet exit with code 1)."""
    start = now_ms() - 100_000
    put(
        moto_server.client("logs"),
        "chat",
        "s",
        [(start + i, f"event {i:05d} " + "x" * 100) for i in range(3000)],
    )
    proc = start_cli(moto_server.env, "logs", "chat")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "event 00000" in first
    assert stderr == ""
    assert proc.returncode == 1
