"""How many CPUs this process may use (standard library only: the gates' prestart asks it
before anything else loads)."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
