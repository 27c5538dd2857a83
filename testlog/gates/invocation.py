"""What coverage and bench invocations share: the context of one invocation, running modules
in parallel with a progress line each, the one ledger commit, and writing manifests back."""
from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from gitstore import Append, Change, LogStore

from testlog.core import layout, schema
from testlog.core.canonical import canonical_json, sha256_hex
from testlog.core.layout import TRAILER_SOURCE_COMMIT, TRAILER_VERDICT
from testlog.core.ledger import ledger_line, parse_ledger
from testlog.core.manifest import Manifest, manifest_path, manifest_text
from testlog.core.timefmt import utc_now
from testlog.gates.interpreter import Interpreter
from testlog.gates.workspace import Workspace, dirty_roots, module_trees
from testlog.store.events import commit_event
from testlog.store.state import open_log

T = TypeVar("T")


@dataclass(frozen=True)
class Invocation:
    ws: Workspace
    interp: Interpreter
    trees: dict[str, str]
    dirty: frozenset[str]
    entries: tuple[dict[str, Any], ...]    # the ledger before this invocation
    use_cache: bool
    run_id: str
    ts: str

    def tree(self, manifest: Manifest) -> str | None:
        return self.trees.get(manifest.root)

    def base_line(self, manifest: Manifest) -> dict[str, Any]:
        """The fields every ledger line of a module carries: repository-relative, no absolute path."""
        return {"ts": self.ts, "run": self.run_id, "module": manifest.name, "path": manifest.label,
                "tree": self.tree(manifest), "dirty": manifest.root in self.dirty,
                "source_commit": self.ws.head, "env_fingerprint": self.interp.fingerprint}


def open_ledger_log(ws: Workspace, sign: bool = True) -> LogStore:
    key = ws.settings["sign_key"].value if sign else False
    return open_log(ws.root, ws.settings["branch"].value, key)


def read_ledger(store: LogStore, path: str) -> list[dict[str, Any]]:
    if store.tip is None or not store.exists(path):
        return []
    return parse_ledger(store.read(path), f"{path} on {store.ref}")


def start(ws: Workspace, interp: Interpreter, manifests: Sequence[Manifest], store: LogStore,
          ledger: str, use_cache: bool, prefix: str) -> Invocation:
    roots = [m.root for m in manifests]
    return Invocation(ws, interp, module_trees(ws, roots), frozenset(dirty_roots(ws, roots)),
                      tuple(read_ledger(store, ledger)), use_cache,
                      f"{prefix}-{secrets.token_hex(6)}", utc_now())


def run_all(manifests: Sequence[Manifest], jobs: int, measure: Callable[[Manifest], T],
            describe: Callable[[T], str]) -> list[T]:
    """Measure every module (`jobs` at once), printing one progress line as each finishes;
    the results come back in the order of `manifests`."""
    lock, done = threading.Lock(), [0]

    def one(manifest: Manifest) -> T:
        result = measure(manifest)
        with lock:
            done[0] += 1
            print(f"[{done[0]}/{len(manifests)}] {describe(result)}", flush=True)
        return result

    if jobs <= 1:
        return [one(m) for m in manifests]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, m): i for i, m in enumerate(manifests)}
        results: list[Any] = [None] * len(manifests)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
    return results


def scratch_for(inv: Invocation, manifest: Manifest) -> str:
    """A private scratch folder per module, so parallel runs never share a data file."""
    path = os.path.join(inv.ws.scratch, sha256_hex(manifest.label.encode())[:16])
    os.makedirs(path, exist_ok=True)
    return path


def record(store: LogStore, inv: Invocation, *, category: str, ledger: str, event: str,
           lines: list[dict[str, Any]], report: dict[str, Any], verdict: str, summary: str) -> str:
    """One commit: the ledger lines appended, the invocation's report as the chronicle artifact."""
    artifact = layout.measurement_path(category, datetime.now(timezone.utc), inv.run_id)
    body = {"schema_version": str(schema.MEASUREMENT), "run": inv.run_id, "ts": inv.ts,
            "source_commit": inv.ws.head, "environment": environment(inv.interp), **report}
    files: dict[str, Change] = {ledger: Append(b"".join(ledger_line(line) for line in lines)),
                                artifact: canonical_json(body) + b"\n"}
    trailers = {TRAILER_SOURCE_COMMIT: inv.ws.head or "none", TRAILER_VERDICT: verdict}
    return commit_event(store, files, event=event, artifact=artifact, verdict=verdict,
                        summary=summary, trailers=trailers)


def environment(interp: Interpreter) -> dict[str, str]:
    return {"python": interp.python, "os": interp.os, "arch": interp.arch, "cpu": interp.cpu,
            "env_fingerprint": interp.fingerprint}


def write_manifest(ws: Workspace, manifest: Manifest, data: dict[str, Any]) -> bool:
    """Write `data` as the module's manifest when it differs; True when the file changed."""
    text = manifest_text(data)
    path = os.path.join(ws.root, manifest_path(manifest.root))
    with open(path, encoding="utf-8") as handle:
        if handle.read() == text:
            return False
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def write_back(ws: Workspace, updates: Iterable[tuple[Manifest, dict[str, Any]]]) -> list[str]:
    """--update-manifests: write each (manifest, new data); print and return what changed."""
    changed = [manifest.label for manifest, data in updates if write_manifest(ws, manifest, data)]
    print(f"Updated {len(changed)} manifest(s){': ' + ', '.join(changed) if changed else ''}")
    return changed


def report_recorded(sha: str | None, count: int, noun: str, ledger: str, ref: str) -> None:
    """The line saying what one cov/bench invocation appended to its ledger."""
    if sha:
        print(f"Recorded {count} {noun}(s) to {ledger} on {ref} (commit {sha[:10]})")


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def announce(what: str, manifests: Sequence[Manifest], selection: str, interp: Interpreter) -> None:
    """The first line of cov/gate/bench: how many modules, why, and with which interpreter."""
    count = len(manifests)
    print(f"{what} of {count} module{'s' if count != 1 else ''} ({selection}) with {interp.path} "
          f"(from {interp.source}; Python {interp.python}, env {interp.fingerprint})", flush=True)
