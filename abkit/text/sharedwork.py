"""Chunks of work shared by forked workers and, once it is free, the caller itself.

Each process takes the next chunk from a shared counter, so a caller that finishes its own work
early (arm_text_metrics' n-gram metrics) scores the chunks still left instead of waiting, and no
process idles while another has a queue of chunks. Workers are forked: they inherit the work
function and its data without pickling; only results travel back.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Callable, Iterator
from multiprocessing.sharedctypes import Synchronized
from typing import Any, TypeVar

T = TypeVar("T")


def _claims(counter: Synchronized, n_chunks: int) -> Iterator[int]:
    """The chunk indices this process takes, until none is left."""
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value += 1
        if i >= n_chunks:
            return
        yield i


def _take_chunks(work: Callable[[int], Any], n_chunks: int, counter: Synchronized, results: Any) -> None:
    for i in _claims(counter, n_chunks):
        try:
            results.put((i, True, work(i)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            results.put((i, False, exc))
            return


def start_shared(work: Callable[[int], T], n_chunks: int, workers: int) -> Callable[[], list[T]]:
    """Fork ``workers`` processes that run work(i) for chunks i in turn; the returned callable makes the
    caller take the chunks still left, then returns every result in chunk order (a worker's error is raised)."""
    ctx = mp.get_context("fork")
    counter = ctx.Value("l", 0)
    results = ctx.Queue()
    procs = [ctx.Process(target=_take_chunks, args=(work, n_chunks, counter, results), daemon=True)
             for _ in range(workers)]
    for p in procs:
        p.start()

    def finish() -> list[T]:
        out: dict[int, T] = {}
        try:
            for i in _claims(counter, n_chunks):
                out[i] = work(i)
            while len(out) < n_chunks:
                i, ok, value = _next_result(results, procs)
                if not ok:
                    raise value
                out[i] = value
        finally:
            for p in procs:
                if p.is_alive() and len(out) < n_chunks:
                    p.terminate()
                p.join()
        return [out[i] for i in range(n_chunks)]

    return finish


def _next_result(results: Any, procs: list[Any]) -> tuple[int, bool, Any]:
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):  # every worker gone: one last look, then give up
                try:
                    return results.get(timeout=1.0)
                except queue.Empty:
                    raise RuntimeError("a worker process died before returning its chunk") from None
