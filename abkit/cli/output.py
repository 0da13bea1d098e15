"""How commands print: user strings are never read as console markup; pipes get full values.

Arm names, file names and texts are user data, so a name like ``neural[/x]`` or
``control [beta]`` must print as written: every console here has markup off (style with
``rich.text.Text`` instead). At a terminal tables are drawn by rich with cells folded, never
cut with ``…``; when stdout is a pipe or a log file, tables are plain aligned text with every
value in full, so ``grep`` and ``cut`` see the real numbers.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


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
        parts = [v.rjust(w) if columns[i] in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  ".join(parts).rstrip())
    return out


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]], *,
                right: Sequence[str] = (), console: Console | None = None) -> None:
    """A table: rich at a terminal (cells fold, never ``…``), plain aligned text otherwise."""
    con = console or make_console()
    if not con.is_terminal:
        for line in ([title] if title else []) + plain_table(columns, rows, right):
            con.print(Text(line))
        return
    table = Table(title=Text(title) if title else None, box=box.SIMPLE_HEAD)
    for col in columns:
        table.add_column(Text(col), justify="right" if col in right else "left", overflow="fold")
    for row in rows:  # Text cells: never parsed as markup, whatever the console's settings
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    con.print(table)



# C++ log lines of TensorFlow/XLA/absl, which bypass Python logging and TF_CPP_MIN_LOG_LEVEL:
# "WARNING: All log messages before absl::InitializeLog() ...", "I0000 00:00:1796166996.08 26711 x.cc:31] ..."
# and the older "2026-01-01 12:00:00.123456: I tensorflow/...".
NATIVE_LOG = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
                        rb"|[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\] "
                        rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] )")


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """When stderr is a pipe or a log file, drop the C++ log lines native libraries write to fd 2.

    Everything else written to stderr (our one-line errors, Python warnings) passes through
    unchanged and in order. At a terminal, or where stderr has no file descriptor, nothing changes.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    if os.isatty(fd):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not NATIVE_LOG.match(line):
                    os.write(saved, line)

    thread = threading.Thread(target=forward, name="quiet-native-logs", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)  # closes the pipe's last write end: the reader sees end of file
        thread.join(timeout=5)
        os.close(saved)
