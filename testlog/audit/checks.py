"""Pure checks behind `verify`: chronicle structure, events, records. Each returns problems."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testlog.core import branchjson, entropy, layout, schema
from testlog.core.canonical import record_signature, sha256_hex
from testlog.core.compact import CompactError, Deriver, expand_line, parse_compact, records_digest
from testlog.core.layout import TRAILER_EVENT
from testlog.core.runshape import event_problem
from testlog.core.timefmt import IsoClock

EVENT_KEYS = frozenset({"event", "timestamp", "artifact", "hash", "signature", "verdict"})


@dataclass(frozen=True)
class ChronicleStep:
    """Where one commit's event sits in the tip's chronicle (1-based), or what is wrong."""
    position: int | None
    problem: str | None = None


def line_ends(lines: Sequence[bytes]) -> dict[int, int]:
    """{byte length of the first k lines: k}, for k = 0..len(lines)."""
    ends, total = {0: 0}, 0
    for count, line in enumerate(lines, 1):
        total += len(line)
        ends[total] = count
    return ends


def chronicle_steps(sizes: Sequence[int | None], roots: Sequence[bool], ends: Mapping[int, int],
                    start: int = 0) -> list[ChronicleStep]:
    """Check that each commit (oldest first) adds exactly one line to chronicle.ndjson.

    `sizes` are the chronicle's byte size at each commit, `ends` maps the sizes of the tip
    chronicle's prefixes to line counts, `start` is the line count before the first commit.
    A root commit (a new branch or a retention epoch) starts the chronicle with one line.
    """
    steps, before = [], start
    for size, root in zip(sizes, roots):
        step, before = _one_step(size, 0 if root else before, ends, root, before)
        steps.append(step)
    return steps


def _one_step(size: int | None, before: int, ends: Mapping[int, int], root: bool,
              previous: int) -> tuple[ChronicleStep, int]:
    if size is None:
        return ChronicleStep(None, "chronicle.ndjson is missing"), previous
    count = ends.get(size)
    if count is None:
        return ChronicleStep(None, "chronicle.ndjson is not an earlier state of the tip's "
                                   "chronicle (edited or truncated)"), previous
    added = count - before
    if added == 1:
        return ChronicleStep(count), count
    if added == 0:
        return ChronicleStep(None, "no chronicle event (chronicle.ndjson unchanged)"), count
    if added < 0:
        return ChronicleStep(None, f"chronicle.ndjson lost {-added} event(s)"), count
    where = "a root commit must start the chronicle with 1" if root else "expected 1"
    return ChronicleStep(count, f"{added} chronicle events in one commit ({where}; "
                                "a commit dropped from the history?)"), count


def parse_event(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(event, None) or (None, problem) for one chronicle line."""
    try:
        event = branchjson.loads(line)
    except branchjson.BranchJSONError as exc:
        return None, "chronicle line is not JSON" if exc.syntax else f"chronicle line is {exc}"
    if not isinstance(event, dict) or set(event) != EVENT_KEYS:
        return None, f"chronicle line does not have exactly the keys {sorted(EVENT_KEYS)}"
    problem = event_problem(event)
    return (None, problem) if problem else (event, None)


def event_problems(line: bytes, event: Mapping[str, Any], trailers: Mapping[str, str],
                   signer_label: str | None, digest_trailer: str) -> list[str]:
    """What disagrees between a commit's chronicle line and the signed commit itself.

    `signer_label` is what the event's `signature` field must say ("gpg:<fingerprint>" or
    "unsigned"); None when the commit's signature already failed and there is nothing to match.
    """
    problems = []
    claimed = trailers.get(digest_trailer)
    if claimed is not None and claimed != sha256_hex(line.rstrip(b"\n")):
        problems.append("chronicle line differs from the event this commit signed "
                        f"({digest_trailer})")
    if trailers.get(TRAILER_EVENT) not in (None, event["event"]):
        problems.append(f"event {event['event']} but the commit says "
                        f"{TRAILER_EVENT}: {trailers[TRAILER_EVENT]}")
    if signer_label is not None and str(event["signature"]).upper() != signer_label.upper():
        problems.append(f"event says signature {event['signature']!r} but the commit is "
                        f"{signer_label}")
    return problems


def run_file_problems(data: bytes) -> tuple[int, list[str]]:
    """(records checked, problems) of one run file: its shape, and every record's SHA-256
    digest (its `signature` field) recomputed from its canonical JSON."""
    try:
        run = branchjson.loads(data)
    except branchjson.BranchJSONError as exc:
        return 0, ["run file is not JSON" if exc.syntax else f"run file is {exc}"]
    if not isinstance(run, dict) or not isinstance(run.get("records"), list):
        return 0, ["run file has no records list"]
    problem = schema.version_problem(run.get("schema_version"), schema.RUN, missing=0)
    if problem is not None:
        return 0, [f"run file has {problem}"]
    records = run["records"]
    return len(records), [p for i, r in enumerate(records) for p in _record_problem(i, r)]


