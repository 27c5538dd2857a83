"""Reading a recorded run back: from a log commit (through store.runs), or from a
`--testlog-out` directory."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gitstore import GitStoreError, LogStore, path_problem

from testlog.core import layout
from testlog.core.entropy import (
    EntropyError,
    SideFile,
    collection_blocks,
    parse_side_file,
    side_file_problem,
)
from testlog.errors import TestlogError, UsageError
from testlog.store import runs
from testlog.store.shards import LoggedRun, ShardedRunData, find_sharded_run


@dataclass(frozen=True)
class RecordedRun:
    """One run as recorded: run.json, determinism.json, the dirty diff and the entropy the
    tests drew."""
    sha: str | None             # its log commit; None when read from a directory
    artifact: str               # run.json: a path on the branch, or a file in `directory`
    data: dict[str, Any]        # {"schema_version", "run", "records"}
    determinism: dict[str, Any]
    patch: bytes                # the recorded dirty diff (b"" when the tree was clean)
    directory: str | None = None
    payload: bytes = b""        # its log commit without its signature, and the signature:
    gpgsig: bytes = b""         # what the replay trust rule checks (trust.py)
    # A sharded run: its name, and each shard's (label, payload, signature) for the trust rule
    # (the first shard's are `sha`, `payload` and `gpgsig`).
    name: str | None = None
    shards: tuple[tuple[str, bytes, bytes], ...] = ()
    entropy: SideFile | None = None   # runs/…__entropy.bin, checked against the records

    @property
    def run(self) -> dict[str, Any]:
        return self.data["run"]

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.data["records"]

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.sha[:10] if self.sha else os.path.join(self.directory or ".", self.artifact)


def _branch_file(store: LogStore, path: str | None, sha: str) -> bytes | None:
    if not path:
        return None
    try:
        return store.read(path, sha)
    except GitStoreError:
        return None


def load_from_branch(store: LogStore, rev: str) -> RecordedRun:
    """The run a log commit recorded; a shard's commit or a run id gives the whole sharded
    run (`load_sharded`)."""
    sharded = find_sharded_run(store, rev)
    if sharded is not None:
        return load_sharded(store, sharded)
    return load_commit(store, rev)


def load_commit(store: LogStore, rev: str) -> RecordedRun:
    entry, artifact = runs.run_entry(store, rev)
    sha = entry.sha
    data = runs.run_data(store.read(artifact, sha), artifact, f"{artifact} at {sha[:10]}")
    run = data["run"]
    det_path = (run.get("files") or {}).get("determinism")
    determinism = runs.check_determinism(runs.read_json(store, det_path, sha), det_path) \
        if det_path and store.exists(det_path, sha) else {}
    patch = _branch_file(store, (run.get("source") or {}).get("dirty_diff_path"), sha)
    if (run.get("source") or {}).get("dirty") and patch is None:
        raise TestlogError(f"run {sha[:10]} was recorded in a dirty tree but its diff is "
                           "missing from the log branch (edited by hand?)")
    path = entropy_path(run, artifact, f"run {sha[:10]}")
    side = checked_entropy(_branch_file(store, path, sha), data, determinism,
                           f"{path} at {sha[:10]}" if path else f"run {sha[:10]}")
    return RecordedRun(sha, artifact, data, determinism, patch or b"", payload=entry.payload,
                       gpgsig=entry.gpgsig, entropy=side)


def entropy_path(run: dict[str, Any], artifact: str, where: str) -> str | None:
    """The run's entropy file, when it names one: only ever the one beside its run file."""
    named = (run.get("files") or {}).get("entropy")
    if named is None:
        return None
    expected = layout.sibling_path(artifact, "entropy", "bin")
    if named != expected:
        raise TestlogError(f"{where} names the entropy file {named!r}, not {expected!r} "
                           "(edited by hand?)")
    return expected


def checked_entropy(raw: bytes | None, data: dict[str, Any], determinism: dict[str, Any],
                    where: str) -> SideFile | None:
    """The parsed entropy file, every stream in it the one its record (or the determinism
    file) names by digest; TestlogError naming what does not hold."""
    try:
        side = parse_side_file(raw, where) if raw is not None else None
    except EntropyError as exc:
        raise TestlogError(f"{exc} (edited by hand?)") from None
    problem = side_file_problem(side, data["records"], collection_blocks(determinism))
    if problem is not None:
        raise TestlogError(f"{where}: {problem} (edited by hand?)")
    return side


