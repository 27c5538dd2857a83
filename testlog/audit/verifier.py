"""`git testlog verify`: signatures, chronicle, artifacts, records, seals, epochs, continuity.

All objects are read through a few batched git processes and signatures are checked in
process, so a full verify costs roughly one pass over the branch's commits and artifacts.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gitstore import (
    GOOD,
    UNSIGNED,
    UNTRUSTED,
    LogEntry,
    LogStore,
    SignatureCheck,
    TrustedCerts,
    changed_paths_between,
    commits_in_range,
    file_sha256,
    is_ancestor,
    last_change,
    object_contents,
    object_info,
)

from testlog.audit import checks
from testlog.audit import report as rp
from testlog.audit.retention import epoch_record_problems
from testlog.audit.sealcheck import seal_problems
from testlog.audit.verified import VerifiedState, load_state, save_state
from testlog.core import layout
from testlog.core.canonical import sha256_hex
from testlog.core.chronicle import RETENTION_EPOCH
from testlog.core.layout import TRAILER_EVENT_SHA256
from testlog.core.timefmt import utc_now
from testlog.errors import UsageError

CHUNK = 256          # artifact blobs read per git process: bounded memory for large run files


@dataclass(frozen=True)
class Policy:
    trusted: TrustedCerts | None
    require_signed: bool = False
    archive_dirs: tuple[str, ...] = ()
    accept_rewrite: bool = False

    @property
    def fingerprints(self) -> frozenset[str]:
        return self.trusted.fingerprints if self.trusted else frozenset()


@dataclass
class Branch:
    """What the checks share: where to read, the range, and what was learned along the way."""
    store: LogStore
    tip: str
    base: str | None
    entries: list[LogEntry]
    lines: list[bytes]
    state: VerifiedState | None
    sigs: dict[str, SignatureCheck]

    @property
    def cwd(self) -> str:
        return self.store.common_dir


def verify_branch(store: LogStore, policy: Policy, since: str | None = None) -> rp.Report:
    """Check the branch (or the commits after a verified `since`); remember the tip if clean."""
    tip = store.require_tip()
    state = load_state(store.common_dir, store.ref)
    base, notes = starting_point(store, policy, state, since, tip)
    entries = commits_in_range(store.common_dir, tip, base)
    require_trust(store.ref, entries, policy)
    report = rp.Report(store.ref, tip, "full" if base is None else f"incremental after {base[:12]}")
    report.notes += notes
    chronicle = object_contents(store.common_dir, [f"{tip}:{layout.CHRONICLE}"])
    data = next(iter(chronicle.values()), b"")
    branch = Branch(store, tip, base, entries, data.splitlines(keepends=True), state, {})
    run_checks(branch, policy, report)
    if report.ok:
        save_state(store.common_dir, store.ref, VerifiedState(
            tip, tuple(sorted(policy.fingerprints)), policy.require_signed, len(branch.lines),
            sha256_hex(data), utc_now()))
    return report


def run_checks(branch: Branch, policy: Policy, report: rp.Report) -> None:
    check_chain(branch, report)
    check_signatures(branch, policy, report)
    events = check_chronicle(branch, report)
    artifact_blobs = check_artifacts(branch, events, report)
    check_tip_files(branch, policy, artifact_blobs, report)
    check_epochs(branch, policy, events, report)
    check_continuity(branch, policy, events, report)


# -- where to start ---------------------------------------------------------------------------

def starting_point(store: LogStore, policy: Policy, state: VerifiedState | None,
                   since: str | None, tip: str) -> tuple[str | None, list[str]]:
    """The commit after which to verify (None: everything), and notes on the choice."""
    if since is None:
        return None, []
    if since == "last" and state is None:
        raise UsageError(f"nothing on {store.ref} has been verified here yet: run "
                           "`git testlog verify` without --since first")
    rev = state.tip if since == "last" and state else store.resolve(since)
    if state is None or not state.vouches_for(policy.fingerprints, policy.require_signed):
        raise UsageError(f"{since} was not verified here with these trusted keys and "
                           "signing rule: run a full `git testlog verify` first")
    if not is_ancestor(store.common_dir, state.tip, tip):
        return None, [f"the last verified tip {state.tip[:12]} is not in the history of "
                      f"{store.ref}: verifying everything"]
    if not is_ancestor(store.common_dir, rev, state.tip):
        raise UsageError(f"{since} ({rev[:12]}) is newer than the last verified tip "
                           f"{state.tip[:12]}, so it was never verified (use --since last)")
    return rev, []


def require_trust(ref: str, entries: Sequence[LogEntry], policy: Policy) -> None:
    """Signatures mean nothing without an allowlist: refuse rather than pass them unchecked."""
    if policy.trusted is not None:
        return
    why = ("--require-signed needs them" if policy.require_signed else
           f"{ref} has signed commits" if any(e.gpgsig for e in entries) else None)
    if why:
        raise UsageError(f"no trusted keys are configured and {why}: pass --trusted-keys "
                           "KEYS.asc or set trusted_keys (a key file or fingerprints) in the "
                           "[testlog] config")


# -- commits and signatures -------------------------------------------------------------------

def check_chain(branch: Branch, report: rp.Report) -> None:
    previous = branch.base
    for entry in branch.entries:
        report.count(rp.COMMITS)
        expected = (previous,) if previous else ()
        if entry.parents != expected:
            report.fail(rp.COMMITS, entry.sha, "-", f"parents {list(entry.parents)}: the log "
                        "branch must be one linear chain")
        previous = entry.sha


def check_signatures(branch: Branch, policy: Policy, report: rp.Report) -> None:
    for entry in branch.entries:
        check = (policy.trusted.check(entry.payload, entry.gpgsig) if policy.trusted and entry.gpgsig
                 else SignatureCheck(UNSIGNED, None))
        branch.sigs[entry.sha] = check
        if check.status == UNSIGNED:
            report.count(rp.UNSIGNED)
            if policy.require_signed:
                report.fail(rp.UNSIGNED, entry.sha, "-", "unsigned commit (--require-signed)")
            continue
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
        return f"gpg:{check.fingerprint}"
    return "unsigned" if check.status == UNSIGNED else None


# -- chronicle --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    entry: LogEntry
    position: int
    data: dict[str, Any]


def check_chronicle(branch: Branch, report: rp.Report) -> list[Event]:
    """Each commit adds exactly one line; each line agrees with the commit that signed it."""
    cwd, entries = branch.cwd, branch.entries
    names = [f"{e.sha}:{layout.CHRONICLE}" for e in entries]
    if branch.base:
        names.insert(0, f"{branch.base}:{layout.CHRONICLE}")
    infos = object_info(cwd, names)
    start = 0
    ends = checks.line_ends(branch.lines)
    if branch.base:
        base_info = infos.pop(0)
        start = ends.get(base_info.size, 0) if base_info else 0
    check_verified_prefix(branch, report)
    roots = [not e.parents for e in entries]
    steps = checks.chronicle_steps([i.size if i else None for i in infos], roots, ends, start)
    events = []
    for entry, info, step in zip(entries, infos, steps):
        report.count(rp.EVENTS)
        if step.problem:
            report.fail(rp.EVENTS, entry.sha, layout.CHRONICLE, step.problem)
        if step.position is not None:
            event = event_of(branch, entry, info.sha if info else "", step.position, report)
            if event is not None:
                events.append(event)
    return events


def check_verified_prefix(branch: Branch, report: rp.Report) -> None:
    """The chronicle as it was at the last verified tip must still open today's chronicle."""
    state = branch.state
    if state is None or not is_ancestor(branch.cwd, state.tip, branch.tip):
        return
    if sha256_hex(b"".join(branch.lines[:state.chronicle_lines])) != state.chronicle_sha256:
        report.fail(rp.EVENTS, branch.tip, layout.CHRONICLE, "events verified at "
                    f"{state.tip[:12]} were rewritten since")


