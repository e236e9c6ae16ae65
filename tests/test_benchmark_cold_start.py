"""The cold-start benchmark's model: CPU scaling, round trips, billing, attribution, goals.

Fast: no child interpreter, no servers (the harness is run by hand, see the module)."""

from __future__ import annotations

import io
import json

import pytest

from benchmarks import cold_start as cs

LATENCY = cs.DEFAULT_LATENCY_MS


def test_stated_latencies():
    assert LATENCY == {"dynamodb": 8.0, "ssm": 20.0, "execute-api": 10.0}


@pytest.mark.parametrize(
    ("memory", "scale"),
    [(128, 13.82), (256, 6.91), (512, 3.455), (1024, 1.728), (1769, 1.0), (3008, 1.0)],
)
def test_cpu_scales_with_memory_below_one_full_vcpu(memory, scale):
    assert cs.cpu_scale(memory) == pytest.approx(scale, abs=0.001)


def test_round_trips_are_priced_per_service():
    assert cs.round_trips_ms({"dynamodb": 3, "ssm": 1, "execute-api": 2}, LATENCY) == 64.0
    assert cs.round_trips_ms({}, LATENCY) == 0.0
    assert cs.round_trips_ms({"dynamodb": 1}, {"dynamodb": 2.5}) == 2.5
    with pytest.raises(KeyError):  # never silently free
        cs.round_trips_ms({"s3": 1}, LATENCY)


MEASURED = cs.Measured(
    init_cpu_ms=100.0,
    first_cpu_ms=10.0,
    warm_cpu_ms=1.0,
    init_calls={"ssm": 1},
    first_calls={"dynamodb": 2},
    warm_calls={"dynamodb": 1},
)


def test_cold_latency_init_on_a_full_core_invocation_scaled():
    # init 100 + ssm 20 (not scaled), first 10 x 1769/256 + 2 x dynamodb 8
    assert cs.cold_ms(MEASURED, 256, LATENCY) == pytest.approx(100 + 20 + 69.1015625 + 16)
    assert cs.cold_ms(MEASURED, 1769, LATENCY) == pytest.approx(146.0)
    assert cs.cold_ms(MEASURED, 3008, LATENCY) == pytest.approx(146.0)
    assert cs.init_ms(MEASURED, LATENCY) == pytest.approx(120.0)


def test_warm_latency():
    assert cs.warm_ms(MEASURED, 256, LATENCY) == pytest.approx(6.91015625 + 8)
    assert cs.warm_ms(MEASURED, 1769, LATENCY) == pytest.approx(9.0)


def test_first_token_is_the_whole_answer_unless_streamed():
    assert cs.first_token_ms(MEASURED, 512, LATENCY) == cs.cold_ms(MEASURED, 512, LATENCY)
    streamed = cs.Measured(
        init_cpu_ms=100.0,
        first_cpu_ms=50.0,
        warm_cpu_ms=5.0,
        init_calls={"ssm": 1},
        first_calls={"dynamodb": 10, "execute-api": 4},
        first_delta_cpu_ms=20.0,
        to_first_delta_calls={"dynamodb": 7, "execute-api": 2},
    )
    # 100 + 20 (init) + 20 x 1769/1769 + 7 x 8 + 2 x 10
    assert cs.first_token_ms(streamed, 1769, LATENCY) == pytest.approx(216.0)
    assert cs.first_token_ms(streamed, 1769, LATENCY) < cs.cold_ms(streamed, 1769, LATENCY)


@pytest.mark.parametrize(
    ("duration", "billed"), [(10.0, 10), (10.0001, 11), (10.9, 11), (0.2, 1), (0.0, 1)]
)
def test_billed_duration_rounds_up_to_the_millisecond(duration, billed):
    assert cs.billed_ms(duration) == billed


def test_cost_per_million_arm64_and_x86():
    # 1 GB for 100 ms: 0.1 GB-s a request
    assert cs.cost_per_million(100.0, 1024) == pytest.approx(0.20 + 0.1 * 13.3334)
    assert cs.cost_per_million(100.0, 1024, "x86_64") == pytest.approx(0.20 + 0.1 * 16.6667)
    # rounded up: 99.2 ms bills as 100 ms
    assert cs.cost_per_million(99.2, 1024) == cs.cost_per_million(100.0, 1024)
    assert cs.cost_per_million(100.5, 1024) > cs.cost_per_million(100.0, 1024)


def test_a_cold_request_bills_its_init_phase_too():
    cold = cs.cold_cost_per_million(MEASURED, 1769, LATENCY)
    assert cold == pytest.approx(cs.cost_per_million(146.0, 1769))
    invocation_only = cs.cost_per_million(cs.first_invocation_ms(MEASURED, 1769, LATENCY), 1769)
    assert cold > invocation_only
    # 146 ms at 1769 MB, 26 ms more than the invocation alone (init: 120 ms billed)
    gb = 1769 / 1024
    assert cold - invocation_only == pytest.approx(gb * 0.120 * 13.3334)
    warm = cs.warm_cost_per_million(MEASURED, 1769, LATENCY)
    assert warm == pytest.approx(0.20 + gb * 0.009 * 13.3334)


def test_memory_sizes_include_the_deployed_one():
    assert cs.memory_sizes(512) == [128, 256, 512, 1024, 1769]
    assert cs.memory_sizes(3008) == [128, 256, 512, 1024, 1769, 3008]


