"""`git testlog verify`: every chain of the log, commit by commit: one linear chain, signed by a
trusted key, one event that agrees with its commit and hashes its artifact, run files whose
records check out, seals, retention epochs, and no rollback since the last verify.

Streaming: commits and artifacts are read one at a time from one `git cat-file` process and
dropped once checked, so memory does not grow with the history (a run file can be 100 MB and
is held once, by itself). Signatures are checked in process (pysequoia).
"""
from __future__ import annotations

import os
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
    TreeProblem,
    TrustedCerts,
    changed_paths_between,
    commit_ids,
    file_sha256,
    is_ancestor,
    last_change,
    parse_raw_commit,
    path_problem,
    shallow_commits,
    unsafe_trees,
)

from testlog.audit import checks
from testlog.audit import report as rp
from testlog.audit.retention import epoch_record_problems
from testlog.audit.sealcheck import seal_problems
from testlog.audit.verified import VerifiedState, load_state, save_state
from testlog.core import layout
from testlog.core.canonical import sha256_hex
from testlog.core.chronicle import RETENTION_EPOCH
from testlog.core.layout import TRAILER_EVENT_RECORD, TRAILER_EVENT_SHA256, TRAILER_PREVIOUS_EVENT
from testlog.core.timefmt import utc_now
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


def verify_log(store: LogStore, policy: Policy, since: str | None = None) -> list[rp.Report]:
    """Every chain of the log (the own branch first), each remembered when it verifies."""
    chains = store.require_chains()
    if policy.require_signed and policy.trusted is None:
        raise UsageError("no trusted keys are configured and --require-signed needs them: "
                           "pass --trusted-keys KEYS.asc or set trusted_keys (a key file or "
                           "fingerprints) in the [testlog] config")
    named = store.chain_of(store.resolve(since)) if since not in (None, "last") else None
    states = {ref: load_state(store.common_dir, ref) for ref in chains}
    if since == "last" and not any(states.values()):
        raise UsageError(f"nothing on {store.ref} has been verified here yet: run "
                           "`git testlog verify` without --since first")
    return [verify_chain(store, ref, tip, policy, since if ref == named or since == "last"
                         else None, states[ref]) for ref, tip in chains.items()]


def verify_chain(store: LogStore, ref: str, tip: str, policy: Policy, since: str | None,
                 state: VerifiedState | None) -> rp.Report:
    """Check one chain (or its commits after a verified `since`); remember its tip if clean."""
    base, notes = starting_point(store, ref, policy, state, since, tip)
    report = rp.Report(ref, tip, "full" if base is None else f"incremental after {base[:12]}")
    report.notes += notes
    with ObjectStream(store.common_dir) as stream:
        found = stream.read(f"{tip}:{layout.CHRONICLE}")
        data = found[2] if found else b""
        lines = data.splitlines(keepends=True)
        ends = checks.line_ends(lines)
        start = 0
        if base is not None:
            info = stream.info(f"{base}:{layout.CHRONICLE}")
            start = ends.get(info[2], 0) if info else 0
        chain = Chain(store, ref, tip, base, state, stream, lines, checks.ChronicleWalk(ends, start))
        chain.previous_event = base_event(chain, start) if base else None
        check_verified_prefix(chain, report)
        safe = check_trees(chain, report)
        previous = base
        shallow = shallow_commits(store.common_dir)
        for sha in commit_ids(store.common_dir, tip, base):
            if previous is None and sha in shallow:
                previous = shallow_start(chain, sha, report)
            check_commit(chain, policy, sha, previous, report)
            previous = sha
        if safe:        # nothing is read from the tip's tree by path when a tree is unsafe
            check_tip_files(chain, policy, report)
        check_continuity(chain, policy, report)
    if report.ok:
        save_state(store.common_dir, ref, VerifiedState(
            tip, tuple(sorted(policy.fingerprints)), policy.require_signed, len(lines),
            sha256_hex(data), utc_now()))
    return report


# -- where to start ---------------------------------------------------------------------------