def event_of(branch: Branch, entry: LogEntry, blob: str, position: int,
             report: rp.Report) -> Event | None:
    line = branch.lines[position - 1]
    event, problem = checks.parse_event(line)
    if event is None:
        report.fail(rp.EVENTS, entry.sha, layout.CHRONICLE, f"line {position}: {problem}")
        return None
    problems = checks.event_problems(line, event, entry.trailers,
                                     signer_label(branch.sigs[entry.sha]), TRAILER_EVENT_SHA256)
    if TRAILER_EVENT_SHA256 not in entry.trailers and blob != git_blob_id(branch.lines[:position]):
        problems.append("chronicle.ndjson at this commit is not the tip's first "
                        f"{position} lines")
    for problem in problems:
        report.fail(rp.EVENTS, entry.sha, layout.CHRONICLE, f"line {position}: {problem}")
    return Event(entry, position, event)


def git_blob_id(lines: Sequence[bytes]) -> str:
    """The blob id git gives these bytes (the slow path, for commits without a digest trailer)."""
    data = b"".join(lines)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- artifacts and records --------------------------------------------------------------------

def check_artifacts(branch: Branch, events: list[Event], report: rp.Report) -> dict[str, str]:
    """Each event's hash against its artifact; run files' records. {blob: commit} checked."""
    infos = object_info(branch.cwd, [f"{e.entry.sha}:{e.data['artifact']}" for e in events])
    wanted: dict[str, list[Event]] = {}
    for event, info in zip(events, infos):
        report.count(rp.ARTIFACTS)
        if info is None or info.kind != "blob":
            report.fail(rp.ARTIFACTS, event.entry.sha, str(event.data["artifact"]),
                        "the event's artifact is not in the commit")
        else:
            wanted.setdefault(info.sha, []).append(event)
    for blob, data in read_blobs(branch.cwd, list(wanted)):
        for event in wanted[blob]:
            check_artifact(event, data, report)
    return {blob: events_[0].entry.sha for blob, events_ in wanted.items()}


