"""One line per event: time, the function's name in its own colour, the message."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from rich.text import Text

from chatbot_deploy.app_spec import FUNCTION_KINDS
from chatbot_deploy.logs.events import LogEvent, fold, is_report
from chatbot_deploy.names import StackNames

PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "red")
COLOURS = {kind: PALETTE[index % len(PALETTE)] for index, kind in enumerate(FUNCTION_KINDS)}


def timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}Z"


class Renderer:
    def __init__(self, names: StackNames, kinds: Iterable[str], verbose: bool) -> None:
        self.names = names
        self.verbose = verbose
        self.width = max((len(names.function(kind)) for kind in kinds), default=0)

    def line(self, event: LogEvent) -> Text | None:
        """The line to print, or None when the event is folded away."""
        message = event.message.rstrip("\n") if self.verbose else fold(event.message)
        if message is None:
            return None
        name = self.names.function(event.kind).ljust(self.width)
        # Text, not markup: a log message containing [brackets] is printed as it is.
        return Text.assemble(
            (timestamp(event.timestamp), "dim"),
            " ",
            (name, COLOURS.get(event.kind, "")),
            " ",
            (message, "dim" if is_report(event.message) else ""),
        )