def starting_point(store: LogStore, ref: str, policy: Policy, state: VerifiedState | None,
                   since: str | None, tip: str) -> tuple[str | None, list[str]]:
    """The commit after which to verify (None: everything), and notes on the choice."""
    if since is None:
        return None, []
    if since == "last" and state is None:
        return None, [f"{ref} was never verified here: verifying it in full"]
    rev = state.tip if since == "last" and state else store.resolve(since)
    if state is None:
        raise UsageError(f"{since} was not verified here: run a full `git testlog verify` "
                         "first (without --since)")
    weaker = state.weaker_than(policy.fingerprints, policy.require_signed)
    if weaker:
        raise UsageError(f"the last verify here ({state.tip[:12]}, {state.verified_at}) "
                         f"{weaker}, a weaker policy than this one: --since cannot extend it; "
                         "run a full `git testlog verify` (without --since) with these keys "
                         "to make a new baseline")
    if not is_ancestor(store.common_dir, state.tip, tip):
        return None, [f"the last verified tip {state.tip[:12]} is not in the history of "
                      f"{ref}: verifying everything"]
    if not is_ancestor(store.common_dir, rev, state.tip):
        raise UsageError(f"{since} ({rev[:12]}) is newer than the last verified tip "
                           f"{state.tip[:12]}, so it was never verified (use --since last)")
    return rev, []


def shallow_start(chain: Chain, sha: str, report: rp.Report) -> str | None:
    """The oldest commit here is a shallow fetch's cut (`fetch --since`): verify from it as
    from a verified base, its parent (not here) taken as given, and say so."""
    found = chain.stream.read(sha)
    if found is None or found[1] != "commit":
        return None
    entry = parse_raw_commit(sha, found[2])
    report.notes.append(f"history before {sha[:12]} was not fetched (a shallow fetch, "
                        "`git testlog fetch --since`): verified from there")
    size = chain_size(chain, entry)
    if size is not None:                 # a first-format chronicle: start at its last line
        chain.walk.before = max(chain.walk.ends.get(size, 1) - 1, 0)
    return entry.parents[0] if entry.parents else None


def check_trees(chain: Chain, report: rp.Report) -> bool:
    """Every tree of the commits to check holds only files and folders with safe names
    (treecheck); True when none fails. One git walk of what each commit changes."""
    problems: list[TreeProblem] = unsafe_trees(chain.cwd, [chain.tip],
                                               [chain.base] if chain.base else [])
    for problem in problems:
        report.fail(rp.TREES, chain.tip, problem.path, f"unsafe entry: {problem.problem} "
                    "(nothing was read from it)")
    return not problems


# -- one commit -------------------------------------------------------------------------------

def check_commit(chain: Chain, policy: Policy, sha: str, previous: str | None,
                 report: rp.Report) -> None:
    found = chain.stream.read(sha)
    if found is None or found[1] != "commit":
        report.fail(rp.COMMITS, sha, "-", "commit object missing (run `git fsck`)")
        return
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
    if event is not None:
        check_artifact(chain, policy, event, report)
        if event.data["event"] == RETENTION_EPOCH:
            check_epoch(chain, policy, event, report)


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


def base_event(chain: Chain, start: int) -> dict[str, Any] | None:
    """The event of the commit an incremental verify starts after."""
    found = chain.stream.read(chain.base or "")
    if found is None:
        return None
    entry = parse_raw_commit(chain.base or "", found[2])
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


def check_verified_prefix(chain: Chain, report: rp.Report) -> None:
    """The chronicle as it was at the last verified tip must still open today's chronicle."""
    state = chain.state
    if state is None or not chain.lines or not is_ancestor(chain.cwd, state.tip, chain.tip):
        return
    if sha256_hex(b"".join(chain.lines[:state.chronicle_lines])) != state.chronicle_sha256:
        report.fail(rp.EVENTS, chain.tip, layout.CHRONICLE, "events verified at "
                    f"{state.tip[:12]} were rewritten since")


def git_blob_id(lines: list[bytes]) -> str:
    """The blob id git gives these bytes (commits of the first format without a digest)."""
    import hashlib
    data = b"".join(lines)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- artifacts and records --------------------------------------------------------------------

