"""Chunks shared by forked workers and the caller (abkit.text.sharedwork): every chunk once, in order, errors raised."""

from __future__ import annotations

import os
import time

import pytest

from abkit.text.sharedwork import start_shared


def test_every_chunk_once_in_chunk_order_by_workers_and_caller():
    parent = os.getpid()

    def work(i: int) -> tuple[int, int]:
        time.sleep(0.02)
        return i * i, os.getpid()

    finish = start_shared(work, 12, 2)
    time.sleep(0.1)  # the workers take chunks meanwhile; the caller takes what is left
    got = finish()
    assert [v for v, _ in got] == [i * i for i in range(12)]
    pids = {p for _, p in got}
    assert len(pids - {parent}) >= 1 and len(pids) <= 3


def test_a_worker_error_is_raised_by_the_caller():
    def work(i: int) -> int:
        if i == 0:
            raise ValueError("bad chunk 0")
        return i

    finish = start_shared(work, 3, 2)
    time.sleep(0.2)  # chunk 0 goes to a worker
    with pytest.raises(ValueError, match="bad chunk 0"):
        finish()


def test_a_worker_that_dies_is_reported_not_waited_for():
    parent = os.getpid()

    def work(i: int) -> int:
        if i == 0 and os.getpid() != parent:
            os._exit(3)
        return i

    finish = start_shared(work, 2, 1)
    time.sleep(0.3)
    with pytest.raises(RuntimeError, match="died"):
        finish()