def check_artifact(event: Event, data: bytes, report: rp.Report) -> None:
    sha, path = event.entry.sha, str(event.data["artifact"])
    if sha256_hex(data) != event.data["hash"]:
        report.fail(rp.ARTIFACTS, sha, path, "content does not match the chronicle's hash")
    if layout.is_run_file(path):
        check_run_file(sha, path, data, report)


def check_run_file(sha: str, path: str, data: bytes, report: rp.Report) -> None:
    count, problems = checks.run_file_problems(data)
    report.count(rp.RECORDS, count)
    for problem in problems:
        report.fail(rp.RECORDS, sha, path, problem)


def read_blobs(cwd: str, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    for start in range(0, len(shas), CHUNK):
        yield from object_contents(cwd, shas[start:start + CHUNK]).items()


# -- files at the tip: run files and seals ----------------------------------------------------

def tip_paths(branch: Branch) -> list[str]:
    """Every path at the tip (full verify) or those changed since the last verified tip."""
    if branch.base is None or branch.state is None:
        return branch.store.paths(rev=branch.tip)
    return changed_paths_between(branch.cwd, branch.state.tip, branch.tip)


def check_tip_files(branch: Branch, policy: Policy, checked: dict[str, str],
                    report: rp.Report) -> None:
    paths = tip_paths(branch)
    runs = [p for p in paths if layout.is_run_file(p)]
    infos = object_info(branch.cwd, [f"{branch.tip}:{p}" for p in runs])
    fresh = {i.sha: p for p, i in zip(runs, infos) if i is not None and i.sha not in checked}
    for blob, data in read_blobs(branch.cwd, list(fresh)):
        count, problems = checks.run_file_problems(data)
        report.count(rp.RECORDS, count)
        if problems:        # name the commit that wrote this version (a log walk: only on failure)
            sha = last_change(branch.cwd, branch.tip, fresh[blob]) or branch.tip
            for problem in problems:
                report.fail(rp.RECORDS, sha, fresh[blob], problem)
    days = sorted({d for d in (seal_day_of(p) for p in paths) if d is not None})
    for day in days:
        check_seal(branch, policy, layout.audit_paths(day), report)


def seal_day_of(path: str):
    for suffix in (".zip.sig", ".manifest.sha256"):
        if path.endswith(suffix):
            return layout.seal_day(path[: -len(suffix)] + ".zip")
    return layout.seal_day(path)


def check_seal(branch: Branch, policy: Policy, paths: dict[str, str], report: rp.Report) -> None:
    report.count(rp.SEALS)
    names = [f"{branch.tip}:{paths[k]}" for k in ("zip", "sig", "manifest")]
    infos = object_info(branch.cwd, names)
    blobs = object_contents(branch.cwd, [i.sha for i in infos if i is not None])
    zip_, sig, manifest = (blobs.get(i.sha) if i else None for i in infos)
    check = None
    if zip_ is not None and sig is not None:
        check = policy.trusted.check(zip_, sig) if policy.trusted else SignatureCheck(UNTRUSTED, None)
    problems = seal_problems(paths["zip"], zip_, manifest, sig is not None, check)
    for key, problem in problems:
        sha = last_change(branch.cwd, branch.tip, paths[key]) or branch.tip
        report.fail(rp.SEALS, sha, paths[key], problem)


# -- epochs and continuity --------------------------------------------------------------------

def check_epochs(branch: Branch, policy: Policy, events: list[Event], report: rp.Report) -> None:
    for event in events:
        if event.data["event"] != RETENTION_EPOCH:
            continue
        report.count(rp.EPOCHS)
        entry = event.entry
        if entry.parents:
            report.fail(rp.EPOCHS, entry.sha, "-", "a retention epoch must be a root commit")
        elif not branch.sigs[entry.sha].ok:
            report.fail(rp.EPOCHS, entry.sha, "-", "retention epoch not signed by a trusted key "
                        f"({branch.sigs[entry.sha].status}): refusing to accept the restart")
        else:
            check_epoch_record(branch, policy, event, report)


def epoch_record_of(branch: Branch, event: Event) -> tuple[dict | None, list[str]]:
    name = f"{event.entry.sha}:{event.data['artifact']}"
    data = object_contents(branch.cwd, [i.sha for i in object_info(branch.cwd, [name]) if i])
    return epoch_record_problems(next(iter(data.values()), b""))


def check_epoch_record(branch: Branch, policy: Policy, event: Event, report: rp.Report) -> None:
    record, problems = epoch_record_of(branch, event)
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


def check_continuity(branch: Branch, policy: Policy, events: list[Event],
                     report: rp.Report) -> None:
    """Flag a branch that no longer contains the tip verified last time (rollback, fork)."""
    state = branch.state
    if state is None:
        report.notes.append("first verify of this branch here: its tip is remembered from now on")
        return
    report.count(rp.CONTINUITY)
    if is_ancestor(branch.cwd, state.tip, branch.tip) or continues_through_epoch(branch, events):
        return
    message = (f"rollback or fork: the last verified tip {state.tip[:12]} (verified "
               f"{state.verified_at}) is not in the history of {branch.store.ref}")
    if policy.accept_rewrite:
        report.notes.append(message + " (accepted: --accept-rewrite)")
    else:
        report.fail(rp.CONTINUITY, branch.tip, "-", message)


def continues_through_epoch(branch: Branch, events: list[Event]) -> bool:
    """A trusted epoch whose previous tip is, or descends from, the last verified tip."""
    for event in events:
        if event.data["event"] != RETENTION_EPOCH or not branch.sigs[event.entry.sha].ok:
            continue
        record, _ = epoch_record_of(branch, event)
        last = branch.state.tip if branch.state else None
        if record and last and (record["previous_tip"] == last or
                                is_ancestor(branch.cwd, last, record["previous_tip"])):
            return True
    return False
