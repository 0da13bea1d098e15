"""How commands print: user strings are never read as console markup; pipes get full values.

Arm names, file names and texts are user data, so a name like ``neural[/x]`` or
``control [beta]`` must print as written: every console here has markup off (style with
``rich.text.Text`` instead). At a terminal tables are drawn by rich with cells folded, never
cut with ``…``; when stdout is a pipe or a log file, tables are plain aligned text with every
value in full, so ``grep`` and ``cut`` see the real numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table


def make_console(*, stderr: bool = False, file: TextIO | None = None) -> Console:
    """A console that prints strings verbatim (no markup, no highlighting, no wrapping in pipes)."""
    con = Console(stderr=stderr, file=file, markup=False, highlight=False, emoji=False)
    if not con.is_terminal:
        con = Console(stderr=stderr, file=file, markup=False, highlight=False, emoji=False, soft_wrap=True,
                      width=10_000, no_color=True)
    return con


def is_terminal() -> bool:
    return make_console().is_terminal


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[str] = ()) -> list[str]:
    """Aligned plain-text lines (header first) with every value in full."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for r in cells:
        parts = [v.rjust(w) if columns[i] in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))]
        out.append("  ".join(parts).rstrip())
    return out


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]], *,
                right: Sequence[str] = (), console: Console | None = None) -> None:
    """A table: rich at a terminal (cells fold, never ``…``), plain aligned text otherwise."""
    con = console or make_console()
    if not con.is_terminal:
        if title:
            con.print(title)
        for line in plain_table(columns, rows, right):
            con.print(line)
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    con.print(table)

