"""All files of one recorded run, from what the session gathered: paths on the branch -> bytes.

Pure: no pytest, no git. The recorder fills a RunContext at session start and a Harvest
during the session; `run_bundle` turns them into the files and the commit's metadata.
"""
from __future__ import annotations

import base64
import csv
import dataclasses
import io
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, Protocol

from testlog.core import counts, entropy, errorinfo, layout, render, schema
from testlog.core.canonical import canonical_json, dumps_normal
from testlog.core.chronicle import TEST_SUITE_EXECUTED
from testlog.core.compact import (
    Defaults,
    Deriver,
    compact_file,
    compact_line,
    header_line,
    records_digest,
    timing_row,
)
from testlog.core.layout import (
    TRAILER_RUN_ID,
    TRAILER_SELECTION,
    TRAILER_SHARD,
    TRAILER_SOURCE_COMMIT,
    TRAILER_SOURCE_TREE,
    TRAILER_SUITE,
    TRAILER_VERDICT,
)
from testlog.core.records import Failure, TestOutcome, build_record, is_flaky
from testlog.core.shards import trailer_value
from testlog.core.timefmt import IsoClock

TIMING_COLUMNS = ("test_name", "start_ns", "end_ns", "duration_ns", "duration_ms", "memory_mb",
                  "cpu_util")


class Source(Protocol):
    """The recorded source: HEAD's commit and tree, and the diff that made the tree dirty."""
    @property
    def commit(self) -> str | None: ...
    @property
    def tree(self) -> str | None: ...
    @property
    def diff(self) -> bytes: ...
    @property
    def untracked(self) -> tuple[str, ...]: ...
    @property
    def dirty(self) -> bool: ...


def no_redaction(text: str) -> str:
    return text


def same_names(names: list[str]) -> list[str]:
    return names


@dataclass
class RunContext:
    """What is fixed when the session starts."""
    suite: str
    day: date
    base_seed: int
    session_seed: int
    started_ns: int
    source: Source | None
    pythonhashseed: str | None
    record_environment: dict[str, Any]
    run_environment: dict[str, Any]
    pytest_args: list[str]
    pytest_version: str
    reseed: bool
    full_state: bool
    randomly: dict[str, Any]
    redact: Callable[[str], str] = field(repr=False, default=no_redaction)
    rootdir: str | None = None      # pytest's rootdir, relative to the work tree ("." at its top)
    # (RNG, seed) -> the digest of the state seeding gives, for the compact run file (see
    # core/compact.py): the writer passes testlog.rng.seeded_digest; None derives nothing.
    derive: Deriver | None = field(repr=False, default=None)
    # Node ids with secrets rewritten (redaction.Redactor.names): every file shows the same ids.
    redact_names: Callable[[list[str]], list[str]] = field(repr=False, default=same_names)
    # A partial run: how it selected its tests (core/selection.Selection.as_dict, with "text").
    selection: dict[str, Any] | None = None
    # What pytest's capture saw and whether it is hashed: {"mode": fd|sys|no|tee-sys,
    # "hashed": bool}.
    capture: dict[str, Any] = field(default_factory=dict)
    # What turned recording on: "args" (--testlog, --testlog-out), "ini" (testlog = true),
    # "addopts" (--testlog in addopts) or "ini+addopts": how a reproduction command avoids
    # committing.
    record_switch: str = "args"
    # A shard of a sharded run (--testlog-shard): {"run_id", "run_id_source", "index",
    # "count"}; None for a run of its own.
    shard: dict[str, Any] | None = None
    # Whether the OS entropy the tests drew was captured (off: --testlog-no-entropy).
    entropy: bool = False


