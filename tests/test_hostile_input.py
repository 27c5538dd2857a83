"""Zero tracebacks on hostile input. A real recorded run is mutated field by field (wrong
types, deep nesting, bad encodings, escape sequences, option-like strings), in the compact
format the recorder writes (its header and each test's line) and in the full format readers
still accept, and fed to what the readers do with a run read from the branch: replay's plan
and trust checks, compare, export's and seal's rendering of the full format and in-toto
statements, verify's run file checks. Every input ends in a result or one clean error line,
never another exception. A sample goes through the real commands, from crafted commits on
another writer's chain (their event in the Testlog-Event-Record trailer): one line on
stderr, a non-zero exit, nothing acted on by the terminal."""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testlog.audit.checks import (
    compact_run_problems,
    event_record_problem,
    parse_event,
    run_file_problems,
)
from testlog.audit.retention import epoch_record_problems
from testlog.audit.seal import seal_members
from testlog.core import branchjson
from testlog.core.canonical import dumps_normal, signed_record
from testlog.core.compact import CompactError, iter_records, parse_compact, records_digest
from testlog.core.ledger import parse_ledger
from testlog.core.printable import printable
from testlog.core.runshape import event_problem
from testlog.core.spec_files import spec_files
from testlog.core.timing_summary import parse_summary, updated_summary
from testlog.errors import TestlogError
from testlog.replay.compare import compare_runs, render_lines
from testlog.replay.options import recorded_options
from testlog.replay.plan import build_plan
from testlog.replay.trust import confinement_problem
from testlog.rng import seeded_digest
from testlog.store.runs import check_determinism, run_data, with_spec_files
from tests.attack_helpers import (
    CHAIN,
    commit_message,
    event_line,
    event_of,
    one_line,
    previous_event,
    with_event,
)
from tests.audit_helpers import edited_tree
from tests.fixtures import git
from tests.recorder_helpers import git_bytes
from tests.recorder_helpers import run_data as recorded_run
from tests.replay_support import cli, project, record, sandboxed

TESTS = '''\
import random

import pytest


@pytest.mark.parametrize("n", [1, 2])
def test_values(testlog, n):
    testlog.input(n, name="n")
    testlog.output("draws", [random.random() for _ in range(n)])
    testlog.output("text", "hello")


def test_fails():
    assert 1 == 2
'''
ESC = "\x1b]0;owned\x07\x1b[2J"
VALUES: list[Any] = [None, True, 0, -1, 2 ** 70, 1.5, "", "x", ESC, "\u202eevil", "0" * 40,
                     "--upload-pack=touch /tmp/owned", "../../etc", [], [None], {}, {"k": ESC},
                     [[[[[]]]]]]
RAW: list[bytes] = [b"", b"null", b"[]", b"{", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000,
                    b'{"a":' * 5000 + b"1" + b"}" * 5000, b'"\\ud800"', b"1" * 5000,
                    b'{"records":"x","run":{}}', b"\xef\xbb\xbf{}", b"NaN"]
RUN = "runs/20260101__tests__run.json"
COMPACT = "runs/20260101__tests__run.jsonl"


@dataclass(frozen=True)
class Recorded:
    repo: Path
    sha: str
    honest: dict[str, Any]          # the run as readers see it: {"schema_version", "run", "records"}
    compact: dict[str, Any]         # the compact run file: {"header": ..., "lines": [...]}


@pytest.fixture(scope="module")
def recorded(sandbox, tmp_path_factory) -> Recorded:
    base = tmp_path_factory.mktemp("hostile")
    with sandboxed(sandbox, base / "tmp"):
        repo = project(base / "repo", {"tests/test_things.py": TESTS})
        sha = record(repo, "tests", expect=1)
    artifact = event_of(repo, sha)["artifact"]
    assert artifact.endswith("__run.jsonl")
    first, *rest = git_bytes(repo, "show", f"{sha}:{artifact}").splitlines()
    compact = {"header": json.loads(first), "lines": [json.loads(line) for line in rest]}
    return Recorded(repo, sha, recorded_run(repo, sha), compact)


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    """Every place in a document down to `depth` 6 (lists: their first item)."""
    if depth > 6:
        return
    items = value.items() if isinstance(value, dict) else \
        [(0, value[0])] if isinstance(value, list) and value else []
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key), depth + 1)