def test_requests_are_attributed_to_phases_by_time_window():
    requests = [
        cs.Recorded(9.0, "ssm", "GetParameter"),  # before: the parent's setup
        cs.Recorded(10.0, "ssm", "GetParameter"),  # on the window's start: counted
        cs.Recorded(10.5, "dynamodb", "GetItem"),
        cs.Recorded(11.0, "dynamodb", "GetItem"),  # on the end: counted
        cs.Recorded(11.2, "dynamodb", "PutItem"),  # between the phases: neither
        cs.Recorded(12.1, "execute-api", "PostToConnection", '{"type":"delta"}'),
        cs.Recorded(12.2, "provider", "/v1/chat/completions"),
        cs.Recorded(12.3, "dynamodb", "Query"),
    ]
    init = cs.Window("init", 10.0, 11.0)
    first = cs.Window("first", 12.0, 13.0)
    assert cs.calls_in(requests, init) == {"ssm": 1, "dynamodb": 2}
    assert cs.calls_in(requests, first, cs.AWS_SERVICES) == {"execute-api": 1, "dynamodb": 1}
    assert cs.calls_in(requests, first, ["provider"]) == {"provider": 1}
    assert cs.calls_in(requests, cs.Window("later", 20.0, 21.0)) == {}


def test_median_calls_counts_a_missing_service_as_zero():
    samples = [{"dynamodb": 2}, {"dynamodb": 4, "ssm": 1}, {"dynamodb": 3}]
    assert cs.median_calls(samples) == {"dynamodb": 3.0}
    assert cs.median_calls([{"ssm": 1}, {"ssm": 1}, {}]) == {"ssm": 1.0}
    assert cs.median_calls([]) == {}


def test_goals_report_not_met_over_the_limit():
    figures = {
        ("authorizer", "cold"): 251.0,
        ("authorizer", "warm"): 5.0,
        ("login", "cold"): 599.0,
        ("chat", "first_token"): 1500.0,
    }
    results = {(r.goal.function, r.goal.metric): r for r in cs.check_goals(figures)}
    assert not results[("authorizer", "cold")].met
    assert results[("authorizer", "warm")].met  # on the limit
    assert results[("login", "cold")].met
    assert not results[("chat", "first_token")].met
    assert results[("chat", "first_token")].value_ms == 1500.0
    assert {goal.limit_ms for goal in cs.GOALS} == {250.0, 5.0, 600.0, 1000.0}


def test_service_of_a_request():
    assert cs.service_of("DynamoDB_20120810.GetItem", "", "/") == ("dynamodb", "GetItem")
    assert cs.service_of("AmazonSSM.GetParameter", "", "/") == ("ssm", "GetParameter")
    auth = "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/sts/aws4_request, Signed"
    assert cs.service_of("", auth, "/") == ("sts", "/")


def test_the_management_api_post_is_answered_and_recorded():
    recorder = cs.Recorder()
    passed: list[str] = []

    def moto(environ, start_response):
        passed.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"{}"]

    app = cs.recording_app(moto, recorder)
    statuses: list[str] = []
    frame = json.dumps({"type": "delta", "text": "hi"}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/live/@connections/abc=",
        "CONTENT_LENGTH": str(len(frame)),
        "wsgi.input": io.BytesIO(frame),
    }
    assert b"".join(app(environ, lambda status, headers: statuses.append(status))) == b""
    assert statuses == ["200 OK"]
    assert passed == []  # answered in front of moto
    other = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query",
    }
    app(other, lambda status, headers: statuses.append(status))
    assert passed == ["/"]
    recorded = recorder.snapshot()
    assert [(r.service, r.operation) for r in recorded] == [
        ("execute-api", "PostToConnection"),
        ("dynamodb", "Query"),
    ]
    assert json.loads(recorded[0].body)["type"] == "delta"


def test_new_connections_are_those_first_seen_in_the_window():
    requests = [
        cs.Recorded(1.0, "ssm", "GetParameter", peer="a"),
        cs.Recorded(2.0, "ssm", "GetParameter", peer="a"),  # kept alive
        cs.Recorded(2.1, "dynamodb", "GetItem", peer="b"),
        cs.Recorded(2.2, "dynamodb", "GetItem", peer="b"),
        cs.Recorded(2.3, "provider", "/v1/chat/completions", peer="c"),
    ]
    assert cs.new_connections(requests, cs.Window("first", 2.0, 3.0)) == 2
    assert cs.new_connections(requests, cs.Window("init", 0.5, 1.5)) == 1


def test_an_answer_bills_the_wait_for_the_model_at_the_function_s_memory():
    # warm at 512 MB: 1 x 3.455 + 8 = 11.455 ms -> with a 5 s answer 5011.455 -> 5012 ms billed
    expected = 1_000_000 * (0.20 / 1e6 + 0.5 * 5.012 * cs.GB_SECOND_PRICE_USD["arm64"])
    assert cs.answer_cost_per_million(MEASURED, 512, LATENCY) == pytest.approx(expected)
    # half the memory, about half the cost: the wait dominates
    half = cs.answer_cost_per_million(MEASURED, 256, LATENCY)
    assert half < 0.55 * cs.answer_cost_per_million(MEASURED, 512, LATENCY)


def test_a_size_under_the_headroom_over_peak_rss_is_too_tight():
    measured = cs.Measured(init_cpu_ms=1, first_cpu_ms=1, warm_cpu_ms=1, peak_rss_mb=100.0)
    assert cs.too_tight(measured, 128)  # 128 < 150
    assert not cs.too_tight(measured, 150)
    assert not cs.too_tight(measured, 256)