@dataclass
class Harvest:
    """What the session gathered: outcomes in completion order, captures from the test processes."""
    outcomes: list[TestOutcome] = field(default_factory=list)
    captures: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    full_states: dict[str, bytes] = field(default_factory=dict)
    session_states: dict[str, str] = field(default_factory=dict)
    collection_errors: list[tuple[str, Failure]] = field(default_factory=list)
    xdist_workers: int = 0
    exit_status: int = 0
    finished_ns: int = 0
    coverage: dict[str, Any] | None = None
    # How the session ended early, if it did: {"kind": counts.KEYBOARD_INTERRUPT|EXIT|STOPPED|
    # COLLECTION_ERRORS|INTERNAL_ERROR, "reason": str}.
    interruption: dict[str, Any] | None = None
    stopped_by_maxfail: bool = False     # -x / --maxfail stopped it (not an interruption)
    selected: int = 0                    # tests selected to run (after deselection)
    deselected: int = 0
    collection_skipped: int = 0          # modules skipped as a whole (counted "skipped")
    unfinished: list[str] = field(default_factory=list)   # tests a stop cut mid-way
    warnings: list[str] = field(default_factory=list)     # e.g. an unknown plugin's reports
    # The entropy drawn outside the tests: collector node id ("" the session) -> its dump
    # (core/entropy.py).
    entropy: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_captures(self, captures: list[dict[str, Any]]) -> None:
        for capture in captures:
            self.captures[capture["nodeid"]].append(capture)

    def all_captures(self) -> list[dict[str, Any]]:
        return [capture for captures in self.captures.values() for capture in captures]

    def rest(self, sent_outcomes: int) -> Harvest:
        """What a writer still needs once the first `sent_outcomes` outcomes and every
        capture so far were given to it: the other outcomes and the session's totals."""
        return dataclasses.replace(self, outcomes=self.outcomes[sent_outcomes:],
                                   captures=defaultdict(list),
                                   full_states=dict(self.full_states),
                                   session_states=dict(self.session_states),
                                   entropy=dict(self.entropy))


@dataclass
class RunBundle:
    """Files to commit (None deletes a stale path) and the commit's event, message and trailers."""
    files: dict[str, bytes | None]
    artifact: str
    verdict: str
    summary: str
    trailers: dict[str, str]
    timing_path: str
    # (test_name, duration_ms) of this run, also in the timing file (kept to skip re-parsing it)
    durations: list[tuple[str, float]] | None = None


def paths(ctx: RunContext) -> dict[str, str]:
    def at(category: str, ext: str) -> str:
        return layout.artifact_path(category, ext, ctx.day, ctx.suite)
    return {"run": at("run", "jsonl"), "run_log": at("run", "log"),
            "dirty_patch": at("dirty", "patch"), "determinism": at("determinism", "json"),
            "timing_csv": at("timing", "csv"), "errors_log": at("errors", "log"),
            "errors_json": at("errors", "json"), "summary_md": at("summary", "md"),
            "summary_json": at("summary", "json"), "coverage": at("coverage", "json"),
            "entropy": at("entropy", "bin"),
            # the full format's files, rendered from the compact run file on demand (export,
            # seal): a run of the same suite and day in that format is replaced
            "run_json": at("run", "json"), "timing_json": at("timing", "json")}


RENDERED = ("run_json", "timing_json")


# What the run's other files read from a record once it is encoded (run.log, the errors and the
# summary); the rest of it lives on in its canonical JSON only.
KEPT_KEYS = ("test_name", "timestamp_start", "timestamp_end", "duration_ms", "status", "seed",
             "order")
FAILING = ("FAIL", "ERROR")


class BuiltRecord(NamedTuple):
    """One test's record once encoded, with what the run's other files take from it."""
    record: dict[str, Any]             # slimmed to KEPT_KEYS (and its inputs when it failed)
    capture: dict[str, Any] | None     # only when it failed: its errors' types
    outcome: TestOutcome
    line: bytes                        # its line of the compact run file (canonical JSON)
    signature: str                     # the signed record's `signature`
    duration: tuple[str, float]        # (test_name, duration_ms)
    csv_line: str
    entropy: bytes = b""               # its chunk of the entropy side file (b"": none)