def check_artifact(chain: Chain, policy: Policy, event: Event, report: rp.Report) -> None:
    sha, path = event.entry.sha, str(event.data.get("artifact"))
    report.count(rp.ARTIFACTS)
    if path_problem(path) is not None:
        report.fail(rp.ARTIFACTS, sha, "-", f"the event's artifact path {path!r}: "
                    f"{path_problem(path)}")
        return
    found = chain.stream.read(f"{sha}:{path}")
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


# -- files at the tip: run files and seals ----------------------------------------------------

def tip_paths(chain: Chain) -> list[str]:
    """Every path at the tip (full verify) or those changed since the last verified tip."""
    if chain.base is None or chain.state is None:
        return chain.store.paths(rev=chain.tip)
    return changed_paths_between(chain.cwd, chain.state.tip, chain.tip)


def check_tip_files(chain: Chain, policy: Policy, report: rp.Report) -> None:
    paths = tip_paths(chain)
    for path in (p for p in paths if layout.is_run_file(p)):
        info = chain.stream.info(f"{chain.tip}:{path}")
        if info is None or info[0] in chain.checked:
            continue
        found = chain.stream.read(info[0])
        if found is None:
            continue
        count, problems = run_file_result(chain, policy, info[0], path, found[2])
        report.count(rp.RECORDS, count)
        if problems:        # name the commit that wrote this version (a log walk: only on failure)
            sha = last_change(chain.cwd, chain.tip, path) or chain.tip
            for problem in problems:
                report.fail(rp.RECORDS, sha, path, problem)
    for day in sorted({d for d in (seal_day_of(p) for p in paths) if d is not None}):
        check_seal(chain, policy, layout.audit_paths(day), report)


def seal_day_of(path: str) -> Any:
    for suffix in (".zip.sig", ".manifest.sha256"):
        if path.endswith(suffix):
            return layout.seal_day(path[: -len(suffix)] + ".zip")
    return layout.seal_day(path)


def check_seal(chain: Chain, policy: Policy, paths: dict[str, str], report: rp.Report) -> None:
    report.count(rp.SEALS)
    found = [chain.stream.read(f"{chain.tip}:{paths[k]}") for k in ("zip", "sig", "manifest")]
    zip_, sig, manifest = (item[2] if item else None for item in found)
    check = None
    if zip_ is not None and sig is not None:
        check = policy.trusted.check(zip_, sig) if policy.trusted else SignatureCheck(UNTRUSTED, None)
    for key, problem in seal_problems(paths["zip"], zip_, manifest, sig is not None, check):
        sha = last_change(chain.cwd, chain.tip, paths[key]) or chain.tip
        report.fail(rp.SEALS, sha, paths[key], problem)


# -- epochs and continuity --------------------------------------------------------------------

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


def check_continuity(chain: Chain, policy: Policy, report: rp.Report) -> None:
    """Flag a chain that no longer contains the tip verified last time (rollback, fork)."""
    state = chain.state
    if state is None:
        report.notes.append(f"first verify of {chain.ref} here: its tip is remembered from now on")
        return
    report.count(rp.CONTINUITY)
    if is_ancestor(chain.cwd, state.tip, chain.tip) or continues_through_epoch(chain):
        return
    message = (f"rollback or fork: the last verified tip {state.tip[:12]} (verified "
               f"{state.verified_at}) is not in the history of {chain.ref}")
    if policy.accept_rewrite:
        report.notes.append(message + " (accepted: --accept-rewrite)")
    else:
        report.fail(rp.CONTINUITY, chain.tip, "-", message)


def continues_through_epoch(chain: Chain) -> bool:
    """A trusted epoch whose previous tip is, or descends from, the last verified tip."""
    last = chain.state.tip if chain.state else None
    for event in chain.epochs:
        if not chain.sigs[event.entry.sha].ok:
            continue
        record, _ = epoch_record_of(chain, event)
        if record and last and (record["previous_tip"] == last or
                                is_ancestor(chain.cwd, last, record["previous_tip"])):
            return True
    return False