def load_sharded(store: LogStore, run: LoggedRun) -> RecordedRun:
    """A sharded run as one run to replay on one machine: its shards' tests in one plan, shard
    after shard (each shard's recorded order within), each test's worker named after its
    shard (`shard2`, `shard2:gw0`: a shard ran in a process of its own). The shards must agree
    on what one replay can honour (source, base seed, PYTHONHASHSEED, reseeding, rootdir);
    missing shards make it an incomplete run, which replays the tests it has and says so."""
    parts = [load_commit(store, shard.entry.sha) for shard in run.ordered()]
    found = ShardedRunData(run, [(shard, part.data) for shard, part in zip(run.ordered(), parts)])
    name = f"run {run.run_id} ({len(run.shards)}/{run.count} shards)"
    problems = found.problems()
    if any(part.patch != parts[0].patch for part in parts):
        problems.append("dirty diff")
    if problems:
        raise TestlogError(f"{name} cannot be replayed as one run: its shards disagree on the "
                           f"{'; '.join(problems)}")
    records, offset, offsets = [], 0, []
    for shard, part in zip(run.ordered(), parts):
        offsets.append(offset)
        for record in part.records:
            worker = f"shard{shard.spec.index}" + (f":{record['worker']}" if record.get("worker")
                                                  else "")
            records.append({**record, "order": offset + int(record.get("order") or 0),
                            "worker": worker})
        offset += max([int(r.get("order") or 0) for r in part.records], default=-1) + 1
    determinism = dict(parts[0].determinism)
    determinism["full_states"] = {d: raw for part in parts
                                  for d, raw in (part.determinism.get("full_states") or {}).items()}
    first = parts[0]
    return RecordedRun(first.sha, first.artifact, {**found.data(), "records": records},
                       determinism, first.patch, payload=first.payload, gpgsig=first.gpgsig,
                       name=name, shards=tuple((p.label, p.payload, p.gpgsig) for p in parts),
                       entropy=combined_entropy(parts, offsets))


def combined_entropy(parts: list[RecordedRun], offsets: list[int]) -> SideFile | None:
    """The shards' entropy side files as one, each test's draws under its place in the combined
    plan; a module's import-time draws from the first shard that has them (every shard
    collects every test)."""
    if all(part.entropy is None for part in parts):
        return None
    combined = SideFile()
    for part, offset in zip(parts, offsets):
        if part.entropy is None:
            continue
        for (name, order), draws in part.entropy.tests.items():
            combined.tests[(name, offset + order)] = draws
        for scope, draws in part.entropy.collection.items():
            combined.collection.setdefault(scope, draws)
    return combined


def runs_in_dir(directory: str) -> list[str]:
    """Relative paths of the run files a `--testlog-out` directory holds: the compact run file
    of each run (the run.json beside it is its rendering), or the run.json of a run written in
    the full format."""
    folder = os.path.join(directory, layout.DIRECTORIES["run"])
    names = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    kept = sorted(n for n in names if not (n.endswith(".json") and n + "l" in names))
    paths = [f"{layout.DIRECTORIES['run']}/{n}" for n in kept]
    return [p for p in paths if layout.is_run_file(p)]


def pick_run(directory: str, name: str | None) -> str:
    """The run.json a name picks in `directory` (the only run when no name is given)."""
    found = runs_in_dir(directory)
    if not found:
        raise UsageError(f"no recorded run in {directory} (expected "
                         "runs/<date>__<suite>__run.jsonl written by `pytest --testlog-out`)")
    chosen = [p for p in found if name is None or name in (p, os.path.basename(p))
              or (layout.parse_artifact(p) or {}).get("suite") == name]
    if len(chosen) == 1:
        return chosen[0]
    listed = ", ".join(os.path.basename(p) for p in found)
    if not chosen:
        raise UsageError(f"no run {name!r} in {directory} (it holds {listed})")
    raise UsageError(f"{directory} holds {len(chosen)} runs ({listed}): name one, "
                       "e.g. `git testlog replay --from-dir DIR <suite>`")


def _dir_file(directory: str, path: str | None) -> bytes | None:
    """A file the run names, read only from inside `directory`."""
    if not path:
        return None
    problem = path_problem(path)
    if problem is not None:
        raise TestlogError(f"the run in {directory} names the file {path!r}: {problem}, "
                           "outside the directory (edited by hand?)")
    full = os.path.join(directory, *path.split("/"))
    if not os.path.isfile(full):
        return None
    with open(full, "rb") as handle:
        return handle.read()


def load_from_dir(directory: str, name: str | None = None) -> RecordedRun:
    if not os.path.isdir(directory):
        raise UsageError(f"no such directory: {directory} (--from-dir needs the directory "
                           "given to `pytest --testlog-out`)")
    artifact = pick_run(directory, name)
    where = os.path.join(directory, artifact)
    data = runs.run_data(_dir_file(directory, artifact) or b"", artifact, where)
    run = data["run"]
    det_path = (run.get("files") or {}).get("determinism")
    det_raw = _dir_file(directory, det_path)
    determinism = runs.check_determinism(runs.parse_run_json(det_raw, os.path.join(directory, det_path)),
                                         det_path) if det_raw and det_path else {}
    patch = _dir_file(directory, (run.get("source") or {}).get("dirty_diff_path"))
    if (run.get("source") or {}).get("dirty") and patch is None:
        raise TestlogError(f"{where} was recorded in a dirty tree but its diff is missing "
                           f"from {directory}")
    path = entropy_path(run, artifact, where)
    side = checked_entropy(_dir_file(directory, path), data, determinism,
                           os.path.join(directory, path) if path else where)
    return RecordedRun(None, artifact, data, determinism, patch or b"",
                       directory=os.path.abspath(directory), entropy=side)


def run_file_target(rev: str) -> tuple[str, str | None] | None:
    """(directory, run file) when `rev` names a --testlog-out directory or its run file."""
    if rev.endswith(("__run.json", "__run.jsonl")) and os.path.isfile(rev):
        runs_dir = os.path.dirname(os.path.abspath(rev))
        return os.path.dirname(runs_dir), os.path.basename(rev)
    if os.path.isdir(os.path.join(rev, layout.DIRECTORIES["run"])):
        return rev, None
    return None
