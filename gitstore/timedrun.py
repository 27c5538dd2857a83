"""Running a helper program (gpg, ssh-keygen) that must never hang its caller: a time limit,
after which the program is killed and the caller told so.

The program stays in the caller's process group: a Ctrl-C in the terminal reaches it as it
reaches git (a signer interrupted that way fails, and its caller keeps what it was writing).
"""
from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes


class TimedOut(Exception):
    """The program ran past its limit and was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g}s")
        self.seconds = seconds


def run_timed(argv: Sequence[str], *, input: bytes | None = None, timeout: float,
              env: Mapping[str, str] | None = None) -> Finished:
    """Run `argv` to its end, or kill it after `timeout` seconds (TimedOut) or when the caller
    is interrupted. OSError when it cannot be started."""
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(env) if env is not None else None)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise TimedOut(timeout) from None
    except BaseException:
        _stop(proc)
        raise
    return Finished(proc.returncode, out, err)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill and reap the program; its pipes are closed, not drained (a grandchild it left may
    still hold them open)."""
    proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass
