"""Every table Galileo prints, in one place: :class:`Table`.

At a terminal a cell that does not fit wraps onto more lines (never cut with an ellipsis), so a
narrow terminal shows all of it. When the output is not a terminal (piped, redirected) the table
is plain tab-separated lines, a header line first, ready for ``cut``, ``awk`` or a spreadsheet.
:func:`unbounded_pipe_width` (called by the CLI at start) keeps piped lines whole."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.live import Live
from rich.segment import Segment
from rich.table import Table as _RichTable
from rich.text import Text

# the width a console assumes when stdout is not a terminal: lines are never cut or wrapped
PIPE_WIDTH = 100_000
# --help into a pipe: typer's help panels fill the whole width, so they get a fixed one
HELP_PIPE_WIDTH = 160


class Table(_RichTable):
    """A rich table that wraps instead of cutting, and prints plain lines into a pipe."""

    def add_column(self, header: RenderableType = "", *args: Any, overflow: Any = "fold",
                   **kwargs: Any) -> None:
        super().add_column(header, *args, overflow=overflow, **kwargs)

    def __rich_console__(self, console: Console,
                         options: ConsoleOptions) -> Iterator[Segment]:
        if options.is_terminal:
            yield from super().__rich_console__(console, options)  # type: ignore[misc]
            return
        for line in plain_lines(self):
            yield Segment(line + "\n")


@contextlib.contextmanager
def live_view(console: Console, **kwargs: Any) -> Iterator[Live]:
    """A rich ``Live`` display; into a pipe its one final frame ends with a newline (rich's
    leaves the last line open, so the next output ran on after the table's last row)."""
    with Live(console=console, **kwargs) as live:
        yield live
    if not console.is_terminal:
        console.line()


def plain_lines(table: _RichTable) -> list[str]:
    """The table as tab-separated lines: the header (when shown), then one line per row."""
    columns = [[_plain(c) for c in column.cells] for column in table.columns]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    if table.show_header:
        rows.insert(0, [_plain(column.header) for column in table.columns])
    return ["\t".join(row) for row in rows]


def _plain(cell: object) -> str:
    text = Text.from_markup(cell) if isinstance(cell, str) else cell
    plain = text.plain if isinstance(text, Text) else str(text)
    return " ".join(plain.split())  # one line per row: no tabs or newlines inside a cell


def unbounded_pipe_width(argv: list[str]) -> None:
    """When stdout is not a terminal, let every console of this process (and its children)
    assume an unbounded width, so no line is cut at 80 columns, and give ``--help`` a wide
    fixed one; an explicit ``COLUMNS`` wins."""
    if "COLUMNS" in os.environ or sys.stdout.isatty():
        return
    os.environ["COLUMNS"] = str(PIPE_WIDTH)
    if "--help" in argv or len(argv) < 2:
        import typer.rich_utils

        typer.rich_utils.MAX_WIDTH = HELP_PIPE_WIDTH