class RecordBook:
    """Each test's signed record and its canonical JSON, built as soon as both its outcome and
    its capture are known: a writer process builds them while the tests still run. The k-th
    outcome of a test takes its k-th capture (a re-run test); one whose capture never came (its
    xdist worker died) is built without one when the book closes.

    `built` holds each record slimmed to KEPT_KEYS (see BuiltRecord): a run's records as dicts
    would take ~5 KB a test."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.clock = IsoClock()
        self.built: list[BuiltRecord] = []
        self._environment_json = dumps_normal(ctx.record_environment)
        self.determinism = "seeded" if ctx.reseed else "state-stored"
        # RNG name -> whether its starting states are the seeded ones (decided once per run)
        self.derivable: dict[str, bool] = {}
        # Per nodeid, outcomes and captures not paired yet (each in arrival order).
        self._outcomes: dict[str, deque[TestOutcome]] = defaultdict(deque)
        self._captures: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        # Tests whose OS entropy was past the limit: kept as a digest only (not replayable).
        self.unkept_entropy: list[str] = []

    def add(self, outcomes: list[TestOutcome], captures: list[dict[str, Any]]) -> None:
        _rename(self.ctx, outcomes, captures)
        # In arrival order, not a set's: the first record built decides which RNGs' states
        # are stored as derived, so a set's hash order would change the file's bytes.
        touched: dict[str, None] = {}
        for outcome in outcomes:
            self._outcomes[outcome.nodeid].append(outcome)
            touched[outcome.nodeid] = None
        for capture in captures:
            self._captures[capture["nodeid"]].append(capture)
            touched[capture["nodeid"]] = None
        for nodeid in touched:           # only where something arrived: no rescans
            waiting, queue = self._outcomes.get(nodeid), self._captures.get(nodeid)
            while waiting and queue:
                self._record(waiting.popleft(), queue.popleft())

    def close(self) -> None:
        """Build the outcomes whose capture never came (in completion order)."""
        rest = [o for waiting in self._outcomes.values() for o in waiting]
        for outcome in sorted(rest, key=lambda o: o.order):
            self._record(outcome, None)
        self._outcomes.clear()

    def defaults(self) -> Defaults:
        ctx = self.ctx
        return Defaults(ctx.base_seed, ctx.record_environment, self.determinism,
                        frozenset(n for n, ok in self.derivable.items() if ok), ctx.started_ns)

    def _decide_derivable(self, record: dict[str, Any]) -> None:
        """An RNG's starting states are stored as "the seeded ones" when reseeding is on and its
        first state in this run is what seeding gives (the recorder seeds right before it
        captures: checking one test per RNG proves the derivation matches this library)."""
        for name, digest in record["rng_state"].items():
            if name not in self.derivable:
                derive = self.ctx.derive
                self.derivable[name] = bool(self.ctx.reseed and derive is not None
                                            and derive(name, record["seed"]) == digest)

    def _underived(self, record: dict[str, Any]) -> frozenset[str]:
        """The derivable RNGs whose state before this test is not what its seed gives (a
        library that seeded otherwise this once): their digests are stored, never lost."""
        derive = self.ctx.derive
        if derive is None:
            return frozenset()
        return frozenset(name for name, digest in record["rng_state"].items()
                         if self.derivable.get(name) and derive(name, record["seed"]) != digest)

    def _record(self, outcome: TestOutcome, capture: dict[str, Any] | None) -> None:
        ctx = self.ctx
        record, _data = build_record(outcome, capture, base_seed=ctx.base_seed,
                                     environment=ctx.record_environment,
                                     determinism=self.determinism, clock=self.clock,
                                     redact=ctx.redact, environment_json=self._environment_json)
        self._decide_derivable(record)
        line = compact_line(record, capture, self.defaults(), self._underived(record))
        row = timing_row(line)
        kept = {key: record[key] for key in KEPT_KEYS}
        failed = kept["status"] in FAILING or bool(outcome.failures)    # or an attempt did
        kept["inputs"] = record["inputs"] if failed else {}
        drawn = capture.get("entropy") if capture is not None else None
        if drawn and not entropy.kept(drawn):
            self.unkept_entropy.append(record["test_name"])
        self.built.append(BuiltRecord(
            kept, capture if failed else None, outcome, dumps_normal(line), record["signature"],
            (row["test_name"], row["duration_ms"]), timing_csv_line(row),
            entropy.chunk({"test": record["test_name"], "order": record["order"]}, drawn)
            if drawn else b""))


def _rename(ctx: RunContext, outcomes: list[TestOutcome], captures: list[dict[str, Any]]) -> None:
    """Node ids with secrets rewritten, in place, before anything is built from them."""
    names = list(dict.fromkeys([o.nodeid for o in outcomes] + [c["nodeid"] for c in captures]))
    renamed = ctx.redact_names(names)
    if renamed is names:
        return
    new = dict(zip(names, renamed))
    for outcome in outcomes:
        outcome.nodeid = new[outcome.nodeid]
    for capture in captures:
        capture["nodeid"] = new[capture["nodeid"]]



def timing_csv_line(row: dict[str, Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [row["test_name"], row["start_ns"], row["end_ns"], row["duration_ns"],
         f"{row['duration_ms']:.3f}", f"{row['memory_mb']:.2f}", f"{row['cpu_util']:.1f}"])
    return out.getvalue()


def timing_csv(lines: list[str]) -> str:
    return ",".join(TIMING_COLUMNS) + "\n" + "".join(lines)


def splice_list(outer: dict[str, Any], key: str, encoded: list[bytes]) -> bytes:
    """dumps_normal({**outer, key: items}) from the items' own encodings, when `key` sorts
    after every key of `outer` (so the list closes the object)."""
    assert all(k < key for k in outer), f"{key} must be the last key"
    head = dumps_normal(outer)
    return b"".join([head[:-1], b"," if outer else b"", b'"', key.encode(), b'":[',
                     b",".join(encoded), b"]}"])


def _error_type(capture: dict[str, Any] | None, failure: Failure) -> str:
    for error in (capture or {}).get("errors", []):
        if error["when"] == failure.when:
            return str(error["type"])
    return failure.error_type or errorinfo.error_type_from_message(failure.message)


def reproduce_options(ctx: RunContext) -> tuple[list[str], str]:
    """(options, shell tail) a reproduction command adds to `python -m pytest <nodeid>
    --testlog-seed=N`: the recorded options that change collection or seeding, and what keeps
    it from committing where the project records every run."""
    # Imported here: pytest's process loads this module for RunContext and Harvest alone.
    from testlog.core.pytestargs import collection_options
    options = collection_options(ctx.pytest_args)
    if not ctx.reseed:
        options.append("--testlog-no-reseed")
    switches = ctx.record_switch.split("+")
    if "ini" in switches:
        options += ["-o", "testlog=false"]
    return options, errorinfo.TEMP_OUT if "addopts" in switches else ""


class _Errors:
    """Builds error-log entries; the reproduction command's options are worked out once."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.options, self.tail = reproduce_options(ctx)

    def entry(self, nodeid: str, status: str, failure: Failure, error_type: str,
              timestamp: str, fixtures: list[dict[str, str]],
              attempts: int = 0) -> dict[str, Any]:
        ctx = self.ctx
        message = ctx.redact(errorinfo.first_line(failure.message))
        expected_got = errorinfo.expected_got(failure.message)
        left_right = errorinfo.left_right(failure.message)
        entry: dict[str, Any] = {
                 "timestamp": timestamp, "test_name": nodeid, "status": status,
                 "when": failure.when, "error_type": error_type, "message": message,
                 "expected_got": ctx.redact(expected_got) if expected_got else None,
                 "left_right": ctx.redact(left_right) if left_right else None,
                 "severity": errorinfo.severity(status, failure.when, failure.message),
                 "fixtures": fixtures,
                 "command": ctx.redact(errorinfo.reproduce_command(
                     nodeid, ctx.base_seed, ctx.pythonhashseed, self.options, self.tail)),
                 "traceback": ctx.redact(failure.text)}
        if failure.subtest:
            entry["subtest"] = ctx.redact(failure.subtest)
        if attempts:
            entry["attempt"], entry["attempts"] = failure.attempt, attempts
        return entry


