"""An answer computed on a thread of its own, asked for later: the git questions and the
storage layer's loading that a gate needs only once the tests ran overlap with them.

(concurrent.futures would do, but importing it costs a hook more than these lines.)"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Later(Generic[T]):
    """`question()` starts now on a daemon thread; `result()` waits for it and returns its
    answer, or raises what it raised."""

    def __init__(self, question: Callable[[], T]) -> None:
        self._question = question
        self._answer: T | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._done = False
        self._cleanup: Callable[[T], None] | None = None
        self._thread = threading.Thread(target=self._run, name="testlog-later", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._answer = self._question()
        except BaseException as exc:       # handed to whoever asks for the result
            self._error = exc
        with self._lock:
            self._done = True
            cleanup = self._cleanup
        if cleanup is not None and self._error is None:
            cleanup(self._answer)  # type: ignore[arg-type]

    def dispose(self, cleanup: Callable[[T], None]) -> None:
        """Run `cleanup` on the answer once there is one, without waiting for it now (an
        answer nobody needed, e.g. a store opened for a commit that had nothing to write)."""
        with self._lock:
            if not self._done:
                self._cleanup = cleanup
                return
        if self._error is None:
            cleanup(self._answer)  # type: ignore[arg-type]

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._answer  # type: ignore[return-value]


def answer(found: T | Later[T]) -> T:
    return found.result() if isinstance(found, Later) else found


def warm_imports(names: tuple[str, ...]) -> Later[None]:
    """Import `names` on a thread (while the tests run, say): the main thread then finds them
    loaded, or waits for the import already under way."""
    def load() -> None:
        import importlib
        for name in names:
            importlib.import_module(name)
    return Later(load)
