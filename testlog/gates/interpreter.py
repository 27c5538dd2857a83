"""The project's Python: where its tests run, for the gates and for replay (never a hook's own
isolated virtualenv), and what that interpreter is (version, platform, pytest plugins)."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from testlog.config import Setting
from testlog.core.measures import env_fingerprint
from testlog.errors import UsageError
from testlog.gates.pythonpath import candidates, executable

# Run by the project's interpreter: its version, platform and which pytest plugins it has.
_PROBE = r"""
import importlib.util, json, os, platform, sys
def cpu():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
has = lambda name: importlib.util.find_spec(name) is not None
print(json.dumps({"python": platform.python_version(), "os": platform.system(),
                  "arch": platform.machine(), "cpu": cpu(), "pytest": has("pytest"),
                  "pytest_cov": has("pytest_cov"), "pytest_benchmark": has("pytest_benchmark"),
                  "paths": [p for p in sys.path if p and os.path.isdir(p)]}))
"""


@dataclass(frozen=True)
class Interpreter:
    path: str
    source: str
    python: str
    os: str
    arch: str
    cpu: str
    plugins: frozenset[str]

    @property
    def fingerprint(self) -> str:
        return env_fingerprint(self.python, self.os, self.arch, self.cpu)

    def require(self, plugin: str) -> None:
        if plugin not in self.plugins:
            package = plugin.replace("_", "-")
            raise UsageError(f"the project's interpreter {self.path} (from {self.source}) lacks "
                               f"{package}: `{self.path} -m pip install {package}`, or set "
                               "[testlog] python in setup.cfg")


def project_python(repo_root: str | None, configured: Setting, explicit: str | None = None,
                   environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(interpreter path, where it came from): `explicit` (--python) when given, else the first
    candidate that is an executable. The one rule for the gates and for replay."""
    if explicit:
        if not executable(explicit):
            raise UsageError(f"--python {explicit}: no such executable (give the project's "
                               "Python, e.g. .venv/bin/python)")
        return os.path.abspath(explicit), "--python"
    for path, source in candidates(repo_root, configured, environ):
        if executable(path):
            return path, source
    if configured.value:
        raise UsageError(f"python = {configured.value} (from {configured.source}) is not an "
                           "executable; fix the setting")
    raise UsageError("cannot find the project's interpreter from inside a pre-commit hook "
                       "environment: set python in setup.cfg [testlog] (or pyproject "
                       "[tool.testlog]), or create .venv")


def stamp(paths: list[str]) -> list[list[int]] | None:
    """What changes when an interpreter or its packages change: each path's mtime and size
    (installing a package adds an entry to a site-packages folder); None when one is gone."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        out.append([st.st_mtime_ns, st.st_size, st.st_ino])
    return out


def cached_probe(cache: str, path: str) -> dict | None:
    """The probe's answer for `path` from the cache, when nothing it depends on changed."""
    try:
        with open(cache, encoding="utf-8") as handle:
            entry = json.load(handle).get(path)
        info = dict(entry["info"])
        complete = all(isinstance(info.get(k), str) for k in ("python", "os", "arch", "cpu"))
        if complete and entry["stamp"] == stamp([path, *info["paths"]]):
            return info
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def save_probe(cache: str, path: str, info: dict) -> None:
    """Remember the answer (atomically; a cache that cannot be written is only slower)."""
    stamped = stamp([path, *info.get("paths", [])])
    if stamped is None:
        return
    try:
        with open(cache, encoding="utf-8") as handle:
            known = json.load(handle)
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    known[path] = {"stamp": stamped, "info": info}
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        temp = f"{cache}.{os.getpid()}.tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(known, handle)
        os.replace(temp, cache)
    except OSError:
        pass


def run_probe(path: str, source: str, repo_root: str) -> dict:
    proc = subprocess.run([path, "-c", _PROBE], capture_output=True, cwd=repo_root,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"the project's interpreter {path} (from {source}) does not run: "
                           f"{detail[-1] if detail else proc.returncode}") from None
    return info if isinstance(info, dict) else {}


def probe(repo_root: str, configured: Setting, cache: str | None = None) -> Interpreter:
    """The project's interpreter and what it is. Asking it costs a Python start-up, so with a
    `cache` file the answer is kept until the interpreter or a folder on its sys.path changes."""
    path, source = project_python(repo_root, configured)
    info = cached_probe(cache, path) if cache else None
    if info is None:
        info = run_probe(path, source, repo_root)
        if cache:
            save_probe(cache, path, info)
    plugins = frozenset(k for k in ("pytest", "pytest_cov", "pytest_benchmark") if info[k])
    return Interpreter(path, source, info["python"], info["os"], info["arch"], info["cpu"], plugins)
