"""The checks of `verify` on one commit at a time: one linear chain, a signature by a trusted
key, one event that agrees with its commit and hashes its artifact, run files whose records
check out, retention epochs. `check_range` runs them over a stretch of a chain, oldest first;
what they find goes into a Report.

Streaming: commits come one at a time from one `git cat-file` process (asked ahead, so no
commit costs a round trip), the artifact each names from another, and both are dropped once
checked, so memory does not grow with the history (a run file can be 100 MB and is held once,
by itself). Signatures are checked in process (pysequoia).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitstore import (
    GOOD,
    UNSIGNED,
    UNTRUSTED,
    LogEntry,
    LogStore,
    ObjectStream,
    SignatureCheck,
    TrustedCerts,
    file_sha256,
    parse_raw_commit,
    path_problem,
)

from testlog.audit import checks
from testlog.audit import report as rp
from testlog.audit.retention import epoch_record_problems
from testlog.audit.verified import VerifiedState
from testlog.core import layout
from testlog.core.canonical import sha256_hex
from testlog.core.chronicle import RETENTION_EPOCH
from testlog.core.layout import TRAILER_EVENT_RECORD, TRAILER_EVENT_SHA256, TRAILER_PREVIOUS_EVENT
from testlog.errors import UsageError
from testlog.rng import seeded_digest
from testlog.store.events import event_digest


@dataclass(frozen=True)
class Policy:
    trusted: TrustedCerts | None
    require_signed: bool = False
    archive_dirs: tuple[str, ...] = ()
    accept_rewrite: bool = False
    deep: bool = False           # rebuild every record of compact run files

    @property
    def fingerprints(self) -> frozenset[str]:
        return self.trusted.fingerprints if self.trusted else frozenset()


@dataclass(frozen=True)
class Event:
    entry: LogEntry
    data: dict[str, Any]


@dataclass
class Chain:
    """What the checks of one chain share while its commits stream by."""
    store: LogStore
    ref: str
    tip: str
    base: str | None
    state: VerifiedState | None
    stream: ObjectStream
    lines: list[bytes]                       # the tip's chronicle.ndjson (first format), if any
    walk: checks.ChronicleWalk
    sigs: dict[str, SignatureCheck] = field(default_factory=dict)
    checked: dict[str, tuple[int, list[str]]] = field(default_factory=dict)   # run-file blobs
    epochs: list[Event] = field(default_factory=list)
    previous_event: dict[str, Any] | None = None     # the event of the last commit checked

    @property
    def cwd(self) -> str:
        return self.store.common_dir


# -- a stretch of a chain ---------------------------------------------------------------------

BATCH = 64      # commits checked before their artifacts are read, all asked for at once


@dataclass
class Checked:
    """A commit whose own checks ran: what they found, its event, and where its artifact is
    read (None: nowhere, for the path is one never to read)."""
    found: rp.Report
    event: Event | None
    artifact: str | None = None


def check_range(chain: Chain, policy: Policy, shas: Sequence[str], previous: str | None,
                shallow: frozenset[str], report: rp.Report,
                files: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Check the commits `shas` (oldest first) whose first should have `previous` as parent.

    In batches: each commit's own checks, then the artifacts of the batch, read in one go;
    what each commit's checks find is reported in the order of the commits all the same.
    `files`: {commit: {path: blob id}} of what each commit changed (TreeChanges.files), so
    that an artifact is read by its id instead of by a path git looks up in the trees."""
    files = files or {}
    with ObjectStream(chain.cwd) as commits, ObjectStream(chain.cwd) as artifacts:
        batch: list[Checked] = []
        for sha, found in commits.read_many(shas):
            own = rp.Report(report.ref, report.tip, report.mode)
            if previous is None and sha in shallow:
                previous = shallow_start(chain, sha, found, own)
            event = check_commit(chain, policy, sha, found, previous, own)
            batch.append(Checked(own, event,
                                 artifact_name(event, files.get(sha, {})) if event else None))
            previous = sha
            if len(batch) == BATCH:
                check_artifacts(chain, policy, batch, artifacts, report)
                batch = []
        check_artifacts(chain, policy, batch, artifacts, report)


