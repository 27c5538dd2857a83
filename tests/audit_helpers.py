"""Runs written the way the recorder writes them (canonical JSON through commit_event)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from gitstore import LogStore
from testlog.canonical import canonical_json, signed_record
from testlog.layout import artifact_path
from testlog.logbranch import commit_event

SOURCE = {"source_commit": "a" * 40, "source_tree": "b" * 40}


def run_files(day: date, suite: str, statuses: dict[str, str], seed: int = 1) -> dict[str, bytes]:
    records = [signed_record({"test_name": name, "status": status, "seed": seed + i,
                              "duration_ms": 1.25 * (i + 1), "order": i})
               for i, (name, status) in enumerate(sorted(statuses.items()))]
    run = {"schema_version": 1, "records": records,
           "run": {"suite": suite, "base_seed": seed, **SOURCE}}
    failed = sum(s in ("FAIL", "ERROR") for s in statuses.values())
    summary = {"suite": suite, "passed": len(statuses) - failed, "failed": failed}
    return {
        artifact_path("run", "json", day, suite): canonical_json(run),
        artifact_path("run", "log", day, suite): "".join(f"{n} {s}\n" for n, s in sorted(statuses.items())).encode(),
        artifact_path("summary", "json", day, suite): canonical_json(summary),
        artifact_path("timing", "csv", day, suite): b"test,duration_ms\n",
        artifact_path("determinism", "json", day, suite): canonical_json({"base_seed": seed}),
        artifact_path("errors", "log", day, suite): b"",
    }


def record_run(store: LogStore, day: date, suite: str = "unit",
               statuses: dict[str, str] | None = None, seed: int = 1) -> str:
    statuses = statuses or {"tests/test_a.py::test_one": "PASS", "tests/test_a.py::test_two": "PASS"}
    files = run_files(day, suite, statuses, seed)
    run_path = artifact_path("run", "json", day, suite)
    failed = any(s in ("FAIL", "ERROR") for s in statuses.values())
    verdict = "FAIL" if failed else "PASS"
    return commit_event(store, files, event="TEST_SUITE_EXECUTED", artifact=run_path,
                        verdict=verdict, summary=f"TEST_SUITE_EXECUTED {suite} {verdict}",
                        trailers={"Testlog-Suite": suite})


def export_key(gnupghome: str, fingerprint: str, target: Path) -> Path:
    import gnupg
    target.write_text(gnupg.GPG(gnupghome=gnupghome).export_keys(fingerprint))
    return target
