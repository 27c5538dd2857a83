"""Zero tracebacks on hostile input. A real recorded run is mutated field by field (wrong
types, deep nesting, bad encodings, escape sequences, option-like strings) and fed to what
the readers do with a run read from the branch: replay's plan and trust checks, compare,
seal's in-toto statements, verify's record checks. Every input ends in a result or one
clean error line, never another exception. A sample goes through the real commands, from
crafted commits: one line on stderr, a non-zero exit, nothing acted on by the terminal."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testlog.audit.checks import parse_event, run_file_problems
from testlog.audit.intoto import run_statement
from testlog.audit.retention import epoch_record_problems
from testlog.audit.seal import seal_members
from testlog.core import branchjson
from testlog.core.canonical import signed_record
from testlog.core.ledger import parse_ledger
from testlog.core.printable import printable
from testlog.core.runshape import event_problem
from testlog.core.timing_summary import parse_summary, updated_summary
from testlog.errors import TestlogError
from testlog.replay.compare import compare_runs, render_lines
from testlog.replay.options import recorded_options
from testlog.replay.plan import build_plan
from testlog.replay.trust import confinement_problem
from testlog.store.runs import check_determinism, check_run_data
from tests.attack_helpers import commit_like, event_line, event_of, one_line
from tests.audit_helpers import edited_tree
from tests.fixtures import git
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


@pytest.fixture(scope="module")
def recorded(sandbox, tmp_path_factory) -> tuple[Path, str, dict[str, Any]]:
    base = tmp_path_factory.mktemp("hostile")
    with sandboxed(sandbox, base / "tmp"):
        repo = project(base / "repo", {"tests/test_things.py": TESTS})
        sha = record(repo, "tests", expect=1)
    artifact = event_of(repo, sha)["artifact"]
    return repo, sha, json.loads(git(repo, "show", f"{sha}:{artifact}"))


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    """Every place in a document down to `depth` 6 (lists: their first item)."""
    if depth > 6:
        return
    items = value.items() if isinstance(value, dict) else \
        [(0, value[0])] if isinstance(value, list) and value else []
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key), depth + 1)


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


def readers(data: bytes, honest: dict[str, Any]) -> str:
    """What the commands do with a run file read from the branch; 'ok' or the one line."""
    try:
        try:
            doc = branchjson.loads(data)
        except ValueError as exc:             # store.runs.read_json: one line
            return f"{RUN} is {exc}"
        run = check_run_data(doc, RUN)
        try:
            plan = build_plan(run["run"], run["records"], {})
        except (KeyError, TypeError, ValueError) as exc:   # replay's locate_run: one line
            return f"not a readable run ({exc!r})"
        confinement_problem(plan, b"")
        recorded_options(plan.pytest_args)
        for a, b in ((run, honest), (honest, run)):
            result = compare_runs(a["run"], a["records"], b["run"], b["records"])
            json.dumps(result.as_dict())
            for line in render_lines("a", "b", result):
                assert "\x1b" not in printable(line)
        run_statement(RUN, data, {})
        seal_members({RUN: data})
        return "ok"
    except TestlogError as exc:
        assert "\n" not in str(exc)
        return str(exc)
    finally:
        run_file_problems(data)       # verify's reading never raises


def test_hostile_run_files_give_results_or_one_line_never_a_traceback(recorded):
    _repo, _sha, honest = recorded
    inputs = [json.dumps(resigned(changed(honest, path, value))).encode()
              for path in paths(honest) for value in VALUES]
    inputs += [json.dumps(changed(honest, path, None, delete=True)).encode()
               for path in paths(honest)]
    inputs += [json.dumps(resigned(changed(honest, path, None, delete=True))).encode()
               for path in paths(honest)]
    inputs += RAW
    outcomes = [readers(data, honest) for data in inputs]
    assert len(inputs) >= 629
    refused = [o for o in outcomes if o != "ok"]
    assert len(refused) > len(inputs) // 3            # most are caught by the shape check
    assert any("nested more than" in o for o in refused)
    assert any("has the wrong type" in o for o in refused)


@pytest.mark.parametrize("line", [
    b"", b"{}", b"[]", b"\xff", b"[" * 50_000, json.dumps({"event": ESC, "artifact": 5, "hash": [],
    "signature": {}, "timestamp": None, "verdict": 1}).encode(),
    json.dumps({"event": "X", "artifact": "a\nb", "hash": "h", "signature": "s",
                "timestamp": "t", "verdict": "v"}).encode(),
])
def test_hostile_chronicle_lines(line: bytes):
    event, problem = parse_event(line)
    assert (event is None) != (problem is None)
    if event is not None:
        assert event_problem(event) is None


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

def crafted_run(repo: Path, sha: str, files: dict[str, bytes], event: bytes | None = None) -> str:
    """A commit like the run `sha` with `files` replaced and a chronicle line appended (the
    run file's event, or `event`)."""
    artifact = event_of(repo, sha)["artifact"]
    data = files.get(artifact, git(repo, "show", f"{sha}:{artifact}").encode())
    chronicle = git(repo, "show", f"{sha}:chronicle.ndjson").encode()
    line = event if event is not None else event_line(artifact, data)
    tree = edited_tree(repo, sha, {**files, "chronicle.ndjson": chronicle + line})
    return commit_like(repo, sha, tree, sha)


def cases(repo: Path, sha: str, honest: dict[str, Any]) -> dict[str, str]:
    artifact = event_of(repo, sha)["artifact"]
    summary_md = artifact.replace("runs/", "summaries/").replace("__run.json", "__summary.md")
    det = honest["run"]["files"]["determinism"]

    def run_file(doc: dict[str, Any]) -> dict[str, bytes]:
        return {artifact: json.dumps(resigned(doc)).encode()}
    named = changed(honest, ("records", 0, "test_name"), f"tests/test_things.py::t{ESC}")
    named["run"]["nodeids"][0] = named["records"][0]["test_name"]
    return {
        "deep": crafted_run(repo, sha, {artifact: RAW[5]}),
        "not-utf8": crafted_run(repo, sha, {artifact: RAW[4]}),
        "lone-surrogate": crafted_run(repo, sha, {artifact: b'{"run":{"suite":"\\udc00"},"records":[]}'}),
        "records-not-list": crafted_run(repo, sha, {artifact: RAW[9]}),
        "name-not-str": crafted_run(repo, sha, run_file(changed(honest, ("records", 0, "test_name"), 5))),
        "status-escape": crafted_run(repo, sha, run_file(changed(honest, ("records", 0, "status"), ESC))),
        "seed-str": crafted_run(repo, sha, run_file(changed(honest, ("records", 0, "seed"), "x"))),
        "values-list": crafted_run(repo, sha, run_file(changed(honest, ("records", 0, "outputs", "values"), []))),
        "source-option": crafted_run(repo, sha, run_file(changed(honest, ("run", "source", "commit"),
                                                                 "--upload-pack=touch owned"))),
        "files-list": crafted_run(repo, sha, run_file(changed(honest, ("run", "files"), []))),
        "escaped-name": crafted_run(repo, sha, run_file(named)),
        "determinism-deep": crafted_run(repo, sha, {det: RAW[5]}),
        "determinism-states": crafted_run(repo, sha, {det: b'{"full_states":{"a":5}}'}),
        "summary-escapes": crafted_run(repo, sha, {summary_md: f"# {ESC}\n".encode()}),
        "event-types": crafted_run(repo, sha, {}, json.dumps({
            "event": "TEST_SUITE_EXECUTED", "artifact": 5, "hash": [], "signature": {},
            "timestamp": None, "verdict": 1}).encode() + b"\n"),
        "event-deep": crafted_run(repo, sha, {}, b"[" * 100_000 + b"\n"),
        "artifact-escape": crafted_run(repo, sha, {}, event_line(f"runs/{ESC}.json", b"")),
    }


COMMANDS = [["show", "{sha}"], ["show", "{sha}", "--json"], ["compare", "{sha}", "{honest}"],
            ["export", "{sha}", "-o", "{out}"], ["replay", "{sha}", "--python", "/nonexistent/python"],
            ["log", "--runs"]]


def test_the_commands_on_hostile_commits(recorded, tmp_path: Path, sandbox):
    repo, sha, honest = recorded
    with sandboxed(sandbox, tmp_path / "tmp"):
        crafted = cases(repo, sha, honest)
        outcomes: dict[tuple[str, str], int] = {}
        for name, commit in crafted.items():
            git(repo, "update-ref", "refs/heads/testlog", commit)
            for argv in COMMANDS + [["verify"]]:
                out_dir = tmp_path / f"export-{name}-{len(outcomes)}"
                args = [a.format(sha=commit, honest=sha, out=out_dir) for a in argv]
                code, out, err = cli("-C", str(repo), *args)
                assert isinstance(code, int)
                assert "\x1b" not in out + err and "\u202e" not in out + err, (name, argv)
                if code != 0 and argv[0] != "verify":
                    one_line(err)
                outcomes[(name, argv[0] + ("-json" if "--json" in argv else ""))] = code
        git(repo, "update-ref", "refs/heads/testlog", sha)
    assert len(outcomes) == len(crafted) * (len(COMMANDS) + 1)
    assert outcomes[("deep", "compare")] == 1 and outcomes[("deep", "verify")] == 1
    assert outcomes[("source-option", "replay")] == 1
    assert not (tmp_path / "owned").exists() and not Path("/tmp/owned").exists()
    assert outcomes[("escaped-name", "show")] == 0 and outcomes[("escaped-name", "compare")] == 0
    assert outcomes[("summary-escapes", "show")] == 0
