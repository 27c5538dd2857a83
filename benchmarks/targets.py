"""What every benchmark shares: a description of the machine measured now (never a literal),
and targets that turn into the exit status (`make perf` fails when one is missed)."""
from __future__ import annotations

import os
import platform


def machine() -> str:
    """CPUs this process may use, the load average now, the CPU model, Python and the kernel."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{cpus} CPUs ({cpu_model()}), load average {load} at start; Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Targets:
    """Collects met/missed targets; `status()` is the benchmark's exit status."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def check(self, what: str, value: float, target: float, unit: str = "x",
              higher_is_better: bool = False) -> str:
        """'OK' or 'MISSED' for `value` against `target` (at most, unless higher_is_better)."""
        met = value >= target if higher_is_better else value <= target
        if not met:
            self.missed.append(f"{what}: {value:.3g}{unit} (target {'>=' if higher_is_better else '<='} "
                               f"{target:g}{unit})")
        return "OK" if met else "MISSED"

    def status(self) -> int:
        for line in self.missed:
            print(f"MISSED {line}")
        print("targets met" if not self.missed else f"{len(self.missed)} target(s) missed")
        return 1 if self.missed else 0
