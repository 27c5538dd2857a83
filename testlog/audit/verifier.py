"""`git testlog verify`: every chain of the log: the checks of each commit (commitchecks), run in
stretches on every core for a long chain (stretches: each also asks git what its commits
change in their trees, for unsafe names); then the files at the tip (run files, seals), and no
rollback since the last verify.
"""
from __future__ import annotations

from typing import Any

from gitstore import (
    UNTRUSTED,
    LogStore,
    ObjectStream,
    SignatureCheck,
    TreeProblem,
    changed_paths_between,
    first_parents,
    is_ancestor,
    last_change,
    shallow_commits,
    unsafe_trees,
)

from testlog.audit import checks
from testlog.audit import report as rp
from testlog.audit.commitchecks import (
    Chain,
    Policy,
    check_range,
    epoch_record_of,
    event_of,
    run_file_result,
)
from testlog.audit.sealcheck import seal_problems
from testlog.audit.stretches import check_in_stretches
from testlog.audit.verified import VerifiedState, load_state, save_state
from testlog.core import layout
from testlog.core.canonical import sha256_hex
from testlog.core.timefmt import utc_now
from testlog.errors import UsageError

__all__ = ["Policy", "verify_log"]


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
        chain.previous_event = event_of(chain, base, start) if base else None
        check_verified_prefix(chain, report)
        safe = check_commits(chain, policy, report)
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


def check_commits(chain: Chain, policy: Policy, report: rp.Report) -> bool:
    """Every commit to check, and every tree they hold (True when no tree is unsafe)."""
    shallow = shallow_commits(chain.cwd)
    commits = first_parents(chain.cwd, [chain.tip], [chain.base] if chain.base else [])
    if chain.lines:         # the first format: its chronicle is walked from the first commit
        safe = check_trees(chain, report)
        check_range(chain, policy, [sha for sha, _ in commits], chain.base, shallow, report)
        return safe
    results = check_in_stretches(chain, policy, commits, shallow)
    unsafe = {(p.path, p.problem): p for result in results for p in result.unsafe}
    report_unsafe(chain, report, list(unsafe.values()))
    for result in results:
        result.add_to(chain, report)
    return not unsafe


def check_trees(chain: Chain, report: rp.Report) -> bool:
    """Every tree of the commits to check holds only files and folders with safe names
    (treecheck); True when none fails. One git walk of what each commit changes."""
    problems = unsafe_trees(chain.cwd, [chain.tip], [chain.base] if chain.base else [])
    report_unsafe(chain, report, problems)
    return not problems


def report_unsafe(chain: Chain, report: rp.Report, problems: list[TreeProblem]) -> None:
    for problem in problems:
        report.fail(rp.TREES, chain.tip, problem.path, f"unsafe entry: {problem.problem} "
                    "(nothing was read from it)")


def check_verified_prefix(chain: Chain, report: rp.Report) -> None:
    """The chronicle as it was at the last verified tip must still open today's chronicle."""
    state = chain.state
    if state is None or not chain.lines or not is_ancestor(chain.cwd, state.tip, chain.tip):
        return
    if sha256_hex(b"".join(chain.lines[:state.chronicle_lines])) != state.chronicle_sha256:
        report.fail(rp.EVENTS, chain.tip, layout.CHRONICLE, "events verified at "
                    f"{state.tip[:12]} were rewritten since")


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