def _attempt_status(outcome: TestOutcome, failure: Failure, final: str) -> str:
    """The status of the attempt a failure belongs to (a failing subtest: FAIL)."""
    earlier = outcome.attempts or []
    if failure.subtest:
        return "FAIL"
    if failure.attempt <= len(earlier):
        return str(earlier[failure.attempt - 1]["status"])
    return final


def error_entries(ctx: RunContext, harvest: Harvest, built: list[BuiltRecord],
                  clock: IsoClock) -> list[dict[str, Any]]:
    """Every failure: collection errors, each failing test's (and subtest's) failures, and the
    failing attempts of a re-run test (flaky or not)."""
    errors, entries = _Errors(ctx), []
    for name, failure in harvest.collection_errors:
        entries.append(errors.entry(name, "ERROR", failure, errorinfo.error_type_from_message(
            failure.message), clock(ctx.started_ns), []))
    for record, capture, outcome, *_encoded in built:
        if not outcome.failures or (record["status"] not in FAILING and not outcome.attempts):
            continue
        fixtures = [{"name": n, "hash": d["hash"]} for n, d in record["inputs"].items()]
        stamp = record["timestamp_end"] or clock(harvest.finished_ns)
        attempts = len(outcome.attempts) + 1 if outcome.attempts else 0
        for failure in outcome.failures:
            status = _attempt_status(outcome, failure, record["status"])
            entries.append(errors.entry(outcome.nodeid, status, failure,
                                        _error_type(capture, failure), stamp, fixtures, attempts))
    return sorted(entries, key=lambda e: (e["test_name"], e.get("attempt") or 0,
                                          e["when"] != "setup", e["when"]))


