"""Progress of a step graph on the terminal: a spinner per running step, then ✓ and its
time (✗ on failure). Off a terminal, one plain line per finished step."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.text import Text

from chatbot_deploy.deploy.graph import Outcome, Step

TITLE_WIDTH = 30


class SecondsColumn(ProgressColumn):
    """Elapsed time of a step, in seconds (frozen when it finishes)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        return Text(f"{elapsed or 0:5.1f}s", style="progress.elapsed")


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            SecondsColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> RichReporter:
        if self.live:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live:
            self.progress.stop()

    def started(self, step: Step) -> None:
        if self.live and not step.quiet:
            with self.lock:
                self.tasks[step.key] = self.progress.add_task(
                    f"{step.title:<{TITLE_WIDTH}}", total=1
                )

    def finished(self, step: Step, outcome: Outcome, seconds: float) -> None:
        if step.quiet and not outcome.changed:
            return
        style = "bold" if outcome.changed else "dim"
        text = f"{step.title:<{TITLE_WIDTH}} [{style}]{outcome.summary}[/]"
        if self.live:
            self.progress.update(self._task(step, text), description=text, completed=1)
        else:
            self.console.print(f"[green]✓[/] {text} [dim]{seconds:.1f}s[/]")

    def failed(self, step: Step, error: BaseException, seconds: float) -> None:
        text = f"[red]{step.title:<{TITLE_WIDTH}} failed ✗[/]"
        if self.live:
            task = self._task(step, text)
            self.progress.update(task, description=text)
            self.progress.stop_task(task)
        else:
            self.console.print(f"{text} [dim]{seconds:.1f}s[/]")

    def stopping(self, running: int) -> None:
        self.console.print(
            f"[yellow]Stopping: no new step starts; letting the {running} running "
            f"step{'s' if running != 1 else ''} finish …[/]"
        )

    def _task(self, step: Step, text: str) -> TaskID:
        """The step's line, added now for a quiet step (not shown while it ran)."""
        with self.lock:
            if step.key not in self.tasks:
                self.tasks[step.key] = self.progress.add_task(text, total=1)
            return self.tasks[step.key]
