"""Atomic outputs: a failed write (full disk, a folder as target) keeps the previous file whole."""

from __future__ import annotations

import errno
import os

import pytest

from abkit.atomic import OutputError, atomic_path, atomic_write_text, check_output_path


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second ✓")
    assert target.read_text(encoding="utf-8") == "second ✓"
    assert _leftovers(target.parent) == []
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not the 0600 of a temporary file


def test_a_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    target.write_text('{"good": true}', encoding="utf-8")
    monkeypatch.setattr(os, "write", _enospc)
    with pytest.raises(OutputError, match="result.json: cannot write .*No space left on device"):
        atomic_write_text(target, '{"new": ' + "1" * 100_000 + "}")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == '{"good": true}'
    assert _leftovers(tmp_path) == []


def test_a_full_disk_in_a_path_writer_keeps_the_previous_file(tmp_path):
    target = tmp_path / "sample.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(OutputError, match="No space left"), atomic_path(target) as tmp:
        tmp.write_text("half a fi", encoding="utf-8")
        _enospc()
    assert target.read_text(encoding="utf-8") == "old"
    assert _leftovers(tmp_path) == []


def test_an_exception_in_the_writer_is_not_swallowed_and_nothing_is_replaced(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(KeyError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyError("writer bug")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_a_failed_fsync_or_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    monkeypatch.setattr(os, "replace", _enospc)
    with pytest.raises(OutputError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("make", ["dir", "file-as-parent"])
def test_unusable_targets_fail_in_one_line_before_any_work(tmp_path, make):
    if make == "dir":
        target = tmp_path / "out"
        target.mkdir()
        expected = "is a directory"
    else:
        (tmp_path / "plain").write_text("x", encoding="utf-8")
        target = tmp_path / "plain" / "out.json"
        expected = "is not a directory"
    with pytest.raises(OutputError, match=expected) as info:
        check_output_path(target)
    assert "\n" not in str(info.value)
    with pytest.raises(OutputError, match=expected):
        atomic_write_text(target, "x")
