"""in-toto Statements (Test Result predicate v0.1) for recorded runs, so supply-chain tools can
consume a seal. https://github.com/in-toto/attestation/blob/main/spec/predicates/test-result.md
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from testlog.core import branchjson
from testlog.core.canonical import sha256_hex

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"

# pytest outcomes -> the predicate's three lists. An expected failure is a pass; a skip or an
# unexpected pass is a warning (pytest does not fail the run for either).
OUTCOME_LIST = {
    "PASS": "passedTests", "XFAIL": "passedTests",
    "SKIP": "warnedTests", "XPASS": "warnedTests",
    "FAIL": "failedTests", "ERROR": "failedTests",
}
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def outcome_lists(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {"passedTests": [], "warnedTests": [], "failedTests": []}
    for record in records:
        key = OUTCOME_LIST.get(str(record.get("status", "")).upper(), "failedTests")
        lists[key].append(str(record.get("test_name", "?")))
    return {k: sorted(v) for k, v in lists.items()}


def overall_result(lists: Mapping[str, list[str]]) -> str:
    if lists["failedTests"]:
        return "FAILED"
    return "WARNED" if lists["warnedTests"] else "PASSED"


def source_subject(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The tested source (commit and tree) when the run names it."""
    source = run.get("source")
    nested: Mapping[str, Any] = source if isinstance(source, dict) else {}
    commit = run.get("source_commit") or nested.get("commit")
    tree = run.get("source_tree") or nested.get("tree")
    digest = {k: v for k, v in (("gitCommit", commit), ("gitTree", tree))
              if isinstance(v, str) and _SHA1.match(v)}
    return {"name": "source", "digest": digest} if digest else None


def descriptor(path: str, data: bytes) -> dict[str, Any]:
    return {"name": path, "digest": {"sha256": sha256_hex(data)}}


def run_statement(run_path: str, run_bytes: bytes,
                  configuration: Mapping[str, bytes]) -> dict[str, Any]:
    """The Statement for one run file; `configuration` are the files that fix how it ran
    (the determinism file: seeds and RNG states). The subject is the tested source, or the
    run file itself when the run does not name its source commit."""
    document = branchjson.loads(run_bytes)
    lists = outcome_lists(document.get("records", []))
    subject = source_subject(document.get("run", {})) or descriptor(run_path, run_bytes)
    config = [descriptor(p, b) for p, b in sorted(configuration.items())]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [subject],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"result": overall_result(lists),
                      "configuration": config or [descriptor(run_path, run_bytes)], **lists},
    }


def statement_name(run_path: str) -> str:
    """attestations/<run file name without .json>.intoto.json"""
    stem = run_path.rsplit("/", 1)[-1].removesuffix(".json")
    return f"attestations/{stem}.intoto.json"


def sharded_statement(run_files: Mapping[str, bytes],
                      configuration: Mapping[str, bytes]) -> dict[str, Any]:
    """The Statement for a sharded run (`run_files`: each shard's run.json by path): every
    shard's tests in one predicate, the tested source as subject (the shards agree on it; else
    the shards' run files), each shard's determinism file as configuration."""
    documents = [branchjson.loads(data) for data in run_files.values()]
    lists = outcome_lists([r for d in documents for r in d.get("records", [])])
    subject = source_subject(documents[0].get("run", {})) if documents else None
    subjects = [subject] if subject else [descriptor(p, b) for p, b in sorted(run_files.items())]
    config = [descriptor(p, b) for p, b in sorted(configuration.items())]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {"result": overall_result(lists),
                      "configuration": config or subjects, **lists},
    }
