"""Running independent parts of one check on every core: `ordered_results(task, count)` gives
task(0) .. task(count - 1) in order, computed by forked worker processes while the caller goes
on with its own work, or one after the other in this process where that is all there is (one
core, no fork). The results are the same either way; only the time differs.

Fork, not spawn: a worker starts with everything the caller has already read (keys, the chain's
commit list) instead of importing and reading it all again.
"""
from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from testlog.cores import usable_cores

T = TypeVar("T")
MAX_PROCESSES = 8

_task: Callable[[int], Any] | None = None      # what the forked workers run


def _run(index: int) -> Any:
    assert _task is not None
    return _task(index)


def _ignore_interrupt() -> None:
    """A Ctrl-C reaches the whole process group: the caller stops the workers (terminate),
    and a worker prints no traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def ordered_results(task: Callable[[int], T], count: int,
                    processes: int | None = None) -> Iterator[Iterator[T]]:
    """Start task(0 .. count - 1) and give their results in order. With several cores the
    tasks run in forked processes from the moment this is entered (a task's exception is
    raised where its result is taken); otherwise each runs when its result is taken."""
    processes = min(processes or usable_cores(), count, MAX_PROCESSES)
    if processes <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield (task(index) for index in range(count))
        return
    global _task
    _task = task
    for stream in (sys.stdout, sys.stderr):     # a child must not print what is buffered here
        stream.flush()
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_ignore_interrupt)
    try:
        yield pool.imap(_run, range(count))
    finally:
        pool.terminate()
        pool.join()
        _task = None
