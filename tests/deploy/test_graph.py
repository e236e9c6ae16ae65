"""The step graph: dependencies respected, independent steps concurrent, failures stop it."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from chatbot_deploy.deploy.graph import GraphError, Outcome, Step, check_graph, run_steps


def sleeper(seconds: float, value: object = None):
    def run(inputs):
        time.sleep(seconds)
        return Outcome("done", value if value is not None else dict(inputs))

    return run


def test_independent_steps_run_concurrently():
    steps = [Step(f"s{i}", f"step {i}", sleeper(0.2)) for i in range(4)]
    start = time.monotonic()
    record = run_steps(steps, max_workers=4)
    assert time.monotonic() - start < 0.6  # not 0.8 s in sequence
    starts = sorted(step.started for step in record.steps.values())
    finishes = sorted(step.finished for step in record.steps.values())
    assert starts[-1] < finishes[0]  # all four were running at once


def test_dependencies_get_outputs_and_wait():
    order: list[str] = []
    lock = threading.Lock()

    def track(key: str, value: object):
        def run(inputs):
            with lock:
                order.append(key)
            return Outcome("ok", (value, dict(inputs)))

        return run

    steps = [
        Step("c", "c", track("c", 3), after=("a", "b")),
        Step("a", "a", track("a", 1)),
        Step("b", "b", track("b", 2), after=("a",)),
    ]
    record = run_steps(steps)
    assert order == ["a", "b", "c"]
    value, inputs = record.value("c")
    assert value == 3
    assert inputs == {"a": (1, {}), "b": (2, {"a": (1, {})})}


def test_failure_stops_dependents_and_is_raised_unchanged():
    ran: list[str] = []

    def boom(_):
        raise ValueError("broken")

    def mark(key: str):
        def run(_):
            ran.append(key)
            return Outcome("ok")

        return run

    steps = [
        Step("bad", "bad", boom),
        Step("after", "after", mark("after"), after=("bad",)),
        Step("other", "other", sleeper(0.05)),
    ]
    with pytest.raises(ValueError, match="broken"):
        run_steps(steps)
    assert ran == []


def test_graph_errors():
    with pytest.raises(GraphError, match="cycle"):
        check_graph([Step("a", "a", sleeper(0), ("b",)), Step("b", "b", sleeper(0), ("a",))])
    with pytest.raises(GraphError, match="unknown"):
        check_graph([Step("a", "a", sleeper(0), ("zzz",))])
    with pytest.raises(GraphError, match="duplicate"):
        check_graph([Step("a", "a", sleeper(0)), Step("a", "a", sleeper(0))])


def test_critical_path_follows_the_slowest_chain():
    steps = [
        Step("slow", "slow", sleeper(0.15)),
        Step("fast", "fast", sleeper(0.01)),
        Step("join", "join", sleeper(0.01), after=("slow", "fast")),
    ]
    record = run_steps(steps)
    assert [step.key for step in record.critical_path()] == ["slow", "join"]


def _peak(record) -> int:
    """The most steps that were running at one moment (from when a worker took each)."""
    times = sorted(
        [(step.started, 1) for step in record.steps.values()]
        + [(step.finished, -1) for step in record.steps.values()]
    )
    running = peak = 0
    for _, change in times:
        running += change
        peak = max(peak, running)
    return peak


def test_fresh_up_runs_independent_steps_at_the_same_time(deployer):
    record = deployer.up().record
    steps = record.steps
    # Roles, log groups, layer, table, bucket and parameters have no dependency: they run at
    # once. (Tests answer emulated calls one at a time, so a step that makes one quick call
    # may finish before another starts; at least three were running together.)
    assert _peak(record) >= 3
    path = [step.key for step in record.critical_path()]
    # to the step that finished last (which one depends on the machine's load: a table's
    # step has been last, a root step, making the path one step long) ...
    assert path[-1] == max(steps.values(), key=lambda step: step.finished).key
    assert not steps[path[0]].after  # ... from a root step ...
    for before, after in itertools.pairwise(path):
        assert before in steps[after].after  # ... along dependencies, each the last to end
        assert steps[before].finished == max(steps[key].finished for key in steps[after].after)


def test_the_overlap_check_fails_when_steps_run_one_at_a_time(deployer):
    """The test above can fail: with one worker the same steps do not overlap (a step is
    timed from when a worker takes it, not from when it was queued)."""
    record = deployer.up(max_workers=1).record
    assert _peak(record) == 1


def test_ctrl_c_stops_between_steps_and_says_what_was_done():
    """SIGINT while a step runs: that step finishes, its dependants never start, and the
    run ends with StepsInterrupted holding what was done; the handler is put back."""
    import os
    import signal

    from chatbot_deploy.deploy.graph import StepsInterrupted

    class Reporter:
        def __init__(self) -> None:
            self.stopping_with: list[int] = []

        def started(self, step):
            pass

        def finished(self, step, outcome, seconds):
            pass

        def failed(self, step, error, seconds):
            pass

        def stopping(self, running):
            self.stopping_with.append(running)

    def press_ctrl_c(inputs):
        os.kill(os.getpid(), signal.SIGINT)  # delivered to the main thread, which waits
        time.sleep(0.3)  # still running when the loop notices
        return Outcome("done", 1, changed=True)

    ran: list[str] = []

    def then(inputs):
        ran.append("then")
        return Outcome("done")

    steps = [Step("first", "first", press_ctrl_c), Step("then", "then", then, ("first",))]
    before = signal.getsignal(signal.SIGINT)
    reporter = Reporter()
    with pytest.raises(StepsInterrupted) as stopped:
        run_steps(steps, reporter)
    assert ran == []  # "then" never started
    assert [step.key for step in stopped.value.changed] == ["first"]  # "first" finished
    assert reporter.stopping_with == [1]
    assert signal.getsignal(signal.SIGINT) is before
