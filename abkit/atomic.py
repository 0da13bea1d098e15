"""Atomic file outputs: readers see the previous file or the complete new one, never half of one.

Every file a command writes goes to a temporary file in the same folder, is flushed to disk
(fsync) and then renamed over the target, which POSIX makes atomic. On any error (a full disk,
a read-only folder) the temporary file is removed, the previous file is left as it was, and the
error becomes one line naming the path.

    atomic_write_text("result.json", text)
    with atomic_path("sample.parquet") as tmp:   # for writers that want a path (pandas, pyarrow)
        frame.to_parquet(tmp)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from abkit.errors import AbkitError


class OutputError(AbkitError):
    """An output file could not be written; the previous file (if any) is unchanged."""


def check_output_path(path: str | os.PathLike[str]) -> None:
    """Fail early, in one line, when ``path`` cannot be an output file (call before long work)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory (give a file name)")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a directory")


def _fail(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({exc.strerror or exc}); any previous file is unchanged")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened or synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``."""
    target = Path(path)
    check_output_path(target)
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
        os.close(fd)
    except OSError as exc:
        raise _fail(target, exc) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _fail(target, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring); return the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
