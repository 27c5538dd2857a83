"""`git testlog seal`: a period's runs/timing/determinism/summaries as one signed, deterministic
zip, with a `sha256sum` manifest and an in-toto Statement per run inside."""
from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from gitstore import LogStore, object_contents, object_info

from testlog.audit.bundlefile import INNER_MANIFEST, deterministic_zip, sha256sum_manifest
from testlog.audit.intoto import run_statement, sharded_statement, statement_name
from testlog.core import branchjson, layout
from testlog.core.chronicle import AUDIT_SEALED, TEST_SUITE_EXECUTED
from testlog.core.layout import TRAILER_EVENT, TRAILER_SEAL_DATE
from testlog.core.shards import missing_text
from testlog.errors import TestlogError, UsageError
from testlog.store.events import commit_event
from testlog.store.runs import check_run_data
from testlog.store.state import CHAINS_PREFIX, LEGACY_PREFIX

SUPERSEDED_DIR = "superseded"        # superseded/<log commit, 12 hex>/<the file's own path>
CHAINS_DIR = "chains"                # chains/<writer>/<path>: another writer's files
LEGACY_DIR = "legacy"                # legacy/<remote>/<path>: a remote's first-format branch


@dataclass(frozen=True)
class Seal:
    day: date
    paths: dict[str, str]           # zip, sig, manifest paths on the branch
    zip_bytes: bytes
    runs: int
    members: int
    notes: tuple[str, ...] = ()     # sharded runs sealed without all their shards


SHARDED_INDEX = "sharded-runs.json"
SHARDED_ATTESTATIONS = "attestations/sharded"


def sealed_paths(paths: Sequence[str], day: date | None = None,
                 changed: Collection[str] | None = None) -> list[str]:
    """Files of the sealed directories that belong to the period: dated `day`, or changed."""
    def wanted(path: str) -> bool:
        if path.split("/", 1)[0] not in layout.SEALED_DIRS:
            return False
        return path in changed if changed is not None else layout.artifact_day(path) == day
    return sorted(p for p in paths if wanted(p))


def member_prefix(chain_ref: str) -> str:
    """Where another writer's files go in the zip: chains/<writer>/ (legacy/<remote>/ for a
    remote's first-format branch), so that writers' files of the same name stay apart."""
    for ref_prefix, folder in ((CHAINS_PREFIX, CHAINS_DIR), (LEGACY_PREFIX, LEGACY_DIR)):
        if chain_ref.startswith(ref_prefix):
            return f"{folder}/{chain_ref[len(ref_prefix):]}/"
    raise TestlogError(f"{chain_ref} is not a chain of the log")


def split_chain(path: str) -> tuple[str, str]:
    """(chains/<writer>/ or legacy/<remote>/, the rest) of another writer's member; ("", path)
    for the own chain's."""
    parts = path.split("/", 2)
    if len(parts) == 3 and parts[0] in (CHAINS_DIR, LEGACY_DIR):
        return f"{parts[0]}/{parts[1]}/", parts[2]
    return "", path


def split_superseded(path: str) -> tuple[str | None, str]:
    """(log commit, the file's own path) of a superseded member; (None, path) otherwise."""
    parts = path.split("/", 2)
    if len(parts) == 3 and parts[0] == SUPERSEDED_DIR:
        return parts[1], parts[2]
    return None, path