STATUS_ORDER = ("PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS")


def totals(built: list[BuiltRecord], harvest: Harvest) -> dict[str, Any]:
    """pytest's closing-line counts (core/counts.py) with the run's own: `tests` (records),
    `statuses` (records by status), `flaky`, `selected`, `not_run` (selected tests that never
    finished) and `collection_errors`."""
    t: dict[str, Any] = counts.pytest_counts(
        (b.outcome for b in built), collection_errors=len(harvest.collection_errors),
        collection_skipped=harvest.collection_skipped, deselected=harvest.deselected)
    statuses = dict.fromkeys(STATUS_ORDER, 0)
    for b in built:
        statuses[b.record["status"]] = statuses.get(b.record["status"], 0) + 1
    selected = max(harvest.selected, len(built))
    t.update(tests=len(built), statuses=statuses,
             flaky=sum(1 for b in built if is_flaky(b.outcome)),
             selected=selected, not_run=selected - len(built),
             collection_errors=len(harvest.collection_errors))
    return t


def verdict_of(t: dict[str, Any], harvest: Harvest) -> str:
    return counts.run_verdict(t, not_run=t["not_run"], collection_errors=t["collection_errors"],
                              interruption=harvest.interruption, exit_status=harvest.exit_status,
                              stopped_by_maxfail=harvest.stopped_by_maxfail)


def incompleteness(t: dict[str, Any], harvest: Harvest, verdict: str) -> str | None:
    """One line saying how the run ended before every selected test ran, or None."""
    kind = (harvest.interruption or {}).get("kind")
    reason = (harvest.interruption or {}).get("reason") or ""
    if not t["not_run"] and verdict not in (counts.ERROR, counts.INTERRUPTED):
        return None
    why = {counts.KEYBOARD_INTERRUPT: "interrupted (Ctrl-C)",
           counts.EXIT: f"stopped by pytest.exit(): {reason}",
           counts.STOPPED: f"stopped: {reason}",
           counts.COLLECTION_ERRORS: "collection errors",
           counts.INTERNAL_ERROR: f"INTERNALERROR: {reason}"}.get(kind or "")
    if why is None:
        why = ("stopped after failures (-x/--maxfail)" if harvest.stopped_by_maxfail else
               "collection errors" if t["collection_errors"] else
               f"ended early (exit status {harvest.exit_status})")
    return f"{why}; {t['not_run']} of {t['selected']} selected tests never ran"


