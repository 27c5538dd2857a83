"""The probes of a replay whose run was recorded without PYTHONHASHSEED (replay/hashprobe.py
says why). The first is a second pytest, started as the replay's session starts so that the
two run side by side, replaying the same tests under another PYTHONHASHSEED and writing each
test's fingerprint to a file that the replay reads when its own tests are done. The tests
whose fingerprints differ are then run once more under each of the two seeds, one after the
other: only those for which each seed gives its result again depend on hash order (a
clock-seeded RNG differs from any run to the next; a test using a fixed port may have met
the probe running beside it).

A probe that runs only some tests finds their node ids in `<its file>.only.json`.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

PROBE_OPTION = "--testlog-replay-probe"
FORMAT = 1


class HashProbe:
    """One probe process: `start` it, then `fingerprints` waits for it ({nodeid: fingerprint},
    or None when it failed: `problem` says how)."""

    def __init__(self, command: list[str], cwd: str, hashseed: str, workdir: str | None,
                 name: str = "probe", only: list[str] | None = None) -> None:
        self.hashseed = hashseed
        self.own_dir = None if workdir else tempfile.mkdtemp(prefix="testlog-probe-")
        where = workdir or self.own_dir or "."
        self.out = os.path.join(where, f"{name}.json")
        self.log = os.path.join(where, f"{name}.log")
        self.only = only
        self.command = [*command, f"{PROBE_OPTION}={self.out}"]
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.problem = ""

    def start(self) -> None:
        env = {**os.environ, "PYTHONHASHSEED": self.hashseed}
        for path in (self.out, only_path(self.out)):
            if os.path.exists(path):
                os.unlink(path)                  # an earlier replay's answer is no answer
        try:
            if self.only is not None:
                with open(only_path(self.out), "w", encoding="utf-8") as handle:
                    json.dump(self.only, handle)
            with open(self.log, "wb") as log:
                self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=env,
                                             stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=log)
        except OSError as exc:
            self.problem = f"it could not start ({exc})"

    def fingerprints(self) -> dict[str, Any] | None:
        if self.proc is None:
            return None
        try:
            code = self.proc.wait()
        except KeyboardInterrupt:
            self.stop()
            raise
        data = self._read()
        if data is None:
            self.problem = f"it ended with status {code} without its results (see {self.log})"
        return data

    def _read(self) -> dict[str, Any] | None:
        try:
            with open(self.out, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        tests = data.get("tests") if isinstance(data, dict) else None
        ok = isinstance(tests, dict) and data.get("format") == FORMAT \
            and data.get("hashseed") == self.hashseed
        return tests if ok else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.stop()
        if self.own_dir is not None:
            import shutil
            shutil.rmtree(self.own_dir, ignore_errors=True)


def only_path(out: str) -> str:
    return f"{out}.only.json"


def read_only(out: str | None) -> set[str] | None:
    """The node ids a probe writing to `out` is to run (None: all)."""
    if not out or not os.path.exists(only_path(out)):
        return None
    with open(only_path(out), encoding="utf-8") as handle:
        listed = json.load(handle)
    return {str(n) for n in listed} if isinstance(listed, list) else None


def write_fingerprints(path: str, hashseed: str | None, tests: dict[str, Any]) -> None:
    """The probe's answer, written whole or not at all (a rename)."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump({"format": FORMAT, "hashseed": hashseed, "tests": tests}, handle)
    os.replace(partial, path)
