"""What coverage and bench invocations share: the context of one invocation, running modules
in parallel with progress lines, the one ledger commit, and writing manifests back."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from gitstore import file_at, full_ref, refs_matching, tree_shas

from testlog.core import layout, schema
from testlog.core.canonical import canonical_json, sha256_hex
from testlog.core.layout import TRAILER_SOURCE_COMMIT, TRAILER_VERDICT
from testlog.core.ledger import ledger_line
from testlog.core.manifest import Manifest, manifest_path, manifest_text
from testlog.core.modules import identity_paths, outside_paths
from testlog.core.timefmt import utc_now
from testlog.gates.interpreter import Interpreter
from testlog.gates.later import Later, answer
from testlog.gates.progress import Progress
from testlog.gates.workspace import Workspace, dirty_roots, module_trees
from testlog.store.ledgerfiles import ledger_lines
from testlog.store.state import CONVENTIONS, open_log

if TYPE_CHECKING:
    from gitstore import Change, LogStore

T = TypeVar("T")
ABSENT = "absent"                   # a declared path the commit does not have
Begin = Callable[[str], None]       # a measurement says it starts a pytest run (what it runs)


@dataclass(frozen=True)
class Invocation:
    """One cov/bench invocation. Its git questions (module trees, dirty folders, the ledger)
    are asked on threads at the start and answered when first needed: with --no-cache, only
    after the tests ran."""
    ws: Workspace
    interp: Interpreter
    trees_found: dict[str, str] | Later[dict[str, str]]
    dirty_found: frozenset[str] | Later[frozenset[str]]
    entries_found: tuple[dict[str, Any], ...] | Later[tuple[dict[str, Any], ...]]
    use_cache: bool
    run_id: str
    ts: str
    artifact: str = ""                     # this invocation's report on the log branch

    @property
    def trees(self) -> dict[str, str]:
        return answer(self.trees_found)

    @property
    def dirty(self) -> frozenset[str]:
        return answer(self.dirty_found)

    @property
    def entries(self) -> tuple[dict[str, Any], ...]:
        """The ledger before this invocation."""
        return answer(self.entries_found)

    def ledger_file(self, kind: str) -> str:
        """The day's file of ledger `kind` this invocation appends to (its own day, UTC)."""
        return layout.ledger_path(kind, date(int(self.ts[0:4]), int(self.ts[5:7]),
                                             int(self.ts[8:10])))

    def tree(self, manifest: Manifest) -> str | None:
        return self.trees.get(manifest.root)

    def inputs(self, manifest: Manifest) -> dict[str, str]:
        """The trees of the module's declared paths outside its folder ({} when none)."""
        return {p: self.trees.get(p, ABSENT) for p in outside_paths(manifest)}

    def is_dirty(self, manifest: Manifest) -> bool:
        return any(p in self.dirty for p in identity_paths(manifest))

    def base_line(self, manifest: Manifest) -> dict[str, Any]:
        """The fields every ledger line of a module carries: repository-relative, no absolute path."""
        line = {"ts": self.ts, "run": self.run_id, "module": manifest.name, "path": manifest.label,
                "tree": self.tree(manifest), "dirty": self.is_dirty(manifest),
                "source_commit": self.ws.head, "env_fingerprint": self.interp.fingerprint,
                "report": self.artifact}
        inputs = self.inputs(manifest)
        return {**line, "inputs": inputs} if inputs else line


Identity = tuple[str | None, dict[str, str]]   # (module folder's tree, its outside paths' trees)


def identities_at(ws: Workspace, manifests: Sequence[Manifest], commit: str) -> dict[str, Identity]:
    """Each module's identity at `commit` (one git question for them all)."""
    found = tree_shas(ws.root, commit, sorted({p for m in manifests for p in identity_paths(m)}))
    return {m.root: (found.get(m.root), {p: found.get(p, ABSENT) for p in outside_paths(m)})
            for m in manifests}


def identity_at(ws: Workspace, manifest: Manifest, commit: str) -> Identity:
    """(the module folder's tree at `commit`, the trees of its declared outside paths there)."""
    return identities_at(ws, [manifest], commit)[manifest.root]


def open_ledger_log(ws: Workspace, sign: bool = True) -> LogStore:
    key = ws.settings["sign_key"].value if sign else False
    return open_log(ws.root, ws.settings["branch"].value, key)