def summary_data(ctx: RunContext, harvest: Harvest, built: list[BuiltRecord],
                 errors: list[dict[str, Any]], clock: IsoClock) -> dict[str, Any]:
    records = [b.record for b in built]
    t = totals(built, harvest)
    verdict = verdict_of(t, harvest)
    slowest = sorted(records, key=lambda r: (-r["duration_ms"], r["test_name"]))[:render.SLOWEST]
    first: dict[str, dict[str, Any]] = {}
    for e in errors:
        first.setdefault(e["test_name"], e)
    failures = [{"test_name": name, "status": e["status"], "severity": e["severity"],
                 "error_type": e["error_type"], "subtest": e.get("subtest"),
                 "attempt": e.get("attempt"),
                 "error": errorinfo.error_text(e["error_type"], e["message"], e["expected_got"],
                                               e.get("left_right"))}
                for name, e in sorted(first.items())]
    source = ctx.source
    return {"schema_version": schema.RUN, "suite": ctx.suite,
            "verdict": verdict, "day": layout.day_stamp(ctx.day),
            "started": clock(ctx.started_ns), "finished": clock(harvest.finished_ns),
            "duration_s": (harvest.finished_ns - ctx.started_ns) / 1e9, "totals": t,
            "pass_rate": counts.pass_rate(t), "pytest_line": counts.closing_line(t),
            "incomplete": incompleteness(t, harvest, verdict),
            "interruption": harvest.interruption, "selection": ctx.selection,
            "warnings": list(harvest.warnings), **({"shard": ctx.shard} if ctx.shard else {}),
            "slowest": [{"test_name": r["test_name"], "status": r["status"],
                         "duration_ms": r["duration_ms"]} for r in slowest],
            "failures": failures, "base_seed": ctx.base_seed,
            "pythonhashseed": ctx.pythonhashseed,
            "source_commit": source.commit if source else None,
            "source_tree": source.tree if source else None,
            "dirty": source.dirty if source else False,
            "coverage_percent": (harvest.coverage or {}).get("percent_covered"),
            "exit_status": harvest.exit_status}


def collection_entropy(ctx: RunContext, harvest: Harvest) -> dict[str, dict[str, Any]]:
    """The entropy drawn outside the tests, by collector id (as every file names it)."""
    ids = sorted(harvest.entropy)
    return dict(zip(ctx.redact_names(ids), (harvest.entropy[i] for i in ids)))


def determinism_header(ctx: RunContext, harvest: Harvest) -> dict[str, Any]:
    """What the determinism file says of the whole run; its per-test entries live in the
    compact run file (export and seal render the full file: spec_files.py)."""
    header = _determinism_header(ctx, harvest)
    if ctx.entropy:
        header["entropy"] = {"collection": {scope: entropy.block(dump) for scope, dump in
                                            collection_entropy(ctx, harvest).items()}}
    return header


def _determinism_header(ctx: RunContext, harvest: Harvest) -> dict[str, Any]:
    return {"schema_version": schema.RUN, "base_seed": ctx.base_seed,
            "session_seed": ctx.session_seed, "session_states": harvest.session_states,
            "seed_derivation": "first 4 bytes (big-endian) of sha256(f'{base_seed}\\0{nodeid}')",
            "reseed": ctx.reseed, "pythonhashseed": ctx.pythonhashseed,
            "full_states": {d: base64.b64encode(raw).decode()
                            for d, raw in sorted(harvest.full_states.items())}}


def run_block(ctx: RunContext, harvest: Harvest, p: dict[str, str],
              summary: dict[str, Any], nodeids: list[str]) -> dict[str, Any]:
    source = ctx.source
    return {"schema_version": schema.RUN, "suite": ctx.suite, "day": layout.day_stamp(ctx.day),
            "started": summary["started"], "finished": summary["finished"],
            "base_seed": ctx.base_seed, "session_seed": ctx.session_seed,
            "session_states": harvest.session_states,
            "source": {"commit": source.commit if source else None,
                       "tree": source.tree if source else None,
                       "dirty": source.dirty if source else False,
                       "dirty_diff_path": p["dirty_patch"] if source and source.dirty else None,
                       "untracked": [ctx.redact(u) for u in source.untracked] if source else []},
            "pythonhashseed": ctx.pythonhashseed,
            "hash_order_reproducible": ctx.pythonhashseed not in (None, "", "random"),
            "environment": ctx.run_environment,
            "pytest": {"version": ctx.pytest_version, "args": [ctx.redact(a) for a in ctx.pytest_args]},
            "nodeids": nodeids, "rootdir": ctx.rootdir, "reseed": ctx.reseed,
            "full_state": ctx.full_state,
            "randomly": ctx.randomly, "xdist_workers": harvest.xdist_workers,
            "verdict": summary["verdict"], "totals": summary["totals"],
            "exit_status": harvest.exit_status,
            "incomplete": summary["incomplete"], "interruption": harvest.interruption,
            "unfinished": list(harvest.unfinished), "stopped_by_maxfail": harvest.stopped_by_maxfail,
            "selection": ctx.selection, "capture": ctx.capture,
            "entropy": entropy.settings(ctx.entropy),
            "warnings": list(harvest.warnings), **({"shard": ctx.shard} if ctx.shard else {}),
            "files": {k: v for k, v in p.items()
                      if k not in ("dirty_patch", "coverage", "entropy", *RENDERED)}}