def compact_paths(compact: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Every place in the header, and in each test's line (one line of each shape)."""
    yield from paths(compact["header"], ("header",))
    shapes = set()
    for index, line in enumerate(compact["lines"]):
        shape = tuple(paths(line))
        if shape not in shapes:
            shapes.add(shape)
            yield ("lines", index)
            yield from paths(line, ("lines", index))


def changed(doc: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool = False) -> dict:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


def resigned(doc: dict[str, Any]) -> dict[str, Any]:
    """As an attacker who recomputes the digests would write it."""
    records = doc.get("records")
    if isinstance(records, list):
        doc["records"] = [signed_record({k: v for k, v in r.items() if k != "signature"})
                          if isinstance(r, dict) else r for r in records]
    return doc


def compact_bytes(compact: dict[str, Any], resign: bool = True) -> bytes:
    """The compact run file of a (changed) header and lines; `resign`: its records digest
    recomputed as an attacker would, when the lines still rebuild to records."""
    header, lines = compact["header"], compact["lines"]

    def encoded() -> bytes:
        head = dumps_normal(header) if isinstance(header, dict) else json.dumps(header).encode()
        body = lines if isinstance(lines, list) else [lines]
        return b"".join([head, b"\n", *(json.dumps(line).encode() + b"\n" for line in body)])
    data = encoded()
    records = header.get("records") if isinstance(header, dict) else None
    if resign and isinstance(records, dict):
        try:
            run = parse_compact(data, COMPACT)
            records["records_sha256"] = records_digest(
                [r["signature"] for r in iter_records(run, seeded_digest)])
            data = encoded()
        except CompactError:
            pass
    return data


def full_bytes(doc: dict[str, Any], resign: bool = True) -> bytes:
    return json.dumps(resigned(doc) if resign else doc).encode()


def one_line_or_ok(reader: Callable[[], object]) -> str:
    """'ok', or the one line a reader refused with (any other exception fails the test)."""
    try:
        reader()
        return "ok"
    except TestlogError as exc:
        assert "\n" not in str(exc)
        return str(exc)


def readers(data: bytes, artifact: str, honest: dict[str, Any]) -> list[str]:
    """What the commands do with a run file read from the branch: 'ok' or the one line, for
    replay and compare (the run read and checked, the plan, trust and options, both
    comparisons) and for export and seal (the full format rendered from a compact file, the
    in-toto statement, the seal's members); verify's reading never raises."""
    def replay_and_compare() -> None:
        run = run_data(data, artifact, artifact)
        try:
            plan = build_plan(run["run"], run["records"], {})
        except (KeyError, TypeError, ValueError) as exc:   # replay's locate_run: one line
            raise TestlogError(f"not a readable run ({exc!r})") from None
        confinement_problem(plan, b"")
        recorded_options(plan.pytest_args)
        for a, b in ((run, honest), (honest, run)):
            result = compare_runs(a["run"], a["records"], b["run"], b["records"])
            json.dumps(result.as_dict())
            for line in render_lines("a", "b", result):
                assert "\x1b" not in printable(line)

    def export_and_seal() -> None:
        seal_members(with_spec_files({artifact: data}))     # in-toto statements included
    try:
        return [one_line_or_ok(replay_and_compare), one_line_or_ok(export_and_seal)]
    finally:
        if artifact.endswith(".jsonl"):
            compact_run_problems(data, artifact, True, seeded_digest)
        else:
            run_file_problems(data)


def test_hostile_run_files_give_results_or_one_line_never_a_traceback(recorded: Recorded):
    honest = recorded.honest
    inputs = [full_bytes(changed(honest, path, value)) for path in paths(honest) for value in VALUES]
    inputs += [full_bytes(changed(honest, path, None, delete=True), resign=False)
               for path in paths(honest)]
    inputs += [full_bytes(changed(honest, path, None, delete=True)) for path in paths(honest)]
    inputs += RAW
    outcomes = [readers(data, RUN, honest) for data in inputs]
    assert len(inputs) >= 629
    refused = [o for pair in outcomes for o in pair if o != "ok"]
    assert sum(pair[0] != "ok" for pair in outcomes) > len(inputs) // 3   # most: the shape check
    assert any("nested more than" in o for o in refused)
    assert any("has the wrong type" in o for o in refused)


def test_hostile_compact_run_files_give_results_or_one_line_never_a_traceback(
        recorded: Recorded):
    honest, compact = recorded.honest, recorded.compact
    places = list(compact_paths(compact))
    inputs = [compact_bytes(changed(compact, path, value)) for path in places for value in VALUES]
    inputs += [compact_bytes(changed(compact, path, None, delete=True), resign=False)
               for path in places]
    inputs += [compact_bytes(changed(compact, path, None, delete=True)) for path in places]

    def head(count: int) -> bytes:
        return dumps_normal(changed(compact, ("header", "records", "count"), count)["header"])
    lines = [RAW[5], b"\xff", b"[]", b"[" * 100_000, *(json.dumps(v).encode() for v in VALUES)]
    inputs += RAW + [head(3)] + [head(1) + b"\n" + line + b"\n" for line in lines]
    outcomes = [readers(data, COMPACT, honest) for data in inputs]
    assert len(inputs) >= 1000
    refused = [o for pair in outcomes for o in pair if o != "ok"]
    assert sum(pair[0] != "ok" for pair in outcomes) > len(inputs) // 3
    assert all(o != ["ok", "ok"] for o in outcomes[-len(lines) - len(RAW) - 1:])
    assert any("line 2 is not JSON" in o for o in refused)
    assert any("has the wrong type" in o for o in refused)
    assert any("differ from those recorded" in o for o in refused)    # not re-digested


@pytest.mark.parametrize("line", [
    b"", b"{}", b"[]", b"\xff", b"[" * 50_000, json.dumps({"event": ESC, "artifact": 5, "hash": [],
    "signature": {}, "timestamp": None, "verdict": 1}).encode(),
    json.dumps({"event": "X", "artifact": "a\nb", "hash": "h", "signature": "s",
                "timestamp": "t", "verdict": "v"}).encode(),
])
def test_hostile_chronicle_lines_and_event_trailers(line: bytes):
    for event, problem in (parse_event(line),
                           event_record_problem(line.decode("utf-8", "surrogateescape"))):
        assert (event is None) != (problem is None)
        if event is not None:
            assert event_problem(event) is None


@pytest.mark.parametrize("timing", ["", [], [1, 2], [1, 2, 3, None, 5], [1, 2, 3, "x", 5],
                                    [1, 2, 3, 4], {"a": 1}, [10 ** 400] * 5, [0, 10 ** 400, 0, 0, 0]])
def test_a_hostile_timing_is_one_error(recorded: Recorded, timing: Any):
    """A test line's timing, read back as a record (show, replay, verify --deep) or rendered
    as the full format's timing rows (export, seal): CompactError, never another exception."""
    doc = changed(recorded.compact, ("lines", 0, "timing"), timing)
    try:
        list(iter_records(parse_compact(compact_bytes(doc, resign=False), COMPACT), seeded_digest))
    except CompactError:
        pass
    with pytest.raises(CompactError):          # re-digested when the records still rebuild
        spec_files(COMPACT, compact_bytes(doc), None, seeded_digest)


def test_a_hostile_event_trailer_is_no_event(recorded: Recorded):
    """A Testlog-Event-Record nested 100,000 deep is read as no event (one line from every
    command), not a RecursionError."""
    from testlog.store.events import event_of as stored_event
    from tests.store_helpers import open_store
    repo, sha = recorded.repo, recorded.sha
    deep = crafted_run(repo, sha, {}, b"[" * 100_000 + b"]" * 100_000)
    with open_store(repo, sign_key=False) as store:
        assert stored_event(store, store.entry(deep)) is None
        assert stored_event(store, store.entry(sha)) == event_of(repo, sha)


@pytest.mark.parametrize("data", RAW + [json.dumps({"tests": {"t": {"runs": "x", "mean_ms": []},
                                                              "u": [], "v": {"runs": 1, "mean_ms": 1.0,
                                                                             "m2": 0.0}}}).encode()])
def test_hostile_derived_files(data: bytes):
    summary = parse_summary(data)
    assert set(updated_summary(summary, [("t", 1.0)])["tests"]) >= {"t"}
    record, problems = epoch_record_problems(data)
    assert record is None and problems
    try:
        assert isinstance(check_determinism(branchjson.loads(data), "d"), dict)
    except (TestlogError, ValueError) as exc:      # ValueError: loads, made one line by read_json
        assert "\n" not in str(exc)
    try:
        parse_ledger(data, "ledger/x.ndjson")
    except TestlogError as exc:
        assert "\n" not in str(exc)


# -- through the commands ------------------------------------------------------------------------

def crafted_run(repo: Path, sha: str, files: dict[str, bytes | None],
                event: bytes | None = None, artifact: str | None = None) -> str:
    """A commit on the run `sha` with `files` replaced, carrying the event of its run file
    (`artifact`, default the recorded one) or `event`, linked to the run's event."""
    artifact = artifact or event_of(repo, sha)["artifact"]
    data = files.get(artifact) or git_bytes(repo, "show", f"{sha}:{artifact}")
    line = event if event is not None else event_line(artifact, data)
    message = with_event(git(repo, "log", "-1", "--format=%B", sha), line,
                         previous_event(repo, sha))
    return commit_message(repo, edited_tree(repo, sha, files), sha, message)


def cases(recorded: Recorded) -> dict[str, str]:
    repo, sha, honest, compact = recorded.repo, recorded.sha, recorded.honest, recorded.compact
    artifact = event_of(repo, sha)["artifact"]
    full = artifact.removesuffix("l")
    summary_md = artifact.replace("runs/", "summaries/").replace("__run.jsonl", "__summary.md")
    det = honest["run"]["files"]["determinism"]

    def as_full(data: bytes) -> str:
        """A run commit of the full format (readers accept it when its event names it)."""
        return crafted_run(repo, sha, {artifact: None, full: data}, artifact=full)

    def run_file(doc: dict[str, Any]) -> str:
        return as_full(full_bytes(doc))

    def compact_file(doc: dict[str, Any], resign: bool = True) -> str:
        return crafted_run(repo, sha, {artifact: compact_bytes(doc, resign)})
    named = changed(honest, ("records", 0, "test_name"), f"tests/test_things.py::t{ESC}")
    named["run"]["nodeids"][0] = named["records"][0]["test_name"]
    line_named = changed(compact, ("lines", 0, "test_name"), f"tests/test_things.py::t{ESC}")
    line_named["header"]["run"]["nodeids"][0] = line_named["lines"][0]["test_name"]
    return {
        # the compact run file, as the recorder writes it now
        "deep": crafted_run(repo, sha, {artifact: RAW[5]}),
        "not-utf8": crafted_run(repo, sha, {artifact: RAW[4]}),
        "line-deep": crafted_run(repo, sha, {artifact: dumps_normal(compact["header"]) + b"\n"
                                             + RAW[5] + b"\n"}),
        "header-run-list": compact_file(changed(compact, ("header", "run"), [])),
        "count-str": compact_file(changed(compact, ("header", "records", "count"), "3")),
        "line-not-object": compact_file(changed(compact, ("lines", 0), [None])),
        "line-name-not-str": compact_file(changed(compact, ("lines", 0, "test_name"), 5)),
        "line-status-escape": compact_file(changed(compact, ("lines", 0, "status"), ESC)),
        "line-seed-str": compact_file(changed(compact, ("lines", 0, "seed"), "x")),
        "line-timing": compact_file(changed(compact, ("lines", 0, "timing"), [1, 2, 3, None])),
        "line-edited": compact_file(changed(compact, ("lines", 0, "status"), "PASS"), False),
        "header-source-option": compact_file(changed(compact, ("header", "run", "source", "commit"),
                                                     "--upload-pack=touch owned")),
        "line-escaped-name": compact_file(line_named),
        # the full format in its place
        "full-deep": as_full(RAW[5]),
        "full-lone-surrogate": as_full(b'{"run":{"suite":"\\udc00"},"records":[]}'),
        "full-records-not-list": as_full(RAW[9]),
        "full-name-not-str": run_file(changed(honest, ("records", 0, "test_name"), 5)),
        "full-status-escape": run_file(changed(honest, ("records", 0, "status"), ESC)),
        "full-values-list": run_file(changed(honest, ("records", 0, "outputs", "values"), [])),
        "full-source-option": run_file(changed(honest, ("run", "source", "commit"),
                                               "--upload-pack=touch owned")),
        "full-files-list": run_file(changed(honest, ("run", "files"), [])),
        "full-escaped-name": run_file(named),
        # the run's other files
        "determinism-deep": crafted_run(repo, sha, {det: RAW[5]}),
        "determinism-states": crafted_run(repo, sha, {det: b'{"full_states":{"a":5}}'}),
        "determinism-list": crafted_run(repo, sha, {det: b"[1]"}),
        "summary-escapes": crafted_run(repo, sha, {summary_md: f"# {ESC}\n".encode()}),
        # the event (Testlog-Event-Record trailer)
        "event-types": crafted_run(repo, sha, {}, json.dumps({
            "event": "TEST_SUITE_EXECUTED", "artifact": 5, "hash": [], "signature": {},
            "timestamp": None, "verdict": 1}).encode()),
        "event-deep": crafted_run(repo, sha, {}, b"[" * 100_000),
        "event-not-json": crafted_run(repo, sha, {}, b"{"),
        "artifact-escape": crafted_run(repo, sha, {}, event_line(f"runs/{ESC}.json", b"")),
    }


COMMANDS = [["show", "{sha}"], ["show", "{sha}", "--json"], ["show", "{sha}", "--records"],
            ["compare", "{sha}", "{honest}"], ["export", "{sha}", "-o", "{out}"],
            ["replay", "{sha}", "--python", "/nonexistent/python"], ["log", "--runs"]]


def label(argv: list[str]) -> str:
    """show, show-json, show-records, compare, …"""
    flags = [a[2:] for a in argv if a in ("--json", "--records")]
    return "-".join([argv[0], *flags])


def test_the_commands_on_hostile_commits(recorded: Recorded, tmp_path: Path, sandbox):
    """Each crafted commit is the tip of another writer's chain here (as a plain `git fetch`
    of it leaves it), beside the honest run on the own branch."""
    repo, sha = recorded.repo, recorded.sha
    with sandboxed(sandbox, tmp_path / "tmp"):
        crafted = cases(recorded)
        outcomes: dict[tuple[str, str], int] = {}
        try:
            for name, commit in crafted.items():
                git(repo, "update-ref", CHAIN, commit)
                for argv in COMMANDS + [["verify"]]:
                    out_dir = tmp_path / f"export-{name}-{len(outcomes)}"
                    args = [a.format(sha=commit, honest=sha, out=out_dir) for a in argv]
                    code, out, err = cli("-C", str(repo), *args)
                    assert isinstance(code, int)
                    assert "\x1b" not in out + err and "\u202e" not in out + err, (name, argv)
                    if code != 0 and argv[0] != "verify":
                        one_line(err)
                    outcomes[(name, label(argv))] = code
        finally:
            git(repo, "update-ref", "-d", CHAIN)
    assert len(outcomes) == len(crafted) * (len(COMMANDS) + 1)
    for name in ("deep", "line-deep", "full-deep"):
        assert outcomes[(name, "compare")] == 1 and outcomes[(name, "verify")] == 1, name
    assert outcomes[("line-edited", "compare")] == 1         # its records digest no longer holds
    for name in ("header-source-option", "full-source-option"):
        assert outcomes[(name, "replay")] == 1
    assert not (tmp_path / "owned").exists() and not Path("/tmp/owned").exists()
    for name in ("line-escaped-name", "full-escaped-name"):
        assert outcomes[(name, "show")] == 0 and outcomes[(name, "compare")] == 0, name
    assert outcomes[("summary-escapes", "show")] == 0


def test_a_compact_file_is_checked_the_same_a_chunk_of_lines_at_a_time(
        recorded: Recorded, monkeypatch: pytest.MonkeyPatch):
    """verify parses a run file's lines a chunk at a time (a run of 100,000 tests is never held
    parsed whole): chunks of 1 and 2 lines name the same problems, on the same line numbers, as
    one chunk of all of them."""
    from testlog.audit import checks
    compact = recorded.compact
    assert len(compact["lines"]) == 3
    broken = [json.dumps(line).encode() for line in compact["lines"]]
    broken[1], broken[2] = b"{not json", b"[1, 2]"
    header = dumps_normal(compact["header"])
    variants = [compact_bytes(compact), header + b"\n" + b"\n".join(broken) + b"\n"]
    for data in variants:
        whole = compact_run_problems(data, COMPACT, True, seeded_digest)
        for size in (1, 2):
            monkeypatch.setattr(checks, "PARSE_LINES", size)
            assert compact_run_problems(data, COMPACT, True, seeded_digest) == whole
        monkeypatch.setattr(checks, "PARSE_LINES", 1000)
    problems = compact_run_problems(variants[1], COMPACT, True, seeded_digest)[1]
    assert problems[:2] == ["line 3 is not JSON", "line 4 is not a test's line"]
