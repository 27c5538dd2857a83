"""The gates' progress lines: a Ctrl-C at any moment of a module's start leaves a Progress that
closes cleanly (the 130 exit path of `gate`), never `cannot join thread before it is started`."""
from __future__ import annotations

import threading

import pytest

from testlog.gates.progress import Progress
from tests.waiting import wait_until


def test_a_ctrl_c_while_the_heartbeat_starts_still_closes(monkeypatch, capsys):
    real_start = threading.Thread.start

    def interrupted(self: threading.Thread) -> None:
        if self.name == "testlog-heartbeat":
            raise KeyboardInterrupt        # the signal lands as the heartbeat thread starts
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", interrupted)
    progress = Progress(1, interval=60)
    with pytest.raises(KeyboardInterrupt):
        progress.begin(progress.number(), "slow", "running its tests")
    progress.close()                       # before the fix: RuntimeError from join()


def test_lines_and_heartbeat(capsys):
    progress = Progress(2, interval=0.01)
    progress.begin(progress.number(), "alpha", "running its tests")
    printed: list[str] = []
    wait_until(lambda: printed.append(capsys.readouterr().out) or
               "alpha: still running" in "".join(printed), "a heartbeat line")
    assert printed[0].startswith("[1/2] alpha: running its tests...\n")
    progress.end(1, "alpha", "alpha: 91.00% (lane L1)")
    progress.close()
    assert capsys.readouterr().out.endswith("[1/2] alpha: 91.00% (lane L1)\n")
