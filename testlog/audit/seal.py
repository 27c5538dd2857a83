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
from testlog.audit.intoto import run_statement, statement_name
from testlog.core import layout
from testlog.core.chronicle import AUDIT_SEALED, TEST_SUITE_EXECUTED
from testlog.core.layout import TRAILER_EVENT, TRAILER_SEAL_DATE
from testlog.errors import TestlogError, UsageError
from testlog.store.events import commit_event
from testlog.store.runs import check_run_data

SUPERSEDED_DIR = "superseded"        # superseded/<log commit, 12 hex>/<the file's own path>


@dataclass(frozen=True)
class Seal:
    day: date
    paths: dict[str, str]           # zip, sig, manifest paths on the branch
    zip_bytes: bytes
    runs: int
    members: int


def sealed_paths(paths: Sequence[str], day: date | None = None,
                 changed: Collection[str] | None = None) -> list[str]:
    """Files of the sealed directories that belong to the period: dated `day`, or changed."""
    def wanted(path: str) -> bool:
        if path.split("/", 1)[0] not in layout.SEALED_DIRS:
            return False
        return path in changed if changed is not None else layout.artifact_day(path) == day
    return sorted(p for p in paths if wanted(p))


def split_superseded(path: str) -> tuple[str | None, str]:
    """(log commit, the file's own path) of a superseded member; (None, path) otherwise."""
    parts = path.split("/", 2)
    if len(parts) == 3 and parts[0] == SUPERSEDED_DIR:
        return parts[1], parts[2]
    return None, path


def determinism_for(run_path: str, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The run's determinism file (its seeds and RNG states: how it was configured), if sealed."""
    commit, own = split_superseded(run_path)
    parsed = layout.parse_artifact(own)
    if parsed is None:
        return {}
    path = f"determinism/{parsed['date']}__{parsed['suite']}__determinism.json"
    if commit is not None:
        path = f"{SUPERSEDED_DIR}/{commit}/{path}"
    return {path: files[path]} if path in files else {}


def is_sealed_run(path: str) -> bool:
    return layout.is_run_file(split_superseded(path)[1])


def member_statement_name(path: str) -> str:
    commit, own = split_superseded(path)
    name = statement_name(own)
    return name if commit is None else name.removesuffix(".intoto.json") + f"@{commit}.intoto.json"


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


def seal_members(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The zip's members: the files, one in-toto Statement per run, and the inner manifest."""
    members = dict(files)
    for path in sorted(p for p in files if is_sealed_run(p)):
        try:
            check_run_data(json.loads(files[path]), path)
        except ValueError:
            raise TestlogError(f"cannot seal {path}: it is not valid JSON (edited by hand?)") from None
        try:
            statement = run_statement(path, files[path], determinism_for(path, files))
        except (ValueError, AttributeError) as exc:
            raise TestlogError(f"cannot seal {path}: it is not a readable run file ({exc})") from None
        members[member_statement_name(path)] = (json.dumps(statement, indent=2, sort_keys=True)
                                                + "\n").encode()
    members[INNER_MANIFEST] = sha256sum_manifest(members)
    return members


def build_seal(day: date, files: Mapping[str, bytes]) -> Seal:
    runs = sum(1 for p in files if is_sealed_run(p))
    members = seal_members(files)
    return Seal(day, layout.audit_paths(day), deterministic_zip(members), runs, len(members))


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
        raise UsageError("sealing needs a signing key: pass --sign-key KEYID, or set "
                           "git config user.signingkey (or sign_key in the [testlog] config)")
    signature = store.signer.sign(seal.zip_bytes) + b"\n"
    manifest = sha256sum_manifest({os.path.basename(seal.paths["zip"]): seal.zip_bytes})
    files = {seal.paths["zip"]: seal.zip_bytes, seal.paths["sig"]: signature,
             seal.paths["manifest"]: manifest}
    summary = f"{AUDIT_SEALED} {seal.day.isoformat()} {seal.runs} runs {seal.members} files"
    return commit_event(store, files, event=AUDIT_SEALED, artifact=seal.paths["zip"],
                        verdict="SEALED", summary=summary,
                        trailers={TRAILER_SEAL_DATE: seal.day.isoformat()})
