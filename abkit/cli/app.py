"""The Typer application and the one-line error handling every command shares.

Commands live in small modules beside this one (one module per area) and only parse
arguments and call one library function; heavy imports happen inside the command body so
that `abkit --help` starts fast and never imports TensorFlow.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from abkit.errors import AbkitError

# TensorFlow (imported lazily by the neural generator) logs C++ notices to stderr otherwise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

app = typer.Typer(
    name="abkit",
    help="A/B experiments for AI-generated recommendation reasons (推荐理由): "
    "specs, assignment, ingestion, analysis, generation and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit."""
    first = str(message).strip().splitlines()[0] if str(message).strip() else "error"
    typer.echo(f"abkit: error: {first}", err=True)
    raise typer.Exit(code)


def user_errors(func: F) -> F:
    """Turn AbkitError (and missing, unreadable or truncated files) into one line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AbkitError as exc:
            fail(str(exc))
        except FileNotFoundError as exc:
            fail(f"{exc.filename}: no such file")
        except IsADirectoryError as exc:
            fail(f"{exc.filename}: is a directory (give a file)")
        except PermissionError as exc:
            fail(f"{exc.filename}: permission denied")
        except EOFError as exc:  # click would print a bare "Aborted." (a truncated .gz ends like this)
            fail(f"unexpected end of input: {exc}")
        except KeyboardInterrupt:
            typer.echo("abkit: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|KiB|MB|MiB|GB|GiB|TB|TiB)\s*$", re.IGNORECASE)


def check_memory_limit(value: str | None) -> str | None:
    """A DuckDB memory limit such as ``3GB`` or ``512MiB`` (at least 100 MB), else a one-line error."""
    if value is None:
        return None
    m = _MEMORY.match(value)
    if not m:
        raise AbkitError(f"--memory-limit {value!r}: expected a size such as 3GB or 512MB")
    factor = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[m.group(2)[0].lower()]
    if float(m.group(1)) * factor < 100e6:
        raise AbkitError(f"--memory-limit {value!r}: too small for DuckDB to run (give at least 100MB)")
    return value.strip()