def store_later(ws: Workspace) -> Later[LogStore]:
    """The log branch opened on a thread while the tests run (loading dulwich, finding the
    signing key): the ledger commit at the end starts at once. Close it with `close_store`."""
    return Later(lambda: open_ledger_log(ws))


def close_store(store: Later[LogStore]) -> None:
    """Close it, now or once it is open (a gate served from the cache does not wait)."""
    store.dispose(lambda opened: opened.close())


def chain_refs(ws: Workspace) -> list[str]:
    """The log's chains here: this clone's branch, then every other writer's (by name)."""
    own = full_ref(str(ws.settings["branch"].value))
    others = [ref for ref, _ in refs_matching(ws.root, CONVENTIONS.chain_prefixes) if ref != own]
    return [own, *others]


def read_ledger(ws: Workspace, kind: str) -> list[dict[str, Any]]:
    """The ledger of every chain of the log, each line once, in time order (a measurement
    another writer recorded serves the cache and the base as well as one's own). A few git
    processes, whatever the number of chains; no store to open."""
    return ledger_lines(ws.root, chain_refs(ws), kind)


def read_report(ws: Workspace, path: str) -> bytes | None:
    """A measurement report named by a ledger line (only a measurements/ path is read), from
    whichever chain holds it."""
    if not isinstance(path, str) or layout.parse_measurement(path) is None:
        return None
    for ref in chain_refs(ws):
        data = file_at(ws.root, ref, path)
        if data is not None:
            return data
    return None


def start(ws: Workspace, interp: Interpreter, manifests: Sequence[Manifest], ledger: str,
          use_cache: bool, prefix: str, category: str) -> Invocation:
    """The invocation's context; its three git questions are asked at once, on threads."""
    paths = sorted({p for m in manifests for p in identity_paths(m)})
    trees = Later(lambda: module_trees(ws, paths))
    dirty = Later(lambda: frozenset(dirty_roots(ws, paths)))
    entries = Later(lambda: tuple(read_ledger(ws, ledger)))
    run_id, ts = f"{prefix}-{os.urandom(6).hex()}", utc_now()
    day = date(int(ts[0:4]), int(ts[5:7]), int(ts[8:10]))
    artifact = layout.measurement_path(category, day, run_id)
    return Invocation(ws, interp, trees, dirty, entries, use_cache, run_id, ts, artifact)


def run_all(manifests: Sequence[Manifest], jobs: int, measure: Callable[[Manifest, Begin], T],
            describe: Callable[[T], str]) -> list[T]:
    """Measure every module (`jobs` at once): a line as a pytest run starts, a heartbeat while
    it runs, its result when it ends; the results come back in the order of `manifests`."""
    progress = Progress(len(manifests))

    def one(manifest: Manifest) -> T:
        number = progress.number()
        result = measure(manifest, lambda what: progress.begin(number, manifest.name, what))
        progress.end(number, manifest.name, describe(result))
        return result

    try:
        if jobs <= 1:
            return [one(m) for m in manifests]
        from concurrent.futures import ThreadPoolExecutor  # only with -j
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, manifests))
    finally:
        progress.close()


def scratch_for(inv: Invocation, manifest: Manifest, kind: str = "") -> str:
    """A private scratch folder per module, so parallel runs never share a data file."""
    path = os.path.join(inv.ws.scratch, sha256_hex(f"{kind}{manifest.label}".encode())[:16])
    os.makedirs(path, exist_ok=True)
    return path


def record(store: LogStore, inv: Invocation, *, ledger: str, event: str,
           lines: list[dict[str, Any]], report: dict[str, Any], verdict: str, summary: str) -> str:
    """One commit: the ledger lines appended, the invocation's report as the chronicle artifact."""
    from gitstore import Append  # the storage layer loads for the commit, not before

    from testlog.store.events import commit_event
    body = {"schema_version": str(schema.MEASUREMENT), "run": inv.run_id, "ts": inv.ts,
            "source_commit": inv.ws.head, "environment": environment(inv.interp), **report}
    files: dict[str, Change] = {inv.ledger_file(ledger):
                                Append(b"".join(ledger_line(line) for line in lines)),
                                inv.artifact: canonical_json(body) + b"\n"}
    trailers = {TRAILER_SOURCE_COMMIT: inv.ws.head or "none", TRAILER_VERDICT: verdict}
    return commit_event(store, files, event=event, artifact=inv.artifact, verdict=verdict,
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