def check_artifacts(chain: Chain, policy: Policy, batch: list[Checked], artifacts: ObjectStream,
                    report: rp.Report) -> None:
    answers = artifacts.read_many([item.artifact for item in batch if item.artifact])
    for item in batch:
        report.add(item.found)
        event = item.event
        if event is None:
            continue
        found = next(answers)[1] if item.artifact else None
        check_artifact(chain, policy, event, found, report)
        if event.data["event"] == RETENTION_EPOCH:
            check_epoch(chain, policy, event, report)


def shallow_start(chain: Chain, sha: str, found: tuple[str, str, bytes] | None,
                  report: rp.Report) -> str | None:
    """The oldest commit here is a shallow fetch's cut (`fetch --since`): verify from it as
    from a verified base, its parent (not here) taken as given, and say so."""
    if found is None or found[1] != "commit":
        return None
    entry = parse_raw_commit(sha, found[2])
    report.notes.append(f"history before {sha[:12]} was not fetched (a shallow fetch, "
                        "`git testlog fetch --since`): verified from there")
    size = chain_size(chain, entry)
    if size is not None:                 # a first-format chronicle: start at its last line
        chain.walk.before = max(chain.walk.ends.get(size, 1) - 1, 0)
    return entry.parents[0] if entry.parents else None


# -- one commit -------------------------------------------------------------------------------

def check_commit(chain: Chain, policy: Policy, sha: str, found: tuple[str, str, bytes] | None,
                 previous: str | None, report: rp.Report) -> Event | None:
    """A commit's own checks (parents, signature, event, link); its event, if it has one."""
    if found is None or found[1] != "commit":
        report.fail(rp.COMMITS, sha, "-", "commit object missing (run `git fsck`)")
        return None
    entry = parse_raw_commit(sha, found[2])
    report.count(rp.COMMITS)
    report.count(rp.TREES)
    expected = (previous,) if previous else ()
    if entry.parents != expected:
        report.fail(rp.COMMITS, sha, "-", f"parents {list(entry.parents)}: the log must be one "
                    "linear chain")
    check_signature(chain, policy, entry, report)
    event = check_event(chain, entry, report)
    check_link(chain, entry, report)
    chain.previous_event = event.data if event is not None else None
    return event


def check_signature(chain: Chain, policy: Policy, entry: LogEntry, report: rp.Report) -> None:
    if entry.gpgsig and policy.trusted is None:
        raise UsageError(f"no trusted keys are configured and {chain.ref} has signed commits: "
                           "pass --trusted-keys KEYS.asc or set trusted_keys (a key file or "
                           "fingerprints) in the [testlog] config")
    check = (policy.trusted.check(entry.payload, entry.gpgsig) if policy.trusted and entry.gpgsig
             else SignatureCheck(UNSIGNED, None))
    chain.sigs[entry.sha] = check
    if check.status == UNSIGNED:
        report.count(rp.UNSIGNED)
        if policy.require_signed:
            report.fail(rp.UNSIGNED, entry.sha, "-", "unsigned commit (not signed by a "
                        "trusted key; --allow-unsigned counts it instead)")
        return
    report.count(rp.SIGNATURES)
    if not check.ok:
        report.fail(rp.SIGNATURES, entry.sha, "-", signature_problem(check))


def signature_problem(check: SignatureCheck) -> str:
    if check.status == UNTRUSTED:
        return f"signed by {check.fingerprint or 'an unnamed key'}, which is not a trusted key"
    return "bad signature: the commit changed after it was signed (or the signature is damaged)"


def signer_label(check: SignatureCheck) -> str | None:
    """What the event's `signature` field must say for this commit; None if already failing."""
    if check.status == GOOD:
        return check.label
    return "unsigned" if check.status == UNSIGNED else None


# -- events -----------------------------------------------------------------------------------

