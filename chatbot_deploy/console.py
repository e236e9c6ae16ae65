"""The shared Rich consoles (results on stdout, progress and errors on stderr), and the way
results are laid out so that nothing the user may copy (a URL, a name) is ever wrapped,
cut, or shortened with "…": plain lines printed with soft wrapping (the terminal folds a
long line on screen, but it stays one line when copied), columns padded by hand."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

out = Console()
err = Console(stderr=True)

Cell = str | Text


def columns(rows: Sequence[Sequence[Cell]], *, gap: int = 2, indent: int = 0) -> list[Text]:
    """Rows as lines with aligned columns, every cell whole (plain strings are literal, not
    markup). Print each with ``soft_wrap=True``."""
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    count = max((len(row) for row in cells), default=0)
    widths = [
        max((row[i].cell_len for row in cells if i < len(row)), default=0) for i in range(count)
    ]
    lines = []
    for row in cells:
        line = Text(" " * indent)
        for i, cell in enumerate(row):
            line.append_text(cell)
            if i < len(row) - 1:
                line.append(" " * (widths[i] - cell.cell_len + gap))
        lines.append(line)
    return lines


def print_lines(console: Console, lines: Sequence[Cell]) -> None:
    """Each line whole: soft-wrapped, never cut or folded by Rich."""
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