def commit_summary(suite: str, verdict: str, t: dict[str, Any]) -> str:
    """`TEST_SUITE_EXECUTED <suite> <verdict> <n> passed <m> failed[ <k> not run]` (pytest's
    counts: XPASS counts as passed, an error as failed)."""
    passed, failed = counts.passed_failed(t)
    not_run = f" {t['not_run']} not run" if t.get("not_run") else ""
    return f"{TEST_SUITE_EXECUTED} {suite} {verdict} {passed} passed {failed} failed{not_run}"


def run_bundle(ctx: RunContext, harvest: Harvest, book: RecordBook | None = None) -> RunBundle:
    """The run's files; `book` holds the records built so far, the harvest's outcomes and
    captures are added to it (all of them, without a book): the harvest's captures are
    consumed."""
    book = RecordBook(ctx) if book is None else book
    book.add(harvest.outcomes, harvest.all_captures())
    harvest.captures.clear()       # in the book now, which lets go of each once it is built
    book.close()
    clock, p = book.clock, paths(ctx)
    built, book.built = book.built, []
    nodeids = [b.record["test_name"] for b in sorted(built, key=lambda b: b.record["order"])]
    built.sort(key=lambda b: (b.record["test_name"], b.record["order"]))
    records = [b.record for b in built]
    errors = error_entries(ctx, harvest, built, clock)
    unkept = entropy.unkept_warning(
        [s or "the session" for s, d in collection_entropy(ctx, harvest).items()
         if not entropy.kept(d)]
        + sorted(book.unkept_entropy))
    if unkept is not None and unkept not in harvest.warnings:
        harvest.warnings.append(unkept)
    summary = summary_data(ctx, harvest, built, errors, clock)
    side_file = entropy.side_file(
        [entropy.chunk({"collect": scope}, dump)
         for scope, dump in collection_entropy(ctx, harvest).items()] + [b.entropy for b in built])
    block = run_block(ctx, harvest, p, summary, nodeids)
    if side_file is not None:
        block["files"]["entropy"] = p["entropy"]
    header = header_line(block, book.defaults(), len(built),
                         records_digest([b.signature for b in built]))
    run_file = compact_file(header, [b.line for b in built])
    built = [b._replace(line=b"", entropy=b"") for b in built]   # their bytes live on in files
    source = ctx.source
    files: dict[str, bytes | None] = {
        p["run"]: run_file,
        p["run_log"]: render.run_log(records, errors).encode(),
        p["dirty_patch"]: source.diff if source and source.dirty else None,
        p["entropy"]: side_file,
        p["determinism"]: canonical_json(determinism_header(ctx, harvest)),
        p["timing_csv"]: timing_csv([b.csv_line for b in built]).encode(),
        **{p[name]: None for name in RENDERED},
        p["errors_log"]: render.errors_log(errors).encode(),
        p["errors_json"]: canonical_json({"schema_version": schema.RUN, "errors": errors}),
        p["summary_md"]: render.summary_md(summary).encode(),
        p["summary_json"]: canonical_json(summary),
        p["coverage"]: canonical_json({"schema_version": schema.RUN, **harvest.coverage})
        if harvest.coverage else None,
    }
    trailers = {TRAILER_SOURCE_COMMIT: (source.commit if source else None) or "none",
                TRAILER_SOURCE_TREE: (source.tree if source else None) or "none",
                TRAILER_SUITE: ctx.suite, TRAILER_VERDICT: summary["verdict"]}
    if ctx.selection:
        trailers[TRAILER_SELECTION] = " ".join(ctx.redact(ctx.selection["text"]).split())
    if ctx.shard:
        trailers[TRAILER_RUN_ID] = ctx.shard["run_id"]
        trailers[TRAILER_SHARD] = trailer_value(ctx.shard["index"], ctx.shard["count"])
    return RunBundle(files=files, artifact=p["run"], verdict=summary["verdict"],
                     summary=commit_summary(ctx.suite, summary["verdict"], summary["totals"]),
                     trailers=trailers, timing_path=p["timing_csv"],
                     durations=[b.duration for b in built])
