"""Run the steps of a deployment concurrently, each as soon as the steps it needs are done.

A step is a named callable with the names of the steps it depends on. Independent steps run
at the same time on a thread pool (AWS calls are I/O-bound); the outputs of finished steps
are handed to the steps that need them. The first failure stops new steps from starting,
lets running ones finish, and is raised unchanged so the caller can translate it. Ctrl-C
does the same: no new step starts, the running ones finish (each is one AWS call or waiter,
so nothing is left half-made), and `StepsInterrupted` says what was done.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

Outputs = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a step did: a short summary ("created", "unchanged" ...) and a value for later
    steps."""

    summary: str
    value: Any = None
    changed: bool = False


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    run: Callable[[Outputs], Outcome]
    after: tuple[str, ...] = ()
    quiet: bool = False  # shown only if it changed something (the sweeps)


@dataclass
class StepRecord:
    key: str
    title: str
    after: tuple[str, ...]
    started: float = 0.0
    finished: float = 0.0
    outcome: Outcome | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class RunRecord:
    steps: dict[str, StepRecord] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0

    def value(self, key: str) -> Any:
        outcome = self.steps[key].outcome
        return None if outcome is None else outcome.value

    def critical_path(self) -> list[StepRecord]:
        """The chain of steps that decided the total time: from the last step to finish,
        back through the dependency that finished last each time."""
        done = [record for record in self.steps.values() if record.outcome is not None]
        if not done:
            return []
        path = [max(done, key=lambda record: record.finished)]
        while path[-1].after:
            path.append(max((self.steps[key] for key in path[-1].after), key=_finished))
        return list(reversed(path))


def _finished(record: StepRecord) -> float:
    return record.finished


class Reporter(Protocol):
    def started(self, step: Step) -> None: ...

    def finished(self, step: Step, outcome: Outcome, seconds: float) -> None: ...

    def failed(self, step: Step, error: BaseException, seconds: float) -> None: ...

    def stopping(self, running: int) -> None:
        """Ctrl-C was pressed: `running` steps are being let finish."""


class SilentReporter:
    def started(self, step: Step) -> None:
        pass

    def finished(self, step: Step, outcome: Outcome, seconds: float) -> None:
        pass

    def failed(self, step: Step, error: BaseException, seconds: float) -> None:
        pass

    def stopping(self, running: int) -> None:
        pass


class StepsInterrupted(Exception):
    """Ctrl-C stopped the run between steps; `record` has the steps that finished."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__("interrupted")
        self.record = record

    @property
    def done(self) -> list[StepRecord]:
        return [step for step in self.record.steps.values() if step.outcome is not None]

    @property
    def changed(self) -> list[StepRecord]:
        return [step for step in self.done if step.outcome and step.outcome.changed]


class GraphError(ValueError):
    pass


def check_graph(steps: Sequence[Step]) -> None:
    """Unknown dependencies, duplicate keys and cycles are programming errors."""
    keys = [step.key for step in steps]
    if len(set(keys)) != len(keys):
        raise GraphError(f"duplicate step keys in {keys}")
    known = set(keys)
    for step in steps:
        missing = set(step.after) - known
        if missing:
            raise GraphError(f"step {step.key!r} depends on unknown {sorted(missing)}")
    remaining = {step.key: set(step.after) for step in steps}
    while remaining:
        ready = [key for key, deps in remaining.items() if not deps]
        if not ready:
            raise GraphError(f"dependency cycle among {sorted(remaining)}")
        for key in ready:
            del remaining[key]
        for deps in remaining.values():
            deps.difference_update(ready)


POLL_S = 0.1  # how often the loop looks whether Ctrl-C asked it to stop


@contextmanager
def ctrl_c_asks_to_stop(stop: threading.Event) -> Iterator[None]:
    """While steps run, the first Ctrl-C only sets `stop`: the run stops between steps. It is
    a flag, not a KeyboardInterrupt raised wherever the main thread happens to be (half way
    through printing a step's line, Rich's buffer would swallow everything after). A second
    Ctrl-C interrupts at once. Outside the main thread (no signals there) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_steps(
    steps: Sequence[Step],
    reporter: Reporter | None = None,
    *,
    max_workers: int = 16,
    guard: Callable[[], None] | None = None,
) -> RunRecord:
    """Run `steps`; `guard` is called before any step starts (for example: is the stack's
    lock still ours?) and what it raises stops the run like a failed step."""
    check_graph(steps)
    report = reporter or SilentReporter()
    record = RunRecord(
        steps={step.key: StepRecord(step.key, step.title, step.after) for step in steps},
        started=time.monotonic(),
    )
    outputs: dict[str, Any] = {}
    pending = list(steps)
    running: dict[Future[Outcome], Step] = {}
    failure: BaseException | None = None

    def start(step: Step, inputs: Outputs) -> Outcome:
        # Timed by the worker that runs it, not when it was queued (with fewer workers than
        # ready steps, queued steps have not started) nor when the loop below notices it.
        record.steps[step.key].started = time.monotonic()
        report.started(step)
        try:
            return step.run(inputs)
        finally:
            record.steps[step.key].finished = time.monotonic()

    def launch(pool: ThreadPoolExecutor) -> None:
        nonlocal failure
        ready = [step for step in pending if all(key in outputs for key in step.after)]
        if ready and guard is not None:
            try:
                guard()
            except BaseException as exc:
                failure = exc
                return
        for step in ready:
            pending.remove(step)
            inputs = {key: outputs[key] for key in step.after}
            running[pool.submit(start, step, inputs)] = step

    stop = threading.Event()
    with (
        ctrl_c_asks_to_stop(stop),
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="deploy") as pool,
    ):
        launch(pool)
        while running:
            done, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
            if stop.is_set() and failure is None:
                failure = StepsInterrupted(record)
                report.stopping(len(running) - len(done))
            for future in done:
                step = running.pop(future)
                step_record = record.steps[step.key]
                error = future.exception()
                if error is not None:
                    report.failed(step, error, step_record.seconds)
                    failure = failure or error
                    continue
                outcome = future.result()
                step_record.outcome = outcome
                outputs[step.key] = outcome.value
                report.finished(step, outcome, step_record.seconds)
            if failure is None:
                launch(pool)
        if stop.is_set() and failure is None and pending:
            failure = StepsInterrupted(record)
    record.finished = time.monotonic()
    if failure is not None:
        raise failure
    return record
