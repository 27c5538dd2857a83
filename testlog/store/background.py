"""Work that mostly waits (on git, gpg, a disk) done on a thread while the caller goes on;
its error, if any, is raised again where the result is asked for."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class InBackground:
    def __init__(self, work: Callable[[], Any]) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self._result = work()
        except BaseException as exc:
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def get(self) -> Any:
        """Wait for the work; its result, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result