def _record_problem(index: int, record: Any) -> list[str]:
    if not isinstance(record, dict):
        return [f"record #{index} is not an object"]
    name = record.get("test_name", f"#{index}")
    if "signature" not in record:
        return [f"record {name} has no digest (its `signature` field)"]
    if record["signature"] != record_signature(record):
        return [f"record {name}: its digest does not recompute from its canonical JSON"]
    return []


class ChronicleWalk:
    """The steps of a chronicle.ndjson of the first format, one commit at a time (oldest first);
    `ends` and `start` as for chronicle_steps."""

    def __init__(self, ends: Mapping[int, int], start: int = 0) -> None:
        self.ends, self.before = ends, start

    def step(self, size: int | None, root: bool) -> ChronicleStep:
        step, self.before = _one_step(size, 0 if root else self.before, self.ends, root,
                                      self.before)
        return step

    def unchanged(self, size: int | None) -> str | None:
        """A commit of format 2 carries its event in its message: it must leave the chronicle
        as it was. The problem, or None."""
        if size is None or self.ends.get(size) == self.before:
            return None
        return "a commit that carries its event in its message changed chronicle.ndjson"


def event_record_problem(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """(event, None) or (None, problem) of a Testlog-Event-Record trailer."""
    event, problem = parse_event(raw.encode("utf-8", "surrogateescape"))
    return event, (problem.replace("chronicle line", "the Testlog-Event-Record trailer")
                   if problem else None)


def compact_run_problems(data: bytes, where: str, deep: bool,
                         derive: Deriver) -> tuple[int, list[str]]:
    """(tests checked, problems) of a compact run file: its header and every line's shape; with
    `deep`, every record rebuilt and checked against the digest the recorder wrote."""
    try:
        run = parse_compact(data, where)
    except CompactError as exc:
        return 0, [str(exc)]
    problems: list[str] = []
    signatures: list[str] = []
    clock = IsoClock()
    for number, line in enumerate(_parsed(run.lines), 2):
        if isinstance(line, branchjson.BranchJSONError):
            problems.append(f"line {number} is not JSON")
            continue
        if not isinstance(line, dict) or not isinstance(line.get("test_name"), str):
            problems.append(f"line {number} is not a test's line")
            continue
        if deep:
            try:
                signatures.append(expand_line(line, run.defaults, derive, clock)["signature"])
            except CompactError as exc:
                problems.append(f"line {number}: {exc}")
    if deep and not problems and records_digest(signatures) != run.records_sha256:
        problems.append("the records rebuilt from it differ from those recorded")
    return run.count, problems


# Lines parsed at once: a run of 100,000 tests is never held parsed whole (~3 KB a line).
PARSE_LINES = 1000


def _parsed(lines: Sequence[bytes]) -> Iterator[Any]:
    """Each line's value (or BranchJSONError), parsed a chunk at a time."""
    for first in range(0, len(lines), PARSE_LINES):
        yield from branchjson.loads_each(lines[first:first + PARSE_LINES])


def entropy_paths(data: bytes, path: str) -> tuple[str, str] | None:
    """(side file, determinism file) of a compact run file whose records or header name OS
    entropy; None for a run that holds none (or is unreadable: reported elsewhere)."""
    try:
        run = parse_compact(data, path)
    except CompactError:
        return None
    named = (run.run.get("files") or {}).get("entropy")
    if named is None and b'"entropy":' not in b"".join(run.lines):
        return None
    try:
        return (layout.sibling_path(path, "entropy", "bin"),
                layout.sibling_path(path, "determinism", "json"))
    except ValueError:               # a path of no real day: reported by the path's checks
        return None


def entropy_problem(data: bytes, path: str, side: bytes | None,
                    determinism: bytes | None) -> str | None:
    """What does not hold between a compact run file, its entropy side file and its
    determinism file (every stream a record names, kept, with its digest; nothing else);
    None when all does."""
    try:
        run = parse_compact(data, path)
        lines = [branchjson.loads(raw) for raw in run.lines]
        header = branchjson.loads(determinism) if determinism else {}
        blocks = entropy.collection_blocks(header if isinstance(header, dict) else {})
        expected = layout.sibling_path(path, "entropy", "bin")
    except (CompactError, ValueError):
        return None                  # unreadable: reported by the run file's own checks
    named = (run.run.get("files") or {}).get("entropy")
    if named is not None and named != expected:
        return f"it names the entropy file {named!r}, not {expected!r}"
    parsed = None
    if named is not None:
        if side is None:
            return f"its entropy file {expected} is missing"
        try:
            parsed = entropy.parse_side_file(side, expected)
        except entropy.EntropyError as exc:
            return str(exc)
    records = [line for line in lines if isinstance(line, dict)]
    problem = entropy.side_file_problem(parsed, records, blocks)
    return f"{expected}: {problem}" if problem else None