def check_event(chain: Chain, entry: LogEntry, report: rp.Report) -> Event | None:
    """The commit's event: in its Testlog-Event-Record trailer (then it must leave the
    first format's chronicle.ndjson as it was), or the one line it appended to that file."""
    report.count(rp.EVENTS)
    size = chain_size(chain, entry)
    raw = entry.trailers.get(TRAILER_EVENT_RECORD)
    if raw is not None:
        problem = chain.walk.unchanged(size) if chain.lines else None
        event, parse_problem = checks.event_record_problem(raw)
        for text in (problem, parse_problem):
            if text:
                report.fail(rp.EVENTS, entry.sha, "-", text)
        if event is None:
            return None
        problems = checks.event_problems(raw.encode(), event, entry.trailers,
                                         signer_label(chain.sigs[entry.sha]), "")
        for text in problems:
            report.fail(rp.EVENTS, entry.sha, "-", text)
        return Event(entry, event)
    return legacy_event(chain, entry, size, report)


def check_link(chain: Chain, entry: LogEntry, report: rp.Report) -> None:
    """A commit that carries its event names its parent's event (Testlog-Previous-Event): a
    commit dropped from the middle, the chain rebuilt on top, breaks that link."""
    if TRAILER_EVENT_RECORD not in entry.trailers:
        return                                   # the first format: its chronicle links them
    claimed = entry.trailers.get(TRAILER_PREVIOUS_EVENT)
    if not entry.parents:
        if claimed is not None:
            report.fail(rp.EVENTS, entry.sha, "-", "a root commit names a previous event")
        return
    if chain.previous_event is None:
        return                                   # its parent has no event: reported there
    if claimed != event_digest(chain.previous_event):
        report.fail(rp.EVENTS, entry.sha, "-", "the previous event it names is not its "
                    "parent's (a commit dropped or reordered?)")


def event_of(chain: Chain, sha: str, start: int = 0) -> dict[str, Any] | None:
    """The event of the commit a check starts after (checked already, by an earlier verify or
    by the one checking the stretch before); `start`: its line in a first-format chronicle."""
    found = chain.stream.read(sha)
    if found is None or found[1] != "commit":
        return None
    entry = parse_raw_commit(sha, found[2])
    raw = entry.trailers.get(TRAILER_EVENT_RECORD)
    if raw is not None:
        return checks.event_record_problem(raw)[0]
    line = chain.lines[start - 1] if 0 < start <= len(chain.lines) else b""
    return checks.parse_event(line)[0]


def chain_size(chain: Chain, entry: LogEntry) -> int | None:
    if not chain.lines:
        return None
    info = chain.stream.info(f"{entry.sha}:{layout.CHRONICLE}")
    return info[2] if info else None


def legacy_event(chain: Chain, entry: LogEntry, size: int | None,
                 report: rp.Report) -> Event | None:
    if not chain.lines:
        report.fail(rp.EVENTS, entry.sha, "-", "no chronicle event (neither a "
                    "Testlog-Event-Record trailer nor chronicle.ndjson)")
        return None
    step = chain.walk.step(size, not entry.parents)
    if step.problem:
        report.fail(rp.EVENTS, entry.sha, layout.CHRONICLE, step.problem)
    if step.position is None:
        return None
    line = chain.lines[step.position - 1]
    event, problem = checks.parse_event(line)
    if event is None:
        report.fail(rp.EVENTS, entry.sha, layout.CHRONICLE, f"line {step.position}: {problem}")
        return None
    problems = checks.event_problems(line, event, entry.trailers,
                                     signer_label(chain.sigs[entry.sha]), TRAILER_EVENT_SHA256)
    if TRAILER_EVENT_SHA256 not in entry.trailers:
        info = chain.stream.info(f"{entry.sha}:{layout.CHRONICLE}")
        if info is None or info[0] != git_blob_id(chain.lines[:step.position]):
            problems.append("chronicle.ndjson at this commit is not the tip's first "
                            f"{step.position} lines")
    for text in problems:
        report.fail(rp.EVENTS, entry.sha, layout.CHRONICLE, f"line {step.position}: {text}")
    return Event(entry, event)


def git_blob_id(lines: list[bytes]) -> str:
    """The blob id git gives these bytes (commits of the first format without a digest)."""
    data = b"".join(lines)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- artifacts and records --------------------------------------------------------------------

def artifact_name(event: Event, blobs: Mapping[str, str]) -> str | None:
    """How to read the artifact the event names: its blob id when the commit changed it
    (`blobs`), else `<commit>:<path>`; None for a path never to read."""
    path = str(event.data.get("artifact"))
    if path_problem(path) is not None:
        return None
    return blobs.get(path) or f"{event.entry.sha}:{path}"