def determinism_for(run_path: str, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The run's determinism file (its seeds and RNG states: how it was configured), if sealed."""
    chain, rest = split_chain(run_path)
    commit, own = split_superseded(rest)
    parsed = layout.parse_artifact(own)
    if parsed is None:
        return {}
    path = f"determinism/{parsed['date']}__{parsed['suite']}__determinism.json"
    if commit is not None:
        path = f"{SUPERSEDED_DIR}/{commit}/{path}"
    path = chain + path
    return {path: files[path]} if path in files else {}


def is_sealed_run(path: str) -> bool:
    """A full-format run file (a compact one is sealed beside the run.json rendered from it)."""
    own = split_superseded(split_chain(path)[1])[1]
    return layout.is_run_file(own) and own.endswith(".json")


def holds_runs(files: Mapping[str, bytes]) -> bool:
    """Whether any member is a run file, of whichever format, chain or supersession."""
    return any(layout.is_run_file(split_superseded(split_chain(p)[1])[1]) for p in files)


def member_statement_name(path: str) -> str:
    chain, rest = split_chain(path)
    commit, own = split_superseded(rest)
    name = statement_name(own)
    if commit is not None:
        name = name.removesuffix(".intoto.json") + f"@{commit}.intoto.json"
    return chain + name


def period_files(store: LogStore, tip: str, day: date) -> dict[str, bytes]:
    """A chain's sealed files dated `day` at `tip`, with the runs of that day they superseded."""
    paths = sealed_paths(store.paths(rev=tip), day)
    files = read_files(store, tip, paths)
    files.update(superseded_files(store, tip, paths))
    return files


def other_chains_files(store: LogStore, day: date) -> dict[str, bytes]:
    """Every other writer's sealed files of `day`, under its member prefix."""
    out: dict[str, bytes] = {}
    for ref, tip in store.chains().items():
        if ref != store.ref:
            prefix = member_prefix(ref)
            out.update({prefix + path: data for path, data in period_files(store, tip, day).items()})
    return out


def superseded_files(store: LogStore, tip: str, paths: Sequence[str],
                     after: str | None = None) -> dict[str, bytes]:
    """Earlier runs that a later run of the same suite on the same day replaced (same file
    names): every sealed file of each such run as its log commit held it, identical copies and
    files deleted since included, keyed `superseded/<commit>/<path>`; only commits after
    `after`, when given."""
    commits = []
    for entry in store.history(tip):                 # newest first
        if entry.sha == after:
            break
        if entry.trailers.get(TRAILER_EVENT) == TEST_SUITE_EXECUTED:
            commits.append(entry.sha)
    commits.reverse()
    run_paths = [p for p in paths if layout.is_run_file(p)]
    if not commits or not run_paths:
        return {}
    infos = object_info(store.common_dir, [f"{c}:{p}" for p in run_paths for c in commits])
    current = object_info(store.common_dir, [f"{tip}:{p}" for p in run_paths])
    earlier: list[tuple[str, str]] = []               # (commit, the run file it wrote)
    for i, run_path in enumerate(run_paths):
        now = current[i]
        seen = {now.sha} if now is not None else set()
        for j, commit in enumerate(commits):
            info = infos[i * len(commits) + j]
            if info is not None and info.sha not in seen:
                seen.add(info.sha)
                earlier.append((commit, run_path))
    wanted: dict[str, str] = {}                       # member name -> "<commit>:<path>"
    for commit, run_path in earlier:
        parsed = layout.parse_artifact(run_path) or {}
        prefix = f"{parsed.get('date')}__{parsed.get('suite')}__"
        for path in store.paths(rev=commit):
            if path.split("/", 1)[0] in layout.SEALED_DIRS and \
                    path.rsplit("/", 1)[-1].startswith(prefix):
                wanted[f"{SUPERSEDED_DIR}/{commit[:12]}/{path}"] = f"{commit}:{path}"
    names = sorted(wanted)
    found = object_info(store.common_dir, [wanted[n] for n in names])
    blobs = object_contents(store.common_dir, sorted({i.sha for i in found if i is not None}))
    return {name: blobs[info.sha] for name, info in zip(names, found)
            if info is not None and info.sha in blobs}


def sealed_shards(files: Mapping[str, bytes]) -> dict[str, dict[int, str]]:
    """{run id: {shard number: its run.json member}} of the shards among the sealed runs,
    wherever they are in the zip: a shard of one run is superseded at the tip by the same
    shard of a later run that day (`tests~2of3` both), and sealed under superseded/."""
    found: dict[str, dict[int, str]] = {}
    for path in sorted(p for p in files if is_sealed_run(p)):
        data = branchjson.loads(files[path])
        run = data.get("run") if isinstance(data, dict) else None
        shard = run.get("shard") if isinstance(run, dict) else None
        if isinstance(shard, dict) and isinstance(shard.get("run_id"), str) \
                and isinstance(shard.get("index"), int) and isinstance(shard.get("count"), int):
            found.setdefault(shard["run_id"], {}).setdefault(shard["index"], path)
    return found


def sharded_members(files: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """The shards of each sharded run bundled as one run: `sharded-runs.json` (each run id,
    its shards' members, the missing ones), one in-toto Statement per complete sharded run
    over every shard's tests (`attestations/sharded/<run id>.intoto.json`); and a line for
    each run sealed without all its shards."""
    groups = sealed_shards(files)
    if not groups:
        return {}, []
    members: dict[str, bytes] = {}
    index: dict[str, object] = {}
    notes = []
    for run_id, shards in sorted(groups.items()):
        first = branchjson.loads(files[shards[min(shards)]])
        count = int(first["run"]["shard"]["count"])
        missing = [k for k in range(1, count + 1) if k not in shards]
        index[run_id] = {"count": count, "shards": {str(k): p for k, p in sorted(shards.items())},
                         "missing": missing}
        if missing:
            notes.append(f"sealed as it is: {missing_text(run_id, count, missing)}")
            continue
        statement = sharded_statement({shards[k]: files[shards[k]] for k in sorted(shards)},
                                      {p: b for k in sorted(shards)
                                       for p, b in determinism_for(shards[k], files).items()})
        name = f"{SHARDED_ATTESTATIONS}/{run_id.replace(':', '_')}.intoto.json"
        members[name] = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode()
    members[SHARDED_INDEX] = (json.dumps(index, indent=2, sort_keys=True) + "\n").encode()
    return members, notes


def seal_members(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The zip's members: the files, one in-toto Statement per run (and per sharded run), and
    the inner manifest."""
    members = dict(files)
    for path in sorted(p for p in files if is_sealed_run(p)):
        try:
            check_run_data(branchjson.loads(files[path]), path)
        except ValueError as exc:
            raise TestlogError(f"cannot seal {path}: it is {exc} (edited by hand?)") from None
        try:
            statement = run_statement(path, files[path], determinism_for(path, files))
        except (ValueError, AttributeError) as exc:
            raise TestlogError(f"cannot seal {path}: it is not a readable run file ({exc})") from None
        members[member_statement_name(path)] = (json.dumps(statement, indent=2, sort_keys=True)
                                                + "\n").encode()
    members.update(sharded_members(files)[0])        # the runs are checked by now
    members[INNER_MANIFEST] = sha256sum_manifest(members)
    return members


def build_seal(day: date, files: Mapping[str, bytes]) -> Seal:
    runs = sum(1 for p in files if is_sealed_run(p))
    members = seal_members(files)
    notes = tuple(sharded_members(files)[1])
    return Seal(day, layout.audit_paths(day), deterministic_zip(members), runs, len(members),
                notes)


def read_files(store: LogStore, tip: str, paths: Sequence[str]) -> dict[str, bytes]:
    infos = object_info(store.common_dir, [f"{tip}:{p}" for p in paths])
    blobs = object_contents(store.common_dir, [i.sha for i in infos if i is not None])
    return {p: blobs[i.sha] for p, i in zip(paths, infos) if i is not None}


def already_sealed(store: LogStore, seal: Seal) -> bool:
    """The same zip is already at the tip, with its signature and manifest: nothing to add."""
    paths = seal.paths
    if not all(store.exists(paths[k]) for k in ("zip", "sig", "manifest")):
        return False
    return store.read(paths["zip"]) == seal.zip_bytes


def commit_seal(store: LogStore, seal: Seal) -> str:
    if store.signer is None:
        raise UsageError("sealing needs a signing key: pass --sign-key KEY, or set "
                           "git config user.signingkey (or sign_key in the [testlog] config)")
    signature = store.signer.sign(seal.zip_bytes) + b"\n"
    manifest = sha256sum_manifest({os.path.basename(seal.paths["zip"]): seal.zip_bytes})
    files = {seal.paths["zip"]: seal.zip_bytes, seal.paths["sig"]: signature,
             seal.paths["manifest"]: manifest}
    summary = f"{AUDIT_SEALED} {seal.day.isoformat()} {seal.runs} runs {seal.members} files"
    return commit_event(store, files, event=AUDIT_SEALED, artifact=seal.paths["zip"],
                        verdict="SEALED", summary=summary,
                        trailers={TRAILER_SEAL_DATE: seal.day.isoformat()})