def check_artifact(chain: Chain, policy: Policy, event: Event,
                   found: tuple[str, str, bytes] | None, report: rp.Report) -> None:
    """The artifact the event names (`found`: as read at artifact_name) and its records."""
    sha, path = event.entry.sha, str(event.data.get("artifact"))
    report.count(rp.ARTIFACTS)
    problem = path_problem(path) if found is None else None     # found: read at a safe path
    if problem is not None:
        report.fail(rp.ARTIFACTS, sha, "-", f"the event's artifact path {path!r}: {problem}")
        return
    if found is None or found[1] != "blob":
        report.fail(rp.ARTIFACTS, sha, path, "the event's artifact is not in the commit")
        return
    blob, _kind, data = found
    if sha256_hex(data) != event.data.get("hash"):
        report.fail(rp.ARTIFACTS, sha, path, "content does not match the event's hash")
    if layout.is_run_file(path):
        count, problems = run_file_result(chain, policy, blob, path, data)
        report.count(rp.RECORDS, count)
        for problem in problems:
            report.fail(rp.RECORDS, sha, path, problem)
        if policy.deep and path.endswith(".jsonl"):
            unheld = run_entropy_problem(chain, sha, path, data)
            if unheld is not None:
                report.fail(rp.RECORDS, sha, path, unheld)


def run_entropy_problem(chain: Chain, sha: str, path: str, data: bytes) -> str | None:
    """`--deep`: the run's OS entropy side file against the digests its records name."""
    paths = checks.entropy_paths(data, path)
    if paths is None:
        return None
    found = [chain.stream.read(f"{sha}:{p}") for p in paths]
    side, determinism = (f[2] if f is not None and f[1] == "blob" else None for f in found)
    return checks.entropy_problem(data, path, side, determinism)


def run_file_result(chain: Chain, policy: Policy, blob: str, path: str,
                    data: bytes) -> tuple[int, list[str]]:
    """(records, problems) of a run file, checked once per blob (runs repeat byte for byte)."""
    if blob not in chain.checked:
        chain.checked[blob] = (
            checks.compact_run_problems(data, path, policy.deep, seeded_digest)
            if path.endswith(".jsonl") else checks.run_file_problems(data))
    return chain.checked[blob]


# -- retention epochs -------------------------------------------------------------------------

def check_epoch(chain: Chain, policy: Policy, event: Event, report: rp.Report) -> None:
    report.count(rp.EPOCHS)
    entry = event.entry
    chain.epochs.append(event)
    if entry.parents:
        report.fail(rp.EPOCHS, entry.sha, "-", "a retention epoch must be a root commit")
    elif not chain.sigs[entry.sha].ok:
        report.fail(rp.EPOCHS, entry.sha, "-", "retention epoch not signed by a trusted key "
                    f"({chain.sigs[entry.sha].status}): refusing to accept the restart")
    else:
        check_epoch_record(chain, policy, event, report)


def epoch_record_of(chain: Chain, event: Event) -> tuple[dict[str, Any] | None, list[str]]:
    found = chain.stream.read(f"{event.entry.sha}:{event.data['artifact']}")
    return epoch_record_problems(found[2] if found else b"")


def check_epoch_record(chain: Chain, policy: Policy, event: Event, report: rp.Report) -> None:
    record, problems = epoch_record_of(chain, event)
    for problem in problems:
        report.fail(rp.EPOCHS, event.entry.sha, str(event.data["artifact"]), problem)
    if record is None:
        return
    found = [os.path.join(d, record["bundle"]) for d in policy.archive_dirs
             if os.path.isfile(os.path.join(d, record["bundle"]))]
    bundle_note = "archive not found here, not checked"
    if found:
        if file_sha256(found[0]) != record["bundle_sha256"]:
            report.fail(rp.EPOCHS, event.entry.sha, found[0], "archive bundle does not match "
                        "the SHA-256 the epoch recorded")
        bundle_note = f"archive {found[0]} sha256 ok"
    report.notes.append(f"epoch {event.entry.sha[:12]} restarts the branch after "
                        f"{record['previous_tip'][:12]} ({record.get('archived_commits', '?')} "
                        f"commits archived; {bundle_note})")
